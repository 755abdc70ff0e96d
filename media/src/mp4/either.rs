//! An MP4 is fragmented (MSE takes it as it is) or plain (it must be
//! remuxed); the first bytes do not say which, the `moov` does. So both
//! readers look at the same bytes until one of them knows.

use std::ops::Range;

use crate::index::{ContainerIndexer, MediaError, MediaIndex, Repackager, Step};
use crate::mp4::Fmp4Indexer;
use crate::remux::{Mp4Remuxer, PlanOptions};

/// An MP4 indexer that becomes the fMP4 reader or the plain-MP4 remuxer.
#[derive(Debug)]
pub struct Mp4Indexer {
    fragmented: Option<Fmp4Indexer>,
    plain: Option<Mp4Remuxer>,
}

impl Default for Mp4Indexer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mp4Indexer {
    pub fn new() -> Self {
        Mp4Indexer {
            fragmented: Some(Fmp4Indexer::new()),
            plain: Some(Mp4Remuxer::new(PlanOptions::default())),
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
        let fragmented = self
            .fragmented
            .as_mut()
            .map(|f| f.feed(offset, data, file_len));
        let plain = self.plain.as_mut().map(|p| p.feed(offset, data, file_len));
        match (fragmented, plain) {
            (Some(Ok(Step::Ready)), _) => {
                self.plain = None;
                Ok(Step::Ready)
            }
            (Some(Err(MediaError::NotFragmented)), Some(plain)) => {
                self.fragmented = None;
                plain
            }
            (Some(Err(error)), None) => Err(error),
            (Some(Err(error)), Some(Err(_))) => Err(error),
            (Some(Err(_)), Some(plain)) => {
                self.fragmented = None;
                plain
            }
            (Some(need), Some(Err(_))) => {
                self.plain = None;
                need
            }
            (Some(need), _) => need,
            (None, Some(plain)) => plain,
            (None, None) => Err(MediaError::UnknownFormat),
        }
    }

    fn index(&self) -> Option<&MediaIndex> {
        match (&self.fragmented, &self.plain) {
            (Some(f), _) if f.index().is_some() => f.index(),
            (None, Some(p)) => p.index(),
            _ => None,
        }
    }

    fn wants(&self) -> Option<Range<u64>> {
        self.fragmented.as_ref().and_then(|f| f.wants())
    }

    fn start(&self) -> f64 {
        match (&self.fragmented, &self.plain) {
            (None, Some(p)) => p.start(),
            _ => 0.0,
        }
    }

    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        if self.fragmented.is_some() {
            return None;
        }
        self.plain.as_mut()?.take_repackager()
    }
}
