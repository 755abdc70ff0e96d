//! The reader of a live body, whichever container it is: a fragmented MP4
//! ([`LiveSplitter`]) or a WebM ([`WebmSplitter`]), told by its first four
//! bytes (the EBML magic). The server's ingest and the live player both
//! read through this one door.

use super::splitter::{Ingested, LiveError, LiveLimits, LiveSplitter};
use super::webm::WebmSplitter;

/// The EBML header's ID: every WebM starts with it.
const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// A live body's reader.
#[derive(Debug)]
pub enum LiveReader {
    /// Fewer than four bytes so far.
    Undecided {
        limits: LiveLimits,
        head: Vec<u8>,
    },
    Mp4(LiveSplitter),
    Webm(WebmSplitter),
}

impl LiveReader {
    pub fn new(limits: LiveLimits) -> Self {
        LiveReader::Undecided {
            limits,
            head: Vec::new(),
        }
    }

    /// Takes the next bytes of the body: what they completed.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Ingested>, LiveError> {
        match self {
            LiveReader::Mp4(splitter) => splitter.push(data),
            LiveReader::Webm(splitter) => splitter.push(data),
            LiveReader::Undecided { limits, head } => {
                head.extend_from_slice(data);
                if head.len() < EBML_MAGIC.len() {
                    return Ok(Vec::new());
                }
                let (limits, head) = (*limits, std::mem::take(head));
                *self = if head.starts_with(&EBML_MAGIC) {
                    LiveReader::Webm(WebmSplitter::new(limits))
                } else {
                    LiveReader::Mp4(LiveSplitter::new(limits))
                };
                self.push(&head)
            }
        }
    }

    /// The body ended: an error if it ended inside a box or an element.
    pub fn finish(&self) -> Result<(), LiveError> {
        match self {
            LiveReader::Mp4(splitter) => splitter.finish(),
            LiveReader::Webm(splitter) => splitter.finish(),
            LiveReader::Undecided { head, .. } if head.is_empty() => Ok(()),
            LiveReader::Undecided { .. } => Err(LiveError::Truncated),
        }
    }

    /// Whether the body is a WebM (which HLS cannot carry).
    pub fn is_webm(&self) -> bool {
        matches!(self, LiveReader::Webm(_))
    }
}
