//! Durations of WebMs that do not state one (no Duration, no Cues: live
//! writers, MediaRecorder): the end of the last block, as native playback
//! finds it — from a scan that reached the end, or from one read of the
//! file's tail while the scan is still at the start.
//! Fixtures: `tests/fixtures/tidy/make.sh` (3 s, ffmpeg `-live 1`).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use caudal_media::index::{ContainerIndexer, Step};
use caudal_media::webm::WebmIndexer;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/tidy/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// ffprobe: the last packet of both fixtures ends at 3.014 s (an Opus
/// packet at 2.994 s lasting 20 ms).
const NATIVE_END: f64 = 3.014;

#[test]
fn a_single_cluster_webm_without_duration_lasts_to_its_last_block() {
    let file = fixture("single-cluster-vp8-opus.webm");
    let mut ix = WebmIndexer::new();
    assert_eq!(ix.feed(0, &file, Some(file.len() as u64)), Ok(Step::Ready));
    let index = ix.index().unwrap();
    assert!(index.complete);
    assert_eq!(index.segments.len(), 1);
    let duration = index.duration.expect("a duration");
    assert!(
        (duration - NATIVE_END).abs() < 0.05,
        "duration {duration}, native {NATIVE_END} (was the last Cluster's start: 0)"
    );
    assert!((index.segments[0].end - duration).abs() < 1e-9);
}

#[test]
fn a_recording_without_duration_or_cues_reads_its_tail_once_for_one() {
    let file = fixture("recorder-vp8-opus.webm");
    let len = Some(file.len() as u64);
    let mut ix = WebmIndexer::new();
    assert_eq!(ix.feed(0, &file[..8000], len), Ok(Step::Ready));
    assert!(!ix.index().unwrap().complete);
    assert_eq!(ix.index().unwrap().duration, None);
    let tail = ix.wants().expect("the tail is wanted");
    assert_eq!(tail.end, file.len() as u64);
    // The tail comes in pieces, like any response.
    let mut at = tail.start as usize;
    while at < file.len() {
        let to = (at + 10_000).min(file.len());
        assert_eq!(ix.feed(at as u64, &file[at..to], len), Ok(Step::Ready));
        at = to;
    }
    let duration = ix
        .index()
        .unwrap()
        .duration
        .expect("a duration from the tail");
    assert!(
        (duration - NATIVE_END).abs() < 0.05,
        "duration {duration}, native {NATIVE_END}"
    );
    assert_eq!(ix.wants(), None, "read once");
}

#[test]
fn the_last_20_kb_of_a_recording_hold_its_duration() {
    // The fixture is smaller than the tail read: the tail alone, here.
    let file = fixture("recorder-vp8-opus.webm");
    let tail = &file[file.len() - 20_000..];
    let end = caudal_media::webm::tail::last_block_end(tail, &Default::default());
    let end = end.expect("a Cluster starts in the last 20 KB");
    assert!(
        (end - NATIVE_END).abs() < 0.05,
        "end {end}, native {NATIVE_END}"
    );
}
