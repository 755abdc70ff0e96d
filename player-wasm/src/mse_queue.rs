//! What the SourceBuffer must do next, kept as plain data.
//!
//! A SourceBuffer does one thing at a time (an append or a removal runs
//! until `updateend`), while the policy's actions come in bursts. This queue
//! holds them in order — chunks to append, and the other operations
//! ([`Op`]) — and says which one may run now; the shell (`player.rs`)
//! performs it on the real SourceBuffer. Nothing here touches the browser,
//! so the ordering rules are tested natively. `C` is a chunk of bytes: a
//! `Uint8Array` in the shell, anything in tests.

use std::collections::VecDeque;
use std::ops::Range;

/// A SourceBuffer operation that is not an append.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `abort()` the segment parser (a new run), then maybe set `timestampOffset`.
    Reset(Option<f64>),
    /// `remove(start, end)`, seconds.
    Remove(f64, f64),
    /// `MediaSource.duration`.
    Duration(f64),
    /// `MediaSource.endOfStream()`, once every queued chunk is appended.
    EndOfStream,
}

/// What a queued chunk is, for what a new run keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The file's own bytes from this offset (appended up to the limit).
    File(u64),
    /// A built init segment.
    Init,
    /// A built fragment of the current run.
    Fragment,
}

/// The chunks to append and the operations between them.
#[derive(Debug)]
pub struct MseQueue<C> {
    /// Chunks to append: file bytes (appended below `append_limit`), or
    /// built bytes (always appendable).
    chunks: VecDeque<(Slot, C)>,
    /// False once the policy said it repackages: file bytes are not queued.
    raw: bool,
    /// Offset of the next file byte to queue.
    queue_end: u64,
    /// File bytes before this offset may be appended.
    append_limit: u64,
    ops: VecDeque<Op>,
    /// Something was appended already.
    appended_any: bool,
    /// ... and any media chunk (not an init segment).
    appended_media: bool,
}

impl<C> Default for MseQueue<C> {
    fn default() -> Self {
        MseQueue {
            chunks: VecDeque::new(),
            raw: true,
            queue_end: 0,
            append_limit: 0,
            ops: VecDeque::new(),
            appended_any: false,
            appended_media: false,
        }
    }
}

impl<C: Clone> MseQueue<C> {
    /// `len` bytes of the media run that start at file `offset` arrived.
    /// Kept only when the file's own bytes are appended and they continue
    /// what is queued.
    pub fn push_file(&mut self, offset: u64, len: u64, chunk: C) {
        if self.raw && offset == self.queue_end {
            self.chunks.push_back((Slot::File(offset), chunk));
            self.queue_end = offset + len;
        }
    }

    /// An init segment the policy built: appended even after a new run.
    pub fn push_init(&mut self, chunk: C) {
        self.chunks.push_back((Slot::Init, chunk));
    }

    /// A fragment the policy built for the current run.
    pub fn push_fragment(&mut self, chunk: C) {
        self.chunks.push_back((Slot::Fragment, chunk));
    }

    /// File bytes up to `end` may be appended (`Action::Append`).
    pub fn allow_until(&mut self, end: u64) {
        self.append_limit = self.append_limit.max(end);
    }

    /// The file is repackaged: its own bytes are never appended.
    pub fn repackaged(&mut self) {
        self.raw = false;
        self.chunks.clear();
    }

    /// A new run starts at file `offset` (`Action::ResetRun`).
    pub fn reset_run(&mut self, offset: u64, timestamp_offset: Option<f64>) {
        // The old run's bytes go, its file bytes and its built fragments
        // alike (appended now they would only buffer the old position); an
        // init segment stays, it must still be appended.
        self.chunks.retain(|(slot, _)| *slot == Slot::Init);
        self.queue_end = offset;
        self.append_limit = offset;
        // An earlier reset and the old run's end are superseded (the policy
        // signals the end again for the new run); removals still free
        // memory, and a duration update is said only once.
        self.ops
            .retain(|op| matches!(op, Op::Remove(..) | Op::Duration(_)));
        // Done in order, once no append or removal is running.
        self.ops.push_front(Op::Reset(timestamp_offset));
    }

    /// `SourceBuffer.remove(range)`, seconds; an empty range is nothing.
    pub fn remove(&mut self, range: Range<f64>) {
        if range.end > range.start {
            self.ops.push_back(Op::Remove(range.start, range.end));
        }
    }

    pub fn set_duration(&mut self, duration: f64) {
        self.ops.push_back(Op::Duration(duration));
    }

    pub fn end_of_stream(&mut self) {
        self.ops.push_back(Op::EndOfStream);
    }

    /// The operation to run now, while the SourceBuffer is idle, taken off
    /// the queue. `EndOfStream` waits for the chunks before it.
    pub fn take_op(&mut self) -> Option<Op> {
        match self.ops.front() {
            Some(Op::EndOfStream) if !self.chunks.is_empty() => None,
            Some(_) => self.ops.pop_front(),
            None => None,
        }
    }

    /// The chunk to append now, if any may be: it stays queued until
    /// [`MseQueue::appended`] (a refused append is tried again).
    pub fn next_chunk(&self) -> Option<C> {
        let (slot, chunk) = self.chunks.front()?;
        match slot {
            Slot::File(offset) if *offset >= self.append_limit => None,
            _ => Some(chunk.clone()),
        }
    }

    /// The chunk [`MseQueue::next_chunk`] gave was appended.
    pub fn appended(&mut self) {
        if let Some((slot, _)) = self.chunks.pop_front() {
            self.appended_any = true;
            self.appended_media |= slot != Slot::Init;
        }
    }

    /// Whether any media chunk (file bytes or a built fragment) was appended yet.
    pub fn any_media_appended(&self) -> bool {
        self.appended_media
    }

    /// Whether any chunk was appended yet.
    pub fn any_appended(&self) -> bool {
        self.appended_any
    }

    /// Drops everything (destroy).
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.ops.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Queue = MseQueue<&'static str>;

    /// Runs the queue as the shell does on an idle SourceBuffer that
    /// accepts everything: what it would do, in order.
    fn drain(queue: &mut Queue) -> Vec<String> {
        let mut done = Vec::new();
        loop {
            let op = queue.take_op();
            if let Some(op) = &op {
                done.push(format!("{op:?}"));
            }
            match queue.next_chunk() {
                Some(chunk) => {
                    queue.appended();
                    done.push(chunk.to_owned());
                }
                None if op.is_none() => return done,
                None => {}
            }
        }
    }

    #[test]
    fn file_bytes_wait_for_the_append_limit_and_built_bytes_do_not() {
        let mut queue = Queue::default();
        queue.push_file(0, 100, "file 0..100");
        assert_eq!(queue.next_chunk(), None);
        queue.allow_until(100);
        assert_eq!(drain(&mut queue), ["file 0..100"]);
        queue.push_init("init");
        assert_eq!(drain(&mut queue), ["init"]);
    }

    #[test]
    fn file_bytes_that_do_not_continue_the_queue_are_not_queued() {
        let mut queue = Queue::default();
        queue.allow_until(1000);
        queue.push_file(0, 100, "0..100");
        queue.push_file(200, 100, "200..300");
        queue.push_file(100, 100, "100..200");
        assert_eq!(drain(&mut queue), ["0..100", "100..200"]);
    }

    #[test]
    fn a_repackaged_file_queues_only_built_bytes() {
        let mut queue = Queue::default();
        queue.allow_until(1000);
        queue.push_file(0, 100, "early file bytes");
        queue.repackaged();
        queue.push_file(100, 100, "file bytes");
        queue.push_fragment("fragment");
        assert_eq!(drain(&mut queue), ["fragment"]);
    }

    #[test]
    fn end_of_stream_waits_for_the_chunks_before_it() {
        let mut queue = Queue::default();
        queue.push_file(0, 100, "last bytes");
        queue.end_of_stream();
        assert_eq!(queue.take_op(), None);
        queue.allow_until(100);
        assert_eq!(drain(&mut queue), ["last bytes", "EndOfStream"]);
    }

    #[test]
    fn a_new_run_resets_first_drops_old_file_bytes_and_keeps_the_init_and_removals() {
        let mut queue = Queue::default();
        queue.push_init("init");
        queue.push_file(0, 100, "old run");
        queue.remove(0.0..10.0);
        queue.end_of_stream();
        queue.reset_run(5000, Some(12.0));
        queue.push_file(100, 100, "old run, late");
        queue.push_file(5000, 100, "new run");
        queue.allow_until(5100);
        assert_eq!(
            drain(&mut queue),
            ["Reset(Some(12.0))", "init", "Remove(0.0, 10.0)", "new run"]
        );
    }

    #[test]
    fn a_new_run_drops_the_old_runs_built_fragments_but_not_the_init() {
        let mut queue = Queue::default();
        queue.repackaged();
        queue.push_init("init");
        queue.push_fragment("old run fragment");
        queue.reset_run(5000, None);
        queue.push_fragment("new run fragment");
        assert_eq!(
            drain(&mut queue),
            ["Reset(None)", "init", "new run fragment"]
        );
    }

    #[test]
    fn a_duration_update_queued_before_a_seek_survives_the_new_run() {
        let mut queue = Queue::default();
        queue.push_file(0, 100, "old run");
        queue.set_duration(61.5);
        queue.reset_run(5000, None);
        assert_eq!(drain(&mut queue), ["Reset(None)", "Duration(61.5)"]);
    }

    #[test]
    fn an_empty_removal_is_not_queued() {
        let mut queue = Queue::default();
        queue.remove(4.0..4.0);
        assert_eq!(queue.take_op(), None);
    }
}
