//! The MP4 triage (the player's main module's only MP4 code) sends each MP4
//! to the reader it needs: the remuxer for a plain `moov`, the fMP4 reader
//! for one with `mvex` — the same answer the fMP4 reader itself gives, on
//! every MP4 of the fixtures and of the muxer corpus, fed in any piece
//! size, with the `moov` at either end; and it never panics on a cut or
//! broken file.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use caudal_media::index::{ContainerIndexer, Handover, MediaError, MediaIndex, Step};
use caudal_media::mp4::{Fmp4Indexer, Mp4Triage};

/// A reader that only notes that the file was handed to it.
struct Taken;

impl ContainerIndexer for Taken {
    fn feed(&mut self, _: u64, _: &[u8], _: Option<u64>) -> Result<Step, MediaError> {
        Ok(Step::Pending)
    }
    fn index(&self) -> Option<&MediaIndex> {
        None
    }
}

/// What the triage handed `file` over as, fed `chunk` bytes at a time from
/// 0 and following its requests as the player does; and the fetches it
/// took besides the one from 0. A request that does not continue the bytes
/// fed is a fetch of exactly the range asked for (the policy's side
/// request), so asking for more after it is one more fetch.
fn triage(file: &[u8], chunk: usize, file_len: Option<u64>) -> (Handover, u32) {
    let handed = Rc::new(Cell::new(None));
    let noted = handed.clone();
    let mut triage = Mp4Triage::new(Box::new(move |why| {
        noted.set(Some(why));
        Box::new(Taken)
    }));
    let len = file.len() as u64;
    let (mut pos, mut jumps) = (0u64, 0u32);
    // Where the bytes of the current fetch end.
    let mut fetch_end = len;
    for _ in 0..1_000_000 {
        let end = (pos + chunk as u64).min(fetch_end);
        let step = triage
            .feed(pos, &file[pos as usize..end as usize], file_len)
            .expect("the triage never fails: the reader it picks says what is wrong");
        match step {
            Step::Replay { from: 0 } => {
                return (handed.get().expect("handed over before the replay"), jumps);
            }
            Step::NeedBytes { offset, len: need } => {
                assert!(need > 0 && offset <= len, "asked {offset}+{need} of {len}");
                if offset != end || end == fetch_end && end < len {
                    jumps += 1;
                    fetch_end = offset.saturating_add(need).min(len);
                }
                pos = offset;
            }
            other => panic!("unexpected {other:?}"),
        }
        if pos >= len && handed.get().is_none() && file_len.is_none() {
            // The end of the bytes, unannounced: say so.
            let step = triage.feed(len, &[], Some(len)).expect("no failure");
            assert_eq!(step, Step::Replay { from: 0 });
            return (handed.get().expect("handed over at the end"), jumps);
        }
    }
    panic!("the triage did not decide");
}

/// Whether the fMP4 reader itself reads `file` as fragmented.
fn fragmented(file: &[u8]) -> bool {
    let mut reader = Fmp4Indexer::new();
    let mut pos = 0u64;
    for _ in 0..100_000 {
        let end = (pos as usize + 64 * 1024).min(file.len());
        match reader.feed(pos, &file[pos as usize..end], Some(file.len() as u64)) {
            Ok(Step::Ready) => return true,
            Ok(Step::NeedBytes { offset, .. }) => pos = offset.min(file.len() as u64),
            Ok(other) => panic!("{other:?}"),
            Err(MediaError::NotFragmented) => return false,
            // Fragments MSE would misread are fragments all the same.
            Err(MediaError::NeedsRewrite { .. }) => return true,
            Err(e) => panic!("the fMP4 reader failed: {e}"),
        }
    }
    panic!("the fMP4 reader did not finish");
}

fn mp4s() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "tests/fixtures/mp4",
        "tests/fixtures/remux",
        "../tests/fixtures/corpus",
    ] {
        let entries = std::fs::read_dir(root.join(dir)).expect("fixtures folder");
        for entry in entries.flatten() {
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if matches!(ext, "mp4" | "m4a" | "mov") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 30, "found only {files:?}");
    files
}

#[test]
fn every_mp4_goes_to_the_reader_the_fmp4_reader_agrees_with() {
    let (mut plain, mut frag) = (0, 0);
    for path in mp4s() {
        let file = std::fs::read(&path).expect("readable");
        let expected = if fragmented(&file) {
            frag += 1;
            Handover::FragmentedMp4
        } else {
            plain += 1;
            Handover::PlainMp4
        };
        for chunk in [1, 7, 4096, 1 << 20] {
            for file_len in [Some(file.len() as u64), None] {
                let (handed, _) = triage(&file, chunk, file_len);
                assert_eq!(
                    handed,
                    expected,
                    "{} in {chunk}-byte pieces, length {file_len:?}",
                    path.display()
                );
            }
        }
    }
    assert!(
        plain >= 10 && frag >= 10,
        "{plain} plain, {frag} fragmented"
    );
}

#[test]
fn a_moov_at_the_end_is_found_in_two_fetches_past_the_mdat() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::read(root.join("tests/fixtures/remux/moov-end.mp4")).expect("fixture");
    // Pieces smaller than the `mdat`, so that its end is a jump.
    let (handed, jumps) = triage(&file, 4096, Some(file.len() as u64));
    assert_eq!(handed, Handover::PlainMp4);
    // The header after the `mdat`, then the rest of the `moov` at once:
    // never one fetch per child box.
    assert!(jumps <= 2, "{jumps} fetches");
}

#[test]
fn cut_or_broken_files_go_to_the_fmp4_reader_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::read(root.join("tests/fixtures/remux/bframes.mp4")).expect("fixture");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let cut = (seed % file.len() as u64) as usize;
        let mut broken = file[..cut].to_vec();
        // Every other one also gets a byte flipped inside.
        if cut > 0 && seed & 1 == 1 {
            broken[(seed >> 8) as usize % cut] ^= 0xFF;
        }
        for chunk in [3, 65536] {
            let _ = triage(&broken, chunk, Some(broken.len() as u64));
        }
    }
    // A header whose size is smaller than itself, and no `moov` at all.
    let mut bad = b"\0\0\0\x18ftypisom\0\0\0\0isomavc1".to_vec();
    bad.extend_from_slice(b"\0\0\0\x04free");
    assert_eq!(
        triage(&bad, 4096, Some(bad.len() as u64)).0,
        Handover::FragmentedMp4
    );
    let no_moov = b"\0\0\0\x18ftypisom\0\0\0\0isomavc1\0\0\0\x08free";
    assert_eq!(
        triage(no_moov, 4096, Some(no_moov.len() as u64)).0,
        Handover::FragmentedMp4
    );
}
