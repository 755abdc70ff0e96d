//! What the policy tells the server with each request (CMCD, CTA-5004):
//! the buffer ahead (`bl`), the media's bit rate (`br`), the measured
//! throughput (`mtp`), the object's type and playback duration (`ot`, `d`),
//! startup or seek (`su`), a stall since the last request (`bs`), the
//! deadline of the object's first sample (`dl`) and the rate this request
//! needs (`rtp`): the request's bits over half the time the buffer lasts,
//! so that a server pacing by the buffer (`caudal serve --pace`) never
//! delivers it later than the buffer can wait. The session id and the
//! playback rate are the shell's (`sid`, `pr`).

use std::ops::Range;

use super::OPEN_END;
use super::state::State;
use crate::cmcd::Cmcd;
use crate::cta::{ObjectType, StreamType, StreamingFormat};
use crate::index::{MediaIndex, TrackKind};

/// What one request's CMCD is made from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Context<'a> {
    pub(super) state: State,
    pub(super) range: &'a Range<u64>,
    pub(super) media: bool,
    /// Seconds buffered ahead of the playhead.
    pub(super) ahead: f64,
    /// Whether the SourceBuffer exists (a buffer length means something).
    pub(super) configured: bool,
    /// The media's bits per second.
    pub(super) bitrate: Option<f64>,
    /// The link's estimate, bits per second.
    pub(super) throughput: Option<f64>,
    pub(super) index: Option<&'a MediaIndex>,
    /// Seconds of media the range holds, when the index tells.
    pub(super) range_seconds: Option<f64>,
    /// Playback ran dry since the last media request.
    pub(super) stalled: bool,
    pub(super) session_id: Option<&'a str>,
}

/// The CMCD keys of one request.
pub(super) fn client_data(c: &Context<'_>) -> Cmcd {
    let startup = matches!(
        c.state,
        State::Idle | State::Loading | State::Buffering | State::Seeking
    );
    let object = if c.media {
        c.index.and_then(media_object)
    } else {
        Some(ObjectType::Init)
    };
    let kbps = |bits_per_second: f64| (bits_per_second / 1000.0).round() as u64;
    let bounded = c.range.end != OPEN_END && c.range.end > c.range.start;
    let healthy = c.media && c.configured && !startup && !c.stalled && c.ahead > 0.0;
    let rtp = (healthy && bounded)
        .then(|| requested_rate(c.range.end - c.range.start, c.ahead, c.bitrate));
    Cmcd {
        br: c.bitrate.map(kbps),
        d: c.range_seconds
            .filter(|_| c.media && bounded)
            .map(|s| (s * 1000.0).round() as u64),
        ot: object,
        bl: (c.media && c.configured).then(|| (c.ahead.max(0.0) * 1000.0).round() as u64),
        dl: healthy.then(|| (c.ahead * 1000.0).round() as u64),
        mtp: c.throughput.map(kbps),
        su: startup,
        sf: Some(StreamingFormat::Other),
        sid: c.session_id.map(str::to_owned),
        st: Some(StreamType::Vod),
        bs: c.stalled,
        rtp: rtp.map(|bits| (bits / 1000.0).ceil() as u64),
        ..Cmcd::default()
    }
}

/// CMCD's `rtp` for a request of `bytes` with `ahead` seconds buffered, bits
/// per second: the request's bits over half the time the buffer lasts, so a
/// server pacing by the buffer never delivers it later than the buffer can
/// wait; never below the media's `bitrate`.
pub fn requested_rate(bytes: u64, ahead: f64, bitrate: Option<f64>) -> f64 {
    let needed = bytes as f64 * 8.0 / (ahead / 2.0);
    needed.max(bitrate.unwrap_or(0.0))
}

/// `av`, `v` or `a` by the tracks the file holds.
fn media_object(index: &MediaIndex) -> Option<ObjectType> {
    let video = index.tracks.iter().any(|t| t.kind == TrackKind::Video);
    let audio = index.tracks.iter().any(|t| t.kind == TrackKind::Audio);
    match (video, audio) {
        (true, true) => Some(ObjectType::Muxed),
        (true, false) => Some(ObjectType::Video),
        (false, true) => Some(ObjectType::Audio),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy<'a>(range: &'a Range<u64>) -> Context<'a> {
        Context {
            state: State::Playing,
            range,
            media: true,
            ahead: 10.0,
            configured: true,
            bitrate: Some(3_000_000.0),
            throughput: Some(48_123_000.0),
            index: None,
            range_seconds: Some(2.0),
            stalled: false,
            session_id: Some("s"),
        }
    }

    #[test]
    fn a_healthy_request_says_its_buffer_rate_deadline_and_needed_rate() {
        let range = 0..1_000_000;
        let cmcd = client_data(&healthy(&range));
        assert_eq!(cmcd.bl, Some(10_000));
        assert_eq!(cmcd.br, Some(3000));
        assert_eq!(cmcd.mtp, Some(48_123));
        assert_eq!(cmcd.d, Some(2000));
        assert_eq!(cmcd.dl, Some(10_000));
        // 8 Mbit over half of 10 s: 1.6 Mbit/s, below the media's 3: 3.
        assert_eq!(cmcd.rtp, Some(3000));
        assert!(!cmcd.su && !cmcd.bs);
        assert_eq!(cmcd.sid.as_deref(), Some("s"));
        let big = 0..8_000_000;
        assert_eq!(client_data(&healthy(&big)).rtp, Some(12_800));
    }

    #[test]
    fn startup_seek_and_stall_ask_for_no_rate() {
        let range = 0..1_000_000;
        for state in [State::Loading, State::Seeking, State::Buffering] {
            let cmcd = client_data(&Context {
                state,
                ..healthy(&range)
            });
            assert!(cmcd.su, "{state:?}");
            assert_eq!((cmcd.rtp, cmcd.dl), (None, None), "{state:?}");
        }
        let stalled = client_data(&Context {
            stalled: true,
            ..healthy(&range)
        });
        assert!(stalled.bs);
        assert_eq!(stalled.rtp, None);
    }

    #[test]
    fn an_index_request_is_an_init_object_without_a_buffer_length() {
        let range = 900_000..1_000_000;
        let cmcd = client_data(&Context {
            media: false,
            ..healthy(&range)
        });
        assert_eq!(cmcd.ot, Some(ObjectType::Init));
        assert_eq!((cmcd.bl, cmcd.d, cmcd.rtp), (None, None, None));
        let open = 0..OPEN_END;
        let first = client_data(&Context {
            state: State::Loading,
            configured: false,
            ..healthy(&open)
        });
        assert_eq!((first.bl, first.d, first.ot), (None, None, None));
    }
}
