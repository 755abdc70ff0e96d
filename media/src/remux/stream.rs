//! The player's side of the remux: file bytes in, fragments out.
//!
//! The media run delivers the file's bytes in order from a unit boundary;
//! [`RemuxStream`] keeps them only from the first byte that a sample not
//! output yet needs, builds each fragment as soon as its span is in, and
//! drops what no later fragment needs. The first fragment of a run (after
//! a start or a [`reset`](Repackager::reset)) goes out in small pieces as
//! its bytes arrive, so MSE can show a frame early ([`first_chunks`](super::first_chunks)).
//! Memory: about one fragment plus one request, never the file.

use super::first_chunks::{Progress, StreamOptions};
use super::{Fragment, Piece, Remux};
use crate::index::{MediaError, Repackager};

/// Builds fragments from a run of file bytes.
#[derive(Debug)]
pub struct RemuxStream {
    remux: Remux,
    fragments: Vec<Fragment>,
    options: StreamOptions,
    /// The next fragment to build (or to finish).
    next: usize,
    /// When fragment `next` is cut into pieces: how far they got.
    progress: Option<Progress>,
    /// The last `mfhd` sequence number written when cutting pieces (the
    /// plan's numbers would repeat): outputs are numbered 1, 2, 3, ...
    /// across the whole stream, resets included.
    sequence: u32,
    /// File offset of `window[0]`.
    window_start: u64,
    window: Vec<u8>,
}

impl RemuxStream {
    pub fn new(remux: Remux, fragments: Vec<Fragment>, options: StreamOptions) -> Self {
        let mut stream = RemuxStream {
            remux,
            fragments,
            options,
            next: 0,
            progress: None,
            sequence: 0,
            window_start: 0,
            window: Vec::new(),
        };
        stream.start_run();
        stream
    }

    /// File bytes held: from the first byte a sample still to output needs
    /// to the last byte pushed.
    pub fn held(&self) -> usize {
        self.window.len()
    }

    fn window_end(&self) -> u64 {
        self.window_start + self.window.len() as u64
    }

    /// Fragment `next` begins a run: cut into pieces, if they are on.
    fn start_run(&mut self) {
        self.progress = self
            .fragments
            .get(self.next)
            .filter(|_| self.options.first_chunks())
            .map(|f| Progress::new(&self.remux, f, false));
    }

    /// The `mfhd` sequence number of the next output of `fragment`.
    fn number(&mut self, fragment: usize) -> u32 {
        if !self.options.first_chunks() {
            return self.fragments.get(fragment).map_or(0, |f| f.sequence);
        }
        self.sequence = self.sequence.saturating_add(1);
        self.sequence
    }

    /// Drops bytes that no sample still to output needs: those before the
    /// next fragment's span, or, when part of it went out, before the
    /// first byte of the rest (and of the fragment after it, whose span
    /// may begin inside this one's).
    fn trim(&mut self) {
        let keep_from = match (self.fragments.get(self.next), &self.progress) {
            (None, _) => self.window_end(),
            (Some(f), Some(p)) if p.started(f) => {
                let rest = self.remux.first_byte_left(f, p).unwrap_or(f.span.end);
                let after = self.fragments.get(self.next + 1).map(|f| f.span.start);
                after.map_or(rest, |after| after.min(rest))
            }
            (Some(f), _) => f.span.start,
        };
        if keep_from > self.window_start {
            let drop = usize::try_from(keep_from - self.window_start)
                .unwrap_or(usize::MAX)
                .min(self.window.len());
            self.window.drain(..drop);
            self.window_start += drop as u64;
        }
    }

    /// The output the bytes in the window complete, if any: fragment
    /// `next` whole (or what is left of it), or a piece of it.
    fn build_next(&mut self) -> Result<Option<Vec<u8>>, MediaError> {
        let Some(fragment) = self.fragments.get(self.next) else {
            return Ok(None);
        };
        let window_end = self.window_end();
        let (runs, done) = if fragment.span.end <= window_end {
            let runs = match &self.progress {
                Some(p) => p.rest(fragment),
                None => fragment.samples.clone(),
            };
            (runs, true)
        } else {
            let due = self
                .progress
                .as_mut()
                .and_then(|p| self.remux.due_piece(fragment, p, window_end, self.options));
            match due {
                Some(runs) => (runs, false),
                None => return Ok(None),
            }
        };
        let sequence = self.number(self.next);
        let piece = Piece {
            offset: self.window_start,
            data: &self.window,
        };
        let output = self.remux.build(sequence, &runs, &piece)?;
        if done {
            self.next += 1;
            self.progress = self
                .fragments
                .get(self.next)
                .filter(|_| self.options.first_chunks() && self.options.later_chunk_ms > 0)
                .map(|f| Progress::new(&self.remux, f, true));
        }
        Ok(Some(output))
    }
}

impl Repackager for RemuxStream {
    fn init_segment(&self) -> Vec<u8> {
        self.remux.init_segment()
    }

    fn reset(&mut self, offset: u64) {
        self.window.clear();
        self.window_start = offset;
        // The first fragment whose samples all lie at or after `offset`.
        self.next = self.fragments.partition_point(|f| f.span.start < offset);
        self.start_run();
    }

    fn push(&mut self, offset: u64, data: &[u8]) -> Result<Vec<Vec<u8>>, MediaError> {
        if offset != self.window_end() {
            // Not the continuation of the run: ignore (a stale request).
            return Ok(Vec::new());
        }
        self.window.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some(output) = self.build_next()? {
            out.push(output);
        }
        self.trim();
        Ok(out)
    }
}
