//! The bytes that came before the index was known, held once, here: the
//! media run's early bytes (appended once the index says how) and the index
//! bytes fetched beside the run (a `moov` at the end). The container reader
//! keeps no copy of them: when a reader takes over that has not seen them
//! (the plain-MP4 reader after the fMP4 one, or one whose code just
//! loaded), it asks for them again ([`Step::Replay`]) and is fed the run
//! bytes, then the side bytes in the order they came.

use crate::index::{ContainerIndexer, MediaError, Step};

/// Most run bytes kept while the index is not known yet (a plain MP4 with
/// its `moov` at the end: the media before it waits to be remuxed).
const MAX_EARLY_BYTES: usize = 16 << 20;
/// Most side bytes kept for a replay: a `moov` larger than this is refused
/// anyway by the remuxer's bound.
const MAX_SIDE_BYTES: usize = 64 << 20;

#[derive(Debug, Default)]
pub(super) struct Held {
    /// Run bytes that arrived before the index was known, from `early_start`.
    early: Vec<u8>,
    early_start: u64,
    /// Index bytes fed from side requests before the index was known...
    side: Vec<u8>,
    /// ...as (file offset, length) pieces, in the order fed (one per run of
    /// contiguous bytes: a few per file, each side request being one).
    pieces: Vec<(u64, usize)>,
    /// The index is known: no reader will ask for a replay any more.
    closed: bool,
}

impl Held {
    /// Every byte held (each once).
    pub(super) fn bytes(&self) -> usize {
        self.early.len() + self.side.len()
    }

    /// Keeps run bytes until the index says how to append them (a chunk
    /// that does not fit, or does not continue them, is not kept).
    pub(super) fn keep_early(&mut self, offset: u64, data: &[u8]) {
        if self.early.is_empty() {
            self.early_start = offset;
        }
        if offset == self.early_start + self.early.len() as u64
            && self.early.len() + data.len() <= MAX_EARLY_BYTES
        {
            self.early.extend_from_slice(data);
        }
    }

    /// The early bytes, with the offset they start at, handed over once.
    pub(super) fn take_early(&mut self) -> (u64, Vec<u8>) {
        (self.early_start, std::mem::take(&mut self.early))
    }

    /// The index is known: what was kept only for a replay goes.
    pub(super) fn close(&mut self) {
        self.closed = true;
        self.side = Vec::new();
        self.pieces = Vec::new();
    }

    /// The indexer is about to be fed `data`, index bytes at `offset` from
    /// a side request: kept, if they fit.
    pub(super) fn keep_side(&mut self, offset: u64, data: &[u8]) {
        if self.closed || data.is_empty() || self.side.len() + data.len() > MAX_SIDE_BYTES {
            return;
        }
        self.side.extend_from_slice(data);
        match self.pieces.last_mut() {
            Some((at, len)) if *at + *len as u64 == offset => *len += data.len(),
            _ => self.pieces.push((offset, data.len())),
        }
    }

    /// Feeds `indexer` again, from `from` on, the run bytes it was fed (those
    /// before `fed_to` that are kept), then the side bytes; stops at a step
    /// that is not about bytes (a reader that waits on its code, or asks
    /// again).
    pub(super) fn replay(
        &self,
        from: u64,
        fed_to: u64,
        file_len: Option<u64>,
        indexer: &mut dyn ContainerIndexer,
    ) -> Result<Step, MediaError> {
        let start = from.max(self.early_start);
        let kept = fed_to.saturating_sub(self.early_start) as usize;
        let run = self
            .early
            .get(start.saturating_sub(self.early_start) as usize..kept.min(self.early.len()))
            .unwrap_or_default();
        let mut step = indexer.feed(start, run, file_len)?;
        let mut at = 0;
        for &(offset, len) in &self.pieces {
            let piece = &self.side[at..at + len];
            at += len;
            let skip = from.saturating_sub(offset).min(len as u64);
            if skip < len as u64 && matches!(step, Step::NeedBytes { .. } | Step::Ready) {
                step = indexer.feed(offset + skip, &piece[skip as usize..], file_len)?;
            }
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::MediaIndex;

    /// Records what it is fed.
    #[derive(Default)]
    struct Log(Vec<(u64, Vec<u8>)>);

    impl ContainerIndexer for Log {
        fn feed(&mut self, offset: u64, data: &[u8], _: Option<u64>) -> Result<Step, MediaError> {
            self.0.push((offset, data.to_vec()));
            Ok(Step::NeedBytes { offset: 0, len: 1 })
        }
        fn index(&self) -> Option<&MediaIndex> {
            None
        }
    }

    fn replayed(held: &Held, from: u64, fed_to: u64) -> Vec<(u64, Vec<u8>)> {
        let mut log = Log::default();
        assert!(held.replay(from, fed_to, None, &mut log).is_ok());
        log.0
    }

    #[test]
    fn a_replay_feeds_the_run_bytes_fed_then_the_side_bytes_in_order() {
        let mut held = Held::default();
        held.keep_early(0, b"abcd");
        held.keep_side(90, b"xy");
        held.keep_early(4, b"ef");
        held.keep_side(92, b"z");
        held.keep_side(50, b"q");
        assert_eq!(held.bytes(), 10, "each byte once");
        let fed = |o: u64, d: &[u8]| (o, d.to_vec());
        assert_eq!(
            replayed(&held, 0, 6),
            [fed(0, b"abcdef"), fed(90, b"xyz"), fed(50, b"q")]
        );
        assert_eq!(
            replayed(&held, 0, 3)[0],
            fed(0, b"abc"),
            "only the run bytes the reader was fed"
        );
        assert_eq!(
            replayed(&held, 2, 6)[..2],
            [fed(2, b"cdef"), fed(90, b"xyz")],
            "from where it asks"
        );
    }

    #[test]
    fn nothing_is_kept_for_a_replay_once_the_index_is_known() {
        let mut held = Held::default();
        held.keep_early(0, b"ab");
        held.keep_side(10, b"cd");
        held.close();
        held.keep_side(14, b"ef");
        assert_eq!(held.bytes(), 2, "the early bytes wait to be appended");
        assert_eq!(held.take_early(), (0, b"ab".to_vec()));
        assert_eq!(held.bytes(), 0);
    }

    #[test]
    fn early_bytes_that_do_not_continue_the_run_are_not_kept() {
        let mut held = Held::default();
        held.keep_early(0, b"ab");
        held.keep_early(5, b"cd");
        assert_eq!(replayed(&held, 0, 7), [(0, b"ab".to_vec())]);
    }
}
