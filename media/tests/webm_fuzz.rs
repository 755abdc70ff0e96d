//! Property tests: whatever the bytes and however they are chunked, the
//! WebM indexer returns (never panics) and finishes (never loops).

use caudal_media::index::{ContainerIndexer, Step};
use caudal_media::webm::WebmIndexer;
use proptest::prelude::*;

const SAMPLE: &[u8] = include_bytes!("../../www/media/caudal-sample.webm");
const CUES_AT_END: &[u8] = include_bytes!("fixtures/webm/cues-at-end.webm");
const NO_CUES: &[u8] = include_bytes!("fixtures/webm/no-cues.webm");

/// Feeds `file` in chunks cycling through `chunks`, following NeedBytes,
/// until an error, a complete index, or the end of the file. Each call either
/// moves forward or ends the drive, so a bound of a few calls per byte
/// catches an indexer that stops making progress.
fn drive(file: &[u8], chunks: &[usize], with_len: bool) {
    let len = file.len() as u64;
    let file_len = with_len.then_some(len);
    let mut ix = WebmIndexer::new();
    let mut pos = 0u64;
    let mut calls = 0usize;
    let mut back_jumps = 0usize;
    loop {
        calls += 1;
        assert!(calls <= 4 * file.len() + 100, "no progress");
        let chunk = chunks[calls % chunks.len()].max(1) as u64;
        let start = pos.min(len);
        let end = start.saturating_add(chunk).min(len);
        match ix.feed(start, &file[start as usize..end as usize], file_len) {
            Err(_) => return,
            Ok(Step::NeedBytes { offset, .. }) => {
                if offset >= len {
                    return; // asks past the end: the caller would stop here
                }
                // Forward jumps skip elements; going back happens at most
                // once (to the first Cluster when the SeekHead was stale).
                if offset < end {
                    back_jumps += 1;
                    assert!(back_jumps <= 1, "jumps back and forth");
                }
                pos = offset;
            }
            Ok(Step::Pending | Step::Replay { .. }) => panic!("one reader, all linked in"),
            Ok(Step::Ready) => {
                let index = ix.index().expect("index after Ready");
                assert!(index.init.end <= len || !with_len);
                if index.complete || end >= len {
                    return;
                }
                pos = end;
            }
        }
    }
}

/// Small files and a prefix of the big sample, with bytes flipped mostly
/// in the headers (where the parsing happens) and some anywhere.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let base = prop_oneof![Just(&SAMPLE[..8192]), Just(CUES_AT_END), Just(NO_CUES)];
    (
        base,
        prop::collection::vec((any::<u16>(), any::<u32>(), any::<u8>()), 1..8),
    )
        .prop_map(|(base, flips)| {
            let mut data = base.to_vec();
            for (near, far, byte) in flips {
                let at = if far % 2 == 0 {
                    usize::from(near) % 1024
                } else {
                    far as usize
                };
                let at = at % data.len();
                data[at] = byte;
            }
            data
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048),
                       chunks in prop::collection::vec(1usize..300, 1..8),
                       with_len: bool) {
        drive(&data, &chunks, with_len);
    }

    #[test]
    fn ebml_prefixed_bytes(tail in prop::collection::vec(any::<u8>(), 0..2048),
                           chunks in prop::collection::vec(1usize..300, 1..8),
                           with_len: bool) {
        // Past the magic, so the parser gets further than UnknownFormat.
        let data = [&SAMPLE[..48], &tail[..]].concat();
        drive(&data, &chunks, with_len);
    }

    #[test]
    fn flipped_files(data in mutated(),
                     chunks in prop::collection::vec(1usize..5000, 1..8),
                     with_len: bool) {
        drive(&data, &chunks, with_len);
    }
}
