//! The WebM normaliser on real mkvmerge files: the main reader hands them
//! over, the tidy reader indexes them, and what its repackager writes is a
//! WebM the plain reader takes as tidy, with every frame of the original,
//! each alone in a SimpleBlock.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "common/fmp4.rs"]
mod fmp4;

use caudal_media::index::{ContainerIndexer, Handover, MediaIndex, Step};
use caudal_media::webm::WebmIndexer;
use caudal_media::webm::ebml::{self, Children};
use caudal_media::webm::elements as id;
use caudal_media::webm::tidy::TidyReader;
use caudal_media::webm::tidy::lacing;
use std::cell::Cell;
use std::rc::Rc;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/tidy/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Feeds `file` whole (following NeedBytes) until Ready.
fn index(reader: &mut dyn ContainerIndexer, file: &[u8]) -> Step {
    let len = Some(file.len() as u64);
    let mut step = reader.feed(0, file, len).expect("a readable file");
    for _ in 0..10 {
        match step {
            Step::NeedBytes { offset, .. } => {
                let from = usize::try_from(offset).unwrap().min(file.len());
                step = reader
                    .feed(offset, &file[from..], len)
                    .expect("a readable file");
            }
            _ => break,
        }
    }
    step
}

/// The main reader with a tidy factory that records being asked.
fn main_reader(asked: Rc<Cell<bool>>) -> WebmIndexer {
    WebmIndexer::with_tidy(Some(Box::new(move |reader| {
        assert_eq!(reader, Handover::TidyWebm);
        asked.set(true);
        Box::new(TidyReader::new())
    })))
}

/// The Segment's children (or the top level's), sized or not: the Segment
/// is entered, not held.
fn segment_children(file: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut rest = file;
    while let Ok(Some(h)) = ebml::read_header(rest) {
        if h.id == id::SEGMENT {
            rest = &rest[h.len..];
            continue;
        }
        let size = h.size.expect("sized top-level element") as usize;
        out.push((h.id, &rest[h.len..h.len + size]));
        rest = &rest[h.len + size..];
    }
    assert!(rest.is_empty(), "{} bytes left", rest.len());
    out
}

/// Every (track, frame) of every block in the Clusters of `file`'s
/// Segment, and how many blocks were laced or in BlockGroups.
fn frames(file: &[u8]) -> (Vec<(u64, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    let mut untidy = 0;
    for (element, payload) in segment_children(file) {
        if element != id::CLUSTER {
            continue;
        }
        for child in Children::new(payload, 0).map(Result::unwrap) {
            let block = match child.id {
                id::SIMPLE_BLOCK => child.payload,
                0xA0 => {
                    untidy += 1;
                    Children::new(child.payload, 0)
                        .map(Result::unwrap)
                        .find(|c| c.id == 0xA1)
                        .expect("a Block")
                        .payload
                }
                _ => continue,
            };
            let b = lacing::parse(block).unwrap();
            if b.frames.len() > 1 {
                untidy += 1;
            }
            out.extend(b.frames.iter().map(|f| (b.track, f.to_vec())));
        }
    }
    (out, untidy)
}

/// The tidy file: the init segment and every Cluster the repackager
/// writes from the units' bytes, fed in `piece`-byte pushes.
fn tidy(file: &[u8], piece: usize) -> (MediaIndex, Vec<u8>) {
    let asked = Rc::new(Cell::new(false));
    let mut main = main_reader(asked.clone());
    assert_eq!(index(&mut main, file), Step::Replay { from: 0 });
    assert!(asked.get(), "the main reader asked for the tidy reader");
    assert_eq!(index(&mut main, file), Step::Ready);
    let index = main.index().expect("an index").clone();
    let mut stream = main.take_repackager().expect("a repackager");
    let mut out = stream.init_segment();
    let first = &index.segments[0];
    stream.reset(first.bytes.start);
    let mut at = first.bytes.start as usize;
    let end = index.segments.last().unwrap().bytes.end as usize;
    while at < end {
        let to = (at + piece).min(end);
        for cluster in stream
            .push(at as u64, &file[at..to])
            .expect("tidy clusters")
        {
            out.extend(cluster);
        }
        at = to;
    }
    (index, out)
}

#[test]
fn mkvmerge_default_webm_is_handed_over_and_rewritten_with_every_frame_de_laced() {
    for name in [
        "mkvmerge-vp9-vorbis.webm",
        "mkvmerge-vp8-opus.webm",
        "mkvmerge-nolacing-vp9-vorbis.webm",
    ] {
        let file = fixture(name);
        let (original, untidy) = frames(&file);
        if name.contains("nolacing") {
            assert!(untidy <= 2, "{name}: {untidy} laced blocks");
        } else {
            assert!(
                untidy > 10,
                "{name}: the fixture has laced audio ({untidy})"
            );
        }
        for piece in [1000, 1 << 20] {
            let (index, out) = tidy(&file, piece);
            assert!(index.complete, "{name}: mkvmerge writes Cues");
            let (rewritten, left) = frames(&out);
            assert_eq!(left, 0, "{name}: no lace, no BlockGroup left");
            assert_eq!(rewritten.len(), original.len(), "{name}: every frame");
            assert!(
                by_track(&rewritten) == by_track(&original),
                "{name}: the same frames, each track's in the same order"
            );
            assert!(
                times_ordered(&out),
                "{name}: blocks in time order in each Cluster"
            );

            // The plain reader takes the output as tidy: no hand-over.
            let asked = Rc::new(Cell::new(false));
            let mut again = main_reader(asked.clone());
            assert_eq!(index_scan(&mut again, &out), Step::Ready, "{name}");
            assert!(!asked.get(), "{name}: the tidy output needs no tidying");
            let re = again.index().unwrap();
            assert!(re.complete);
            assert_eq!(re.mime_type(), index.mime_type(), "{name}");
            assert_eq!(re.duration, index.duration, "{name}");
        }
    }
}

/// The frames grouped by track, each group in its order.
fn by_track(frames: &[(u64, Vec<u8>)]) -> Vec<(u64, Vec<u8>)> {
    let mut sorted = frames.to_vec();
    sorted.sort_by_key(|f| f.0);
    sorted
}

/// True when no block in a Cluster is timed before the one ahead of it
/// (Chromium refuses that, whatever the tracks).
fn times_ordered(file: &[u8]) -> bool {
    segment_children(file)
        .into_iter()
        .filter(|(element, _)| *element == id::CLUSTER)
        .all(|(_, payload)| {
            let times: Vec<i16> = Children::new(payload, 0)
                .map(Result::unwrap)
                .filter(|c| c.id == id::SIMPLE_BLOCK)
                .map(|c| lacing::parse(c.payload).unwrap().timecode)
                .collect();
            times.windows(2).all(|w| w[0] <= w[1])
        })
}

/// Feeds a file of unknown-size Segment in one piece with its length.
fn index_scan(reader: &mut dyn ContainerIndexer, file: &[u8]) -> Step {
    index(reader, file)
}

#[test]
fn h264_aac_matroska_is_remuxed_to_fragmented_mp4_that_the_fmp4_reader_takes() {
    let file = fixture("mkvmerge-h264-aac.mkv");
    let (index, out) = tidy(&file, 4096);
    assert_eq!(index.container, caudal_media::index::Container::Mp4);
    assert_eq!(
        index.mime_type(),
        "video/mp4; codecs=\"avc1.4d400d,mp4a.40.2\""
    );
    let mut fmp4 = caudal_media::mp4::Fmp4Indexer::new();
    let step = fmp4.feed(0, &out, Some(out.len() as u64)).expect("an fMP4");
    assert_eq!(step, Step::Ready);
    let remuxed = fmp4.index().expect("an index");
    assert_eq!(remuxed.tracks.len(), 2);
    assert_eq!(
        remuxed.segments.len(),
        index.segments.len(),
        "a fragment per unit"
    );
    // Every frame's bytes, unchanged, in the mdats.
    let (original, _) = frames(&file);
    let frame_bytes: usize = original.iter().map(|f| f.1.len()).sum();
    let mdat_bytes: usize = remuxed
        .segments
        .iter()
        .map(|s| s.bytes.end - s.bytes.start)
        .sum::<u64>() as usize;
    assert!(
        mdat_bytes > frame_bytes,
        "{mdat_bytes} bytes for {frame_bytes} of frames"
    );
    assert!(
        mdat_bytes < frame_bytes + 64 * original.len(),
        "moof overhead"
    );
}

#[test]
fn ffmpeg_matroska_b_frames_keep_their_own_presentation_times() {
    // ffmpeg's Clusters open with the audio ahead of the keyframe, and its
    // x264 reorders by a B-pyramid. Each video frame must be presented at
    // its Matroska time (25 fps from 21 ms), decode times the Cluster's
    // times sorted, with no delay for the player to take off again: a
    // delay of 3+ frames lost a whole GOP in Chromium's MSE.
    let file = fixture("ffmpeg-h264-aac.mkv");
    let asked = Rc::new(Cell::new(false));
    let mut main = main_reader(asked.clone());
    assert_eq!(index(&mut main, &file), Step::Replay { from: 0 });
    assert_eq!(index(&mut main, &file), Step::Ready);
    assert_eq!(main.presentation(), None, "no presentation delay");
    let (_, out) = tidy(&file, 4096);
    // The output's own init segment (its `moov`) describes the fragments.
    let video: Vec<fmp4::Seen> = fmp4::samples(&out, &out)
        .into_iter()
        .filter(|s| s.0 == 1)
        .collect();
    let mut shown: Vec<i64> = video.iter().map(|s| s.1 as i64 + s.4).collect();
    shown.sort_unstable();
    let expected: Vec<i64> = (0..75).map(|k| 21 + 40 * k).collect();
    assert_eq!(shown, expected, "presentation times (ms)");
    // B-frames decode after they are shown (signed offsets), the
    // keyframes when they are shown.
    assert!(video.iter().any(|s| s.4 < 0), "some negative offsets");
    let keys: Vec<i64> = video
        .iter()
        .filter(|s| s.3 & 0x0001_0000 == 0)
        .map(|s| s.4)
        .collect();
    assert_eq!(keys, [0, 0, 0], "keyframes: no composition offset");
}

#[test]
fn the_tidy_init_keeps_only_what_chromium_parses() {
    let file = fixture("mkvmerge-vp9-vorbis.webm");
    let (_, out) = tidy(&file, 1 << 20);
    let top = segment_children(&out);
    let (_, header) = top.iter().find(|c| c.0 == id::EBML).unwrap();
    assert!(header.windows(4).any(|w| w == b"webm"));
    let (_, tracks) = top.iter().find(|c| c.0 == id::TRACKS).unwrap();
    for entry in Children::new(tracks, 0).map(Result::unwrap) {
        for child in Children::new(entry.payload, 0).map(Result::unwrap) {
            assert!(
                caudal_media::webm::chromium::knows(id::TRACK_ENTRY, child.id),
                "TrackEntry child {:#x}",
                child.id
            );
            assert_ne!(child.id, 0x22_B59D, "no LanguageBCP47");
        }
    }
}

#[test]
fn a_mediarecorder_like_h264_opus_webm_is_remuxed_to_fragmented_mp4() {
    // DocType webm, no Duration, no Cues: indexed by the scan.
    let file = fixture("recorder-h264-opus.webm");
    let (index, out) = tidy(&file, 4096);
    assert_eq!(tidy(&file, 7).1, out, "the same in 7-byte pushes");
    assert_eq!(index.mime_type(), "video/mp4; codecs=\"avc1.42c00d,opus\"");
    let mut fmp4 = caudal_media::mp4::Fmp4Indexer::new();
    assert_eq!(fmp4.feed(0, &out, Some(out.len() as u64)), Ok(Step::Ready));
    assert_eq!(fmp4.index().unwrap().tracks.len(), 2);
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn corrupted_files_end_in_an_error_or_output_never_a_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for name in [
        "mkvmerge-vp9-vorbis.webm",
        "mkvmerge-h264-aac.mkv",
        "recorder-h264-opus.webm",
    ] {
        let file = fixture(name);
        for _ in 0..150 {
            let mut bad = file.clone();
            for _ in 0..1 + next(&mut state) % 8 {
                let at = (next(&mut state) % bad.len() as u64) as usize;
                bad[at] = next(&mut state) as u8;
            }
            let mut reader = main_reader(Rc::new(Cell::new(false)));
            let len = Some(bad.len() as u64);
            let Ok(Step::Replay { .. }) = reader.feed(0, &bad, len) else {
                continue;
            };
            if reader.feed(0, &bad, len).is_err() {
                continue;
            }
            let (Some(index), Some(mut stream)) =
                (reader.index().cloned(), reader.take_repackager())
            else {
                continue;
            };
            let _ = stream.init_segment();
            if let Some(first) = index.segments.first() {
                stream.reset(first.bytes.start);
                let from = (first.bytes.start as usize).min(bad.len());
                for (n, piece) in bad[from..].chunks(3000).enumerate() {
                    if stream.push((from + n * 3000) as u64, piece).is_err() {
                        break;
                    }
                }
            }
        }
    }
}

#[test]
fn aac_alone_in_matroska_is_remuxed_to_fragmented_mp4_audio() {
    let file = fixture("mkvmerge-aac.mka");
    let (index, out) = tidy(&file, 4096);
    assert_eq!(index.mime_type(), "audio/mp4; codecs=\"mp4a.40.2\"");
    let mut fmp4 = caudal_media::mp4::Fmp4Indexer::new();
    assert_eq!(fmp4.feed(0, &out, Some(out.len() as u64)), Ok(Step::Ready));
}

/// Chromium's MediaRecorder (`video/webm;codecs=h264`, recorded in headless
/// Chromium: `tests/fixtures/corpus/mediarecorder.py`) writes no
/// CodecPrivate: the SPS and PPS are in-band, in start-code streams. The
/// fMP4 output gets an `avcC` from the first keyframe and length-prefixed
/// frames; before, the file could only play natively.
#[test]
fn h264_with_in_band_parameter_sets_gets_an_avcc_and_length_prefixed_frames() {
    let path = format!(
        "{}/../tests/fixtures/corpus/mediarecorder-h264-opus.webm",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let len = Some(file.len() as u64);
    let mut reader = TidyReader::new();
    // Unknown-size Clusters: the units come as the file is read again.
    for _ in 0..2 {
        assert_eq!(reader.feed(0, &file, len), Ok(Step::Ready));
    }
    let index = reader.index().expect("an index").clone();
    assert!(index.complete && !index.segments.is_empty());
    let mut stream = reader.take_repackager().expect("a repackager");
    let mut out = stream.init_segment();
    let start = index.segments[0].bytes.start;
    stream.reset(start);
    let mut at = start as usize;
    while at < file.len() {
        let to = (at + 4096).min(file.len());
        for cluster in stream.push(at as u64, &file[at..to]).expect("fragments") {
            out.extend(cluster);
        }
        at = to;
    }
    assert_eq!(index.container, caudal_media::index::Container::Mp4);
    assert_eq!(
        index.mime_type(),
        "video/mp4; codecs=\"avc1.42c015,opus\"",
        "the codec from the SPS"
    );
    let avcc = out
        .windows(4)
        .position(|w| w == b"avcC")
        .expect("an avcC in the init segment");
    assert_eq!(&out[avcc + 4..avcc + 8], &[1, 0x42, 0xc0, 0x15]);
    let mut fmp4 = caudal_media::mp4::Fmp4Indexer::new();
    assert_eq!(fmp4.feed(0, &out, Some(out.len() as u64)), Ok(Step::Ready));
    // No start code left in the first fragment's video: it begins with the
    // SPS behind its four-byte length.
    let mdat = out
        .windows(4)
        .position(|w| w == b"mdat")
        .expect("a fragment");
    assert!(
        out[mdat + 4..mdat + 4 + 1024]
            .windows(4)
            .all(|w| w != [0, 0, 0, 1])
    );
}
