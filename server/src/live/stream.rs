//! One live stream: its init segment, a short ring of fragments back to the
//! last keyframe, and its viewers. Every fragment is one refcounted `Bytes`
//! that the ring and every viewer's queue share.
//!
//! A viewer joins with the init segment and the ring (it starts at once, at
//! most one GOP behind), then gets each new fragment. Its queue is bounded
//! in bytes: when a fragment does not fit, the viewer is behind — it skips
//! fragments up to the next keyframe that fits, and is dropped when it has
//! been behind for [`LiveLimits::behind_for`]. The publisher never waits on
//! a viewer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::hls_store::HlsStore;
use super::metrics::LiveMetrics;

/// Bounds of a stream and of its viewers.
#[derive(Debug, Clone, Copy)]
pub struct LiveLimits {
    /// Bytes the ring may hold (a GOP larger than this keeps only its tail
    /// and a joining viewer waits for the next keyframe).
    pub ring_bytes: usize,
    /// Bytes queued for one viewer before it counts as behind.
    pub viewer_queue_bytes: usize,
    /// A viewer behind this long is dropped.
    pub behind_for: Duration,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            ring_bytes: 16 << 20,
            viewer_queue_bytes: 8 << 20,
            behind_for: Duration::from_secs(10),
        }
    }
}

/// One fragment as it fans out.
#[derive(Debug, Clone)]
pub struct Fragment {
    pub bytes: Bytes,
    pub keyframe: bool,
    /// Seconds of media.
    pub duration: f64,
    /// Unix milliseconds the publisher stamped it with (`prft`).
    pub wallclock_ms: Option<u64>,
}

/// What a viewer's body reads: the init segment, then fragments.
#[derive(Debug)]
pub struct ViewerFeed {
    pub receiver: mpsc::UnboundedReceiver<Bytes>,
    /// Bytes sent to the receiver and not yet taken from it.
    pub queued: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct Viewer {
    sender: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
    /// Behind since then: skipping to a keyframe that fits.
    behind_since: Option<Instant>,
}

/// Where a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A publisher is sending.
    Live,
    /// Its publisher left; viewers wait for the next one (same tracks).
    Waiting,
    /// Over: viewers' bodies end.
    Ended,
}

#[derive(Debug)]
struct State {
    init: Option<Bytes>,
    mime: String,
    ring: VecDeque<Fragment>,
    ring_bytes: usize,
    viewers: Vec<Viewer>,
    phase: Phase,
    /// Which publisher holds it (each claim takes a new number).
    publisher: u64,
    hls: HlsStore,
}

/// A live stream, shared by its publisher, its viewers and the registry.
#[derive(Debug)]
pub struct Stream {
    pub name: String,
    limits: LiveLimits,
    state: Mutex<State>,
    /// Tells waiting viewers that the init segment came or the stream ended.
    changed: watch::Sender<u64>,
    metrics: LiveMetrics,
    pub ingested_bytes: AtomicU64,
    pub started: Instant,
}

impl Stream {
    pub fn new(name: String, limits: LiveLimits, metrics: LiveMetrics, publisher: u64) -> Self {
        Stream {
            name,
            limits,
            state: Mutex::new(State {
                init: None,
                mime: String::new(),
                ring: VecDeque::new(),
                ring_bytes: 0,
                viewers: Vec::new(),
                phase: Phase::Live,
                publisher,
                hls: HlsStore::default(),
            }),
            changed: watch::Sender::new(0),
            metrics,
            ingested_bytes: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    pub fn phase(&self) -> Phase {
        self.lock().phase
    }

    pub fn publisher(&self) -> u64 {
        self.lock().publisher
    }

    pub fn mime(&self) -> String {
        self.lock().mime.clone()
    }

    pub fn viewer_count(&self) -> usize {
        self.lock().viewers.len()
    }

    /// A new publisher (`id`) takes the stream over; whether it may: not
    /// while another is live unless `take_over`.
    pub fn claim(&self, id: u64, take_over: bool) -> bool {
        let mut state = self.lock();
        if state.phase == Phase::Live && !take_over {
            return false;
        }
        state.publisher = id;
        state.phase = Phase::Live;
        true
    }

    /// The publisher's init segment. The same one again (a publisher that
    /// came back) keeps the viewers; another one ends their bodies, since
    /// their decoders were set up for the old tracks — they join again.
    pub fn set_init(&self, publisher: u64, init: Bytes, mime: String) {
        let mut state = self.lock();
        if state.publisher != publisher {
            return;
        }
        if state.init.as_ref().is_some_and(|old| *old != init) {
            state.viewers.clear();
            state.ring.clear();
            state.ring_bytes = 0;
        }
        state.init = Some(init);
        state.mime = mime;
        drop(state);
        self.metrics.viewers(&self.name, self.viewer_count());
        self.notify();
    }

    /// One fragment from the publisher: into the ring and to every viewer.
    pub fn publish(&self, publisher: u64, fragment: Fragment, now: Instant) {
        let mut state = self.lock();
        if state.publisher != publisher || state.phase != Phase::Live {
            return;
        }
        if fragment.keyframe {
            state.ring.clear();
            state.ring_bytes = 0;
        }
        // HLS carries fragmented MP4 only: a WebM stream has no playlist.
        let part_done = !is_webm(&state.mime) && state.hls.push(&fragment);
        let len = fragment.bytes.len();
        let mut dropped = 0u64;
        let limits = self.limits;
        state.viewers.retain_mut(|viewer| {
            let queued = viewer.queued.load(Ordering::Acquire);
            let fits = queued + len <= limits.viewer_queue_bytes;
            let may_send = match viewer.behind_since {
                None => fits,
                // Behind: only a keyframe that fits puts it back in step.
                Some(_) => fits && fragment.keyframe,
            };
            if !may_send {
                dropped += 1;
                let since = *viewer.behind_since.get_or_insert(now);
                // Behind too long: cut (its body ends).
                return now.saturating_duration_since(since) < limits.behind_for;
            }
            viewer.behind_since = None;
            viewer.queued.fetch_add(len, Ordering::AcqRel);
            viewer.sender.send(fragment.bytes.clone()).is_ok()
        });
        // The ring keeps at most its budget: a GOP larger keeps its tail
        // (a viewer joining then waits for the next keyframe).
        state.ring_bytes += len;
        state.ring.push_back(fragment);
        while state.ring_bytes > limits.ring_bytes {
            match state.ring.pop_front() {
                Some(old) => state.ring_bytes -= old.bytes.len(),
                None => break,
            }
        }
        let viewers = state.viewers.len();
        drop(state);
        self.ingested_bytes.fetch_add(len as u64, Ordering::Relaxed);
        self.metrics.fragment(&self.name, len, dropped, viewers);
        if part_done {
            // Blocking playlist reloads and preloaded parts wait on this.
            self.notify();
        }
    }

    /// The publisher left: the stream waits for the next one.
    pub fn publisher_left(&self, publisher: u64) {
        let mut state = self.lock();
        if state.publisher == publisher && state.phase == Phase::Live {
            state.phase = Phase::Waiting;
            state.ring.clear();
            state.ring_bytes = 0;
            state.hls.publisher_left();
        }
    }

    /// Over: every viewer's body ends.
    pub fn end(&self) {
        let mut state = self.lock();
        state.phase = Phase::Ended;
        state.viewers.clear();
        state.ring.clear();
        state.ring_bytes = 0;
        drop(state);
        self.metrics.viewers(&self.name, 0);
        self.notify();
    }

    /// A viewer joins: the init segment and the ring from its keyframe are
    /// queued at once, then each fragment as it comes. `None` before the
    /// init segment has come (wait on [`Stream::changes`]) or once ended.
    pub fn join(&self) -> Option<ViewerFeed> {
        let mut state = self.lock();
        if state.phase == Phase::Ended {
            return None;
        }
        let init = state.init.clone()?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let mut total = init.len();
        let _ = sender.send(init);
        // From the ring's first keyframe (the ring may hold a GOP's tail).
        let start = state.ring.iter().position(|f| f.keyframe);
        let mut behind_since = None;
        match start {
            Some(start) => {
                for fragment in state.ring.iter().skip(start) {
                    total += fragment.bytes.len();
                    let _ = sender.send(fragment.bytes.clone());
                }
            }
            // No keyframe yet: it starts at the next one.
            None => behind_since = Some(Instant::now()),
        }
        queued.store(total, Ordering::Release);
        state.viewers.push(Viewer {
            sender,
            queued: queued.clone(),
            behind_since,
        });
        let viewers = state.viewers.len();
        drop(state);
        self.metrics.viewers(&self.name, viewers);
        Some(ViewerFeed { receiver, queued })
    }

    /// Whether the stream is a WebM (which HLS cannot carry).
    pub fn is_webm(&self) -> bool {
        is_webm(&self.lock().mime)
    }

    /// The init segment, once it came.
    pub fn init(&self) -> Option<Bytes> {
        self.lock().init.clone()
    }

    /// The HLS media playlist, once a part exists.
    pub fn hls_playlist(&self) -> Option<String> {
        self.lock().hls.playlist(&self.name)
    }

    /// Whether the HLS playlist has a part yet.
    pub fn hls_started(&self) -> bool {
        self.lock().hls.started()
    }

    /// Whether segment `msn` (or its part) is listed yet.
    pub fn hls_has(&self, msn: u64, part: Option<usize>) -> bool {
        self.lock().hls.has(msn, part)
    }

    /// The bytes of segment `msn`, or of its part.
    pub fn hls_bytes(&self, msn: u64, part: Option<usize>) -> Option<Bytes> {
        self.lock().hls.bytes(msn, part)
    }

    /// Moves whenever the init segment comes, an HLS part is made, or the
    /// stream ends.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Media seconds in the ring, for the listing.
    pub fn ring_seconds(&self) -> f64 {
        self.lock().ring.iter().map(|f| f.duration).sum()
    }
}

/// A WebM stream's MIME type (`video/webm; codecs=…`, `audio/webm`).
fn is_webm(mime: &str) -> bool {
    mime.starts_with("video/webm") || mime.starts_with("audio/webm")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(byte: u8, len: usize, keyframe: bool) -> Fragment {
        Fragment {
            bytes: Bytes::from(vec![byte; len]),
            keyframe,
            duration: 0.5,
            wallclock_ms: None,
        }
    }

    fn stream(limits: LiveLimits) -> Stream {
        let stream = Stream::new("s".into(), limits, LiveMetrics::default(), 1);
        stream.set_init(1, Bytes::from_static(b"init"), "video/mp4".into());
        stream
    }

    /// What a viewer has been sent so far, each piece's first byte.
    fn drain(feed: &mut ViewerFeed) -> Vec<u8> {
        let mut got = Vec::new();
        while let Ok(bytes) = feed.receiver.try_recv() {
            feed.queued.fetch_sub(bytes.len(), Ordering::AcqRel);
            got.push(bytes[0]);
        }
        got
    }

    #[test]
    fn a_viewer_joins_at_the_last_keyframe_then_gets_every_fragment() {
        let s = stream(LiveLimits::default());
        let now = Instant::now();
        s.publish(1, fragment(1, 10, true), now);
        s.publish(1, fragment(2, 10, false), now);
        s.publish(1, fragment(3, 10, true), now);
        s.publish(1, fragment(4, 10, false), now);
        let mut feed = s.join().expect("joined");
        assert_eq!(drain(&mut feed), [b'i', 3, 4], "init, then the last GOP");
        s.publish(1, fragment(5, 10, false), now);
        assert_eq!(drain(&mut feed), [5]);
        // Another publisher's fragments (taken over) are not this one's.
        s.publish(2, fragment(6, 10, true), now);
        assert_eq!(drain(&mut feed), Vec::<u8>::new());
    }

    #[test]
    fn a_viewer_behind_skips_to_the_next_keyframe_and_is_cut_if_it_stays_behind() {
        let limits = LiveLimits {
            viewer_queue_bytes: 25,
            behind_for: Duration::from_secs(5),
            ..LiveLimits::default()
        };
        let s = stream(limits);
        let t0 = Instant::now();
        s.publish(1, fragment(1, 10, true), t0);
        let mut slow = s.join().expect("joined"); // init (4) + 10 queued
        let mut quick = s.join().expect("joined");
        drain(&mut quick);
        // The quick viewer reads each fragment as it comes.
        let mut quick_got = Vec::new();
        for (byte, keyframe) in [(2, false), (3, false), (4, false)] {
            // slow: 24 queued after 2; 3 would make 34: behind; 4 skipped
            s.publish(1, fragment(byte, 10, keyframe), t0);
            quick_got.extend(drain(&mut quick));
        }
        assert_eq!(quick_got, [2, 3, 4], "the others get everything");
        assert_eq!(
            drain(&mut slow),
            [b'i', 1, 2],
            "the slow one missed 3 and 4"
        );
        s.publish(1, fragment(5, 10, false), t0); // fits, but not a keyframe
        s.publish(1, fragment(6, 10, true), t0); // a keyframe that fits
        assert_eq!(drain(&mut slow), [6], "back in step at a keyframe");
        drain(&mut quick);
        // Behind again and for longer than the bound: cut.
        s.publish(1, fragment(7, 20, true), t0); // slow: 20 queued
        assert_eq!(drain(&mut quick), [7]);
        s.publish(1, fragment(8, 10, false), t0); // slow: behind from t0
        assert_eq!(drain(&mut quick), [8]);
        s.publish(1, fragment(9, 10, false), t0 + Duration::from_secs(6));
        assert_eq!(s.viewer_count(), 1, "the slow viewer was cut");
        assert_eq!(drain(&mut quick), [9]);
        assert_eq!(drain(&mut slow), [7], "its body ends after what it had");
        assert!(slow.receiver.is_closed());
    }

    #[test]
    fn a_new_init_segment_ends_the_viewers_of_the_old_one_and_the_same_keeps_them() {
        let s = stream(LiveLimits::default());
        s.publish(1, fragment(1, 10, true), Instant::now());
        let _viewer = s.join().expect("joined");
        s.set_init(1, Bytes::from_static(b"init"), "video/mp4".into());
        assert_eq!(s.viewer_count(), 1, "the same init keeps them");
        s.set_init(1, Bytes::from_static(b"other"), "video/mp4".into());
        assert_eq!(s.viewer_count(), 0, "another init ends them");
    }

    #[test]
    fn a_second_publisher_is_refused_while_the_first_sends_unless_it_takes_over() {
        let s = stream(LiveLimits::default());
        assert!(!s.claim(2, false));
        assert!(s.claim(3, true));
        assert_eq!(s.publisher(), 3);
        s.publisher_left(3);
        assert_eq!(s.phase(), Phase::Waiting);
        assert!(s.claim(4, false), "a stream whose publisher left is free");
    }
}
