//! `mp4::normalise`: fragmented MP4s that MSE would misread — absolute base
//! data offsets (ffmpeg's default fragmenting), no `tfdt` (GPAC `-frag`,
//! Bento4 `--no-tfdt`; Smooth Streaming's, which give the time in a `tfxd`
//! instead) — are found by the player's main reader, handed to
//! the rewriting reader, and come out as fragments with decode times and
//! moof-relative offsets that carry exactly the samples of the file.

#[path = "common/fmp4.rs"]
mod fmp4;

use caudal_media::index::{ContainerIndexer, MediaError, Step};
use caudal_media::mp4::boxes::traf;
use caudal_media::mp4::boxes::{BoxHeader, Child, HeaderRead};
use caudal_media::mp4::{Fmp4Indexer, Mp4Indexer};
use fmp4::{movie, samples, top_boxes};

/// ffmpeg `frag_keyframe+empty_moov`: every `tfhd` has an absolute base.
const BASE_OFFSET: &[u8] = include_bytes!("fixtures/rechunk/base-offset.mp4");
/// The same encode with default-base-is-moof: what MSE takes as it is.
const BFRAMES: &[u8] = include_bytes!("fixtures/rechunk/bframes.mp4");
/// The same encode as Smooth Streaming (ffmpeg `-f ismv`): no `tfdt`, a
/// `tfxd` (`uuid`) with each fragment's time, one track per `moof`.
const ISMV: &[u8] = include_bytes!("fixtures/rechunk/ismv.mp4");

/// `file` (default-base-is-moof fragments) without its `tfdt`s: each
/// `traf` loses the box, sizes shrink and `trun` data offsets follow.
fn without_tfdt(file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, r) in top_boxes(file) {
        if &kind != b"moof" {
            out.extend_from_slice(&file[r]);
            continue;
        }
        let moof = &file[r];
        let mut trafs = Vec::new();
        let mut removed = 0u32;
        let mut body = Vec::new();
        for (kind, c) in top_boxes(&moof[8..]) {
            let child = &moof[8 + c.start..8 + c.end];
            if &kind != b"traf" {
                body.extend_from_slice(child);
                continue;
            }
            let mut traf = Vec::new();
            for (kind, g) in top_boxes(&child[8..]) {
                let grand = &child[8 + g.start..8 + g.end];
                if &kind == b"tfdt" {
                    removed += grand.len() as u32;
                } else {
                    traf.push((kind, grand.to_vec()));
                }
            }
            trafs.push(traf);
        }
        for traf in trafs {
            let mut payload = Vec::new();
            for (kind, mut bytes) in traf {
                if &kind == b"trun" && bytes[11] & 0x01 != 0 {
                    // data_offset, after version/flags and sample_count.
                    let at = 16;
                    let old = u32::from_be_bytes([
                        bytes[at],
                        bytes[at + 1],
                        bytes[at + 2],
                        bytes[at + 3],
                    ]);
                    bytes[at..at + 4].copy_from_slice(&(old - removed).to_be_bytes());
                }
                payload.extend(bytes);
            }
            body.extend(boxed(b"traf", &payload));
        }
        out.extend(boxed(b"moof", &body));
    }
    out
}

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(payload);
    v
}

/// Feeds `file` whole to `reader`, replaying as asked, until it is ready.
fn ready(reader: &mut dyn ContainerIndexer, file: &[u8]) -> Result<u32, MediaError> {
    let len = Some(file.len() as u64);
    let mut replays = 0;
    loop {
        match reader.feed(0, file, len)? {
            Step::Ready => return Ok(replays),
            Step::Replay { from: 0 } if replays < 3 => replays += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// What the rewriting reader makes of `file`: the init segment, then each
/// unit pushed from the run starting at unit `first`.
fn normalised(file: &[u8], first: usize) -> (Vec<u8>, Vec<u8>) {
    let mut reader = Mp4Indexer::new();
    assert_eq!(ready(&mut reader, file), Ok(1), "one hand-over");
    let index = reader.index().expect("index").clone();
    let mut r = reader.take_repackager().expect("a rewrite");
    let init = r.init_segment();
    let mut stream = Vec::new();
    let unit = &index.segments[first];
    let start = unit.bytes.start;
    r.reset_at(start, Some(unit.start));
    // In 1000-byte pieces from the run's start to the end of the file.
    let mut at = start as usize;
    while at < file.len() {
        let to = (at + 1000).min(file.len());
        for f in r.push(at as u64, &file[at..to]).expect("rewrites") {
            stream.extend(f);
        }
        at = to;
    }
    (init, stream)
}

/// Every `traf` of every `moof` in `stream`: has a `tfdt`, no absolute base.
fn every_traf_is_self_contained(stream: &[u8], init: &[u8], expected: usize) {
    let trex = movie(init).mvex.expect("mvex").trex;
    let mut fragments = 0;
    for (kind, r) in top_boxes(stream) {
        assert!(matches!(&kind, b"moof" | b"mdat"), "only fragments go out");
        if &kind != b"moof" {
            continue;
        }
        fragments += 1;
        let Ok(HeaderRead::Complete(h)) = BoxHeader::read(&stream[r.clone()], r.start as u64)
        else {
            panic!("moof header")
        };
        let moof = Child::top_level(h, &stream[r.start + 8..r.end]);
        for t in traf::samples(&moof, r.start as u64, &trex, 0..u64::MAX).expect("described") {
            assert!(t.has_tfdt && !t.absolute_base, "{t:?}");
        }
    }
    assert_eq!(fragments, expected);
}

#[test]
fn the_main_reader_hands_fragments_with_absolute_base_offsets_to_the_rewrite() {
    let err = Fmp4Indexer::new().feed(0, BASE_OFFSET, Some(BASE_OFFSET.len() as u64));
    assert!(
        matches!(err, Err(MediaError::NeedsRewrite { why }) if why.contains("absolute")),
        "{err:?}"
    );
    // A file MSE takes as it is is read by the main reader alone.
    assert_eq!(ready(&mut Mp4Indexer::new(), BFRAMES), Ok(0));
}

#[test]
fn absolute_base_offsets_come_out_moof_relative_with_the_same_samples() {
    let (init, stream) = normalised(BASE_OFFSET, 0);
    assert_eq!(
        init,
        BASE_OFFSET[..init.len()].to_vec(),
        "the file's own init"
    );
    every_traf_is_self_contained(&stream, &init, 2);
    assert_eq!(samples(&stream, &init), samples(BFRAMES, BFRAMES));
}

#[test]
fn fragments_without_tfdt_get_the_running_decode_times() {
    let stripped = without_tfdt(BFRAMES);
    assert_ne!(stripped.len(), BFRAMES.len());
    let err = Fmp4Indexer::new().feed(0, &stripped, Some(stripped.len() as u64));
    assert!(
        matches!(err, Err(MediaError::NeedsRewrite { why }) if why.contains("tfdt")),
        "{err:?}"
    );
    let (init, stream) = normalised(&stripped, 0);
    every_traf_is_self_contained(&stream, &init, 2);
    assert_eq!(samples(&stream, &init), samples(BFRAMES, BFRAMES));
}

#[test]
fn smooth_streaming_fragments_with_tfxd_boxes_are_rewritten_with_running_decode_times() {
    let err = Fmp4Indexer::new().feed(0, ISMV, Some(ISMV.len() as u64));
    assert!(
        matches!(err, Err(MediaError::NeedsRewrite { why }) if why.contains("tfdt")),
        "{err:?}"
    );
    let (init, stream) = normalised(ISMV, 0);
    // Four one-track fragments (2 s of video, then of audio, twice).
    every_traf_is_self_contained(&stream, &init, 4);
    let rewritten = samples(&stream, &init);
    // Every sample of the file, its bytes unchanged; each track's decode
    // times run on from 0 across its fragments (the second video
    // fragment's keyframe at 2 s, timescale 10 MHz).
    let frames = |track: u32| rewritten.iter().filter(|s| s.0 == track).count();
    assert_eq!(
        (frames(1), frames(2)),
        (100, 189),
        "video and audio samples (ffprobe counts the same)"
    );
    let keyframes: Vec<u64> = rewritten
        .iter()
        .filter(|s| s.0 == 1 && s.3 & 0x0001_0000 == 0)
        .map(|s| s.1)
        .collect();
    assert_eq!(keyframes, [0, 20_000_000], "keyframe decode times");
    for track in [1, 2] {
        let times: Vec<(u64, u32)> = rewritten
            .iter()
            .filter(|s| s.0 == track)
            .map(|s| (s.1, s.2))
            .collect();
        assert!(
            times
                .windows(2)
                .all(|w| w[0].0 + u64::from(w[0].1) == w[1].0),
            "track {track}: each sample starts where the one before ended"
        );
    }
}

#[test]
fn a_run_from_a_later_unit_without_tfdt_starts_at_the_index_time() {
    let stripped = without_tfdt(BFRAMES);
    let (init, stream) = normalised(&stripped, 1);
    every_traf_is_self_contained(&stream, &init, 1);
    // The second unit onward, with the decode times the original gives it
    // (from the unit's time in the index: 2 s into both tracks).
    let whole = samples(BFRAMES, BFRAMES);
    let later = samples(&stream, &init);
    assert!(!later.is_empty() && later.len() < whole.len());
    for s in &later {
        assert!(whole.contains(s), "{s:?} is a sample of the file");
    }
}

#[test]
fn a_little_endian_opus_dops_is_turned_around_and_the_fragments_pass_as_they_are() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/corpus/gst-mp4mux-frag-vp9-opus.mp4"
    );
    let file = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let err = Fmp4Indexer::new().feed(0, &file, Some(file.len() as u64));
    assert!(
        matches!(err, Err(MediaError::NeedsRewrite { why }) if why.contains("dOps")),
        "{err:?}"
    );
    let (init, stream) = normalised(&file, 0);
    use caudal_media::mp4::boxes::dops;
    assert!(dops::has_little_endian(&file[..init.len()]));
    assert!(
        !dops::has_little_endian(&init),
        "the init's dOps is big-endian"
    );
    // Every fragment unchanged: the file's moof+mdat pairs, in order.
    let fragments: Vec<u8> = top_boxes(&file)
        .into_iter()
        .filter(|(k, _)| k == b"moof" || k == b"mdat")
        .flat_map(|(_, r)| file[r].to_vec())
        .collect();
    assert_eq!(stream, fragments);
}
