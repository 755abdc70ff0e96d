//! Finding the index: telling the container from the first bytes, feeding
//! the container reader the media run in order (and index bytes from
//! elsewhere when it asks), and keeping what it was fed until the index is
//! known (`held.rs`: the run's early bytes wait there to be appended, and a
//! reader that takes over is fed them again).

use std::ops::Range;

use super::held::Held;
use super::timeline;
use crate::index::{
    ContainerIndexer, MakeReader, MediaError, MediaIndex, OnDemand, Presentation, Step,
};
use crate::probe;

/// Separate fetches for the index (e.g. Cues at the end) before giving up.
const MAX_INDEX_FETCHES: u32 = 8;
/// Most replays asked for in a row (each reader that takes over asks once).
const MAX_REPLAYS: u32 = 4;

pub(super) struct IndexFeed {
    /// The first bytes, until there are enough to tell the container.
    head: Vec<u8>,
    indexer: Option<Box<dyn ContainerIndexer>>,
    /// Makes the plain-MP4 reader, if the file turns out to be one.
    plain_mp4: Option<OnDemand>,
    /// Makes the container's reader, when it is not this build's own.
    readers: Option<MakeReader>,
    /// The indexer said [`Step::Pending`]: waiting on its code, not bytes.
    pending: bool,
    /// Index bytes to fetch beside the media run.
    need: Option<Range<u64>>,
    fetches: u32,
    /// The indexer has been fed every byte before this offset of the media run.
    frontier: u64,
    /// What the indexer was fed before the index was known (the one copy).
    held: Held,
    /// Extra index bytes already asked for (see `ContainerIndexer::wants`).
    wanted: Option<Range<u64>>,
    /// Units in the index at the last side fetch that taught it some.
    units_seen: usize,
    /// The indexer said [`Step::Ready`]: its index is the one to use (a
    /// reader may hold a partial one before, e.g. the fMP4 reader until it
    /// saw the first `moof`).
    ready: bool,
}

impl IndexFeed {
    pub(super) fn new(
        indexer: Option<Box<dyn ContainerIndexer>>,
        plain_mp4: Option<OnDemand>,
    ) -> Self {
        IndexFeed {
            head: Vec::new(),
            indexer,
            plain_mp4,
            readers: None,
            pending: false,
            need: None,
            fetches: 0,
            frontier: 0,
            held: Held::default(),
            wanted: None,
            units_seen: 0,
            ready: false,
        }
    }

    pub(super) fn set_plain_mp4(&mut self, make: Option<OnDemand>) {
        self.plain_mp4 = make;
    }

    pub(super) fn set_readers(&mut self, make: Option<MakeReader>) {
        self.readers = make;
    }

    pub(super) fn index(&self) -> Option<&MediaIndex> {
        if !self.ready {
            return None;
        }
        self.indexer.as_ref()?.index()
    }

    pub(super) fn indexer_mut(&mut self) -> Option<&mut (dyn ContainerIndexer + 'static)> {
        self.indexer.as_deref_mut()
    }

    pub(super) fn has_indexer(&self) -> bool {
        self.indexer.is_some()
    }

    pub(super) fn presentation(&self) -> Option<Presentation> {
        self.indexer.as_ref().and_then(|i| i.presentation())
    }

    /// The media's duration: the presented window's end, else the index's.
    pub(super) fn duration(&self) -> Option<f64> {
        if let Some(window) = self.presentation()
            && window.end.is_finite()
        {
            return Some(window.end);
        }
        timeline::index_duration(self.index()?)
    }

    /// Index bytes to fetch beside the media run, if any.
    pub(super) fn need(&self) -> Option<&Range<u64>> {
        self.need.as_ref()
    }

    /// Where the media run continues for the indexer.
    pub(super) fn frontier(&self) -> u64 {
        self.frontier
    }

    pub(super) fn is_complete(&self) -> bool {
        self.index().is_some_and(|i| i.complete)
    }

    /// Collects the first bytes until the container can be told (there is
    /// no indexer yet); once it is, returns them, to be fed from offset 0.
    pub(super) fn sniff(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Option<Vec<u8>>, MediaError> {
        if offset != self.head.len() as u64 {
            return Ok(None);
        }
        let take = data
            .len()
            .min(probe::SNIFF_LEN.saturating_sub(self.head.len()));
        self.head.extend_from_slice(&data[..take]);
        if self.head.len() < probe::SNIFF_LEN
            && file_len.is_none_or(|len| len > self.head.len() as u64)
        {
            return Ok(None);
        }
        let format = probe::format_of(&self.head)?;
        self.indexer = Some(match self.readers.take() {
            Some(make) => make(format),
            None => own_reader(format, self.plain_mp4.take())?,
        });
        self.frontier = 0;
        Ok(Some(std::mem::take(&mut self.head)))
    }

    /// The part of a media-run chunk that continues the indexer's frontier
    /// (which moves past it), with its offset.
    pub(super) fn continuing<'d>(
        &mut self,
        offset: u64,
        data: &'d [u8],
    ) -> Option<(u64, &'d [u8])> {
        let end = offset + data.len() as u64;
        if offset > self.frontier || end <= self.frontier {
            return None;
        }
        let skip = (self.frontier - offset) as usize;
        let from = self.frontier;
        self.frontier = end;
        Some((from, &data[skip..]))
    }

    /// Feeds the indexer `data` at `offset` (from the media run, or from a
    /// side request); `true` when it says the index is ready. Bytes it needs
    /// within `run_reach` of the frontier come with the media run anyway
    /// and are not fetched twice.
    pub(super) fn feed_at(
        &mut self,
        offset: u64,
        data: &[u8],
        run: bool,
        file_len: Option<u64>,
        run_reach: u64,
    ) -> Result<bool, MediaError> {
        let Some(indexer) = self.indexer.as_mut() else {
            return Ok(false);
        };
        if !run {
            self.held.keep_side(offset, data);
        }
        let mut step = indexer.feed(offset, data, file_len)?;
        for _ in 0..MAX_REPLAYS {
            let Step::Replay { from } = step else { break };
            step = self
                .held
                .replay(from, self.frontier, file_len, indexer.as_mut())?;
        }
        if let Step::Replay { .. } = step {
            return Err(MediaError::Unsupported {
                container: "media",
                what: "a reader that keeps asking for a replay".into(),
            });
        }
        self.pending = false;
        match step {
            Step::NeedBytes { offset: need, len } => {
                let in_run = need >= self.frontier && need <= self.frontier + run_reach;
                self.need = (!in_run).then(|| need..need.saturating_add(len.max(1)));
                Ok(false)
            }
            // (A replay was answered above: the step is never one here.)
            Step::Pending | Step::Replay { .. } => {
                self.need = None;
                self.pending = true;
                Ok(false)
            }
            Step::Ready => {
                self.ready = true;
                self.need = None;
                self.held.close();
                Ok(true)
            }
        }
    }

    /// Bytes held for the indexer or for the first appends (each once).
    pub(super) fn held_bytes(&self) -> usize {
        self.held.bytes()
    }

    /// Asks for bytes that would complete the index (once per range).
    pub(super) fn note_wants(&mut self) {
        let wants = self.indexer.as_ref().and_then(|i| i.wants());
        if let Some(range) = wants
            && self.wanted.as_ref() != Some(&range)
            && self.need.is_none()
        {
            self.wanted = Some(range.clone());
            self.need = Some(range);
        }
    }

    /// The side request for `range` came in full; `false` once the index
    /// has taken more separate fetches than any file should need without
    /// learning a unit (a reader that walks the fragments ahead of the run,
    /// a few KB each, learns one a fetch).
    pub(super) fn side_done(&mut self, range: &Range<u64>) -> bool {
        // What was asked for came; the indexer asks again if it must.
        if self.need.as_ref() == Some(range) {
            self.need = None;
        }
        // A reader walking ahead asks for its next bytes at once.
        self.note_wants();
        let units = self.index().map_or(0, |i| i.segments.len());
        if units > self.units_seen {
            self.units_seen = units;
            self.fetches = 0;
        }
        self.fetches += 1;
        self.fetches <= MAX_INDEX_FETCHES
    }

    /// Every byte is here (`all_fetched`), nothing more is asked, and still
    /// no index: the file is cut short, or not media at all.
    pub(super) fn unreachable(
        &self,
        all_fetched: bool,
        file_len: Option<u64>,
    ) -> Option<MediaError> {
        if self.index().is_some() || self.need.is_some() || self.pending || !all_fetched {
            return None;
        }
        Some(match &self.indexer {
            Some(_) => MediaError::Truncated {
                len: file_len.unwrap_or(0),
                what: "index",
            },
            None => MediaError::UnknownFormat,
        })
    }

    /// A complete index that reaches past the end of the file: what it says.
    pub(super) fn overrun(&self, file_len: Option<u64>) -> Option<String> {
        let (Some(len), Some(index)) = (file_len, self.index()) else {
            return None;
        };
        let promised = index
            .segments
            .last()
            .map_or(index.init.end, |s| s.bytes.end);
        (index.complete && promised > len)
            .then(|| format!("the file ends at byte {len}, but its index reaches byte {promised}"))
    }

    /// Keeps run bytes until the index says how to append them.
    pub(super) fn keep_early(&mut self, offset: u64, data: &[u8]) {
        self.held.keep_early(offset, data);
    }

    /// The early bytes, with the offset they start at, handed over once.
    pub(super) fn take_early(&mut self) -> (u64, Vec<u8>) {
        self.held.take_early()
    }
}

/// This build's own reader for `format` (feature `readers`).
#[cfg(feature = "readers")]
fn own_reader(
    format: probe::Format,
    plain: Option<OnDemand>,
) -> Result<Box<dyn ContainerIndexer>, MediaError> {
    Ok(probe::reader_for(format, plain))
}

/// A build without readers (the player's main module) reads nothing itself.
#[cfg(not(feature = "readers"))]
fn own_reader(
    _format: probe::Format,
    _plain: Option<OnDemand>,
) -> Result<Box<dyn ContainerIndexer>, MediaError> {
    Err(MediaError::Unsupported {
        container: "media",
        what: "a build without container readers, given none".into(),
    })
}
