//! The bytes that came before the index was known, held once, here: the
//! media run's early bytes (appended once the index says how) and the index
//! bytes fetched beside the run (a `moov` at the end). The container reader
//! keeps no copy of them: when a reader takes over that has not seen them
//! (the plain-MP4 reader after the fMP4 one, or one whose code just
//! loaded), it asks for them again ([`Step::Replay`]) and is fed them in the
//! order they were first fed.

use crate::index::{ContainerIndexer, MediaError, Step};

/// Most run bytes kept while the index is not known yet (a plain MP4 with
/// its `moov` at the end: the media before it waits to be remuxed).
const MAX_EARLY_BYTES: usize = 16 << 20;
/// Most side bytes kept for a replay: a `moov` larger than this is refused
/// anyway by the remuxer's bound.
const MAX_SIDE_BYTES: usize = 64 << 20;
/// Most separate feeds remembered for a replay (contiguous feeds of the
/// same request count as one).
const MAX_FEEDS: usize = 1024;

/// Where the bytes of one feed are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// In the early run bytes, at their offset.
    Run,
    /// In the side bytes, from `at`.
    Side { at: usize },
}

/// One feed given to the indexer before the index was known.
#[derive(Debug)]
struct Fed {
    offset: u64,
    len: usize,
    file_len: Option<u64>,
    source: Source,
}

#[derive(Debug, Default)]
pub(super) struct Held {
    /// Run bytes that arrived before the index was known, from `early_start`.
    early: Vec<u8>,
    early_start: u64,
    /// Index bytes fetched beside the run before the index was known.
    side: Vec<u8>,
    /// What the indexer was fed, in order, while it had no index.
    fed: Vec<Fed>,
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
        self.fed = Vec::new();
    }

    /// The indexer is about to be fed `len` run bytes at `offset` (kept in
    /// the early bytes, if they fit there).
    pub(super) fn note_run(&mut self, offset: u64, len: usize, file_len: Option<u64>) {
        let kept = offset >= self.early_start
            && offset + len as u64 <= self.early_start + self.early.len() as u64;
        if kept {
            self.note(offset, len, file_len, Source::Run);
        }
    }

    /// The indexer is about to be fed `data`, index bytes at `offset` from
    /// a side request: kept, if they fit.
    pub(super) fn note_side(&mut self, offset: u64, data: &[u8], file_len: Option<u64>) {
        if self.closed || self.side.len() + data.len() > MAX_SIDE_BYTES {
            return;
        }
        let at = self.side.len();
        if self.note(offset, data.len(), file_len, Source::Side { at }) {
            self.side.extend_from_slice(data);
        }
    }

    /// Remembers a feed (merged with the one before when it continues it);
    /// `false` when there is no room left to remember it.
    fn note(&mut self, offset: u64, len: usize, file_len: Option<u64>, source: Source) -> bool {
        if self.closed || len == 0 {
            return false;
        }
        if let Some(last) = self.fed.last_mut() {
            let continues = match (last.source, source) {
                (Source::Run, Source::Run) => true,
                (Source::Side { at: before }, Source::Side { at }) => before + last.len == at,
                _ => false,
            };
            if continues && last.offset + last.len as u64 == offset && last.file_len == file_len {
                last.len += len;
                return true;
            }
        }
        if self.fed.len() >= MAX_FEEDS {
            return false;
        }
        self.fed.push(Fed {
            offset,
            len,
            file_len,
            source,
        });
        true
    }

    /// Feeds `indexer` again what it was fed from `from` on, in order;
    /// stops at a step that is not about bytes (a reader that waits on its
    /// code, or asks again). `None` when nothing held is from there.
    pub(super) fn replay(
        &self,
        from: u64,
        indexer: &mut dyn ContainerIndexer,
    ) -> Option<Result<Step, MediaError>> {
        let mut last = None;
        for fed in &self.fed {
            let end = fed.offset + fed.len as u64;
            if end <= from {
                continue;
            }
            let skip = from.saturating_sub(fed.offset) as usize;
            let bytes = match fed.source {
                Source::Run => {
                    let at = (fed.offset - self.early_start) as usize;
                    self.early.get(at + skip..at + fed.len)
                }
                Source::Side { at } => self.side.get(at + skip..at + fed.len),
            };
            let Some(bytes) = bytes else {
                continue;
            };
            let step = indexer.feed(fed.offset + skip as u64, bytes, fed.file_len);
            let more = matches!(step, Ok(Step::NeedBytes { .. } | Step::Ready));
            last = Some(step);
            if !more {
                break;
            }
        }
        last
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

    #[test]
    fn a_replay_feeds_run_and_side_bytes_again_in_the_order_first_fed() {
        let mut held = Held::default();
        held.keep_early(0, b"abcd");
        held.note_run(0, 4, Some(100));
        held.note_side(90, b"xy", Some(100));
        held.keep_early(4, b"ef");
        held.note_run(4, 2, Some(100));
        held.note_side(92, b"z", Some(100));
        assert_eq!(held.bytes(), 9, "each byte once");
        let mut log = Log::default();
        assert!(held.replay(0, &mut log).is_some());
        let fed: Vec<(u64, &[u8])> = log.0.iter().map(|(o, d)| (*o, &d[..])).collect();
        assert_eq!(
            fed,
            [(0, &b"abcd"[..]), (90, b"xy"), (4, b"ef"), (92, b"z")]
        );
        let mut log = Log::default();
        held.replay(2, &mut log);
        assert_eq!(log.0[0], (2, b"cd".to_vec()), "from where it asks");
    }

    #[test]
    fn contiguous_feeds_are_replayed_as_one_and_nothing_is_kept_once_closed() {
        let mut held = Held::default();
        held.note_side(10, b"ab", None);
        held.note_side(12, b"cd", None);
        let mut log = Log::default();
        held.replay(0, &mut log);
        assert_eq!(log.0, [(10, b"abcd".to_vec())]);
        held.close();
        held.note_side(14, b"ef", None);
        assert_eq!(held.bytes(), 0);
        assert!(held.replay(0, &mut Log::default()).is_none());
    }

    #[test]
    fn run_bytes_not_kept_early_are_not_replayed() {
        let mut held = Held::default();
        held.keep_early(0, b"ab");
        held.note_run(0, 2, None);
        // Not contiguous with the early bytes: not kept, not replayed.
        held.keep_early(5, b"cd");
        held.note_run(5, 2, None);
        let mut log = Log::default();
        held.replay(0, &mut log);
        assert_eq!(log.0, [(0, b"ab".to_vec())]);
    }
}
