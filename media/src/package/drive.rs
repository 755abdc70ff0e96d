//! Runs the crate's sans-I/O container indexers against an input: answers
//! their `NeedBytes` with reads, and keeps feeding until the index is
//! complete — by jumping from box to box for fragmented MP4 (only the
//! `moof`s are read), contiguously and up to [`SCAN_LIMIT`] for the
//! formats that must be scanned (WebM without Cues, MP3 without a table).

use super::error::PackageError;
use super::read::ReadAt;
use crate::index::{ContainerIndexer, MediaError, MediaIndex, Step};
use crate::mp4::Fmp4Indexer;

/// Bytes offered per feed when the indexer did not say how many it needs.
const CHUNK: u64 = 64 << 10;

/// Most bytes read contiguously to complete an index that has to be found
/// by scanning: enough for the first minutes of a typical file; beyond it
/// the report says the index is partial rather than reading everything.
pub const SCAN_LIMIT: u64 = 16 << 20;

/// Most feeds: every feed either moves forward or is refused, so this only
/// guards against an indexer bug turning into an endless loop.
const MAX_FEEDS: usize = 1 << 22;

/// The index and whether it was complete as soon as it was ready (an index
/// at the start of the file: `sidx`, Cues before the Clusters).
#[derive(Debug)]
pub struct Indexed {
    pub index: MediaIndex,
    pub complete_at_ready: bool,
    /// The indexer asked for bytes past what had been read from the start
    /// before it was ready (WebM Cues at the end): one more round trip.
    pub jumped: bool,
}

fn stuck() -> PackageError {
    MediaError::Unsupported {
        container: "media",
        what: "an index that does not progress".into(),
    }
    .into()
}

/// A fragmented MP4: follows the indexer box by box (it skips `mdat`
/// payloads, so reads hop from `moof` to `moof`).
pub fn fragmented_mp4<S: ReadAt + ?Sized>(src: &mut S) -> Result<Indexed, S::Error> {
    let len = src.file_len();
    let mut ix = Fmp4Indexer::new();
    let (mut offset, mut want) = (0u64, CHUNK);
    let mut complete_at_ready = None;
    for _ in 0..MAX_FEEDS {
        let data = src.read_at(offset, want)?;
        let step = ix
            .feed(offset, &data, Some(len))
            .map_err(PackageError::from)?;
        let ready = match (step, ix.index()) {
            (Step::NeedBytes { offset: o, len }, _) => {
                (offset, want) = (o, len.max(CHUNK));
                continue;
            }
            // A reader that took over: read it all again from there.
            (Step::Replay { from }, _) => {
                (offset, want) = (from, CHUNK);
                continue;
            }
            (Step::Ready, Some(index)) => index,
            // (Pending is for readers in code loaded on demand; ours are here.)
            (Step::Ready, None) | (Step::Pending, _) => return Err(stuck().into()),
        };
        let complete = complete_at_ready.get_or_insert(ready.complete);
        if ready.complete {
            return Ok(Indexed {
                index: ready.clone(),
                complete_at_ready: *complete,
                jumped: false,
            });
        }
        if let Some(range) = ix.wants() {
            let data = src.read_at(range.start, range.end.saturating_sub(range.start))?;
            ix.feed(range.start, &data, Some(len))
                .map_err(PackageError::from)?;
            if ix.index().is_some_and(|i| i.complete) {
                continue;
            }
        }
        let next = ix.position();
        if next <= offset && !data.is_empty() {
            // The indexer took nothing from what it was shown.
            return Err(stuck().into());
        }
        (offset, want) = (next.min(len), CHUNK);
    }
    Err(stuck().into())
}

/// Any other indexer: follows `NeedBytes`, then feeds contiguously from
/// where the last read ended until the index is complete, the input ends
/// or [`SCAN_LIMIT`] bytes were scanned. Returns the index as far as it got.
pub fn scanned<S: ReadAt + ?Sized>(
    src: &mut S,
    ix: &mut dyn ContainerIndexer,
) -> Result<Indexed, S::Error> {
    let len = src.file_len();
    let (mut offset, mut want) = (0u64, CHUNK);
    let mut complete_at_ready = None;
    let mut scanned = 0u64;
    // The end of the bytes read contiguously from the start.
    let (mut head_end, mut jumped) = (0u64, false);
    for _ in 0..MAX_FEEDS {
        let data = src.read_at(offset, want)?;
        let end = offset.saturating_add(data.len() as u64);
        if offset <= head_end {
            head_end = head_end.max(end);
        }
        let step = ix
            .feed(offset, &data, Some(len))
            .map_err(PackageError::from)?;
        match step {
            Step::NeedBytes { offset: o, len } => {
                if o == offset && len <= data.len() as u64 {
                    return Err(stuck().into());
                }
                jumped |= o > head_end;
                (offset, want) = (o, len.max(CHUNK));
            }
            // A reader that took over: read it all again from there.
            Step::Replay { from } => (offset, want) = (from, CHUNK),
            Step::Pending => return Err(stuck().into()),
            Step::Ready => {
                let index = ix.index().ok_or_else(stuck)?;
                let complete = *complete_at_ready.get_or_insert(index.complete);
                scanned = scanned.saturating_add(data.len() as u64);
                if index.complete || end >= len || scanned >= SCAN_LIMIT || data.is_empty() {
                    return Ok(Indexed {
                        index: index.clone(),
                        complete_at_ready: complete,
                        jumped,
                    });
                }
                (offset, want) = (end, CHUNK);
            }
        }
    }
    Err(stuck().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::InMemory;
    use crate::webm::WebmIndexer;

    #[test]
    fn cues_at_the_end_cost_a_jump() {
        let file: &[u8] = include_bytes!("../../tests/fixtures/webm/cues-at-end.webm");
        let indexed = scanned(&mut InMemory(file), &mut WebmIndexer::new()).expect("index");
        assert!(indexed.index.complete && indexed.jumped);
    }

    #[test]
    fn a_file_without_cues_is_scanned_from_the_start() {
        let file: &[u8] = include_bytes!("../../tests/fixtures/webm/no-cues.webm");
        let indexed = scanned(&mut InMemory(file), &mut WebmIndexer::new()).expect("index");
        assert!(!indexed.complete_at_ready && !indexed.jumped);
        assert!(!indexed.index.segments.is_empty());
    }

    #[test]
    fn a_fragmented_mp4_with_a_sidx_is_complete_at_once() {
        let file: &[u8] = include_bytes!("../../tests/fixtures/mp4/sidx.mp4");
        let indexed = fragmented_mp4(&mut InMemory(file)).expect("index");
        assert!(indexed.complete_at_ready && indexed.index.complete);
    }
}
