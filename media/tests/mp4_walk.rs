//! A fragmented MP4 with no index (no `sidx`, no `mfra`: GStreamer's
//! `ismlmux`, mediabunny's and mp4box.js's fragmented output) is walked
//! ahead of the media run, a few KB a fragment (`ContainerIndexer::wants`):
//! its duration and units are known without fetching the media, as native
//! playback knows them.

use caudal_media::index::{ContainerIndexer, Step};
use caudal_media::mp4::Mp4Indexer;

#[test]
fn an_unindexed_fmp4_is_walked_to_its_end_a_moof_at_a_time() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/corpus/gst-ismlmux-h264-aac.mp4"
    );
    let file = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let len = Some(file.len() as u64);
    let mut ix = Mp4Indexer::new();
    // The head, up to the first moof's end, as the first response brings it.
    let mut fed = 0usize;
    let mut step = Ok(Step::NeedBytes { offset: 0, len: 1 });
    while !matches!(step, Ok(Step::Ready)) {
        let to = (fed + 512).min(file.len());
        step = ix.feed(fed as u64, &file[fed..to], len);
        fed = to;
        assert!(fed < file.len(), "never ready: {step:?}");
    }
    let head = fed as u64;
    assert!(!ix.index().is_some_and(|i| i.complete));
    // Then only what `wants` asks for: the tail (no mfra), then the walk.
    let mut sizes = Vec::new();
    while let Some(range) = ix.wants() {
        assert!(sizes.len() < 50, "the walk does not end");
        let bytes = &file[range.start as usize..range.end as usize];
        sizes.push(bytes.len());
        assert_eq!(ix.feed(range.start, bytes, len), Ok(Step::Ready));
    }
    let fetches = sizes.len();
    let index = ix.index().expect("index");
    assert!(index.complete, "complete after {fetches} fetches");
    let duration = index.known_duration().expect("a duration");
    assert!((duration - 3.0).abs() < 0.1, "duration {duration}");
    // The tail (16 KB, no mfra in it), then one small read a fragment:
    // the walk read the moofs, not the media.
    assert!(head < 4096, "head {head}");
    // (ismlmux writes a moof per track: six for these 3 s.)
    assert!(fetches <= 7, "{sizes:?}");
    assert!(sizes[1..].iter().all(|&n| n <= 4096), "{sizes:?}");
}
