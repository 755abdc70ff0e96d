//! The MP3 indexer against real files made by ffmpeg/LAME (see
//! `fixtures/mp3/make.sh`): CBR with LAME's Info header, CBR without one,
//! VBR with a Xing TOC, and an ID3v2-tagged file; plus a VBRI file and
//! hostile variants built here from them. Expected durations were read with
//! `ffprobe -show_entries format=duration`, noted next to each assertion.

use caudal_media::index::{Container, ContainerIndexer, MediaError, MediaIndex, Step, TrackKind};
use caudal_media::mp3::Mp3Indexer;
use caudal_media::mp3::frame;
use caudal_media::probe::indexer_for;

const CBR_INFO: &[u8] = include_bytes!("fixtures/mp3/cbr-info.mp3");
const CBR_PLAIN: &[u8] = include_bytes!("fixtures/mp3/cbr-plain.mp3");
const VBR_XING: &[u8] = include_bytes!("fixtures/mp3/vbr-xing.mp3");
const ID3_CBR: &[u8] = include_bytes!("fixtures/mp3/id3-cbr.mp3");

/// One MPEG-1 Layer III frame at 44.1 kHz.
const FRAME_SECONDS: f64 = 1152.0 / 44100.0;

mod common;

fn drive(file: &[u8], chunk: usize, file_len: Option<u64>) -> (MediaIndex, Vec<u64>) {
    common::drive(Mp3Indexer::new(), file, chunk, file_len)
}

/// The file offsets of every frame from `first` on, by walking the headers.
fn frame_starts(file: &[u8], first: usize) -> Vec<u64> {
    let mut out = Vec::new();
    let mut at = first;
    while let Ok(h) = frame::parse_slice(&file[at..]) {
        out.push(at as u64);
        at += h.frame_len();
        if at >= file.len() {
            break;
        }
    }
    out
}

/// Units are ascending and contiguous in time and bytes, start at
/// `audio_start` and time 0, and end with the duration, inside the file.
fn assert_units(index: &MediaIndex, audio_start: u64, file_len: u64) {
    let first = index.segments.first().expect("units");
    assert_eq!(first.bytes.start, audio_start);
    assert_eq!(first.start, 0.0);
    for pair in index.segments.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
        assert_eq!(pair[0].bytes.end, pair[1].bytes.start);
    }
    for s in &index.segments {
        assert!(s.start < s.end, "{s:?}");
        assert!(s.bytes.start < s.bytes.end, "{s:?}");
    }
    let last = index.segments.last().expect("units");
    assert!(last.bytes.end <= file_len);
    if index.complete {
        assert_eq!(Some(last.end), index.duration);
    }
}

fn assert_close(got: Option<f64>, ffprobe: f64) {
    let got = got.expect("a duration");
    assert!(
        (got - ffprobe).abs() < FRAME_SECONDS,
        "duration {got} vs ffprobe {ffprobe}"
    );
}

/// The same index whatever the chunking, and without jumps.
fn same_for_all_chunks(file: &[u8]) -> MediaIndex {
    let len = Some(file.len() as u64);
    let (whole, jumps) = drive(file, file.len(), len);
    assert!(jumps.is_empty());
    for chunk in [1, 7, 4096] {
        assert_eq!(drive(file, chunk, len).0, whole, "chunk size {chunk}");
    }
    whole
}

#[test]
fn cbr_with_info_header() {
    let index = same_for_all_chunks(CBR_INFO);
    assert_eq!(index.container, Container::Mp3);
    assert_eq!(index.mime_type(), "audio/mpeg");
    assert_eq!(index.init, 0..0);
    assert_eq!(index.tracks.len(), 1);
    assert_eq!(index.tracks[0].kind, TrackKind::Audio);
    assert_eq!(index.tracks[0].codec, "mp3");
    assert!(index.complete);
    // ffprobe: 4.048980 (155 frames in the Info header).
    assert_close(index.duration, 4.048980);
    // The Info frame (64 kbit/s mono, 208 bytes + padding) is skipped.
    let frames = frame_starts(CBR_INFO, 0);
    assert_units(&index, frames[1], CBR_INFO.len() as u64);
    // Two ~2 s units (77 frames each), boundaries on frame starts.
    assert_eq!(index.segments.len(), 2);
    for s in &index.segments {
        assert!(frames.contains(&s.bytes.start), "{s:?} is not on a frame");
    }
    assert!((index.segments[0].end - 77.0 * FRAME_SECONDS).abs() < 1e-9);
    assert_eq!(index.segments[1].bytes.end, CBR_INFO.len() as u64);
    // The time <-> byte queries work on it.
    assert_eq!(index.segment_at(3.0), Some(1));
    assert_eq!(index.segment_containing_byte(frames[1]), Some(0));
    let bitrate = index.bitrate().expect("bitrate");
    assert!((bitrate - 64_000.0).abs() < 500.0, "{bitrate}");
}

#[test]
fn cbr_without_header_by_arithmetic() {
    let index = same_for_all_chunks(CBR_PLAIN);
    // ffprobe: 4.048875 (bytes × 8 / 64000, as we do).
    assert_close(index.duration, 4.048875);
    assert_units(&index, 0, CBR_PLAIN.len() as u64);
    let frames = frame_starts(CBR_PLAIN, 0);
    assert!(frames.len() >= 155);
    for s in &index.segments {
        assert!(frames.contains(&s.bytes.start), "{s:?} is not on a frame");
    }
}

#[test]
fn cbr_without_length_grows_then_completes() {
    let len = CBR_PLAIN.len() as u64;
    let complete = drive(CBR_PLAIN, 4096, Some(len)).0;
    for chunk in [1, 7, 4096, CBR_PLAIN.len()] {
        let (partial, _) = drive(CBR_PLAIN, chunk, None);
        assert!(!partial.complete);
        assert_eq!(partial.duration, None);
        // The units found so far are those of the complete index, bar the
        // last (which the complete index may merge with the remainder).
        assert!(!partial.segments.is_empty());
        assert_units(&partial, 0, len);
        let n = partial.segments.len() - 1;
        assert_eq!(partial.segments[..n], complete.segments[..n]);
    }
    // The first Ready comes before any unit is known, and says incomplete;
    // a later call bringing the length completes it.
    let mut ix = Mp3Indexer::new();
    assert_eq!(ix.feed(0, &CBR_PLAIN[..1000], None), Ok(Step::Ready));
    let early = ix.index().expect("index");
    assert!(!early.complete && early.segments.is_empty());
    assert_eq!(ix.feed(1000, &[], Some(len)), Ok(Step::Ready));
    assert_eq!(ix.index(), Some(&complete));
}

#[test]
fn vbr_with_xing_toc() {
    let index = same_for_all_chunks(VBR_XING);
    // ffprobe: 4.048980 (155 frames in the Xing header).
    assert_close(index.duration, 4.048980);
    let frames = frame_starts(VBR_XING, 0);
    assert_units(&index, frames[1], VBR_XING.len() as u64);
    assert_eq!(index.segments.len(), 2);
    // The TOC puts the 2 s boundary within a few frames of the real frame
    // 77 (1/256 of the stream is ~165 bytes).
    let boundary = index.segments[1].bytes.start;
    let real = frames[1 + 77];
    assert!(
        boundary.abs_diff(real) < 1000,
        "{boundary} vs frame 77 at {real}"
    );
    // The frames really are of varying size.
    let sizes: std::collections::BTreeSet<u64> = frames.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(sizes.len() > 3, "{sizes:?}");
}

#[test]
fn id3v2_tag_is_skipped() {
    let index = same_for_all_chunks(ID3_CBR);
    // ffprobe: 4.048980.
    assert_close(index.duration, 4.048980);
    // An ID3v2.3 tag of 10 + 79 bytes, then the same stream as cbr-info.
    assert_eq!(&ID3_CBR[..3], b"ID3");
    let tag = ID3_CBR.len() - CBR_INFO.len();
    assert_eq!(tag, 89);
    let frames = frame_starts(ID3_CBR, tag);
    assert_units(&index, frames[1], ID3_CBR.len() as u64);
    let plain = drive(CBR_INFO, 4096, Some(CBR_INFO.len() as u64)).0;
    for (a, b) in index.segments.iter().zip(&plain.segments) {
        assert_eq!((a.start, a.end), (b.start, b.end));
        assert_eq!(a.bytes.start, b.bytes.start + tag as u64);
    }
    assert!(indexer_for(&ID3_CBR[..8]).is_ok());
    assert!(indexer_for(&CBR_PLAIN[..8]).is_ok());
}

/// An ID3v2.4 tag of `body` bytes (zeros: padding), then `audio`.
fn with_tag(body: usize, audio: &[u8]) -> Vec<u8> {
    let mut out = b"ID3\x04\x00\x00".to_vec();
    for shift in [21, 14, 7, 0] {
        out.push(((body >> shift) & 0x7F) as u8);
    }
    out.resize(10 + body, 0);
    out.extend_from_slice(audio);
    out
}

#[test]
fn large_tag_is_jumped_not_read() {
    let file = with_tag(300_000, CBR_INFO);
    let len = file.len() as u64;
    let mut ix = Mp3Indexer::new();
    let step = ix.feed(0, &file[..65_536], Some(len)).expect("valid");
    assert_eq!(
        step,
        Step::NeedBytes {
            offset: 300_010,
            len: 4096
        }
    );
    let (index, jumps) = drive(&file, 65_536, Some(len));
    assert_eq!(jumps, [300_010]);
    let plain = drive(CBR_INFO, 4096, Some(CBR_INFO.len() as u64)).0;
    assert_eq!(index.duration, plain.duration);
    assert_eq!(
        index.segments[0].bytes.start,
        plain.segments[0].bytes.start + 300_010
    );
    // Stacked tags and junk between tag and first frame are skipped too.
    let mut junk = with_tag(100, &[0xFF, 0xFB, 0xF0, 0x44, 0xFF, 0x00, 0x12]);
    junk = with_tag(50, &junk);
    junk.extend_from_slice(CBR_INFO);
    let (index, _) = drive(&junk, 7, Some(junk.len() as u64));
    assert_eq!(
        index.segments[0].bytes.start,
        plain.segments[0].bytes.start + 177
    );
    assert_eq!(index.duration, plain.duration);
}

/// A VBRI file: cbr-plain's frames behind a first frame holding a VBRI
/// header whose table has an entry per 11 frames (so 77 frames, a unit,
/// is exactly 7 entries).
fn vbri_file() -> (Vec<u8>, Vec<u64>) {
    let frames = frame_starts(CBR_PLAIN, 0);
    let first_len = (frames[1] - frames[0]) as usize;
    let mut head = CBR_PLAIN[..first_len].to_vec();
    head[4..].fill(0);
    let mut ends = frames.clone();
    ends.push(CBR_PLAIN.len() as u64);
    let entries: Vec<u16> = ends
        .iter()
        .step_by(11)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| ((w[1] - w[0]) / 2) as u16)
        .collect();
    let mut v = b"VBRI\x00\x01\x00\x00\x00\x4b".to_vec();
    v.extend(((first_len + CBR_PLAIN.len()) as u32).to_be_bytes());
    v.extend((frames.len() as u32).to_be_bytes());
    v.extend((entries.len() as u16).to_be_bytes());
    v.extend(2u16.to_be_bytes()); // scale
    v.extend(2u16.to_be_bytes()); // entry size
    v.extend(11u16.to_be_bytes()); // frames per entry
    for e in &entries {
        v.extend(e.to_be_bytes());
    }
    head[36..36 + v.len()].copy_from_slice(&v);
    let mut file = head;
    file.extend_from_slice(CBR_PLAIN);
    let starts = frames.iter().map(|f| f + first_len as u64).collect();
    (file, starts)
}

#[test]
fn vbri_table() {
    let (file, starts) = vbri_file();
    let index = same_for_all_chunks(&file);
    // The frame count (not the bitrate) gives the duration.
    assert_close(index.duration, starts.len() as f64 * FRAME_SECONDS);
    assert_units(&index, starts[0], file.len() as u64);
    assert_eq!(index.segments.len(), 2);
    // Entries are sizes / 2 (scale 2), rounded down: within a byte per
    // entry of frame 77.
    let boundary = index.segments[1].bytes.start;
    assert!(
        boundary.abs_diff(starts[77]) <= 7,
        "{boundary} vs {}",
        starts[77]
    );
}

#[test]
fn hostile_xing_falls_back() {
    let frames = frame_starts(VBR_XING, 0);
    let xing = VBR_XING
        .windows(4)
        .position(|w| w == b"Xing")
        .expect("Xing");
    let len = Some(VBR_XING.len() as u64);

    // Frames = 0: no count, so the first frame's bitrate makes the duration.
    let mut zero = VBR_XING.to_vec();
    zero[xing + 8..xing + 12].fill(0);
    let (index, _) = drive(&zero, 4096, len);
    assert!(index.complete);
    assert_units(&index, frames[1], VBR_XING.len() as u64);
    assert!(index.duration.expect("duration").is_finite());

    // A TOC that goes back: dropped, the counts kept (duration exact, the
    // boundaries proportional).
    let mut back = VBR_XING.to_vec();
    back[xing + 16 + 60] = 1;
    let (index, _) = drive(&back, 4096, len);
    assert_close(index.duration, 4.048980);
    assert_units(&index, frames[1], VBR_XING.len() as u64);

    // A frame count no byte count could hold (2^32 - 1 frames in 42 KB):
    // the bitrate fallback, not a 3-year duration.
    let mut huge = VBR_XING.to_vec();
    huge[xing + 8..xing + 12].fill(0xFF);
    let (index, _) = drive(&huge, 4096, len);
    assert!(index.duration.expect("duration") < 10.0);
    assert_units(&index, frames[1], VBR_XING.len() as u64);

    // A byte count past the end of the file: the file length bounds it.
    let mut long = VBR_XING.to_vec();
    long[xing + 12..xing + 16].copy_from_slice(&0x0010_0000u32.to_be_bytes());
    let (index, _) = drive(&long, 4096, len);
    assert_units(&index, frames[1], VBR_XING.len() as u64);
    assert_eq!(
        index.segments.last().expect("units").bytes.end,
        VBR_XING.len() as u64
    );
}

#[test]
fn hostile_headers_are_errors() {
    let feed = |file: &[u8]| Mp3Indexer::new().feed(0, file, Some(file.len() as u64));

    // A frame sync with a reserved bitrate, then junk: no frame anywhere.
    let mut bad = vec![0xFF, 0xFB, 0xF0, 0x44];
    bad.extend(std::iter::repeat_n(0x55, 5000));
    assert!(matches!(feed(&bad), Err(MediaError::Truncated { .. })));
    // A reserved sample rate, in a file longer than the search window.
    let mut bad = vec![0xFF, 0xFB, 0x9C, 0x44];
    bad.extend(std::iter::repeat_n(0x55, 70_000));
    assert!(matches!(feed(&bad), Err(MediaError::Malformed { .. })));
    // Layer II behind a tag: a clear "unsupported".
    let mp2 = with_tag(10, &[0xFF, 0xFD, 0x90, 0x44, 0, 0, 0, 0]);
    assert!(matches!(feed(&mp2), Err(MediaError::Unsupported { .. })));
    // An ID3 size pointing past the end of the file.
    let past = with_tag(1_000_000, &[]);
    let past = &past[..4000];
    assert_eq!(
        feed(past),
        Err(MediaError::Truncated {
            len: 4000,
            what: "ID3v2 tag"
        })
    );
    // A tag and nothing after it.
    let empty = with_tag(100, &[]);
    assert!(matches!(feed(&empty), Err(MediaError::Truncated { .. })));
    // A size that is not syncsafe.
    assert!(matches!(
        feed(b"ID3\x03\x00\x00\x00\x00\x80\x00"),
        Err(MediaError::Malformed { .. })
    ));
    // The error sticks.
    let mut ix = Mp3Indexer::new();
    assert!(ix.feed(0, &mp2, Some(mp2.len() as u64)).is_err());
    assert!(ix.feed(0, CBR_INFO, Some(CBR_INFO.len() as u64)).is_err());
    // A truncated stream still indexes what is there.
    let cut = &CBR_INFO[..10_000];
    let (index, _) = drive(cut, 4096, Some(10_000));
    assert!(index.complete);
    assert_eq!(index.segments.last().expect("units").bytes.end, 10_000);
    // An empty file.
    assert!(feed(&[]).is_err());
}

#[test]
fn huge_lengths_stay_bounded() {
    // A CBR stream said to be 1 TB long (or as long as a u64 allows): the
    // unit count is capped, units get longer, nothing overflows.
    for len in [1u64 << 40, u64::MAX] {
        let mut ix = Mp3Indexer::new();
        assert_eq!(ix.feed(0, &CBR_PLAIN[..8192], Some(len)), Ok(Step::Ready));
        let index = ix.index().expect("index");
        assert!(index.complete);
        assert!(index.segments.len() <= 1 << 16, "{}", index.segments.len());
        assert_units(index, 0, len);
        let duration = index.duration.expect("duration");
        assert!(duration.is_finite() && duration > 1e8, "{duration}");
    }
}

#[test]
fn the_lame_tag_gives_the_gapless_window_native_playback_uses() {
    // The fixture's LAME tag: encoder delay 576, padding 1584 samples; 155
    // frames × 1152 − 576 − 1584 = 176,400 samples = exactly the 4 s encoded.
    let mut ix = Mp3Indexer::new();
    ix.feed(0, CBR_INFO, Some(CBR_INFO.len() as u64))
        .expect("index");
    let window = ix.presentation().expect("a gapless window");
    assert!((window.end - 4.0).abs() < 1e-9, "end {}", window.end);
    assert!(
        (window.offset + (576.0 + 529.0) / 44100.0).abs() < 1e-9,
        "offset {}",
        window.offset
    );
    // Without a LAME tag there is nothing to trim.
    let mut plain = Mp3Indexer::new();
    plain
        .feed(0, CBR_PLAIN, Some(CBR_PLAIN.len() as u64))
        .expect("index");
    assert_eq!(plain.presentation(), None);
}
