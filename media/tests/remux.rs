//! The remuxer against the plain MP4 corpus in `tests/fixtures/remux/`
//! (made by `make.sh` there): sample tables read right, the init segment
//! and the fragments are a fragmented MP4 our own fMP4 indexer reads back
//! with the planned times, and ffmpeg decodes the remux to the very same
//! packets as the original (without ffmpeg that comparison fails under CI
//! and is skipped, with a note, elsewhere).

mod tools;

use std::path::PathBuf;
use std::process::Command;

use caudal_media::index::{Container, ContainerIndexer, MediaIndex, Step, TrackKind};
use caudal_media::mp4::Fmp4Indexer;
use caudal_media::remux::{Mp4Remuxer, Piece, PlanOptions, Remux};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/remux")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the remuxer's index walk over `data` like the player: feeds only
/// the bytes asked for.
fn open(data: &[u8]) -> Mp4Remuxer {
    let mut r = Mp4Remuxer::new(PlanOptions::default());
    let len = Some(data.len() as u64);
    let mut step = r.feed(0, &data[..64.min(data.len())], len).expect("feeds");
    let mut requests = 0;
    while let Step::NeedBytes { offset, len: want } = step {
        requests += 1;
        assert!(requests < 10, "the walk ends");
        let start = offset as usize;
        let end = (start + want as usize).min(data.len());
        step = r
            .feed(offset, &data[start..end], len)
            .expect("feeds what it asked for");
    }
    r
}

/// init + every planned fragment, built from the whole file.
fn remux_all(data: &[u8]) -> (Mp4Remuxer, Vec<u8>) {
    let r = open(data);
    let remux = r.remux().expect("ready");
    let mut out = remux.init_segment();
    for f in r.fragments() {
        out.extend(remux.build_fragment(f, data).expect("builds"));
    }
    (r, out)
}

fn fmp4_index(data: &[u8]) -> MediaIndex {
    let mut ix = Fmp4Indexer::new();
    ix.feed(0, data, Some(data.len() as u64)).expect("indexes");
    ix.index().expect("an index").clone()
}

/// (kind, sample count, sync count) per output track.
fn counts(remux: &Remux) -> Vec<(TrackKind, usize, usize)> {
    remux
        .tracks()
        .map(|t| {
            let syncs = t.samples.iter().filter(|s| s.is_sync()).count();
            (t.kind, t.samples.len(), syncs)
        })
        .collect()
}

/// The checks every fixture passes; returns the remuxed bytes.
fn check(name: &str, expected: &[(TrackKind, usize, usize)], codecs: &str) -> Vec<u8> {
    let data = fixture(name);
    let (r, out) = remux_all(&data);
    let remux = r.remux().expect("ready");
    assert_eq!(counts(remux), expected, "{name}: samples");

    let index = r.index().expect("index");
    assert_eq!(index.container, Container::Mp4);
    assert!(index.complete);
    assert!(index.mime_type().ends_with(codecs), "{}", index.mime_type());
    assert_eq!(index.segments.len(), r.fragments().len());
    // Sample spans lie in the file, outside the moov.
    for s in &index.segments {
        assert!(s.bytes.end <= data.len() as u64);
        assert!(s.bytes.end <= index.init.start || s.bytes.start >= index.init.end);
        assert!(s.start < s.end, "{name}: {s:?}");
    }

    // The init segment alone is a fragmented MP4 header.
    let init = remux.init_segment();
    let mut ix = Fmp4Indexer::new();
    // (As a whole file: the fMP4 reader is ready at its end, having seen no
    // `moof` that would need a rewrite.)
    let init_len = Some(init.len() as u64);
    assert_eq!(ix.feed(0, &init, init_len), Ok(Step::Ready), "{name}: init");
    let init_index = ix.index().expect("init index");
    assert_eq!(init_index.tracks, index.tracks, "{name}: init tracks");

    // The whole remux, read back: one unit per planned fragment, same times.
    let back = fmp4_index(&out);
    assert!(back.complete);
    assert_eq!(back.tracks, index.tracks);
    assert_eq!(back.segments.len(), index.segments.len(), "{name}");
    assert_eq!(back.duration, index.duration);
    out
}

/// The planned start of each fragment against the `tfdt` the fMP4 indexer
/// reads back: equal where the cut keyframe's composition offset is the
/// edit's media_time (ffmpeg's files, except a cut into a GOP).
fn assert_times_match_plan(out: &[u8], index: &MediaIndex) {
    let back = fmp4_index(out);
    for (a, b) in back.segments.iter().zip(&index.segments) {
        assert!((a.start - b.start).abs() < 1e-9, "{a:?} vs {b:?}");
    }
}

#[test]
fn bframes() {
    // ffprobe -count_packets: 75 video (5 keyframes, -g 25), 142 AAC packets.
    let out = check(
        "bframes.mp4",
        &[(TrackKind::Video, 75, 3), (TrackKind::Audio, 142, 142)],
        "codecs=\"avc1.64000b,mp4a.40.2\"",
    );
    let r = open(&fixture("bframes.mp4"));
    let index = r.index().expect("index");
    assert_times_match_plan(&out, index);
    // A cut per keyframe (1 s apart), the first at 0.
    let starts: Vec<f64> = index.segments.iter().map(|s| s.start).collect();
    assert_eq!(starts, [0.0, 1.0, 2.0]);
    assert_eq!(index.duration, Some(3.0));
    assert_eq!(index.segments.last().map(|s| s.end), Some(3.0));
    // Faststart: the index is in the first bytes.
    assert_eq!(index.init, 32..3505);
    let remux = r.remux().expect("ready");
    let video = remux.tracks().next().expect("video");
    // ffmpeg's elst: the B-frame delay of two 512-tick frames; AAC priming.
    assert_eq!(video.edit.media_time, 1024);
    assert_eq!(remux.tracks().nth(1).map(|a| a.edit.media_time), Some(1024));
    assert!(video.samples.iter().any(|s| s.composition_offset > 1024));
    same_packets("bframes.mp4", &out);
}

#[test]
fn no_bframes() {
    let out = check(
        "no-bframes.mp4",
        &[(TrackKind::Video, 75, 3), (TrackKind::Audio, 142, 142)],
        "codecs=\"avc1.64000b,mp4a.40.2\"",
    );
    let index = open(&fixture("no-bframes.mp4")).index().expect("i").clone();
    assert_times_match_plan(&out, &index);
    same_packets("no-bframes.mp4", &out);
}

#[test]
fn moov_at_the_end_costs_one_more_request() {
    let data = fixture("moov-end.mp4");
    let mut r = Mp4Remuxer::new(PlanOptions::default());
    let len = Some(data.len() as u64);
    // The first request: ftyp, free, and the mdat header; then the walk
    // jumps over the media to the moov.
    let step = r.feed(0, &data[..4096], len).expect("feeds");
    let Step::NeedBytes { offset, .. } = step else {
        panic!("wants the moov: {step:?}")
    };
    assert_eq!(offset, 40 + 25789, "right after mdat");
    let step = r
        .feed(offset, &data[offset as usize..], len)
        .expect("feeds");
    assert_eq!(step, Step::Ready);
    let index = r.index().expect("index");
    assert_eq!(index.init, 25829..data.len() as u64);
    // The same media as no-bframes.mp4, stored from byte 40 on.
    assert_eq!(index.segments.first().map(|s| s.bytes.start), Some(48));

    let out = check(
        "moov-end.mp4",
        &[(TrackKind::Video, 75, 3), (TrackKind::Audio, 142, 142)],
        "codecs=\"avc1.64000b,mp4a.40.2\"",
    );
    same_packets("moov-end.mp4", &out);
}

#[test]
fn audio_only() {
    let out = check(
        "audio.m4a",
        &[(TrackKind::Audio, 142, 142)],
        "audio/mp4; codecs=\"mp4a.40.2\"",
    );
    let index = open(&fixture("audio.m4a")).index().expect("i").clone();
    // Audio-only: cut every ~1 s of AAC frames (1024 samples at 48 kHz).
    assert_eq!(index.segments.len(), 3);
    same_packets("audio.m4a", &out);
}

#[test]
fn edit_list_cut_into_a_gop() {
    let out = check(
        "edit-cut.mp4",
        &[(TrackKind::Video, 50, 2), (TrackKind::Audio, 98, 98)],
        "codecs=\"avc1.64000b,mp4a.40.2\"",
    );
    let r = open(&fixture("edit-cut.mp4"));
    let index = r.index().expect("index");
    // The file starts at the keyframe 0.3 s before the cut; its edit shows
    // the media from 4864 ticks (0.3 s + the 2-frame B delay). The 7 frames
    // before the one on screen at 0 are a lead-in of one tick each, so the
    // first fragment starts at 0; the next keyframe, 0.7 s later, is too
    // close for a cut, so there is one. Playback begins after the lead-in.
    let lead = 7.0 / 12_800.0;
    let starts: Vec<f64> = index.segments.iter().map(|s| s.start).collect();
    assert_eq!(starts, [0.0]);
    assert!((r.start() - lead).abs() < 1e-9, "{}", r.start());
    assert_eq!(index.duration, Some(1.7));
    same_packets("edit-cut.mp4", &out);
}

#[test]
fn ntsc_in_a_90khz_timescale() {
    let out = check(
        "ntsc-90k.mp4",
        &[(TrackKind::Video, 120, 2)],
        "video/mp4; codecs=\"avc1.64000b\"",
    );
    let r = open(&fixture("ntsc-90k.mp4"));
    let index = r.index().expect("index");
    assert_times_match_plan(&out, index);
    let video = r.remux().expect("ready").tracks().next().expect("video");
    assert_eq!(video.timescale, 90_000);
    // 29.97 fps: 3003 ticks a frame; keyframes every 90 frames.
    assert_eq!(video.duration(0), 3003);
    let starts: Vec<f64> = index.segments.iter().map(|s| s.start).collect();
    assert_eq!(starts, [0.0, 90.0 * 3003.0 / 90_000.0]);
    same_packets("ntsc-90k.mp4", &out);
}

#[test]
fn fragments_build_from_fetched_pieces() {
    let data = fixture("bframes.mp4");
    let r = open(&data);
    let remux = r.remux().expect("ready");
    for f in r.fragments() {
        // What the player holds: exactly the coalesced ranges.
        let pieces: Vec<Piece<'_>> = f
            .bytes
            .iter()
            .map(|b| Piece {
                offset: b.start,
                data: &data[b.start as usize..b.end as usize],
            })
            .collect();
        assert_eq!(
            remux.build_fragment(f, pieces.as_slice()),
            remux.build_fragment(f, data.as_slice())
        );
        // Without the last range: a clear error.
        let short = &pieces[..pieces.len() - 1];
        assert!(remux.build_fragment(f, short).is_err());
    }
    // Interleaved storage: ffmpeg lets audio chunks trail the video a
    // little, so a fragment's samples lie in a few ranges (3 to 5 here)
    // that overlap the next fragment's span only at the edges.
    let ranges: Vec<usize> = r.fragments().iter().map(|f| f.bytes.len()).collect();
    assert_eq!(ranges, [3, 5, 3]);
}

#[test]
fn co64_reads_like_stco() {
    // co64.mp4 is moov-end.mp4 with its 'stco's rewritten as 'co64' (see
    // make.sh): the same samples at the same offsets, in 64-bit fields.
    let narrow = fixture("moov-end.mp4");
    let wide = fixture("co64.mp4");
    assert!(wide.windows(4).any(|w| w == b"co64"));
    assert!(!wide.windows(4).any(|w| w == b"stco"));
    let (a, out_a) = remux_all(&narrow);
    let (b, out_b) = remux_all(&wide);
    assert_eq!(
        a.remux().map(|r| r.movie().tracks.clone()),
        b.remux().map(|r| r.movie().tracks.clone())
    );
    assert_eq!(out_a, out_b);
}

/// One packet as `framemd5` prints it: stream, size, md5. (Not its times:
/// ffmpeg reads edit lists, signed `trun` offsets and the last sample's
/// duration its own way, unlike the browsers; [`presentation_times`]
/// checks ours.)
type Packet = (String, String, String);

/// The packets `ffmpeg` reads, stream by stream in each stream's order, via
/// `ffmpeg -i FILE -map 0 -c copy -f framemd5 -`.
fn framemd5(ffmpeg: &std::path::Path, path: &std::path::Path) -> Vec<Packet> {
    let out = Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("framemd5 prints text");
    let mut packets: Vec<Packet> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            // stream, dts, pts, duration, size, hash
            let f: Vec<String> = l.split(',').map(|f| f.trim().to_string()).collect();
            (f[0].clone(), f[4].clone(), f[5].clone())
        })
        .collect();
    // The two files interleave the streams differently; within a stream
    // the order is the decode order of both.
    packets.sort_by(|a, b| a.0.cmp(&b.0));
    packets
}

/// The remux holds the very same packets as the original, in each stream
/// in the same order, as ffmpeg reads them (see [`tools::require_tool`] for
/// what happens without ffmpeg).
fn same_packets(name: &str, remuxed: &[u8]) {
    let Some(ffmpeg) = tools::require_tool("ffmpeg") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("caudal-remux-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.frag.mp4"));
    std::fs::write(&path, remuxed).expect("write");
    let original = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/remux")
        .join(name);
    let (a, b) = (framemd5(&ffmpeg, &original), framemd5(&ffmpeg, &path));
    let _ = std::fs::remove_file(&path);
    assert!(!a.is_empty());
    assert_eq!(a.len(), b.len(), "{name}: packet count");
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!(a, b, "{name}: packet {i}");
    }
}

/// Every sample of the remux as (track id, presentation time, duration),
/// read back from the `moof`s: `tfdt` + the `trun` durations and signed
/// composition offsets, as MSE computes them.
fn presentation_times(out: &[u8]) -> Vec<(u32, i64, u32)> {
    fn boxes(mut b: &[u8]) -> Vec<(&[u8], &[u8])> {
        let mut v = Vec::new();
        while b.len() >= 8 {
            let size = u32::from_be_bytes(b[..4].try_into().expect("field")) as usize;
            v.push((&b[4..8], &b[8..size]));
            b = &b[size..];
        }
        v
    }
    let be32 = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().expect("field"));
    let mut samples = Vec::new();
    for (kind, moof) in boxes(out) {
        if kind != b"moof" {
            continue;
        }
        for (kind, traf) in boxes(moof) {
            if kind != b"traf" {
                continue;
            }
            let (mut id, mut time) = (0, 0i64);
            for (kind, b) in boxes(traf) {
                match kind {
                    b"tfhd" => id = be32(b, 4),
                    b"tfdt" => {
                        time = u64::from_be_bytes(b[4..12].try_into().expect("field")) as i64
                    }
                    b"trun" => {
                        let flags = be32(b, 0) & 0xff_ffff;
                        assert_eq!(
                            flags & 0x701,
                            0x701,
                            "offset, durations, sizes, flags: {flags:x}"
                        );
                        let stride = if flags & 0x800 != 0 { 16 } else { 12 };
                        for s in b[12..].chunks(stride) {
                            let duration = be32(s, 0);
                            let offset = if stride == 16 { be32(s, 12) as i32 } else { 0 };
                            samples.push((id, time + i64::from(offset), duration));
                            time += i64::from(duration);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    samples
}

/// The times a browser gives the plain file's samples: the edit list's
/// media_time moves everything earlier.
#[test]
fn presentation_times_follow_the_edit_list() {
    let (_, out) = remux_all(&fixture("bframes.mp4"));
    let samples = presentation_times(&out);
    let mut video: Vec<i64> = samples.iter().filter(|s| s.0 == 1).map(|s| s.1).collect();
    video.sort_unstable();
    // 25 fps in 1/12800: frame k presents at 512 k, the first at 0.
    assert_eq!(video, (0..75).map(|k| 512 * k).collect::<Vec<_>>());
    let audio: Vec<(i64, u32)> = samples
        .iter()
        .filter(|s| s.0 == 2)
        .map(|s| (s.1, s.2))
        .collect();
    // AAC: the 1024 priming samples present before 0 (MSE trims them);
    // the durations are the 'stts' ones, the last 640.
    assert_eq!(audio.first(), Some(&(-1024, 1024)));
    assert_eq!(audio.last(), Some(&(140 * 1024, 640)));
    assert_eq!(audio.len(), 142);

    // Without B-frames the video needs no offsets at all.
    let (_, out) = remux_all(&fixture("no-bframes.mp4"));
    let video: Vec<i64> = presentation_times(&out)
        .iter()
        .filter(|s| s.0 == 1)
        .map(|s| s.1)
        .collect();
    assert_eq!(video, (0..75).map(|k| 512 * k).collect::<Vec<_>>());

    // The cut: 0.3 s (7.5 frames) of the GOP before it; the frame on
    // screen at 0 started 256 ticks earlier. The 7 frames before that one
    // are the lead-in (ticks 0 to 6, decoded, never shown); from tick 7 on
    // every frame is where the edit puts it, 7 ticks later, the one on
    // screen at 0 shown from 0.
    let (_, out) = remux_all(&fixture("edit-cut.mp4"));
    let samples = presentation_times(&out);
    let mut video: Vec<i64> = samples.iter().filter(|s| s.0 == 1).map(|s| s.1).collect();
    video.sort_unstable();
    let hidden: Vec<i64> = (0..7).collect();
    let shown: Vec<i64> = (0..42).map(|k| 7 + 256 + 512 * k).collect();
    assert_eq!(video, [hidden, vec![7], shown].concat());
    // The audio moves with it: 7 ticks of 12800 are 26.25 at 48 kHz, so 26
    // (its edit alone puts the first frame at -18368).
    let first_audio = samples.iter().find(|s| s.0 == 2).map(|s| s.1);
    assert_eq!(first_audio, Some(-18368 + 26));
}

/// A QuickTime `.mov` whose sound description is version 1 with its `esds`
/// in a `wave` box (mediabunny; GStreamer's qtmux too): the init segment
/// gets the ISO entry, which Chromium's MSE takes (it refused the file's).
#[test]
fn a_quicktime_sound_description_goes_into_the_init_segment_as_an_iso_entry() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/corpus/mediabunny-h264-aac.mov");
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file_entry = data
        .windows(4)
        .position(|w| w == b"mp4a")
        .expect("an mp4a entry in the file");
    assert_eq!(
        &data[file_entry + 12..file_entry + 14],
        &[0, 1],
        "version 1 in the file"
    );
    let (r, _) = remux_all(&data);
    let init = r.remux().expect("ready").init_segment();
    let at = init
        .windows(4)
        .position(|w| w == b"mp4a")
        .expect("an mp4a entry");
    assert_eq!(&init[at + 12..at + 14], &[0, 0], "version 0");
    assert!(init.windows(4).all(|w| w != b"wave"), "no QuickTime 'wave'");
    assert!(init.windows(4).any(|w| w == b"esds"), "the esds kept");
}
