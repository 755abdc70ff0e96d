//! `mp4::rechunk`: the first fragment of a fragmented-MP4 run goes out as
//! small fragments that carry exactly its samples; everything else passes
//! byte for byte.

#[path = "common/fmp4.rs"]
mod fmp4;
mod tools;

use std::ops::Range;
use std::process::Command;

use caudal_media::mp4::rechunk::{CHUNK_MS, FIRST_MS, Output, Rechunker};
use fmp4::{Seen, movie, samples, top_boxes};
use proptest::prelude::*;

const BFRAMES: &[u8] = include_bytes!("fixtures/rechunk/bframes.mp4");
const NEGCTS: &[u8] = include_bytes!("fixtures/rechunk/negcts.mp4");
const BASE_OFFSET: &[u8] = include_bytes!("fixtures/rechunk/base-offset.mp4");

/// What the rechunker makes of `file` fed `chunk` bytes at a time from
/// `from`: the stream to append, the built pieces with the input offset at
/// which each went out.
struct Fed {
    stream: Vec<u8>,
    pieces: Vec<(Vec<u8>, u64)>,
    /// The end of what the outputs stand for.
    covered: u64,
}

fn feed(r: &mut Rechunker, file: &[u8], from: usize, chunk: usize) -> Fed {
    let mut fed = Fed {
        stream: Vec::new(),
        pieces: Vec::new(),
        covered: 0,
    };
    let mut covered = from as u64;
    let mut at = from;
    while at < file.len() {
        let end = (at + chunk).min(file.len());
        for o in r.push(at as u64, &file[at..end]) {
            let range = match o {
                Output::Bytes(range) => {
                    fed.stream
                        .extend_from_slice(&file[range.start as usize..range.end as usize]);
                    range
                }
                Output::Piece { bytes, covers } => {
                    fed.stream.extend_from_slice(&bytes);
                    fed.pieces.push((bytes, end as u64));
                    covers
                }
            };
            assert_eq!(range.start, covered, "outputs stand for contiguous bytes");
            covered = range.end;
        }
        at = end;
    }
    fed.covered = covered;
    fed
}

/// `feed` of a whole file: the outputs stand for all of it.
fn feed_all(r: &mut Rechunker, file: &[u8], from: usize, chunk: usize) -> Fed {
    let fed = feed(r, file, from, chunk);
    assert_eq!(
        fed.covered,
        file.len() as u64,
        "outputs stand for every byte"
    );
    fed
}

/// The built pieces that are fragments (not held bytes let through).
fn fragments(fed: &Fed) -> Vec<&(Vec<u8>, u64)> {
    fed.pieces
        .iter()
        .filter(|(b, _)| b.get(4..8) == Some(b"moof"))
        .collect()
}

fn first_fragment(file: &[u8]) -> Range<usize> {
    let boxes = top_boxes(file);
    let i = boxes.iter().position(|(k, _)| k == b"moof").expect("moof");
    boxes[i].1.start..boxes[i + 1].1.end
}

#[test]
fn pieces_carry_exactly_the_samples_of_the_first_fragment() {
    for file in [BFRAMES, NEGCTS] {
        let fed = feed_all(&mut Rechunker::default(), file, 0, 64 << 10);
        assert!(fragments(&fed).len() > 3, "the first 2 s fragment is cut");
        assert_eq!(samples(&fed.stream, file), samples(file, file));
        // Before and after the first fragment: byte for byte.
        let first = first_fragment(file);
        assert_eq!(fed.stream[..first.start], file[..first.start]);
        let tail = file.len() - first.end;
        assert_eq!(fed.stream[fed.stream.len() - tail..], file[first.end..]);
    }
}

#[test]
fn the_first_piece_is_about_200_ms_of_video_and_the_next_about_250() {
    for file in [BFRAMES, NEGCTS] {
        let fed = feed_all(&mut Rechunker::default(), file, 0, 64 << 10);
        let pieces = fragments(&fed);
        let m = movie(file);
        let video = m
            .tracks
            .iter()
            .find(|t| t.codec.starts_with("avc1"))
            .expect("video");
        let frame = u64::from(video.timescale) / 25;
        let span = |piece: &[u8]| -> u64 {
            let s: Vec<Seen> = samples(piece, file);
            s.iter()
                .filter(|x| x.0 == video.id)
                .map(|x| u64::from(x.2))
                .sum()
        };
        let ms = |ticks: u64| ticks * 1000 / u64::from(video.timescale);
        let first = span(&pieces[0].0);
        let most = FIRST_MS * u64::from(video.timescale) / 1000 + frame;
        assert!(ms(first) >= FIRST_MS && first <= most, "first {first}");
        for (piece, _) in &pieces[1..pieces.len() - 1] {
            let d = ms(span(piece));
            assert!(d <= CHUNK_MS + 40, "later piece {d} ms");
        }
        // Audio of the first piece: up to where its video starts playing.
        let audio: Vec<Seen> = samples(&pieces[0].0, file);
        assert!(
            audio.iter().any(|x| x.0 != video.id),
            "audio is in the first piece"
        );
    }
}

#[test]
fn a_byte_at_a_time_gives_the_same_pieces_as_the_whole_file() {
    let whole = feed_all(&mut Rechunker::default(), BFRAMES, 0, BFRAMES.len());
    let bytes = feed_all(&mut Rechunker::default(), BFRAMES, 0, 1);
    assert_eq!(whole.stream, bytes.stream);
    let a: Vec<_> = fragments(&whole).into_iter().map(|p| &p.0).collect();
    let b: Vec<_> = fragments(&bytes).into_iter().map(|p| &p.0).collect();
    assert_eq!(a, b);
}

#[test]
fn each_piece_goes_out_once_its_samples_are_in_not_at_the_fragment_end() {
    // Interleaved video and audio: the first piece's samples are near the start.
    let first = first_fragment(BFRAMES);
    let fed = feed_all(&mut Rechunker::default(), BFRAMES, 0, 500);
    let pieces = fragments(&fed);
    assert!(pieces[0].1 < first.start as u64 + (first.len() as u64) / 3);
    for w in pieces.windows(2) {
        assert!(w[0].1 <= w[1].1);
    }
    // ffmpeg interleaves 4 samples of each track at a time, so the audio
    // falls behind the video towards the end; most pieces still go early.
    let early = pieces.iter().filter(|p| p.1 < first.end as u64).count();
    assert!(early * 2 > pieces.len(), "{early} of {}", pieces.len());
}

#[test]
fn absolute_base_offsets_are_read_as_file_positions() {
    // The same encode as bframes.mp4, its data found from absolute offsets.
    assert_eq!(samples(BASE_OFFSET, BASE_OFFSET), samples(BFRAMES, BFRAMES));
}

#[test]
fn a_fragment_with_an_absolute_base_offset_passes_unchanged() {
    // Pieces would move every later fragment's data from where it says.
    let fed = feed_all(&mut Rechunker::default(), BASE_OFFSET, 0, 1000);
    assert_eq!(fed.stream, BASE_OFFSET);
}

#[test]
fn a_new_run_cuts_its_first_fragment_with_the_tracks_of_the_first_run() {
    let mut r = Rechunker::default();
    feed_all(&mut r, BFRAMES, 0, 4096);
    let second = top_boxes(BFRAMES)
        .into_iter()
        .filter(|(k, _)| k == b"moof")
        .nth(1)
        .expect("two fragments")
        .1
        .start;
    r.restart();
    let fed = feed_all(&mut r, BFRAMES, second, 4096);
    assert!(fragments(&fed).len() > 3);
    assert_eq!(
        samples(&fed.stream, BFRAMES),
        samples(&BFRAMES[second..], BFRAMES)
    );
}

#[test]
fn without_a_moov_seen_the_fragment_passes_unchanged() {
    let first = first_fragment(BFRAMES).start;
    let fed = feed_all(&mut Rechunker::default(), BFRAMES, first, 1000);
    assert_eq!(fed.stream, BFRAMES[first..]);
}

/// The file with the first `from` box of the first fragment's first
/// `traf` renamed to `to` (same size: the file stays well formed).
fn renamed(file: &[u8], from: &[u8; 4], to: &[u8; 4]) -> Vec<u8> {
    let mut out = file.to_vec();
    let frag = first_fragment(file);
    let at = out[frag.clone()]
        .windows(4)
        .position(|w| w == from)
        .expect("box")
        + frag.start;
    out[at..at + 4].copy_from_slice(to);
    out
}

#[test]
fn a_fragment_with_boxes_it_cannot_cut_passes_unchanged() {
    for (from, to) in [
        (b"tfdt", b"senc"),
        (b"tfdt", b"sdtp"),
        (b"tfdt", b"saiz"),
        (b"tfdt", b"free"),
        (b"mdat", b"free"),
    ] {
        let file = renamed(BFRAMES, from, to);
        let fed = feed_all(&mut Rechunker::default(), &file, 0, 1000);
        assert_eq!(fed.stream, file, "{from:?} -> {to:?}");
        assert!(fragments(&fed).len() <= 1);
    }
}

// ---------------------------------------------------------------- synthetic

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(payload);
    v
}

fn full(kind: &[u8; 4], version: u8, flags: u32, fields: &[u32]) -> Vec<u8> {
    let mut p = (u32::from(version) << 24 | flags).to_be_bytes().to_vec();
    for f in fields {
        p.extend_from_slice(&f.to_be_bytes());
    }
    boxed(kind, &p)
}

/// A fragment in the oldest layout: no default-base-is-moof, one data
/// offset (after it, each `trun`'s data follows the previous one's, and
/// the second `traf`'s follows the first's),
/// two `trun`s per `traf`, sizes and durations from `tfhd`/`trex`
/// defaults, a version-0 `tfdt`. Video (track 1, 12800/s) 1 s at 25 fps,
/// audio (track 2, 48000/s) 1024-sample frames.
fn oldest_layout() -> Vec<u8> {
    oldest_layout_at(0)
}

/// [`oldest_layout`] with the audio's decode time raised by `high` << 32.
fn oldest_layout_at(high: u32) -> Vec<u8> {
    let video: Vec<u8> = (0..25u32).flat_map(|i| vec![i as u8; 100]).collect();
    let audio: Vec<u8> = (0..47u32).flat_map(|i| vec![0x80 | i as u8; 10]).collect();
    // tfhd: default duration 512, default size 100, default flags; the
    // first trun's data offset is patched below.
    let mut traf1 = full(b"tfhd", 0, 0x38, &[1, 512, 100, 0x0101_0000]);
    traf1.extend(full(b"tfdt", 0, 0, &[25_600]));
    traf1.extend(full(b"trun", 0, 0x05, &[10, 0xdead_beef, 0x0200_0000]));
    traf1.extend(full(b"trun", 0, 0, &[15]));
    // tfhd: track only; durations per sample, size from trex (10).
    let mut traf2 = full(b"tfhd", 0, 0, &[2]);
    traf2.extend(full(b"tfdt", 1, 0, &[high, 96_000]));
    let mut t = vec![20];
    t.extend(std::iter::repeat_n(1024, 20));
    traf2.extend(full(b"trun", 0, 0x100, &t));
    let mut t = vec![27];
    t.extend(std::iter::repeat_n(1024, 27));
    traf2.extend(full(b"trun", 0, 0x100, &t));
    let mut moof = full(b"mfhd", 0, 0, &[7]);
    moof.extend(boxed(b"traf", &traf1));
    moof.extend(boxed(b"traf", &traf2));
    let mut data = video;
    data.extend(audio);
    let data_offset = (moof.len() + 8 + 8) as u32;
    let at = moof
        .windows(4)
        .position(|w| w == 0xdead_beef_u32.to_be_bytes())
        .expect("marker");
    moof[at..at + 4].copy_from_slice(&data_offset.to_be_bytes());
    let mut out = boxed(b"moof", &moof);
    out.extend(boxed(b"mdat", &data));
    out
}

/// The fixture's `ftyp` + `moov` with its `trex` default size set to 10.
fn init() -> Vec<u8> {
    let first = first_fragment(BFRAMES).start;
    let mut init = BFRAMES[..first].to_vec();
    let mut at = 0;
    while let Some(p) = init[at..].windows(4).position(|w| w == b"trex") {
        let size = at + p + 4 + 4 + 4 + 4 + 4;
        init[size..size + 4].copy_from_slice(&10u32.to_be_bytes());
        at += p + 4;
    }
    init
}

#[test]
fn the_oldest_layout_is_cut_with_its_implicit_offsets_and_defaults() {
    let mut file = init();
    let start = file.len();
    file.extend(oldest_layout());
    let expected = samples(&file, &file);
    assert_eq!(expected.len(), 25 + 47);
    for chunk in [1, 7, file.len()] {
        let fed = feed_all(&mut Rechunker::default(), &file, 0, chunk);
        assert_eq!(fed.stream[..start], file[..start]);
        assert_eq!(samples(&fed.stream, &file), expected);
        // Video cut where 200, 450, 700 and 950 ms are reached.
        assert_eq!(fragments(&fed).len(), 5);
    }
}

#[test]
fn times_past_2_to_the_48_let_the_fragment_pass() {
    let mut file = init();
    file.extend(oldest_layout_at(1 << 16));
    let fed = feed_all(&mut Rechunker::default(), &file, 0, 100);
    assert_eq!(fed.stream, file);
    // Just below: cut.
    let mut file = init();
    file.extend(oldest_layout_at(1 << 15));
    let fed = feed_all(&mut Rechunker::default(), &file, 0, 100);
    assert_eq!(fragments(&fed).len(), 5);
}

#[test]
fn a_sample_outside_its_mdat_lets_the_fragment_pass() {
    let mut file = init();
    let mut frag = oldest_layout();
    // The mdat one byte short of the last audio sample.
    let n = frag.len();
    frag.truncate(n - 1);
    let mdat = frag.len() - (25 * 100 + 47 * 10 - 1) - 8;
    frag[mdat..mdat + 4].copy_from_slice(&((n - 1 - mdat) as u32).to_be_bytes());
    file.extend(frag);
    let fed = feed_all(&mut Rechunker::default(), &file, 0, 100);
    assert_eq!(fed.stream, file);
}

// ---------------------------------------------------------------- ffprobe

#[test]
fn ffprobe_reads_the_same_packets_from_the_pieces() {
    let Some(ffprobe) = tools::require_tool("ffprobe") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("caudal-rechunk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, file) in [("bframes", BFRAMES), ("negcts", NEGCTS)] {
        let fed = feed_all(&mut Rechunker::default(), file, 0, 333);
        let packets = |bytes: &[u8], tag: &str| -> String {
            let path = dir.join(format!("{name}-{tag}.mp4"));
            std::fs::write(&path, bytes).expect("write");
            let out = Command::new(&ffprobe)
                .args(["-v", "error", "-show_entries"])
                // No duration: ffprobe says N/A for the first packet of a
                // `trun` relying on the `tfhd` default, and durations are
                // compared sample by sample above.
                .arg("packet=stream_index,pts,dts,size,flags,data_hash")
                .args(["-show_data_hash", "MD5", "-of", "csv"])
                .arg(&path)
                .output()
                .expect("ffprobe runs");
            assert!(out.status.success());
            // Pieces interleave the tracks differently: track by track.
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_by_key(|l| l.split(',').nth(1).map(str::to_owned));
            lines.join("\n")
        };
        let before = packets(file, "in");
        assert!(before.lines().count() > 150);
        assert_eq!(packets(&fed.stream, "out"), before, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- hostile

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_chunking_gives_the_same_stream(chunks in proptest::collection::vec(1usize..4000, 1..40)) {
        let whole = feed_all(&mut Rechunker::default(), BFRAMES, 0, BFRAMES.len()).stream;
        let mut r = Rechunker::default();
        let mut stream = Vec::new();
        let mut at = 0;
        for c in chunks.iter().cycle() {
            if at >= BFRAMES.len() {
                break;
            }
            let end = (at + c).min(BFRAMES.len());
            for o in r.push(at as u64, &BFRAMES[at..end]) {
                match o {
                    Output::Bytes(x) => stream.extend_from_slice(&BFRAMES[x.start as usize..x.end as usize]),
                    Output::Piece { bytes, .. } => stream.extend(bytes),
                }
            }
            at = end;
        }
        prop_assert_eq!(stream, whole);
    }

    #[test]
    fn damaged_fragments_never_panic_and_every_byte_is_stood_for(
        flips in proptest::collection::vec((0usize..3000, any::<u8>()), 1..20),
        cut in 0usize..30_000,
        chunk in 1usize..5000,
    ) {
        let first = first_fragment(BFRAMES).start;
        let mut file = BFRAMES[..(first + cut).min(BFRAMES.len())].to_vec();
        for (at, b) in flips {
            let at = first + at;
            if at < file.len() {
                file[at] = b;
            }
        }
        // `feed` asserts the outputs stand for every byte, in order.
        let fed = feed(&mut Rechunker::default(), &file, 0, chunk);
        prop_assert!(fed.covered <= file.len() as u64);
    }
}
