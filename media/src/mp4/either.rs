//! An MP4 is fragmented (MSE takes it as it is) or plain (it must be
//! remuxed); the first bytes do not say which, the `moov` does. The fMP4
//! reader looks first; only when its `moov` turns out plain is the plain
//! reader made (it may live in code loaded on demand: the player's remuxer
//! is a second wasm module), and the caller is asked to feed it every byte
//! the fMP4 reader was given, in the same order ([`Step::Replay`]): the
//! caller holds them already, so this reader keeps no copy.

use std::ops::Range;

use crate::index::{ContainerIndexer, MediaError, MediaIndex, PlainMp4, Reader, Repackager, Step};
use crate::mp4::Fmp4Indexer;

/// An MP4 indexer that becomes the fMP4 reader or the plain-MP4 reader.
pub struct Mp4Indexer {
    fragmented: Option<Fmp4Indexer>,
    /// Makes the plain reader (none: this build cannot play plain MP4s).
    make_plain: Option<PlainMp4>,
    plain: Option<Box<dyn ContainerIndexer>>,
    /// Why the fMP4 reader gave up, when it was not for a plain `moov`: what
    /// to report if the plain reader cannot make sense of the file either.
    fmp4_error: Option<MediaError>,
}

impl std::fmt::Debug for Mp4Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4Indexer")
            .field("fragmented", &self.fragmented)
            .field("plain", &self.plain.is_some())
            .finish()
    }
}

/// The plain-MP4 reader of this build: with the `remux` feature, this
/// crate's remuxer (`crate::remux::plain_mp4`); without
/// it, none (a plain MP4 is then an error, unless the caller brings its own
/// reader, as the player does with its remuxer module). The one place that
/// says so: every default reader is wired through here.
pub fn default_plain_mp4() -> Option<PlainMp4> {
    #[cfg(feature = "remux")]
    {
        Some(crate::remux::plain_mp4())
    }
    #[cfg(not(feature = "remux"))]
    {
        None
    }
}

impl Default for Mp4Indexer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mp4Indexer {
    /// With this build's plain reader ([`default_plain_mp4`]).
    pub fn new() -> Self {
        Self::with_plain(default_plain_mp4())
    }

    /// With `make_plain` making the plain reader, when one is needed.
    pub fn with_plain(make_plain: Option<PlainMp4>) -> Self {
        Mp4Indexer {
            fragmented: Some(Fmp4Indexer::new()),
            make_plain,
            plain: None,
            fmp4_error: None,
        }
    }
}

impl ContainerIndexer for Mp4Indexer {
    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        if let Some(plain) = self.plain.as_mut() {
            return match (plain.feed(offset, data, file_len), &self.fmp4_error) {
                (Err(_), Some(error)) => Err(error.clone()),
                (step, _) => step,
            };
        }
        let Some(fragmented) = self.fragmented.as_mut() else {
            return Err(MediaError::UnknownFormat);
        };
        let step = fragmented.feed(offset, data, file_len);
        if matches!(step, Ok(Step::Ready)) {
            // Fragmented: the plain reader will never be needed.
            self.make_plain = None;
            return step;
        }
        match (step, self.make_plain.take()) {
            // Not fragmented, or not readable as such (the plain reader
            // may still make sense of it): the plain reader's turn. It has
            // seen nothing: it is to be fed again from the start.
            (Err(error), Some(make)) => {
                self.fragmented = None;
                self.plain = Some(make(Reader::PlainMp4));
                if error != MediaError::NotFragmented {
                    self.fmp4_error = Some(error);
                }
                Ok(Step::Replay { from: 0 })
            }
            (step, make) => {
                self.make_plain = make;
                step
            }
        }
    }

    fn index(&self) -> Option<&MediaIndex> {
        match (&self.fragmented, &self.plain) {
            (_, Some(p)) => p.index(),
            (Some(f), None) => f.index(),
            (None, None) => None,
        }
    }

    fn wants(&self) -> Option<Range<u64>> {
        match (&self.fragmented, &self.plain) {
            (_, Some(p)) => p.wants(),
            (Some(f), None) => f.wants(),
            (None, None) => None,
        }
    }

    fn start(&self) -> f64 {
        self.plain.as_ref().map_or(0.0, |p| p.start())
    }

    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        self.plain.as_mut()?.take_repackager()
    }
}

#[cfg(all(test, feature = "remux"))]
mod tests {
    use super::*;

    #[test]
    fn a_plain_moov_asks_to_be_fed_again_from_the_start() {
        let file: &[u8] = include_bytes!("../../tests/fixtures/remux/bframes.mp4");
        let len = Some(file.len() as u64);
        let mut ix = Mp4Indexer::new();
        // The fMP4 reader sees the plain `moov`: the plain reader takes
        // over, and it has seen nothing (this reader kept no copy).
        assert_eq!(ix.feed(0, file, len), Ok(Step::Replay { from: 0 }));
        assert!(ix.index().is_none());
        assert_eq!(ix.feed(0, file, len), Ok(Step::Ready));
        assert!(ix.index().is_some_and(|i| i.complete));
    }

    #[test]
    fn a_fragmented_mp4_never_asks_for_a_replay() {
        let file: &[u8] = include_bytes!("../../tests/fixtures/mp4/sidx.mp4");
        let mut ix = Mp4Indexer::new();
        assert_eq!(ix.feed(0, file, Some(file.len() as u64)), Ok(Step::Ready));
    }
}
