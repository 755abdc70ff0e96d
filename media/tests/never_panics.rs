//! No file makes the player's code panic: the real policy, probe, indexers
//! and remuxer — the code the wasm runs — driven by a simulated shell over
//! every fixture whole, in several piece sizes, with a seek; and over each
//! fixture cut at 100 random points. A panic fails the test; a clean
//! `Fail` action is the right answer for a broken file.

#[path = "common/shell.rs"]
mod shell;

use std::path::{Path, PathBuf};

/// Every media fixture of this crate.
fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    // The workspace's tidy fixtures (mkvmerge WebM and Matroska) drive the
    // WebM normaliser's hand-over, index and repackager.
    for dir in [
        "mp3",
        "mp4",
        "rechunk",
        "remux",
        "webm",
        "../../../tests/fixtures/tidy",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            panic!("fixtures folder {dir} missing");
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let media = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "mp3" | "mp4" | "m4a" | "webm" | "mkv" | "mka"));
            if media {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 15, "found only {files:?}");
    assert!(
        files
            .iter()
            .filter(|f| f.to_string_lossy().contains("tidy"))
            .count()
            >= 4,
        "the tidy fixtures are driven too: {files:?}"
    );
    files
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_plays_through_the_policy_in_any_piece_size_without_a_panic() {
    for path in fixtures() {
        let file = read(&path);
        for piece in [1usize, 1000, 65_536] {
            for seek in [None, Some(0.5)] {
                let ended = shell::drive(&file, piece, seek, 400_000);
                assert!(
                    matches!(ended, shell::Ended::Idle { appended, .. } if appended > 0),
                    "{} in {piece}-byte pieces, seek {seek:?}: {ended:?}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn every_fixture_cut_at_100_random_points_ends_cleanly() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for path in fixtures() {
        let file = read(&path);
        for _ in 0..100 {
            let cut = rng.below(file.len() as u64) as usize;
            let piece = [512usize, 4096, 65_536][rng.below(3) as usize];
            // Either ending is right; only a panic (or a hang) is wrong.
            let _ = shell::drive(&file[..cut], piece, Some(0.5), 200_000);
        }
    }
}

/// The muxer corpus of the browser tests (`tests/fixtures/corpus`: GStreamer,
/// mkvmerge, MediaRecorder, Shaka Packager, mediabunny, mp4box.js, LAME,
/// SoX): every file whole, in three piece sizes with a seek, and cut at 100
/// random points, through the same code the wasm runs. Files no reader
/// takes (Ogg, WAV, FLAC) end in a clean `Fail`; nothing may panic or hang.
#[test]
fn every_corpus_file_whole_and_cut_ends_without_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("corpus folder {} missing", dir.display());
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e,
                    "mp4" | "m4a" | "mov" | "webm" | "mkv" | "mka" | "mp3" | "ogg" | "wav" | "flac"
                )
            })
        })
        .collect();
    files.sort();
    assert!(files.len() >= 50, "found only {files:?}");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for path in files {
        let file = read(&path);
        for piece in [1000usize, 65_536] {
            for seek in [None, Some(0.5)] {
                let _ = shell::drive(&file, piece, seek, 400_000);
            }
        }
        for _ in 0..100 {
            let cut = rng.below(file.len() as u64) as usize;
            let piece = [512usize, 4096, 65_536][rng.below(3) as usize];
            let _ = shell::drive(&file[..cut], piece, Some(0.5), 200_000);
        }
    }
}
