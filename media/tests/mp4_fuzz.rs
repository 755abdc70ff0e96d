//! Property tests: whatever bytes arrive, in whatever pieces, the MP4
//! indexer answers (a `Step` or an error) without panicking, and a caller
//! that follows its `NeedBytes` requests always gets to an end.

use std::path::PathBuf;
use std::sync::OnceLock;

use caudal_media::index::{ContainerIndexer, Step};
use caudal_media::mp4::Fmp4Indexer;
use proptest::prelude::*;

/// ftyp + moov + the first fragment of the committed sample, and the small
/// sidx fixture: real structure for the byte flips to break.
fn seeds() -> &'static [Vec<u8>; 2] {
    static SEEDS: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let read = |p: &str| std::fs::read(dir.join(p)).expect("seed file");
        let mut sample = read("../www/media/caudal-sample.mp4");
        sample.truncate(160_000);
        [sample, read("tests/fixtures/mp4/sidx.mp4")]
    })
}

/// Feeds `data` front to back in pieces of the given sizes (cycled).
fn feed_in_pieces(data: &[u8], pieces: &[usize], file_len: Option<u64>) {
    let mut ix = Fmp4Indexer::new();
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = pieces
            .get(i % pieces.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let end = (at + n).min(data.len());
        if ix.feed(at as u64, &data[at..end], file_len).is_err() {
            break;
        }
        at = end;
        i += 1;
    }
    let _ = ix.index().map(|index| index.mime_type());
}

/// Acts like the player: feeds what is asked for (at least `chunk` bytes),
/// then contiguous media from `position()` once ready. Returns how many
/// calls it took; each call hands over at least one new byte, so it must
/// end within `data.len()` + a few calls.
fn follow_requests(data: &[u8], chunk: usize, file_len: Option<u64>) -> usize {
    let mut ix = Fmp4Indexer::new();
    let len = data.len() as u64;
    let mut calls = 0;
    let mut step = ix.feed(0, &data[..chunk.min(data.len())], file_len);
    let mut last_position = 0;
    while calls <= data.len() + 4 {
        calls += 1;
        if step.is_ok() && !ix.index().is_some_and(|i| i.complete) {
            assert!(ix.position() >= last_position, "the walk never goes back");
            last_position = ix.position();
        }
        let from = match step {
            Ok(Step::NeedBytes { offset, len: want }) => {
                assert!(want > 0);
                assert_eq!(offset, ix.position(), "asks for what comes next");
                offset
            }
            Ok(Step::Pending | Step::Replay { .. }) => panic!("the fMP4 reader is one reader"),
            Ok(Step::Ready) if ix.index().is_some_and(|i| i.complete) => break,
            Ok(Step::Ready) => ix.position(),
            Err(_) => break,
        };
        if from >= len {
            break;
        }
        let end = (from as usize).saturating_add(chunk).min(data.len());
        step = ix.feed(from, &data[from as usize..end], file_len);
    }
    calls
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..1024),
        pieces in prop::collection::vec(1usize..64, 1..8),
        known_len in any::<bool>(),
    ) {
        let file_len = known_len.then_some(data.len() as u64);
        feed_in_pieces(&data, &pieces, file_len);
        prop_assert!(follow_requests(&data, pieces[0], file_len) <= data.len() + 5);
    }

    #[test]
    fn mp4_headers_with_random_sizes_never_panic(
        boxes in prop::collection::vec(
            (prop::sample::select(vec![*b"ftyp", *b"moov", *b"moof", *b"mdat", *b"sidx", *b"free", *b"trak", *b"traf"]),
             prop::sample::select(vec![0u32, 1, 7, 8, 9, 16, 24, 100, u32::MAX]),
             prop::collection::vec(any::<u8>(), 0..40)),
            1..12),
        pieces in prop::collection::vec(1usize..32, 1..4),
    ) {
        let mut data = Vec::new();
        for (kind, size, body) in &boxes {
            data.extend_from_slice(&size.to_be_bytes());
            data.extend_from_slice(kind);
            data.extend_from_slice(body);
        }
        feed_in_pieces(&data, &pieces, Some(data.len() as u64));
        feed_in_pieces(&data, &pieces, None);
    }

    #[test]
    fn real_files_with_flipped_bytes_never_panic(
        seed in 0usize..2,
        // Half the flips hit the first 4 KB, where ftyp/moov/sidx/moof live.
        flips in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), any::<u8>()), 1..8),
        chunk in prop::sample::select(vec![1usize, 5, 64, 1000, 4096, 65536]),
        known_len in any::<bool>(),
    ) {
        let mut data = seeds()[seed].clone();
        for (head, at, xor) in flips {
            let span = if head { 4096.min(data.len()) } else { data.len() };
            let i = at.index(span);
            data[i] ^= xor.max(1);
        }
        let file_len = known_len.then_some(data.len() as u64);
        let calls = follow_requests(&data, chunk, file_len);
        prop_assert!(calls <= data.len() + 5);
        if chunk >= 64 {
            feed_in_pieces(&data, &[chunk], file_len);
        }
    }
}
