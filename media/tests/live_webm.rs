//! `live::WebmSplitter` (through `LiveReader`, as the server and the live
//! player read a body): a live WebM in pieces of any size comes out as its
//! init segment and cluster pieces that add up to exactly the bytes sent —
//! a viewer gets what the publisher sent — with a keyframe where a viewer
//! may start; clusters of unknown size (GStreamer, OBS) read the same as
//! ffmpeg's known-size ones; bad input is a clear error.

use caudal_media::index::TrackKind;
use caudal_media::live::{Ingested, LiveError, LiveFragment, LiveLimits, LiveReader};

/// `ffmpeg -f webm -live 1` down a pipe (see fixtures/live/make.sh).
const LIVE_WEBM: &[u8] = include_bytes!("fixtures/live/live.webm");
const CLUSTER_ID: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];

fn read(body: &[u8], piece: usize) -> Result<Vec<Ingested>, LiveError> {
    let mut reader = LiveReader::new(LiveLimits::default());
    let mut out = Vec::new();
    for chunk in body.chunks(piece) {
        out.extend(reader.push(chunk)?);
    }
    assert!(reader.is_webm());
    reader.finish()?;
    Ok(out)
}

fn pieces(out: &[Ingested]) -> Vec<&LiveFragment> {
    out.iter()
        .filter_map(|i| match i {
            Ingested::Fragment(f) => Some(f),
            Ingested::Init(_) => None,
        })
        .collect()
}

/// Every byte out, in order.
fn joined(out: &[Ingested]) -> Vec<u8> {
    out.iter()
        .flat_map(|i| match i {
            Ingested::Init(init) => init.bytes.clone(),
            Ingested::Fragment(f) => f.bytes.clone(),
        })
        .collect()
}

/// A vint's length from its first byte.
fn vint_len(first: u8) -> usize {
    first.leading_zeros() as usize + 1
}

/// A vint's value (marker bit off); `None` for "unknown".
fn vint(bytes: &[u8]) -> Option<u64> {
    let len = vint_len(bytes[0]);
    let mut value = u64::from(bytes[0]) & (0xFF_u64 >> len);
    for b in &bytes[1..len] {
        value = value << 8 | u64::from(*b);
    }
    (value != (1 << (7 * len)) - 1).then_some(value)
}

/// The fixture with every Cluster's size written as "unknown" (all ones,
/// in the same number of bytes), as streaming muxers write them: the
/// top-level elements walked by their sizes.
fn unknown_size_clusters(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    let mut at = 0;
    let mut rewritten = 0;
    while at < out.len() {
        let id_len = vint_len(out[at]);
        let id = &out[at..at + id_len];
        let size_at = at + id_len;
        let len = vint_len(out[size_at]);
        let size = vint(&out[size_at..]);
        let entered = id == [0x18, 0x53, 0x80, 0x67] || id == CLUSTER_ID;
        if id == CLUSTER_ID {
            out[size_at] = 0xFF >> (len - 1);
            for b in &mut out[size_at + 1..size_at + len] {
                *b = 0xFF;
            }
            rewritten += 1;
        }
        // The Segment and Clusters are entered; every other element skipped.
        at = size_at
            + len
            + if entered {
                0
            } else {
                size.expect("a sized element") as usize
            };
    }
    assert!(rewritten >= 10, "{rewritten} clusters");
    out
}

/// Where two byte strings first differ (no megabyte of bytes in a failure).
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

#[test]
fn a_live_webm_comes_out_as_its_init_and_cluster_pieces_that_add_up_to_the_body() {
    for piece in [1, 7, 1000, 1 << 20] {
        let out = read(LIVE_WEBM, piece).expect("reads");
        let Ingested::Init(init) = &out[0] else {
            panic!("first: {:?}", out.first());
        };
        assert_eq!(init.mime, "video/webm; codecs=\"vp8,opus\"");
        assert_eq!(
            init.tracks.iter().map(|t| t.kind).collect::<Vec<_>>(),
            [TrackKind::Video, TrackKind::Audio]
        );
        assert!(
            !init.bytes.windows(4).any(|w| w == CLUSTER_ID),
            "no cluster in the init"
        );
        assert_eq!(
            first_difference(&joined(&out), LIVE_WEBM),
            None,
            "every byte, in order (pieces of {piece})"
        );
        let frags = pieces(&out);
        // One keyframe a second: 0, 1 and 2 s, each the first piece of its
        // cluster (which starts with the cluster's header).
        let keys: Vec<f64> = frags
            .iter()
            .filter(|f| f.keyframe)
            .map(|f| f.start)
            .collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(
            keys.windows(2).all(|w| (w[1] - w[0] - 1.0).abs() < 0.05),
            "{keys:?}"
        );
        assert!(
            frags
                .iter()
                .filter(|f| f.keyframe)
                .all(|f| f.bytes.starts_with(&CLUSTER_ID))
        );
        // A piece per video frame (75 in 3 s), in order of time; audio
        // pieces go with them, untimed.
        let video: Vec<f64> = frags.iter().filter(|f| f.timed).map(|f| f.start).collect();
        assert!(
            (70..=76).contains(&video.len()),
            "{} video pieces",
            video.len()
        );
        assert!(video.windows(2).all(|w| w[0] < w[1]), "{video:?}");
        assert!(
            frags.iter().all(|f| f.wallclock_ms.is_none()),
            "WebM carries no clock"
        );
    }
}

#[test]
fn unknown_size_clusters_read_like_known_size_ones() {
    let body = unknown_size_clusters(LIVE_WEBM);
    let known = read(LIVE_WEBM, 1000).expect("known sizes");
    let unknown = read(&body, 1000).expect("unknown sizes");
    // All of it but the last cluster, which holds only audio: a cluster
    // of unknown size is whole only once the next begins, and here the
    // stream ended first (a live stream does not end so).
    let out = joined(&unknown);
    assert!(
        body.starts_with(&out),
        "differs at {:?}",
        first_difference(&out, &body)
    );
    let last_cluster = body
        .windows(4)
        .rposition(|w| w == CLUSTER_ID)
        .expect("a cluster");
    assert_eq!(out.len(), last_cluster);
    let starts = |out: &[Ingested]| -> Vec<(bool, bool, u64)> {
        pieces(out)
            .iter()
            .map(|f| (f.keyframe, f.timed, (f.start * 1000.0).round() as u64))
            .collect()
    };
    let (unknown, known) = (starts(&unknown), starts(&known));
    // (Less the audio-only last cluster, as above.)
    assert_eq!(unknown.len() + 1, known.len());
    assert_eq!(unknown[..], known[..unknown.len()]);
}

#[test]
fn what_is_neither_mp4_nor_webm_or_breaks_its_bounds_is_refused() {
    let mut reader = LiveReader::new(LiveLimits::default());
    assert!(matches!(
        reader.push(b"<!doctype html>"),
        Err(LiveError::NotMp4(_))
    ));
    // A block larger than the limit.
    let limits = LiveLimits {
        max_box: 1 << 10,
        max_init: 1 << 16,
    };
    let mut reader = LiveReader::new(limits);
    let result = LIVE_WEBM
        .chunks(500)
        .try_for_each(|c| reader.push(c).map(drop));
    assert!(
        matches!(result, Err(LiveError::BoxTooLarge { .. })),
        "{result:?}"
    );
    // Cut inside a cluster of known size: the end says so.
    let mut reader = LiveReader::new(LiveLimits::default());
    reader
        .push(&LIVE_WEBM[..LIVE_WEBM.len() - 10])
        .expect("reads");
    assert_eq!(reader.finish(), Err(LiveError::Truncated));
    // A second EBML header (two streams glued together) is refused.
    let mut twice = LIVE_WEBM.to_vec();
    twice.extend_from_slice(LIVE_WEBM);
    let mut reader = LiveReader::new(LiveLimits::default());
    assert!(reader.push(&twice).is_err());
}
