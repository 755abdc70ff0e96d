//! A file body the transport sends itself, kernel to socket (`sendfile`),
//! instead of reading it through the response body.
//!
//! The pipeline only makes one when the request came over a connection that
//! can ([`SendsFiles`] in its extensions): the response then carries an empty
//! body, the right `Content-Length`, and a [`SendFile`] extension naming the
//! open file and the range. The transport writes the head, then the range,
//! and counts the bytes in [`SendFile::sent`] so that the access log and the
//! metrics (which see the body) record what really left.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::file::OpenFile;

/// Put into a request's extensions by a transport that honours [`SendFile`].
#[derive(Debug, Clone, Copy)]
pub struct SendsFiles;

/// Told of each piece the transport sends, by a stage that paces the
/// response (`crate::pacing::response`).
pub trait SendProgress: std::fmt::Debug + Send + Sync {
    /// `bytes` more left at `now`: how long to wait before the next piece.
    fn sent(&self, bytes: u64, now: Instant) -> Duration;
    /// The most to send in one piece, when it must be smaller than usual.
    fn max_piece(&self) -> Option<u64>;
}

/// "Send this range of this file as the body", for the transport.
#[derive(Debug, Clone)]
pub struct SendFile {
    pub file: OpenFile,
    pub range: RangeInclusive<u64>,
    sent: Arc<AtomicU64>,
    /// Who wants to hear of each piece, if anyone.
    pub progress: Option<Arc<dyn SendProgress>>,
}

impl SendFile {
    pub fn new(file: OpenFile, range: RangeInclusive<u64>) -> Self {
        SendFile {
            file,
            range,
            sent: Arc::default(),
            progress: None,
        }
    }

    /// Body bytes the transport has handed to the kernel so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn add_sent(&self, bytes: u64) {
        self.sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A handle on the same counter, for whoever reports the response.
    pub fn counter(&self) -> SentCounter {
        SentCounter(self.sent.clone())
    }
}

/// Reads the bytes a [`SendFile`] sent.
#[derive(Debug, Clone)]
pub struct SentCounter(Arc<AtomicU64>);

impl SentCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
