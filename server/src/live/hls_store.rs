//! A live stream's recent segments for HLS: fragments grouped into parts
//! of at least [`PART_MIN`] seconds, parts into segments from one keyframe
//! to the next, the newest [`SEGMENTS_KEPT`] kept. The bytes are the
//! fragments' own `Bytes` (shared with the ring and the viewers).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use caudal_media::live::hls::{HlsPart, HlsSegment, HlsWindow, media_playlist};

use super::stream::Fragment;

/// Media a part holds at least (a fragment per frame makes parts of a few
/// frames; a fragment per GOP, one part per segment).
pub const PART_MIN: f64 = 0.2;
/// Closed segments kept (and listed).
pub const SEGMENTS_KEPT: usize = 8;

#[derive(Debug, Default)]
struct Stored {
    meta: HlsSegment,
    /// Each part's fragments.
    parts: Vec<Vec<Bytes>>,
}

/// The segments of one stream.
#[derive(Debug, Default)]
pub struct HlsStore {
    closed: VecDeque<Stored>,
    open: Option<Stored>,
    /// The part being filled: its fragments, media seconds, keyframe start.
    pending: Vec<Bytes>,
    pending_duration: f64,
    pending_independent: bool,
    next_msn: u64,
    /// The next segment starts a new publisher's timeline.
    discontinuity: bool,
}

impl HlsStore {
    /// One fragment from the publisher; whether a part was completed.
    pub fn push(&mut self, fragment: &Fragment) -> bool {
        let mut closed_part = false;
        if fragment.keyframe {
            closed_part |= self.close_part();
            if let Some(open) = self.open.take() {
                self.closed.push_back(open);
                while self.closed.len() > SEGMENTS_KEPT {
                    self.closed.pop_front();
                }
            }
            self.open = Some(Stored {
                meta: HlsSegment {
                    msn: self.next_msn,
                    wallclock_ms: fragment.wallclock_ms,
                    discontinuity: std::mem::take(&mut self.discontinuity),
                    ..HlsSegment::default()
                },
                parts: Vec::new(),
            });
            self.next_msn += 1;
            self.pending_independent = true;
        }
        // Nothing before the first keyframe: no segment can start there.
        if self.open.is_none() {
            return closed_part;
        }
        self.pending.push(fragment.bytes.clone());
        self.pending_duration += fragment.duration;
        if self.pending_duration >= PART_MIN {
            closed_part |= self.close_part();
        }
        closed_part
    }

    fn close_part(&mut self) -> bool {
        let Some(open) = &mut self.open else {
            return false;
        };
        if self.pending.is_empty() {
            return false;
        }
        // Fragments without media time of their own (audio ones, when the
        // video times the stream) before a keyframe join the last part.
        if self.pending_duration <= 0.0
            && let Some(last) = open.parts.last_mut()
        {
            last.append(&mut self.pending);
            return false;
        }
        open.meta.parts.push(HlsPart {
            duration: self.pending_duration,
            independent: self.pending_independent,
        });
        open.parts.push(std::mem::take(&mut self.pending));
        self.pending_duration = 0.0;
        self.pending_independent = false;
        true
    }

    /// The publisher left: what was pending is dropped, and the next
    /// segment is marked as a discontinuity.
    pub fn publisher_left(&mut self) {
        self.pending.clear();
        self.pending_duration = 0.0;
        if let Some(open) = self.open.take()
            && !open.parts.is_empty()
        {
            self.closed.push_back(open);
        }
        self.discontinuity = true;
    }

    /// A part exists: there is a playlist.
    pub fn started(&self) -> bool {
        !self.closed.is_empty() || self.open.as_ref().is_some_and(|s| !s.parts.is_empty())
    }

    /// The playlist, once a part exists.
    pub fn playlist(&self, name: &str) -> Option<String> {
        let segments: Vec<HlsSegment> = self.closed.iter().map(|s| s.meta.clone()).collect();
        let window = HlsWindow {
            name,
            segments: &segments,
            open: self.open.as_ref().map(|s| &s.meta),
        };
        window.last_part()?;
        Some(media_playlist(&window))
    }

    /// Whether the playlist already lists segment `msn` (whole, with no
    /// `part`) or its part `part`: what a blocking reload waits for.
    pub fn has(&self, msn: u64, part: Option<usize>) -> bool {
        if let Some(stored) = self.find(msn) {
            let whole = self.open.as_ref().is_none_or(|open| open.meta.msn != msn);
            return match part {
                Some(i) => i < stored.parts.len() || whole,
                None => whole,
            };
        }
        // Gone past it: later segments exist.
        self.next_msn > msn + 1 && self.closed.front().is_some_and(|s| s.meta.msn > msn)
    }

    fn find(&self, msn: u64) -> Option<&Stored> {
        self.closed
            .iter()
            .chain(self.open.as_ref())
            .find(|s| s.meta.msn == msn)
    }

    /// The bytes of segment `msn` (closed segments only) or of its part.
    pub fn bytes(&self, msn: u64, part: Option<usize>) -> Option<Bytes> {
        let stored = self.find(msn)?;
        let fragments: Vec<&Bytes> = match part {
            Some(i) => stored.parts.get(i)?.iter().collect(),
            None => {
                if self.open.as_ref().is_some_and(|open| open.meta.msn == msn) {
                    return None;
                }
                stored.parts.iter().flatten().collect()
            }
        };
        if let [one] = fragments[..] {
            return Some(one.clone());
        }
        let mut out = BytesMut::with_capacity(fragments.iter().map(|b| b.len()).sum());
        for fragment in fragments {
            out.extend_from_slice(fragment);
        }
        Some(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(byte: u8, keyframe: bool, duration: f64) -> Fragment {
        Fragment {
            bytes: Bytes::from(vec![byte; 3]),
            keyframe,
            duration,
            wallclock_ms: None,
        }
    }

    #[test]
    fn fragments_group_into_parts_and_keyframes_start_segments() {
        let mut store = HlsStore::default();
        assert!(
            !store.push(&fragment(0, false, 0.04)),
            "before a keyframe: nothing"
        );
        assert_eq!(store.playlist("s"), None);
        for i in 0..10u8 {
            store.push(&fragment(1 + i, i == 0, 0.04));
        }
        // 10 x 40 ms: two parts of 200 ms in segment 0, still open.
        assert!(store.has(0, Some(1)));
        assert!(!store.has(0, Some(2)));
        assert!(!store.has(0, None), "an open segment is not listed whole");
        assert_eq!(store.bytes(0, Some(0)).map(|b| b.len()), Some(15));
        assert_eq!(store.bytes(0, None), None);
        store.push(&fragment(20, true, 0.04));
        assert!(store.has(0, None) && store.has(0, Some(5)));
        assert_eq!(store.bytes(0, None).map(|b| b.len()), Some(30));
        let text = store.playlist("s").expect("a playlist");
        assert!(text.contains("#EXTINF:0.400,\ns/s0.mp4\n"), "{text}");
        assert!(text.contains("URI=\"s/s1.0.mp4\""), "{text}");
        store.publisher_left();
        store.push(&fragment(30, true, 0.3));
        let text = store.playlist("s").expect("a playlist");
        assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
    }

    #[test]
    fn a_timeless_fragment_before_a_keyframe_joins_the_last_part() {
        let mut store = HlsStore::default();
        store.push(&fragment(1, true, 0.2));
        store.push(&fragment(2, false, 0.0));
        store.push(&fragment(3, true, 0.2));
        let text = store.playlist("s").expect("a playlist");
        assert!(!text.contains("DURATION=0.000"), "{text}");
        assert_eq!(store.bytes(0, Some(0)).map(|b| b.len()), Some(6));
    }

    #[test]
    fn only_the_newest_segments_are_kept() {
        let mut store = HlsStore::default();
        for i in 0..20u8 {
            store.push(&fragment(i, true, 1.0));
        }
        assert_eq!(store.bytes(0, None), None);
        assert!(store.bytes(18, None).is_some());
        assert!(store.has(3, None), "gone past it");
    }
}
