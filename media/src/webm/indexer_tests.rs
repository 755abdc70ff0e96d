//! Tests of `webm::indexer`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use super::*;

/// An element with an 8-byte size field.
fn el(id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = id
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    out.push(0x01);
    out.extend_from_slice(&(payload.len() as u64).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

fn uint(id: u32, v: u64) -> Vec<u8> {
    el(id, &v.to_be_bytes())
}

fn ebml_header(doc_type: &str) -> Vec<u8> {
    el(id::EBML, &el(id::DOC_TYPE, doc_type.as_bytes()))
}

fn tracks() -> Vec<u8> {
    let entry = [
        uint(id::TRACK_NUMBER, 1),
        uint(id::TRACK_TYPE, 1),
        el(id::CODEC_ID, b"V_VP8"),
    ]
    .concat();
    el(id::TRACKS, &el(id::TRACK_ENTRY, &entry))
}

fn info(duration_ms: f64) -> Vec<u8> {
    el(
        id::INFO,
        &[
            uint(id::TIMECODE_SCALE, 1_000_000),
            el(id::DURATION, &duration_ms.to_be_bytes()),
        ]
        .concat(),
    )
}

/// A Cluster at `timecode` ms with one video SimpleBlock.
fn cluster(timecode: u64, key: bool) -> Vec<u8> {
    let block = [0x81, 0x00, 0x00, if key { 0x80 } else { 0x00 }, 0xAA, 0xBB];
    el(
        id::CLUSTER,
        &[
            uint(id::CLUSTER_TIMECODE, timecode),
            el(id::SIMPLE_BLOCK, &block),
        ]
        .concat(),
    )
}

/// EBML header + a sized Segment holding `children`.
fn file(children: &[Vec<u8>]) -> Vec<u8> {
    [ebml_header("webm"), el(id::SEGMENT, &children.concat())].concat()
}

fn feed_all(data: &[u8], file_len: Option<u64>) -> Result<Step, MediaError> {
    WebmIndexer::new().feed(0, data, file_len)
}

#[test]
fn scans_clusters_and_merges_non_keyframe_ones() {
    let data = file(&[
        info(3000.0),
        tracks(),
        cluster(0, true),
        cluster(1000, false),
        cluster(2000, true),
    ]);
    let mut ix = WebmIndexer::new();
    let mut step = Ok(Step::Ready);
    for (i, byte) in data.iter().enumerate() {
        step = ix.feed(
            i as u64,
            std::slice::from_ref(byte),
            Some(data.len() as u64),
        );
    }
    assert_eq!(step, Ok(Step::Ready));
    let index = ix.index().unwrap();
    assert!(index.complete);
    let times: Vec<_> = index.segments.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(
        times,
        [(0.0, 2.0), (2.0, 3.0)],
        "the 1 s Cluster starts with a delta frame"
    );
    assert_eq!(index.segments[1].bytes.end, data.len() as u64);
    assert_eq!(index.mime_type(), "video/webm; codecs=\"vp8\"");
}

#[test]
fn cues_in_front() {
    // Cue positions are relative to the Segment payload; lay out once
    // to learn where the Clusters land, then fill in the Cues.
    let cue = |time: u64, pos: u64| {
        let positions = el(
            id::CUE_TRACK_POSITIONS,
            &[uint(id::CUE_TRACK, 1), uint(id::CUE_CLUSTER_POSITION, pos)].concat(),
        );
        el(
            id::CUE_POINT,
            &[uint(id::CUE_TIME, time), positions].concat(),
        )
    };
    let head = [info(2000.0), tracks()].concat();
    let cues_len = el(id::CUES, &[cue(0, 0), cue(0, 0)].concat()).len() as u64;
    let first = head.len() as u64 + cues_len;
    let second = first + cluster(0, true).len() as u64;
    let cues = el(id::CUES, &[cue(0, first), cue(1000, second)].concat());
    let data = file(&[head, cues, cluster(0, true), cluster(1000, true)]);
    let mut ix = WebmIndexer::new();
    assert_eq!(ix.feed(0, &data, None), Ok(Step::Ready));
    let index = ix.index().unwrap();
    assert!(index.complete);
    assert_eq!(index.segments.len(), 2);
    assert_eq!(index.segments[1].end, 2.0);
    assert_eq!(index.segments[1].bytes.end, data.len() as u64);
}

#[test]
fn hostile_sizes() {
    let near_2_56 = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE];
    // Tracks claiming ~2^56 bytes: refused before buffering anything.
    let mut data = [ebml_header("webm"), vec![0x18, 0x53, 0x80, 0x67, 0xFF]].concat();
    data.extend_from_slice(&[0x16, 0x54, 0xAE, 0x6B]);
    data.extend_from_slice(&near_2_56);
    assert!(matches!(
        feed_all(&data, None),
        Err(MediaError::TooLarge { .. })
    ));

    // A Void of ~2^56 bytes is skipped by offset: ask for what follows it,
    // or call the file truncated when its length is known.
    let mut data = [
        ebml_header("webm"),
        vec![0x18, 0x53, 0x80, 0x67, 0xFF, 0xEC],
    ]
    .concat();
    data.extend_from_slice(&near_2_56);
    assert!(
        matches!(feed_all(&data, None), Ok(Step::NeedBytes { offset, .. }) if offset > 1 << 55)
    );
    assert!(matches!(
        feed_all(&data, Some(1000)),
        Err(MediaError::Truncated { len: 1000, .. })
    ));

    // Offsets that would overflow u64 are errors, not wraps.
    let mut ix = WebmIndexer::new();
    let head = [
        ebml_header("webm"),
        vec![0x18, 0x53, 0x80, 0x67, 0xFF, 0xEC],
    ]
    .concat();
    assert!(matches!(
        ix.feed(0, &head, None),
        Ok(Step::NeedBytes { .. })
    ));
    assert!(ix.feed(u64::MAX - 2, &[1, 2, 3], None).is_ok());
}

#[test]
fn invalid_leading_bytes() {
    let base = [ebml_header("webm"), vec![0x18, 0x53, 0x80, 0x67, 0xFF]].concat();
    let bad_id = [base.clone(), vec![0x00, 0x81, 0x00]].concat();
    assert!(matches!(
        feed_all(&bad_id, None),
        Err(MediaError::Malformed { .. })
    ));
    let bad_size = [base.clone(), vec![0xEC, 0x00, 0x00]].concat();
    assert!(matches!(
        feed_all(&bad_size, None),
        Err(MediaError::Malformed { .. })
    ));
    // Unknown size is only for Segment and Cluster.
    let unknown_info = [base, vec![0x15, 0x49, 0xA9, 0x66, 0xFF]].concat();
    assert!(matches!(
        feed_all(&unknown_info, None),
        Err(MediaError::Malformed { .. })
    ));
}

#[test]
fn deep_nesting_is_skipped_not_followed() {
    // 10 000 nested Tags-like masters: skipped by size, no recursion.
    let mut nested = Vec::new();
    for _ in 0..10_000 {
        nested = el(0x7373, &nested);
    }
    let data = file(&[
        info(1000.0),
        tracks(),
        el(id::TAGS, &nested),
        cluster(0, true),
    ]);
    assert_eq!(feed_all(&data, Some(data.len() as u64)), Ok(Step::Ready));

    // Nested children that claim more than their parent: an error.
    let entry = el(id::TRACK_ENTRY, &[0xE0, 0x85, 0x00]);
    let data = file(&[el(id::TRACKS, &entry), cluster(0, true)]);
    assert!(matches!(
        feed_all(&data, None),
        Err(MediaError::Malformed { .. })
    ));
}

#[test]
fn truncated_and_foreign() {
    let data = file(&[info(1000.0), tracks(), cluster(0, true)]);
    assert!(matches!(
        feed_all(&data[..20], None),
        Ok(Step::NeedBytes { offset: 20, .. })
    ));
    assert!(matches!(
        feed_all(&data[..20], Some(20)),
        Err(MediaError::Truncated { len: 20, .. })
    ));
    // The Segment promises more than the file holds.
    let short = data.len() as u64 - 1;
    assert!(matches!(
        feed_all(&data, Some(short)),
        Err(MediaError::Truncated { .. })
    ));
    assert_eq!(
        feed_all(b"\x00\x00\x00\x18ftypisom", None),
        Err(MediaError::UnknownFormat)
    );
    assert_eq!(
        feed_all(b"\x1A\x45", None),
        Ok(Step::NeedBytes { offset: 2, len: 10 })
    );
    let mkv = [ebml_header("mkv"), el(id::SEGMENT, &[])].concat();
    assert!(matches!(
        feed_all(&mkv, None),
        Err(MediaError::Unsupported { .. })
    ));
    let matroska = [
        ebml_header("matroska"),
        el(
            id::SEGMENT,
            &[info(1.0), tracks(), cluster(0, true)].concat(),
        ),
    ]
    .concat();
    assert_eq!(feed_all(&matroska, None), Ok(Step::Ready));
    // No Tracks before the first Cluster.
    assert!(matches!(
        feed_all(&file(&[cluster(0, true)]), None),
        Err(MediaError::Malformed { .. })
    ));
}

#[test]
fn errors_are_sticky_and_gaps_ignored() {
    let mut ix = WebmIndexer::new();
    assert_eq!(
        ix.feed(0, b"\x1A\x45", None),
        Ok(Step::NeedBytes { offset: 2, len: 10 })
    );
    // Bytes past a gap do not count.
    assert_eq!(
        ix.feed(5, b"\xDF\xA3", None),
        Ok(Step::NeedBytes { offset: 2, len: 10 })
    );
    assert_eq!(ix.feed(2, b"XX", None), Err(MediaError::UnknownFormat));
    assert_eq!(
        ix.feed(0, b"\x1A\x45\xDF\xA3", None),
        Err(MediaError::UnknownFormat)
    );
    assert!(ix.index().is_none());
}
