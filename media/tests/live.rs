//! `live::LiveSplitter`: a publisher's fragmented MP4, in pieces of any
//! size, comes out as its init segment and whole fragments — the same
//! whatever the pieces — each told its keyframe, times and `prft` clock;
//! bad input is refused with a clear error, never a panic.

use caudal_media::index::TrackKind;
use caudal_media::live::{Ingested, LiveError, LiveFragment, LiveLimits, LiveSplitter};

const KEYFRAME: &[u8] = include_bytes!("fixtures/live/keyframe.mp4");
const EVERY_FRAME: &[u8] = include_bytes!("fixtures/live/every-frame.mp4");
/// Another encode (main profile, B-frames, 2 s GOPs): other codec strings.
const OTHER: &[u8] = include_bytes!("fixtures/rechunk/bframes.mp4");

/// Everything `file` gives, pushed `sizes` bytes at a time (cycling).
fn split(file: &[u8], sizes: &[usize]) -> Result<Vec<Ingested>, LiveError> {
    let mut splitter = LiveSplitter::new(LiveLimits::default());
    let mut out = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= file.len() {
            break;
        }
        let end = (at + size).min(file.len());
        out.extend(splitter.push(&file[at..end])?);
        at = end;
    }
    splitter.finish()?;
    Ok(out)
}

fn fragments(out: &[Ingested]) -> Vec<&LiveFragment> {
    out.iter()
        .filter_map(|i| match i {
            Ingested::Fragment(f) => Some(f),
            Ingested::Init(_) => None,
        })
        .collect()
}

#[test]
fn an_ffmpeg_stream_comes_out_the_same_whatever_the_pieces() {
    let whole = split(KEYFRAME, &[KEYFRAME.len()]).expect("valid");
    for sizes in [&[1][..], &[7, 3, 1000], &[4096], &[16_385, 2]] {
        assert_eq!(split(KEYFRAME, sizes).expect("valid"), whole, "{sizes:?}");
    }
    let Some(Ingested::Init(init)) = whole.first() else {
        panic!("the init segment first: {:?}", whole.first());
    };
    assert!(
        init.mime.starts_with("video/mp4; codecs=\"avc1."),
        "{}",
        init.mime
    );
    assert!(init.mime.contains("mp4a.40.2"), "{}", init.mime);
    let kinds: Vec<TrackKind> = init.tracks.iter().map(|t| t.kind).collect();
    assert_eq!(kinds, [TrackKind::Video, TrackKind::Audio]);
    assert_eq!(&init.bytes[4..8], b"ftyp");
    // 3 s of 1 s GOPs: three fragments, each at a keyframe, a second long,
    // each stamped by its `prft`, the clock moving forward.
    let frags = fragments(&whole);
    assert_eq!(frags.len(), 3);
    for (i, fragment) in frags.iter().enumerate() {
        assert!(fragment.keyframe, "fragment {i}");
        assert!(
            (fragment.start - i as f64).abs() < 0.05,
            "{i}: {}",
            fragment.start
        );
        assert!(
            (fragment.duration - 1.0).abs() < 0.05,
            "{i}: {}",
            fragment.duration
        );
        assert!(fragment.wallclock_ms.is_some(), "fragment {i} has a prft");
        assert_eq!(&fragment.bytes[4..8], b"prft", "its prft goes with it");
    }
    let clocks: Vec<u64> = frags.iter().filter_map(|f| f.wallclock_ms).collect();
    assert!(clocks.windows(2).all(|w| w[0] <= w[1]), "{clocks:?}");
    // Init and fragments are the file, less what a viewer never needs.
    let joined: usize = init.bytes.len() + frags.iter().map(|f| f.bytes.len()).sum::<usize>();
    assert!(joined <= KEYFRAME.len() && joined + 200 > KEYFRAME.len() - mfra_len(KEYFRAME));
}

/// The length of the trailing `mfra` ffmpeg writes when it finishes a file.
fn mfra_len(file: &[u8]) -> usize {
    let mut at = 0;
    while at + 8 <= file.len() {
        let size = u32::from_be_bytes(file[at..at + 4].try_into().expect("4")) as usize;
        if &file[at + 4..at + 8] == b"mfra" {
            return size;
        }
        at += size.max(8);
    }
    0
}

#[test]
fn one_fragment_per_frame_marks_only_the_gop_starts_as_keyframes() {
    let out = split(EVERY_FRAME, &[1500]).expect("valid");
    let frags = fragments(&out);
    assert!(frags.len() >= 75, "{} fragments", frags.len());
    let keyframes: Vec<f64> = frags
        .iter()
        .filter(|f| f.keyframe)
        .map(|f| (f.start * 100.0).round() / 100.0)
        .collect();
    // One a second (ffmpeg's clock puts them at 0, 1.02, 2.02 here).
    assert_eq!(keyframes.len(), 3, "{keyframes:?}");
    assert_eq!(keyframes[0], 0.0);
    assert!(
        keyframes
            .windows(2)
            .all(|w| (w[1] - w[0] - 1.0).abs() < 0.05),
        "{keyframes:?}"
    );
    let video: Vec<&&LiveFragment> = frags.iter().filter(|f| f.timed).collect();
    assert!(video.windows(2).all(|w| w[0].start <= w[1].start));
    // The audio between two video frames: timed by its own track, close
    // to the video's time, never a place to start.
    let audio: Vec<&&LiveFragment> = frags.iter().filter(|f| !f.timed).collect();
    assert!(audio.len() > 50, "{} audio-only fragments", audio.len());
    // (As ffmpeg ends the stream, at 3 s, the last ones have none.)
    let odd: Vec<(f64, f64, bool)> = audio
        .iter()
        .filter(|f| f.keyframe || (f.duration <= 0.0 && f.start < 2.9))
        .map(|f| (f.start, f.duration, f.keyframe))
        .collect();
    assert!(odd.is_empty(), "{odd:?}");
    for pair in frags.windows(2).filter(|w| w[0].timed && !w[1].timed) {
        assert!(
            (pair[1].start - pair[0].start).abs() < 0.2,
            "{:?} {:?}",
            pair[0].start,
            pair[1].start
        );
    }
}

#[test]
fn a_body_that_is_not_mp4_is_refused_at_once() {
    for body in [
        &b"hello, this is not a video"[..],
        b"\x1aE\xdf\xa3\x01\x00\x00\x00webm",
    ] {
        let mut splitter = LiveSplitter::new(LiveLimits::default());
        assert!(
            matches!(splitter.push(body), Err(LiveError::NotMp4(_))),
            "{body:?}"
        );
    }
}

#[test]
fn impossible_and_unbounded_boxes_are_refused() {
    let limits = LiveLimits {
        max_box: 1 << 20,
        max_init: 1 << 16,
    };
    let init_len = init_len(KEYFRAME);
    let mut huge = KEYFRAME[..init_len].to_vec();
    huge.extend_from_slice(&(64u32 << 20).to_be_bytes());
    huge.extend_from_slice(b"mdat");
    let mut splitter = LiveSplitter::new(limits);
    let error = splitter.push(&huge).expect_err("too large");
    assert!(matches!(error, LiveError::BoxTooLarge { .. }), "{error}");
    let mut unbounded = KEYFRAME[..init_len].to_vec();
    unbounded.extend_from_slice(&[0, 0, 0, 0]);
    unbounded.extend_from_slice(b"moof");
    let mut splitter = LiveSplitter::new(limits);
    let error = splitter.push(&unbounded).expect_err("size 0");
    assert!(matches!(error, LiveError::UnboundedBox(_)), "{error}");
    let mut tiny = KEYFRAME[..init_len].to_vec();
    tiny.extend_from_slice(&[0, 0, 0, 3]);
    tiny.extend_from_slice(b"moof");
    let mut splitter = LiveSplitter::new(limits);
    assert!(matches!(splitter.push(&tiny), Err(LiveError::Malformed(_))));
}

/// Bytes of `ftyp` + `moov` at the start of `file`.
fn init_len(file: &[u8]) -> usize {
    let mut at = 0;
    loop {
        let size = u32::from_be_bytes(file[at..at + 4].try_into().expect("4")) as usize;
        let kind = &file[at + 4..at + 8];
        at += size;
        if kind == b"moov" {
            return at;
        }
    }
}

#[test]
fn codecs_that_change_mid_stream_end_it() {
    let mut stream = KEYFRAME[..KEYFRAME.len() - mfra_len(KEYFRAME)].to_vec();
    stream.extend_from_slice(&OTHER[..init_len(OTHER)]);
    let error = split(&stream, &[4096]).expect_err("changed");
    assert!(matches!(error, LiveError::TracksChanged { .. }), "{error}");
    assert!(error.to_string().contains("avc1"), "{error}");
    // The same init again (a publisher restarting its muxer) is fine.
    let mut again = KEYFRAME[..KEYFRAME.len() - mfra_len(KEYFRAME)].to_vec();
    again.extend_from_slice(&KEYFRAME[..init_len(KEYFRAME)]);
    let out = split(&again, &[4096]).expect("same tracks");
    assert_eq!(
        out.iter()
            .filter(|i| matches!(i, Ingested::Init(_)))
            .count(),
        1
    );
}

#[test]
fn a_fragment_before_the_init_and_a_stream_cut_mid_box_are_errors() {
    let init = init_len(KEYFRAME);
    let mut headless = b"\0\0\0\x10styp".to_vec();
    headless.extend_from_slice(b"iso6iso6");
    headless.extend_from_slice(&KEYFRAME[init..]);
    assert_eq!(
        split(&headless, &[4096]),
        Err(LiveError::FragmentBeforeInit)
    );
    let cut = &KEYFRAME[..init + 100];
    assert_eq!(split(cut, &[4096]), Err(LiveError::Truncated));
}

#[test]
fn mangled_streams_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut stream = KEYFRAME.to_vec();
        for _ in 0..(next() % 16 + 1) {
            let at = (next() as usize) % stream.len();
            stream[at] = next() as u8;
        }
        let cut = (next() as usize) % stream.len();
        let chunk = (next() as usize) % 5000 + 1;
        let _ = split(&stream[..cut], &[chunk]);
    }
}
