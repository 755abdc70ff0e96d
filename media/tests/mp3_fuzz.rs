//! Property tests: whatever the bytes and however they are chunked, the
//! MP3 indexer returns (never panics), finishes (never loops), and any
//! index it gives is well formed.

use caudal_media::index::{ContainerIndexer, MediaIndex, Step};
use caudal_media::mp3::Mp3Indexer;
use proptest::prelude::*;

const CBR_INFO: &[u8] = include_bytes!("fixtures/mp3/cbr-info.mp3");
const CBR_PLAIN: &[u8] = include_bytes!("fixtures/mp3/cbr-plain.mp3");
const VBR_XING: &[u8] = include_bytes!("fixtures/mp3/vbr-xing.mp3");
const ID3_CBR: &[u8] = include_bytes!("fixtures/mp3/id3-cbr.mp3");

/// Units ascending and contiguous, with finite times, inside the file.
fn check(index: &MediaIndex, len: u64, with_len: bool) {
    assert_eq!(index.mime_type(), "audio/mpeg");
    for pair in index.segments.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
        assert_eq!(pair[0].bytes.end, pair[1].bytes.start);
    }
    for s in &index.segments {
        assert!(s.start.is_finite() && s.end.is_finite());
        assert!(s.start <= s.end, "{s:?}");
        assert!(s.bytes.start < s.bytes.end, "{s:?}");
        if with_len {
            assert!(s.bytes.end <= len, "{s:?} past {len}");
        }
    }
    if let Some(d) = index.duration {
        assert!(d.is_finite() && d >= 0.0);
    }
}

/// Feeds `file` in chunks cycling through `chunks`, following NeedBytes,
/// until an error, a complete index, or the end of the file. The indexer
/// only ever asks forward, so a bound of a few calls per byte catches one
/// that stops making progress.
fn drive(file: &[u8], chunks: &[usize], with_len: bool) {
    let len = file.len() as u64;
    let file_len = with_len.then_some(len);
    let mut ix = Mp3Indexer::new();
    let mut pos = 0u64;
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(calls <= 4 * file.len() + 100, "no progress");
        let chunk = chunks[calls % chunks.len()].max(1) as u64;
        let start = pos.min(len);
        let end = start.saturating_add(chunk).min(len);
        match ix.feed(start, &file[start as usize..end as usize], file_len) {
            Err(_) => return,
            Ok(Step::NeedBytes { offset, len: want }) => {
                assert!(want > 0);
                assert!(offset >= start, "asks back: {offset} < {start}");
                if offset >= len {
                    return; // asks past the end: the caller would stop here
                }
                pos = offset;
            }
            Ok(Step::Pending | Step::Replay { .. }) => panic!("one reader, all linked in"),
            Ok(Step::Ready) => {
                let index = ix.index().expect("index after Ready");
                check(index, len, with_len);
                if index.complete || end >= len {
                    return;
                }
                pos = end;
            }
        }
    }
}

/// The fixtures with bytes flipped, mostly in the first frames and tags
/// (where the parsing happens) and some anywhere.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let base = prop_oneof![
        Just(CBR_INFO),
        Just(CBR_PLAIN),
        Just(VBR_XING),
        Just(ID3_CBR)
    ];
    (
        base,
        prop::collection::vec((any::<u16>(), any::<u32>(), any::<u8>()), 1..8),
        any::<u16>(),
    )
        .prop_map(|(base, flips, cut)| {
            let mut data = base.to_vec();
            for (near, far, byte) in flips {
                let at = if far % 2 == 0 {
                    usize::from(near) % 512
                } else {
                    far as usize
                };
                let at = at % data.len();
                data[at] = byte;
            }
            // Sometimes truncated, too.
            if cut % 4 == 0 {
                data.truncate(usize::from(cut) % data.len());
            }
            data
        })
}

/// Random bytes, but often starting like an MP3 (a tag or a frame header)
/// so that the indexer gets past its first check.
fn random_file() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        Just(&b""[..]),
        Just(&b"ID3\x03\x00\x00\x00\x00\x01\x00"[..]),
        Just(&[0xFF, 0xFB, 0x90, 0x44][..]),
        Just(&[0xFF, 0xF3, 0x80, 0xC4][..]),
    ];
    (prefix, prop::collection::vec(any::<u8>(), 0..3000)).prop_map(|(p, rest)| {
        let mut v = p.to_vec();
        v.extend(rest);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures(
        file in mutated(),
        chunks in prop::collection::vec(1usize..5000, 1..6),
        with_len in any::<bool>(),
    ) {
        drive(&file, &chunks, with_len);
    }

    #[test]
    fn random_bytes(
        file in random_file(),
        chunks in prop::collection::vec(1usize..700, 1..6),
        with_len in any::<bool>(),
    ) {
        drive(&file, &chunks, with_len);
    }
}
