//! The live streams by name. A publisher claims a name (refused while
//! another publishes it, unless `--live-takeover`); when it leaves, the
//! stream waits [`LiveConfig::linger`] for the next publisher with its
//! viewers connected, then ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::metrics::LiveMetrics;
use super::stream::{LiveLimits, Phase, Stream};

/// `--live*`: what live streaming allows.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// `/live/` is served at all (`--live off` turns it off).
    pub enabled: bool,
    /// Publishing without a token from loopback (`--live-open`).
    pub open_loopback: bool,
    /// A second publisher of a name takes it over (`--live-takeover`).
    pub take_over: bool,
    /// How long a stream whose publisher left waits for the next.
    pub linger: Duration,
    /// A publisher that sends nothing this long is cut.
    pub idle: Duration,
    pub limits: LiveLimits,
    /// `--live-record DIR`: each publisher's stream is written there.
    pub record: Option<std::path::PathBuf>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            enabled: true,
            open_loopback: false,
            take_over: false,
            linger: Duration::from_secs(30),
            idle: Duration::from_secs(10),
            limits: LiveLimits::default(),
            record: None,
        }
    }
}

/// Why a name cannot be published now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("another publisher is sending this stream")]
    Taken,
}

/// The streams, shared by every event loop.
#[derive(Debug)]
pub struct LiveRegistry {
    pub config: LiveConfig,
    streams: Mutex<HashMap<String, Arc<Stream>>>,
    next_publisher: AtomicU64,
    pub metrics: LiveMetrics,
}

impl LiveRegistry {
    pub fn new(config: LiveConfig, metrics: LiveMetrics) -> Self {
        LiveRegistry {
            config,
            streams: Mutex::default(),
            next_publisher: AtomicU64::new(1),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Stream>>> {
        self.streams
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// A publisher for `name`: the stream and the publisher's number.
    pub fn publish(&self, name: &str) -> Result<(Arc<Stream>, u64), Busy> {
        let id = self.next_publisher.fetch_add(1, Ordering::Relaxed);
        let mut streams = self.lock();
        if let Some(stream) = streams.get(name)
            && stream.phase() != Phase::Ended
        {
            if stream.claim(id, self.config.take_over) {
                return Ok((stream.clone(), id));
            }
            return Err(Busy::Taken);
        }
        let stream = Arc::new(Stream::new(
            name.to_owned(),
            self.config.limits,
            self.metrics.clone(),
            id,
        ));
        streams.insert(name.to_owned(), stream.clone());
        self.metrics.streams.set(streams.len() as i64);
        Ok((stream, id))
    }

    pub fn get(&self, name: &str) -> Option<Arc<Stream>> {
        self.lock()
            .get(name)
            .filter(|s| s.phase() != Phase::Ended)
            .cloned()
    }

    /// Every stream not ended, by name.
    pub fn streams(&self) -> Vec<Arc<Stream>> {
        let mut all: Vec<Arc<Stream>> = self
            .lock()
            .values()
            .filter(|s| s.phase() != Phase::Ended)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Publisher `id` of `stream` left: the stream waits for the next one,
    /// then ends if none came.
    pub fn publisher_left(self: &Arc<Self>, stream: &Arc<Stream>, id: u64) {
        stream.publisher_left(id);
        let (registry, stream) = (self.clone(), stream.clone());
        let linger = self.config.linger;
        let end = move || {
            if stream.phase() == Phase::Waiting && stream.publisher() == id {
                stream.end();
                registry.forget(&stream);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(linger).await;
                    end();
                });
            }
            Err(_) => end(),
        }
    }

    fn forget(&self, stream: &Arc<Stream>) {
        let mut streams = self.lock();
        if streams
            .get(&stream.name)
            .is_some_and(|s| Arc::ptr_eq(s, stream))
        {
            streams.remove(&stream.name);
        }
        self.metrics.streams.set(streams.len() as i64);
    }

    /// The server is stopping: every stream ends (viewers' bodies close).
    pub fn end_all(&self) {
        let mut streams = self.lock();
        for stream in streams.values() {
            stream.end();
        }
        streams.clear();
        self.metrics.streams.set(0);
    }
}

/// A stream name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with a dot
/// nor ending in `.m3u8` (its HLS playlist's name).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && !name.ends_with(".m3u8")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
