//! The fragmented-MP4 indexer against real files made by ffmpeg: the
//! committed player sample (`www/media/caudal-sample.mp4`, no `sidx`) and the
//! small fixtures in `tests/fixtures/mp4/` (made by `make.sh` there).

use std::path::PathBuf;

use caudal_media::index::{ContainerIndexer, MediaError, MediaIndex, Step, TrackKind};
use caudal_media::mp4::Fmp4Indexer;

fn read(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample() -> Vec<u8> {
    read("../www/media/caudal-sample.mp4")
}

/// Feeds `data` from 0 in `chunk`-byte pieces, the file length known.
fn index_in_chunks(data: &[u8], chunk: usize) -> Result<MediaIndex, MediaError> {
    let mut ix = Fmp4Indexer::new();
    let len = Some(data.len() as u64);
    for (i, piece) in data.chunks(chunk).enumerate() {
        ix.feed((i * chunk) as u64, piece, len)?;
    }
    Ok(ix.index().expect("an index at the end of the file").clone())
}

fn assert_contiguous(index: &MediaIndex) {
    for pair in index.segments.windows(2) {
        assert_eq!(
            pair[0].bytes.end, pair[1].bytes.start,
            "bytes contiguous: {pair:?}"
        );
        assert_eq!(pair[0].end, pair[1].start, "times contiguous: {pair:?}");
        assert!(pair[0].start < pair[0].end);
    }
}

#[test]
fn sample_is_indexed_by_scanning_its_fragments() {
    let data = sample();
    let index = index_in_chunks(&data, data.len()).expect("indexes");

    let tracks: Vec<_> = index
        .tracks
        .iter()
        .map(|t| (t.id, t.kind, t.codec.as_str()))
        .collect();
    // ffprobe: h264 Main (77 = 0x4d), level 30 (0x1e); aac LC (object type 2).
    assert_eq!(
        tracks,
        [
            (1, TrackKind::Video, "avc1.4d401e"),
            (2, TrackKind::Audio, "mp4a.40.2")
        ]
    );
    assert_eq!(
        index.mime_type(),
        "video/mp4; codecs=\"avc1.4d401e,mp4a.40.2\""
    );

    // ftyp (28) + moov (1207); then 10 moof+mdat pairs and an mfra.
    assert_eq!(index.init, 0..1235);
    assert_eq!(index.segments.len(), 10);
    let first = &index.segments[0];
    assert_eq!((first.start, first.bytes.start), (0.0, 1235));
    let last = index.segments.last().expect("segments");
    assert_eq!(last.bytes.end, 1_506_356, "the mfra is not a unit");
    assert!(
        (last.end - 20.0).abs() < 0.05,
        "ends at ~20 s: {}",
        last.end
    );
    assert_contiguous(&index);
    for (i, s) in index.segments.iter().enumerate() {
        // A fragment per 2 s keyframe interval (ffmpeg stretches the last
        // frame of the first one to 2.0214 s: tfdt says so, we follow).
        assert!(
            (s.start - 2.0 * i as f64).abs() < 0.05,
            "segment {i}: {s:?}"
        );
    }
    assert!(index.complete);
    let duration = index.duration.expect("duration");
    assert!((duration - 20.0).abs() < 0.05, "duration {duration}");
}

#[test]
fn sample_in_small_chunks_gives_the_same_index() {
    let data = sample();
    let whole = index_in_chunks(&data, data.len()).expect("indexes");
    for chunk in [1, 7, 4096] {
        assert_eq!(
            index_in_chunks(&data, chunk).as_ref(),
            Ok(&whole),
            "{chunk}-byte chunks"
        );
    }
}

#[test]
fn sample_is_ready_at_the_first_moof_and_grows_as_fragments_arrive() {
    let data = sample();
    let mut ix = Fmp4Indexer::new();
    let len = Some(data.len() as u64);
    assert_eq!(
        ix.feed(0, &data[..100], len),
        Ok(Step::NeedBytes {
            offset: 100,
            len: 1135
        })
    );
    // The `moov` is in; the first `moof` (next) says whether the fragments
    // need a rewrite: the index waits for it.
    assert!(matches!(
        ix.feed(100, &data[100..1235], len),
        Ok(Step::NeedBytes { offset: 1235, .. })
    ));
    let moof_end =
        1235 + u32::from_be_bytes([data[1235], data[1236], data[1237], data[1238]]) as usize;
    assert_eq!(ix.feed(1235, &data[1235..moof_end], len), Ok(Step::Ready));
    assert!(
        ix.index()
            .is_some_and(|i| i.segments.is_empty() && !i.complete && i.duration.is_none())
    );
    // The first fragment, then the second up to the middle of its mdat: a
    // unit is known once its mdat header is (the payload is skipped).
    assert_eq!(
        ix.feed(moof_end as u64, &data[moof_end..200_000], len),
        Ok(Step::Ready)
    );
    assert!(
        ix.index()
            .is_some_and(|i| i.segments.len() == 2 && !i.complete)
    );
    assert_eq!(
        ix.position(),
        302_273,
        "next unit after the second fragment's mdat"
    );
    assert_eq!(ix.feed(302_273, &data[302_273..], len), Ok(Step::Ready));
    assert!(
        ix.index()
            .is_some_and(|i| i.segments.len() == 10 && i.complete)
    );
}

#[test]
fn global_sidx_gives_the_complete_index_at_once() {
    let data = read("tests/fixtures/mp4/sidx.mp4");
    let mut ix = Fmp4Indexer::new();
    // ftyp + moov + two sidx (one per track) end at 1414: 2 KB is plenty.
    assert_eq!(
        ix.feed(0, &data[..2048], Some(data.len() as u64)),
        Ok(Step::Ready)
    );
    let index = ix.index().expect("index").clone();
    assert!(index.complete);
    let tracks: Vec<_> = index.tracks.iter().map(|t| t.codec.as_str()).collect();
    assert_eq!(tracks, ["avc1.64000b", "mp4a.40.2"]); // High (100), level 1.1
    assert_eq!(index.init, 0..1238);
    let starts: Vec<_> = index.segments.iter().map(|s| s.bytes.start).collect();
    assert_eq!(starts, [1414, 11084, 20110, 28919], "the moofs");
    assert_eq!(
        index.segments.last().map(|s| s.bytes.end),
        Some(37205),
        "up to the mfra"
    );
    assert_contiguous(&index);
    assert_eq!(index.segments[0].start, 0.0);
    let duration = index.duration.expect("duration");
    assert!((duration - 4.0).abs() < 0.1, "{duration}");

    // The same by scanning: the video sidx times agree with the moofs'.
    for chunk in [1, 4096] {
        assert_eq!(index_in_chunks(&data, chunk).as_ref(), Ok(&index));
    }
}

#[test]
fn per_fragment_sidx_keeps_scanning() {
    let with_global =
        index_in_chunks(&read("tests/fixtures/mp4/sidx.mp4"), 1 << 20).expect("indexes");
    let data = read("tests/fixtures/mp4/sidx-per-frag.mp4");
    let mut ix = Fmp4Indexer::new();
    assert_eq!(
        ix.feed(0, &data[..2048], Some(data.len() as u64)),
        Ok(Step::Ready)
    );
    let first = ix.index().expect("index");
    assert_eq!((first.segments.len(), first.complete), (1, false));
    assert_eq!(
        ix.position(),
        11012,
        "scanning goes on after the first sidx's fragment"
    );

    let index = index_in_chunks(&data, 1000).expect("indexes");
    assert!(index.complete);
    assert_contiguous(&index);
    let times: Vec<_> = index.segments.iter().map(|s| (s.start, s.end)).collect();
    let global_times: Vec<_> = with_global
        .segments
        .iter()
        .map(|s| (s.start, s.end))
        .collect();
    assert_eq!(times, global_times);
    let starts: Vec<_> = index.segments.iter().map(|s| s.bytes.start).collect();
    // Each unit starts with the per-fragment sidx boxes before its moof.
    assert_eq!(starts, [1342, 11012, 20142, 29055]);
}

#[test]
fn truncated_sample_is_reported() {
    let data = sample();
    let cut = &data[..700_000];
    let got = index_in_chunks(cut, 4096);
    assert!(
        matches!(got, Err(MediaError::Truncated { len: 700_000, .. })),
        "{got:?}"
    );
    let cut = &data[..1000];
    let got = index_in_chunks(cut, 4096);
    assert_eq!(
        got,
        Err(MediaError::Truncated {
            len: 1000,
            what: "'moov' box"
        })
    );
}

#[test]
fn webm_is_not_mp4() {
    let data = read("../www/media/caudal-sample.webm");
    assert_eq!(
        Fmp4Indexer::new().feed(0, &data[..4096], None),
        Err(MediaError::UnknownFormat)
    );
}

#[test]
fn the_mfra_at_the_end_completes_the_index_without_scanning() {
    let data = sample();
    let len = data.len() as u64;
    let scanned = index_in_chunks(&data, 4096).expect("scanned index");
    let mut ix = Fmp4Indexer::new();
    // The first request: moov and the first fragment or so.
    let head = &data[..64 * 1024];
    assert_eq!(ix.feed(0, head, Some(len)), Ok(Step::Ready));
    assert!(!ix.index().expect("index").complete);
    let wanted = ix.wants().expect("asks for the end of the file");
    assert_eq!(wanted.end, len);
    let tail = &data[wanted.start as usize..];
    assert_eq!(ix.feed(wanted.start, tail, Some(len)), Ok(Step::Ready));
    let index = ix.index().expect("index");
    assert!(index.complete, "complete from the mfra");
    assert_eq!(ix.wants(), None);
    assert_contiguous(index);
    assert_eq!(index.segments.len(), scanned.segments.len());
    for (from_mfra, from_scan) in index.segments.iter().zip(&scanned.segments) {
        assert_eq!(from_mfra.bytes.start, from_scan.bytes.start);
        assert!(
            (from_mfra.start - from_scan.start).abs() < 0.05,
            "{from_mfra:?} vs {from_scan:?}"
        );
    }
    let duration = index.duration.expect("duration");
    assert!((duration - 20.02).abs() < 0.1, "duration {duration}");
}
