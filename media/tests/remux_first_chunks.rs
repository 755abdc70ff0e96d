//! Small first chunks: after a start or a reset, `RemuxStream` outputs the
//! first planned fragment in pieces as its bytes arrive (the keyframe and
//! ~200 ms first, then ~500 ms at a time, then the rest), and every later
//! fragment whole. Proven on the committed plain MP4s of
//! `tests/fixtures/remux/` (`bframes.mp4`: H.264 with B-frames + AAC, 1 s
//! GOPs; `ntsc-90k.mp4`: a 3 s GOP): the pieces come as early as their bytes
//! allow, and they hold exactly the samples the whole fragments hold, as
//! read back from the `moof`s with this crate's box reader.

use std::path::PathBuf;

use caudal_media::index::{ContainerIndexer, MediaIndex, Repackager, Step, TrackKind};
use caudal_media::mp4::boxes::elst::Edit;
use caudal_media::mp4::boxes::{Boxes, Child, Cursor, full_box};
use caudal_media::mp4::samples::{MovieSamples, Sample, TrackSamples};
use caudal_media::remux::{Mp4Remuxer, PlanOptions, Remux, RemuxStream, StreamOptions};

/// The piece sizes the counting tests below were written for (the
/// default's second step is shorter; the sample-for-sample tests use it).
const PINNED: StreamOptions = StreamOptions {
    first_chunk_ms: 200,
    chunk_ms: 500,
    later_chunk_ms: 1000,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/remux")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The index walk over `data`, as the player does it.
fn open(data: &[u8], options: StreamOptions) -> Mp4Remuxer {
    let mut r = Mp4Remuxer::with_stream_options(PlanOptions::default(), options);
    let len = Some(data.len() as u64);
    let mut step = r.feed(0, &data[..64.min(data.len())], len).expect("feeds");
    for _ in 0..10 {
        let Step::NeedBytes { offset, len: want } = step else {
            break;
        };
        let end = (offset + want).min(data.len() as u64) as usize;
        step = r
            .feed(offset, &data[offset as usize..end], len)
            .expect("feeds what it asked for");
    }
    assert_eq!(step, Step::Ready);
    r
}

/// One output and how many bytes of the file had been pushed when it came.
#[derive(Debug)]
struct Output {
    at: u64,
    bytes: Vec<u8>,
}

/// A run of the repackager: reset at `from`, then the file's bytes from
/// there in `chunk`-byte pushes.
fn run(stream: &mut dyn Repackager, data: &[u8], from: u64, chunk: usize) -> Vec<Output> {
    stream.reset(from);
    let mut outputs = Vec::new();
    let mut at = from;
    for piece in data[from as usize..].chunks(chunk) {
        let pushed = stream.push(at, piece).expect("builds");
        at += piece.len() as u64;
        outputs.extend(pushed.into_iter().map(|bytes| Output { at, bytes }));
    }
    outputs
}

/// The repackager of `data` with `options`, and the index.
fn stream(data: &[u8], options: StreamOptions) -> (Box<dyn Repackager>, MediaIndex) {
    let mut r = open(data, options);
    let index = r.index().expect("index").clone();
    (r.take_repackager().expect("a repackager"), index)
}

/// Every planned fragment from `from`, built whole from the file: what the
/// repackager made before it cut pieces.
fn whole_fragments(data: &[u8], from: usize) -> Vec<Vec<u8>> {
    let r = open(data, StreamOptions::WHOLE_FRAGMENTS);
    let remux = r.remux().expect("ready");
    r.fragments()[from..]
        .iter()
        .map(|f| remux.build_fragment(f, data).expect("builds"))
        .collect()
}

/// One sample as a `moof` + `mdat` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OutSample {
    track: u32,
    decode_time: u64,
    duration: u32,
    composition_offset: i64,
    sync: bool,
    bytes: Vec<u8>,
}

/// The samples of a stream of `moof` + `mdat` pairs (what the remuxer
/// writes: `tfhd` default-base-is-moof, `tfdt`, a `trun` with every
/// per-sample field but composition offsets optional), read with this
/// crate's box reader, and the `mfhd` sequence numbers.
fn read_samples(stream: &[u8]) -> (Vec<OutSample>, Vec<u32>) {
    let mut samples = Vec::new();
    let mut sequences = Vec::new();
    for top in Boxes::new(stream, 0, 0).expect("boxes") {
        let top = top.expect("a box");
        if &top.header.kind != b"moof" {
            continue;
        }
        let moof_start = top.header.offset as usize;
        for child in top.children().expect("moof children") {
            let child = child.expect("a box");
            match &child.header.kind {
                b"mfhd" => {
                    let mut c = child.cursor("mfhd");
                    full_box(&mut c).expect("mfhd");
                    sequences.push(c.u32().expect("sequence"));
                }
                b"traf" => read_traf(&child, &stream[moof_start..], &mut samples),
                _ => {}
            }
        }
    }
    (samples, sequences)
}

fn read_traf(traf: &Child<'_>, from_moof: &[u8], samples: &mut Vec<OutSample>) {
    let (mut track, mut time) = (0, 0);
    for b in traf.children().expect("traf children") {
        let b = b.expect("a box");
        let mut c = b.cursor("short");
        match &b.header.kind {
            b"tfhd" => {
                let (_, flags) = full_box(&mut c).expect("tfhd");
                assert_eq!(flags, 0x02_0000, "default-base-is-moof only");
                track = c.u32().expect("track id");
            }
            b"tfdt" => {
                let (version, _) = full_box(&mut c).expect("tfdt");
                time = c.u32_or_u64(version).expect("decode time");
            }
            b"trun" => read_trun(&mut c, track, &mut time, from_moof, samples),
            _ => {}
        }
    }
}

fn read_trun(
    c: &mut Cursor<'_>,
    track: u32,
    time: &mut u64,
    from_moof: &[u8],
    samples: &mut Vec<OutSample>,
) {
    let (version, flags) = full_box(c).expect("trun");
    assert_eq!(flags & 0x701, 0x701, "data offset, durations, sizes, flags");
    let count = c.u32().expect("count");
    let mut data = c.u32().expect("data offset") as usize;
    for _ in 0..count {
        let duration = c.u32().expect("duration");
        let size = c.u32().expect("size");
        let sample_flags = c.u32().expect("flags");
        let composition_offset = match (flags & 0x800 != 0, version) {
            (false, _) => 0,
            (true, 0) => i64::from(c.u32().expect("offset")),
            (true, _) => i64::from(c.u32().expect("offset") as i32),
        };
        samples.push(OutSample {
            track,
            decode_time: *time,
            duration,
            composition_offset,
            // sample_is_non_sync_sample
            sync: sample_flags & 0x0001_0000 == 0,
            bytes: from_moof[data..data + size as usize].to_vec(),
        });
        data += size as usize;
        *time += u64::from(duration);
    }
}

/// `samples` of each track, in each track's decode order (the outputs
/// interleave the tracks by piece, not by sample).
fn by_track(mut samples: Vec<OutSample>) -> Vec<OutSample> {
    samples.sort_by_key(|s| (s.track, s.decode_time));
    samples
}

fn concat(outputs: &[Output]) -> Vec<u8> {
    outputs
        .iter()
        .flat_map(|o| o.bytes.iter().copied())
        .collect()
}

/// The timescale of the output track `id`.
fn timescale(remux: &Remux, id: u32) -> f64 {
    f64::from(
        remux
            .tracks()
            .find(|t| t.id == id)
            .map_or(1, |t| t.timescale),
    )
}

/// When an output sample is presented, seconds.
fn seconds(remux: &Remux, s: &OutSample) -> f64 {
    (s.decode_time as i64 + s.composition_offset) as f64 / timescale(remux, s.track)
}

/// When an output sample's presentation ends, seconds.
fn end_seconds(remux: &Remux, s: &OutSample) -> f64 {
    seconds(remux, s) + f64::from(s.duration) / timescale(remux, s.track)
}

/// The fetched bytes that the first piece needs: the keyframe and every
/// lead (video) sample presented in the first `ms` of the fragment — all of
/// them, in decode order up to the last — and every audio sample presented
/// before that time.
fn first_piece_needs(data: &[u8], ms: u32) -> u64 {
    let r = open(data, StreamOptions::WHOLE_FRAGMENTS);
    let remux = r.remux().expect("ready");
    let fragment = &r.fragments()[0];
    let (samples, _) = read_samples(&whole_fragments(data, 0)[0]);
    let until = fragment.start + f64::from(ms) / 1000.0;
    let mut need = 0;
    let mut outs = samples.iter();
    for (track, run) in remux.tracks().zip(&fragment.samples) {
        let written: Vec<&OutSample> = outs.by_ref().take(run.len()).collect();
        let early: Vec<usize> = (0..run.len())
            .filter(|&k| seconds(remux, written[k]) < until - 1e-9)
            .collect();
        let prefix = early.iter().max().map_or(0, |&k| k + 1);
        for s in &track.samples[run.start..run.start + prefix] {
            need = need.max(s.end());
        }
    }
    need
}

/// The planned fragment an output belongs to: the one whose time span
/// holds the decode time of its first lead (video) sample.
fn fragment_of(remux: &Remux, index: &MediaIndex, out: &Output) -> usize {
    let (samples, _) = read_samples(&out.bytes);
    let lead = remux.tracks().next().expect("a track");
    // A piece may hold only audio (its video came in the piece before).
    let first = samples
        .iter()
        .find(|s| s.track == lead.id)
        .or(samples.first())
        .expect("a sample");
    let t = first.decode_time as f64 / f64::from(lead.timescale);
    index
        .segments
        .iter()
        .rposition(|s| s.start <= t + 1e-9)
        .unwrap_or(0)
}

#[test]
fn the_first_output_comes_once_the_keyframe_and_200_ms_are_in() {
    let data = fixture("bframes.mp4");
    let (mut s, index) = stream(&data, StreamOptions::default());
    let span = index.segments[0].bytes.clone();
    let need = first_piece_needs(&data, 200);
    let chunk = 64;
    let outputs = run(s.as_mut(), &data, span.start, chunk);
    let first = &outputs[0];
    // At the push that brought the last byte it needs, not before, not later.
    assert!(first.at >= need, "{} < {need}", first.at);
    assert!(first.at < need + chunk as u64, "{} vs {need}", first.at);
    // Long before the whole first fragment is in (in this 40 kbit/s
    // fixture the keyframe alone is a quarter of it).
    let share = (first.at - span.start) as f64 / (span.end - span.start) as f64;
    assert!(share < 0.3, "after {:.0}% of the fragment", share * 100.0);
    // It plays from the keyframe for 200 ms and a little more (both tracks).
    let (samples, _) = read_samples(&first.bytes);
    let r = open(&data, StreamOptions::WHOLE_FRAGMENTS);
    let remux = r.remux().expect("ready");
    let video = remux.tracks().next().expect("video").id;
    assert!(samples[0].sync && samples[0].track == video);
    let video_end = samples
        .iter()
        .filter(|s| s.track == video)
        .map(|s| end_seconds(remux, s))
        .fold(0.0, f64::max);
    let audio_end = samples
        .iter()
        .filter(|s| s.track != video)
        .map(|s| end_seconds(remux, s))
        .fold(0.0, f64::max);
    assert!((0.2..0.35).contains(&video_end), "video to {video_end}");
    // Audio up to the video's end: at most an AAC frame past it.
    assert!(audio_end >= 0.2, "audio to {audio_end}");
    assert!(
        audio_end <= video_end + 1024.0 / 48_000.0 + 1e-9,
        "{audio_end}"
    );
}

#[test]
fn the_first_fragment_goes_out_in_pieces_and_later_ones_whole_without_later_pieces() {
    let options = StreamOptions {
        later_chunk_ms: 0,
        ..PINNED
    };
    for (name, first_pieces) in [("bframes.mp4", 3), ("ntsc-90k.mp4", 7)] {
        let data = fixture(name);
        let r = open(&data, StreamOptions::WHOLE_FRAGMENTS);
        let remux = r.remux().expect("ready");
        let (mut s, index) = stream(&data, options);
        let outputs = run(s.as_mut(), &data, index.segments[0].bytes.start, 100);
        let owners: Vec<usize> = outputs
            .iter()
            .map(|o| fragment_of(remux, &index, o))
            .collect();
        let mut expected = vec![0; first_pieces];
        expected.extend(1..index.segments.len());
        // 200 ms, then 500 ms at a time, then the rest; one per fragment after.
        assert_eq!(owners, expected, "{name}");
        // The later ones are the whole fragments, but for their number.
        let whole = whole_fragments(&data, 1);
        for (out, whole) in outputs[first_pieces..].iter().zip(&whole) {
            assert_eq!(
                without_sequence(&out.bytes),
                without_sequence(whole),
                "{name}"
            );
        }
    }
}

/// A fragment with its `mfhd` sequence number zeroed (moof header, mfhd
/// header and version/flags: bytes 20..24).
fn without_sequence(fragment: &[u8]) -> Vec<u8> {
    assert_eq!(&fragment[12..16], b"mfhd");
    let mut f = fragment.to_vec();
    f[20..24].fill(0);
    f
}

#[test]
fn pieces_hold_exactly_the_samples_of_the_whole_fragments() {
    for name in [
        "bframes.mp4",
        "no-bframes.mp4",
        "moov-end.mp4",
        "audio.m4a",
        "edit-cut.mp4",
        "ntsc-90k.mp4",
    ] {
        let data = fixture(name);
        let whole = by_track(read_samples(&whole_fragments(&data, 0).concat()).0);
        for chunk in [1, 7, 100, 1000, 1 << 20] {
            let (mut s, index) = stream(&data, StreamOptions::default());
            let outputs = run(s.as_mut(), &data, index.segments[0].bytes.start, chunk);
            let (samples, sequences) = read_samples(&concat(&outputs));
            assert_eq!(by_track(samples), whole, "{name} in {chunk}-byte pushes");
            assert!(
                sequences.windows(2).all(|w| w[0] < w[1]),
                "{name}: {sequences:?}"
            );
            if chunk == 1 << 20 {
                // All at once: nothing to wait for, nothing cut.
                assert_eq!(outputs.len(), index.segments.len(), "{name}");
            }
        }
    }
}

#[test]
fn after_a_reset_the_first_fragment_is_cut_again() {
    let data = fixture("bframes.mp4");
    let (mut s, index) = stream(&data, PINNED);
    let r = open(&data, StreamOptions::WHOLE_FRAGMENTS);
    let remux = r.remux().expect("ready");
    let first = run(s.as_mut(), &data, index.segments[0].bytes.start, 100);
    let mut sequences = read_samples(&concat(&first)).1;
    // A seek back to the second fragment, then to the first again: each run
    // begins in pieces at its cut, and holds the whole fragments' samples.
    for from in [1, 0, 2] {
        let seek = run(s.as_mut(), &data, index.segments[from].bytes.start, 100);
        let owners: Vec<usize> = seek.iter().map(|o| fragment_of(remux, &index, o)).collect();
        assert!(owners.len() > index.segments.len() - from, "{owners:?}");
        assert_eq!(owners[0], from);
        assert_eq!(owners[1], from, "cut into pieces: {owners:?}");
        let (samples, numbers) = read_samples(&concat(&seek));
        let whole = read_samples(&whole_fragments(&data, from).concat()).0;
        assert_eq!(by_track(samples), by_track(whole), "from fragment {from}");
        sequences.extend(numbers);
    }
    // Numbered across the whole stream, the runs after a reset included.
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
}

#[test]
fn whole_fragments_only_reproduce_the_outputs_before_first_chunks() {
    // The outputs before pieces existed: each planned fragment built from
    // its span, numbered as planned (the recorded digests in
    // `policy_remux.rs` check the same through the policy).
    for name in ["bframes.mp4", "moov-end.mp4", "audio.m4a", "ntsc-90k.mp4"] {
        let data = fixture(name);
        let (mut s, index) = stream(&data, StreamOptions::WHOLE_FRAGMENTS);
        for (from, chunk) in [(0, 1), (0, 100), (2, 333), (1, 4096), (0, 1 << 20)] {
            let from = from.min(index.segments.len() - 1);
            let outputs = run(s.as_mut(), &data, index.segments[from].bytes.start, chunk);
            let bytes: Vec<Vec<u8>> = outputs.into_iter().map(|o| o.bytes).collect();
            assert_eq!(bytes, whole_fragments(&data, from), "{name} from {from}");
        }
    }
}

#[test]
fn a_first_chunk_alone_sends_the_rest_whole() {
    // chunk_ms 0: the first piece, then the rest of the fragment at once.
    let data = fixture("bframes.mp4");
    let options = StreamOptions {
        first_chunk_ms: 200,
        chunk_ms: 0,
        later_chunk_ms: 0,
    };
    let (mut s, index) = stream(&data, options);
    let r = open(&data, StreamOptions::WHOLE_FRAGMENTS);
    let remux = r.remux().expect("ready");
    let outputs = run(s.as_mut(), &data, index.segments[0].bytes.start, 100);
    let owners: Vec<usize> = outputs
        .iter()
        .map(|o| fragment_of(remux, &index, o))
        .collect();
    assert_eq!(owners, [0, 0, 1, 2]);
    // ... which comes with the push that completes the fragment's span.
    let span = index.segments[0].bytes.clone();
    let completing = span.start + (span.end - span.start).div_ceil(100) * 100;
    assert_eq!(outputs[1].at, completing.min(data.len() as u64));
}

#[test]
fn the_window_holds_only_what_the_samples_still_to_output_need() {
    let data = fixture("bframes.mp4");
    let r = open(&data, PINNED);
    let remux = r.remux().expect("ready").clone();
    let fragments = r.fragments().to_vec();
    let longest = fragments
        .iter()
        .map(|f| f.span.end - f.span.start)
        .max()
        .unwrap_or(0);
    let first = fragments[0].clone();
    let mut s = RemuxStream::new(remux, fragments, PINNED);
    let chunk = 100;
    s.reset(first.span.start);
    let mut at = first.span.start;
    let mut outputs = 0;
    let mut held_after_first_piece = None;
    for piece in data[at as usize..].chunks(chunk) {
        outputs += s.push(at, piece).expect("builds").len();
        at += piece.len() as u64;
        // As before pieces: at most a fragment's span and one push.
        assert!(s.held() <= longest as usize + chunk, "{} at {at}", s.held());
        if outputs == 1 && held_after_first_piece.is_none() {
            held_after_first_piece = Some((s.held(), at));
        }
    }
    assert_eq!(s.held(), 0, "nothing left to output, nothing held");
    // What the first piece took is let go at once.
    let (held, at) = held_after_first_piece.expect("a first piece");
    assert!((held as u64) < at - first.span.start, "{held} of {at}");
}

/// How a synthetic movie stores its samples.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// All the audio first, then all the video (a file muxed track by
    /// track): the audio of any time is in long before its video.
    AudioFirst,
    /// Each fragment's audio after the next fragment's keyframe: the audio
    /// trails the video by a GOP.
    AudioTrails,
}

/// A synthetic plain movie of 4 s: 25 fps video in a 1 ms timescale with a
/// keyframe every 2 s (two planned fragments), 48 kHz audio in 1024-sample
/// frames; each sample's bytes are its own, and the file holds them as
/// `layout` says.
fn synthetic(layout: Layout) -> (Remux, Vec<u8>) {
    let frames = 100u64;
    let audio_frames = 4 * 48_000 / 1024 + 1;
    let video_at = |i: u64| (i * 40, 300u32 + (i % 7) as u32, i.is_multiple_of(50));
    let audio_at = |i: u64| (i * 1024, 20u32 + (i % 3) as u32);
    // (track 0 video / 1 audio, index) in file order
    let mut order: Vec<(usize, u64)> = Vec::new();
    match layout {
        Layout::AudioFirst => {
            order.extend((0..audio_frames).map(|i| (1, i)));
            order.extend((0..frames).map(|i| (0, i)));
        }
        Layout::AudioTrails => {
            let audio_until =
                |t_ms: u64| (0..audio_frames).filter(move |&i| i * 1024 * 1000 / 48_000 < t_ms);
            order.extend((0..=50).map(|i| (0, i)));
            order.extend(audio_until(2000).map(|i| (1, i)));
            order.extend((51..frames).map(|i| (0, i)));
            order.extend(
                (0..audio_frames)
                    .filter(|&i| i * 1024 * 1000 / 48_000 >= 2000)
                    .map(|i| (1, i)),
            );
        }
    }
    let mut data = vec![0u8; 64]; // a header before the media
    let mut video = vec![Sample::new(0, 0, 0, 0, true); frames as usize];
    let mut audio = vec![Sample::new(0, 0, 0, 0, true); audio_frames as usize];
    for (track, i) in order {
        let offset = data.len() as u64;
        let size = if track == 0 {
            let (t, size, sync) = video_at(i);
            video[i as usize] = Sample::new(offset, t, 0, size, sync);
            size
        } else {
            let (t, size) = audio_at(i);
            audio[i as usize] = Sample::new(offset, t, 0, size, true);
            size
        };
        data.extend((0..size).map(|k| (i as u32 * 31 + k + track as u32 * 7) as u8));
    }
    let track = |id, kind, timescale, samples: Vec<Sample>, end_time| TrackSamples {
        id,
        kind,
        timescale,
        codec: String::new(),
        tkhd: Vec::new(),
        mdhd: Vec::new(),
        hdlr: Vec::new(),
        media_header: Vec::new(),
        sample_entry: Vec::new(),
        edit: Edit::default(),
        samples,
        end_time,
    };
    let movie = MovieSamples {
        timescale: 1000,
        duration: 4000,
        mvhd: Vec::new(),
        tracks: vec![
            track(1, TrackKind::Video, 1000, video, frames * 40),
            track(2, TrackKind::Audio, 48_000, audio, audio_frames * 1024),
        ],
    };
    (Remux::new(movie).expect("a movie"), data)
}

/// The pieces of a synthetic movie fed in `chunk`-byte pushes from its
/// first sample, with the samples each holds.
fn synthetic_run(
    layout: Layout,
    options: StreamOptions,
    chunk: usize,
) -> Vec<(Output, Vec<OutSample>)> {
    let (remux, data) = synthetic(layout);
    let plan = remux.plan(PlanOptions::default());
    assert_eq!(plan.len(), 2, "two 2 s fragments");
    let mut s = RemuxStream::new(remux, plan, options);
    run(&mut s, &data, 64, chunk)
        .into_iter()
        .map(|o| {
            let samples = read_samples(&o.bytes).0;
            (o, samples)
        })
        .collect()
}

/// Where each output's tracks end, seconds: (video, audio), presentation.
fn ends(samples: &[OutSample]) -> (f64, f64) {
    let end = |track: u32, scale: f64| {
        samples
            .iter()
            .filter(|s| s.track == track)
            .map(|s| (s.decode_time + u64::from(s.duration)) as f64 / scale)
            .fold(0.0, f64::max)
    };
    (end(1, 1000.0), end(2, 48_000.0))
}

#[test]
fn audio_stored_ahead_stops_at_the_video_of_the_piece() {
    let outputs = synthetic_run(Layout::AudioFirst, PINNED, 100);
    let pieces: Vec<(f64, f64)> = outputs.iter().map(|(_, s)| ends(s)).collect();
    // 200 ms, then 500 ms more at a time, then the rest; then fragment 2
    // (2 s) in two pieces of a second, as its bytes come.
    assert_eq!(pieces.len(), 7, "{pieces:?}");
    assert_eq!(pieces[5].0, 3.0, "{pieces:?}");
    for &(video, audio) in &pieces {
        // Never more than one audio frame past the video, nor behind it.
        assert!(audio <= video + 1024.0 / 48_000.0 + 1e-9, "{pieces:?}");
        assert!(audio >= video - 1e-9, "{pieces:?}");
    }
    assert!((0.2..0.3).contains(&pieces[0].0), "{pieces:?}");
    assert!((0.7..0.8).contains(&pieces[1].0), "{pieces:?}");
    check_samples(Layout::AudioFirst, &outputs);
}

#[test]
fn audio_stored_behind_holds_the_first_piece_back_and_keeps_the_next_keyframe() {
    let outputs = synthetic_run(Layout::AudioTrails, PINNED, 100);
    let (remux, _) = synthetic(Layout::AudioTrails);
    let plan = remux.plan(PlanOptions::default());
    // The first piece waits for 200 ms of audio, stored after the second
    // fragment's keyframe: by then the first fragment's video is all in.
    let (first, samples) = &outputs[0];
    let audio_start = plan[0].bytes.iter().map(|b| b.start).max().unwrap_or(0);
    assert!(first.at > audio_start, "{} vs {audio_start}", first.at);
    let (video, audio) = ends(samples);
    assert!(
        (video - 2.0).abs() < 1e-9 && (0.2..0.3).contains(&audio),
        "{video} {audio}"
    );
    // The keyframe of the second fragment lies before the rest of the
    // first's audio: the window keeps it, the second fragment builds.
    assert!(plan[1].span.start < audio_start);
    check_samples(Layout::AudioTrails, &outputs);
}

/// The outputs hold the samples of the whole fragments, byte for byte.
fn check_samples(layout: Layout, outputs: &[(Output, Vec<OutSample>)]) {
    let (remux, data) = synthetic(layout);
    let plan = remux.plan(PlanOptions::default());
    let whole: Vec<u8> = plan
        .iter()
        .flat_map(|f| remux.build_fragment(f, data.as_slice()).expect("builds"))
        .collect();
    let got: Vec<OutSample> = outputs.iter().flat_map(|(_, s)| s.clone()).collect();
    assert_eq!(
        by_track(got),
        by_track(read_samples(&whole).0),
        "{layout:?}"
    );
}
