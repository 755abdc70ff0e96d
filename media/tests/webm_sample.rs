//! The WebM indexer against real files made by ffmpeg: the committed
//! sample (Cues in front), and two small fixtures (Cues at the end; a live
//! stream without Cues). Expected values were read with `ffprobe` and an
//! EBML dump, noted next to each assertion.

use caudal_media::index::{ContainerIndexer, MediaIndex, Step, TrackKind};
use caudal_media::webm::WebmIndexer;

const SAMPLE: &[u8] = include_bytes!("../../www/media/caudal-sample.webm");
const CUES_AT_END: &[u8] = include_bytes!("fixtures/webm/cues-at-end.webm");
const NO_CUES: &[u8] = include_bytes!("fixtures/webm/no-cues.webm");

mod common;

fn drive(file: &[u8], chunk: usize, file_len: Option<u64>) -> (MediaIndex, Vec<u64>) {
    common::drive(WebmIndexer::new(), file, chunk, file_len)
}

/// Units are ascending and contiguous in time and bytes, starting at the
/// end of the init segment.
fn assert_contiguous(index: &MediaIndex) {
    let first = index.segments.first().expect("units");
    assert_eq!(first.bytes.start, index.init.end);
    for pair in index.segments.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
        assert_eq!(pair[0].bytes.end, pair[1].bytes.start);
        assert!(pair[0].start < pair[0].end);
    }
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn sample_with_cues_in_front() {
    let len = Some(SAMPLE.len() as u64);
    let (whole, jumps) = drive(SAMPLE, SAMPLE.len(), len);
    assert!(jumps.is_empty());
    for chunk in [1, 7, 4096] {
        assert_eq!(drive(SAMPLE, chunk, len).0, whole, "chunk size {chunk}");
    }
    assert_eq!(
        drive(SAMPLE, 4096, None).0,
        whole,
        "the Segment size bounds the last unit"
    );

    let codecs: Vec<_> = whole
        .tracks
        .iter()
        .map(|t| (t.id, t.kind, t.codec.as_str()))
        .collect();
    assert_eq!(
        codecs,
        [(1, TrackKind::Video, "vp9"), (2, TrackKind::Audio, "opus")]
    );
    assert_eq!(whole.mime_type(), "video/webm; codecs=\"vp9,opus\"");
    // ffprobe: format duration=20.008000.
    assert!(approx(whole.duration.expect("duration"), 20.008));
    assert!(whole.complete);
    // First Cluster at byte 797 (Segment payload at 48, CueClusterPosition 749).
    assert_eq!(whole.init, 0..797);
    // ffprobe: video keyframes at 0.007 + 2k s, one per Cluster.
    assert_eq!(whole.segments.len(), 10);
    for (k, s) in whole.segments.iter().enumerate() {
        assert!(
            approx(s.start, 0.007 + 2.0 * k as f64),
            "unit {k} starts at {}",
            s.start
        );
    }
    assert_contiguous(&whole);
    let last = whole.segments.last().expect("units");
    assert!(approx(last.end, 20.008));
    assert_eq!(last.bytes.end, SAMPLE.len() as u64);
    assert_eq!(whole.segment_at(5.0), Some(2));
}

#[test]
fn cues_at_the_end_are_fetched() {
    let len = Some(CUES_AT_END.len() as u64);
    let (whole, jumps) = drive(CUES_AT_END, 4096, len);
    // SeekHead: Cues at Segment position 81547, i.e. byte 81595.
    assert_eq!(jumps, [81_595]);
    for chunk in [1, 7, CUES_AT_END.len()] {
        assert_eq!(
            drive(CUES_AT_END, chunk, len).0,
            whole,
            "chunk size {chunk}"
        );
    }
    assert_eq!(drive(CUES_AT_END, 4096, None).0, whole);
    assert!(whole.complete);
    assert_eq!(whole.init, 0..591);
    // ffprobe: video keyframes at 0.007 + k s; Clusters at 591, 20079, 39716, 60296.
    let units: Vec<_> = whole.segments.iter().map(|s| s.bytes.start).collect();
    assert_eq!(units, [591, 20_079, 39_716, 60_296]);
    for (k, s) in whole.segments.iter().enumerate() {
        assert!(approx(s.start, 0.007 + k as f64));
    }
    assert_contiguous(&whole);
    // The last unit stops where the Cues start; it ends at the duration (4.008 s).
    let last = whole.segments.last().expect("units");
    assert_eq!(last.bytes.end, 81_595);
    assert!(approx(last.end, 4.008));
}

#[test]
fn without_cues_clusters_are_scanned() {
    let len = Some(NO_CUES.len() as u64);
    let mut ix = WebmIndexer::new();
    // Up to the first Cluster (505): Ready, no units yet.
    assert_eq!(ix.feed(0, &NO_CUES[..600], len), Ok(Step::Ready));
    let index = ix.index().expect("index");
    assert!(!index.complete && index.segments.is_empty());
    assert_eq!(index.init, 0..505);
    assert_eq!(index.duration, None, "live: no Duration");
    // Units appear as the Clusters arrive.
    assert_eq!(ix.feed(600, &NO_CUES[600..40_000], len), Ok(Step::Ready));
    assert_eq!(ix.index().expect("index").segments.len(), 2);

    let (whole, jumps) = drive(NO_CUES, 4096, len);
    assert!(jumps.is_empty());
    for chunk in [1, 7, NO_CUES.len()] {
        assert_eq!(drive(NO_CUES, chunk, len).0, whole, "chunk size {chunk}");
    }
    assert!(whole.complete);
    // Clusters at 505, 19885, 39519, 60095 hold the video keyframes (ffprobe:
    // 0.007 + k s, at bytes 639, 20117, 39755, 60343); the live muxer opens
    // each with the audio just before the keyframe, so the Cluster Timecodes
    // (the units' starts) are 0, 0.981, 1.981, 2.981 s. The last Cluster
    // (81215, 3.981 s) is audio only; its unit ends with its last block.
    let units: Vec<_> = whole
        .segments
        .iter()
        .map(|s| (s.bytes.start, s.start))
        .collect();
    let expected = [
        (505, 0.0),
        (19_885, 0.981),
        (39_519, 1.981),
        (60_095, 2.981),
        (81_215, 3.981),
    ];
    assert_eq!(units.len(), expected.len());
    for (&(at, start), &(want_at, want_start)) in units.iter().zip(&expected) {
        assert_eq!(at, want_at);
        assert!(approx(start, want_start), "{units:?}");
    }
    assert_contiguous(&whole);
    assert_eq!(
        whole.segments.last().expect("units").bytes.end,
        NO_CUES.len() as u64
    );
    // No Duration in the file, but the scan reached its end: the last
    // SimpleBlock's end (video at 3.967 s + its 40 ms; ffprobe ends the
    // audio at 4.014 s, its last packet in a BlockGroup), not the last
    // Cluster's start (3.981 s).
    assert_eq!(whole.duration, Some(4.007));

    // A live stream of unknown length: the last Cluster stays open.
    let (live, _) = drive(NO_CUES, 4096, None);
    assert!(!live.complete);
    assert_eq!(live.segments[..], whole.segments[..4]);
}

#[test]
fn unknown_size_clusters_end_at_the_next_cluster() {
    // Rewrite each Cluster's size as "unknown" (all value bits set, same
    // length), as live writers that cannot seek back leave them; offsets do
    // not change.
    let mut live = NO_CUES.to_vec();
    for at in [505usize, 19_885, 39_519, 60_095, 81_215] {
        assert_eq!(live[at..at + 4], [0x1F, 0x43, 0xB6, 0x75]);
        let size_len = live[at + 4].leading_zeros() as usize + 1;
        live[at + 4] = 0xFF >> (size_len - 1);
        live[at + 5..at + 4 + size_len].fill(0xFF);
    }
    let len = Some(live.len() as u64);
    let (expected, _) = drive(NO_CUES, 4096, len);
    for chunk in [1, 7, 4096] {
        assert_eq!(drive(&live, chunk, len).0, expected, "chunk size {chunk}");
    }
}
