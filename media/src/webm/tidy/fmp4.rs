//! H.264/HEVC + AAC or Opus in Matroska, as fragmented MP4: what MSE's MP4 byte
//! stream takes where its WebM one refuses the codecs. The init segment is
//! written from the TrackEntries (the CodecPrivate is the `avcC`/`hvcC` or
//! the AudioSpecificConfig), each Cluster becomes one `moof` + `mdat` with
//! the frames copied unchanged. Boxes go through the crate's one box writer
//! (`mp4::write::Writer`).
//!
//! Matroska stores presentation times in decode order. A video frame's
//! decode time is the Cluster's presentation times sorted (the i-th frame
//! decodes at the i-th earliest time), its composition offset the signed
//! difference (`trun` version 1): a B-frame decodes a little after it is
//! shown, as CMAF allows. Presentation is not delayed to keep the offsets
//! positive: Chromium's MSE then lost frames (a whole GOP of ffmpeg's
//! Matroska, whose Clusters open with audio ahead of the keyframe, with a
//! delay of three frames or more; measured in headless Chromium 148).

use super::cluster::Frame;
use crate::index::TrackKind;
use crate::mp4::boxes::moof::trun_flags::{
    DATA_OFFSET, SAMPLE_COMPOSITION_TIME_OFFSET, SAMPLE_DURATION, SAMPLE_FLAGS, SAMPLE_SIZE,
};
use crate::mp4::write::Writer;
use crate::webm::chromium;
use crate::webm::ebml::{Children, read_ascii, read_float, read_uint};
use crate::webm::elements as id;

const SYNC_FLAGS: u32 = 0x0200_0000;
const NON_SYNC_FLAGS: u32 = 0x0101_0000;
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

/// What a track's sample entry is written from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mp4Track {
    pub number: u64,
    pub kind: TrackKind,
    /// `avc1`, `hev1`, `mp4a` or `Opus`.
    entry: [u8; 4],
    private: Vec<u8>,
    width: u16,
    height: u16,
    rate: u32,
    channels: u16,
    /// DefaultDuration, ticks (a frame's duration), when given.
    frame_ticks: Option<u32>,
    /// H.264 whose frames are start-code streams with the parameter sets
    /// in-band (no CodecPrivate: Chromium's MediaRecorder): each frame is
    /// written again length-prefixed ([`super::annexb`]).
    annex_b: bool,
}

/// The tracks numbered in `keep`, when every one is H.264, HEVC, AAC or
/// Opus with its configuration, and not all Opus; `None` otherwise (the WebM output, or native
/// playback, then).
///
/// `in_band`: the `avcC` made from the first keyframe's parameter sets, for
/// an H.264 track without CodecPrivate.
pub fn tracks(
    payload: &[u8],
    keep: &[u64],
    scale: u64,
    in_band: Option<&[u8]>,
) -> Option<Vec<Mp4Track>> {
    let mut out = Vec::new();
    for entry in Children::new(payload, 0) {
        let entry = entry.ok()?;
        if entry.id != id::TRACK_ENTRY {
            continue;
        }
        let mut t = Mp4Track {
            number: 0,
            kind: TrackKind::Other,
            entry: *b"    ",
            private: Vec::new(),
            width: 0,
            height: 0,
            rate: 0,
            channels: 2,
            frame_ticks: None,
            annex_b: false,
        };
        let mut codec = "";
        for child in Children::new(entry.payload, entry.offset) {
            let child = child.ok()?;
            match child.id {
                id::TRACK_NUMBER => t.number = read_uint(child.payload).ok()?,
                id::TRACK_TYPE => {
                    t.kind = match read_uint(child.payload).ok()? {
                        1 => TrackKind::Video,
                        2 => TrackKind::Audio,
                        _ => TrackKind::Other,
                    }
                }
                id::CODEC_ID => codec = read_ascii(child.payload).ok()?,
                id::CODEC_PRIVATE => t.private = child.payload.to_vec(),
                chromium::DEFAULT_DURATION => {
                    let ns = read_uint(child.payload).ok()?;
                    t.frame_ticks = u32::try_from(ns / scale.max(1)).ok().filter(|&d| d > 0);
                }
                chromium::VIDEO | chromium::AUDIO => {
                    for v in Children::new(child.payload, child.offset) {
                        let v = v.ok()?;
                        let int = || {
                            read_uint(v.payload)
                                .ok()
                                .and_then(|n| u16::try_from(n).ok())
                        };
                        match v.id {
                            chromium::PIXEL_WIDTH => t.width = int()?,
                            chromium::PIXEL_HEIGHT => t.height = int()?,
                            0x9F => t.channels = int()?,
                            0xB5 => {
                                let hz = read_float(v.payload).ok()?;
                                t.rate = (hz.is_finite() && hz > 0.0 && hz < 1e6)
                                    .then_some(hz as u32)?;
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if !keep.contains(&t.number) {
            continue;
        }
        t.entry = match (t.kind, codec) {
            (TrackKind::Video, "V_MPEG4/ISO/AVC") => *b"avc1",
            (TrackKind::Video, "V_MPEGH/ISO/HEVC") => *b"hev1",
            (TrackKind::Audio, "A_AAC") if t.rate > 0 => *b"mp4a",
            (TrackKind::Audio, "A_OPUS") => {
                t.private = opus_dops(&t.private)?;
                t.rate = 48_000;
                *b"Opus"
            }
            _ => return None,
        };
        if t.private.is_empty()
            && &t.entry == b"avc1"
            && let Some(avcc) = in_band
        {
            t.private = avcc.to_vec();
            t.annex_b = true;
        }
        if t.private.is_empty() {
            return None;
        }
        out.push(t);
    }
    // Opus alone plays as WebM already.
    let needed = out.iter().any(|t| &t.entry != b"Opus");
    needed.then_some(out)
}

/// The `dOps` payload (Opus in ISO BMFF, §4.3.2) from an `OpusHead`
/// (RFC 7845: little-endian fields; `dOps` is big-endian).
fn opus_dops(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"OpusHead")?;
    let [
        _version,
        channels,
        p0,
        p1,
        r0,
        r1,
        r2,
        r3,
        g0,
        g1,
        family,
        table @ ..,
    ] = rest
    else {
        return None;
    };
    let mut out = vec![0, *channels];
    out.extend_from_slice(&[*p1, *p0, *r3, *r2, *r1, *r0, *g1, *g0, *family]);
    if *family != 0 {
        // StreamCount, CoupledCount, then a byte per channel.
        out.extend_from_slice(table.get(..2 + usize::from(*channels))?);
    }
    Some(out)
}

/// `ftyp` + `moov` with a timescale of one Matroska tick.
pub fn init_segment(tracks: &[Mp4Track], timescale: u32) -> Vec<u8> {
    let mut w = Writer::with_capacity(1024);
    let ftyp = w.begin(b"ftyp");
    w.bytes(b"iso6");
    w.u32(0);
    for brand in [b"iso6", b"iso5", b"isom", b"mp41"] {
        w.bytes(brand);
    }
    w.end(ftyp);
    let moov = w.begin(b"moov");
    let mvhd = w.begin_full(b"mvhd", 0, 0);
    w.u32(0);
    w.u32(0);
    w.u32(timescale);
    w.u32(0); // duration: fragments follow
    w.u32(0x0001_0000); // rate
    w.u16(0x0100); // volume
    w.bytes(&[0; 10]);
    matrix(&mut w);
    w.bytes(&[0; 24]);
    w.u32(u32::try_from(tracks.len() + 1).unwrap_or(u32::MAX));
    w.end(mvhd);
    for (i, t) in tracks.iter().enumerate() {
        trak(&mut w, t, i as u32 + 1, timescale);
    }
    let mvex = w.begin(b"mvex");
    for i in 0..tracks.len() {
        let trex = w.begin_full(b"trex", 0, 0);
        w.u32(i as u32 + 1);
        w.u32(1);
        w.u32(0);
        w.u32(0);
        w.u32(0);
        w.end(trex);
    }
    w.end(mvex);
    w.end(moov);
    w.into_bytes()
}

fn matrix(w: &mut Writer) {
    for v in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000u32] {
        w.u32(v);
    }
}

fn trak(w: &mut Writer, t: &Mp4Track, track_id: u32, timescale: u32) {
    let video = t.kind == TrackKind::Video;
    let trak = w.begin(b"trak");
    let tkhd = w.begin_full(b"tkhd", 0, 3);
    w.u32(0);
    w.u32(0);
    w.u32(track_id);
    w.u32(0);
    w.u32(0); // duration
    w.bytes(&[0; 8]);
    w.u16(0); // layer
    w.u16(0); // alternate group
    w.u16(if video { 0 } else { 0x0100 });
    w.u16(0);
    matrix(w);
    w.u32(u32::from(t.width) << 16);
    w.u32(u32::from(t.height) << 16);
    w.end(tkhd);
    let mdia = w.begin(b"mdia");
    let mdhd = w.begin_full(b"mdhd", 0, 0);
    w.u32(0);
    w.u32(0);
    w.u32(timescale);
    w.u32(0);
    w.u16(0x55C4); // "und"
    w.u16(0);
    w.end(mdhd);
    let hdlr = w.begin_full(b"hdlr", 0, 0);
    w.u32(0);
    w.bytes(if video { b"vide" } else { b"soun" });
    w.bytes(&[0; 13]); // reserved, empty name
    w.end(hdlr);
    let minf = w.begin(b"minf");
    if video {
        let vmhd = w.begin_full(b"vmhd", 0, 1);
        w.bytes(&[0; 8]);
        w.end(vmhd);
    } else {
        let smhd = w.begin_full(b"smhd", 0, 0);
        w.u32(0);
        w.end(smhd);
    }
    let dinf = w.begin(b"dinf");
    let dref = w.begin_full(b"dref", 0, 0);
    w.u32(1);
    let url = w.begin_full(b"url ", 0, 1);
    w.end(url);
    w.end(dref);
    w.end(dinf);
    let stbl = w.begin(b"stbl");
    let stsd = w.begin_full(b"stsd", 0, 0);
    w.u32(1);
    sample_entry(w, t);
    w.end(stsd);
    for kind in [b"stts", b"stsc", b"stco"] {
        let b = w.begin_full(kind, 0, 0);
        w.u32(0);
        w.end(b);
    }
    let stsz = w.begin_full(b"stsz", 0, 0);
    w.u32(0);
    w.u32(0);
    w.end(stsz);
    w.end(stbl);
    w.end(minf);
    w.end(mdia);
    w.end(trak);
}

fn sample_entry(w: &mut Writer, t: &Mp4Track) {
    let entry = w.begin(&t.entry);
    w.bytes(&[0; 6]);
    w.u16(1); // data_reference_index
    if t.kind == TrackKind::Video {
        w.bytes(&[0; 16]);
        w.u16(t.width);
        w.u16(t.height);
        w.u32(0x0048_0000);
        w.u32(0x0048_0000);
        w.u32(0);
        w.u16(1); // frame_count
        w.bytes(&[0; 32]); // compressorname
        w.u16(0x0018);
        w.u16(0xFFFF);
        let config = w.begin(if &t.entry == b"avc1" {
            b"avcC"
        } else {
            b"hvcC"
        });
        w.bytes(&t.private);
        w.end(config);
    } else if &t.entry == b"Opus" {
        w.bytes(&[0; 8]);
        w.u16(t.channels);
        w.u16(16);
        w.u32(0);
        w.u32(48_000 << 16);
        let dops = w.begin(b"dOps");
        w.bytes(&t.private);
        w.end(dops);
    } else {
        w.bytes(&[0; 8]);
        w.u16(t.channels);
        w.u16(16);
        w.u32(0);
        w.u32(t.rate.min(0xFFFF) << 16);
        let esds = w.begin_full(b"esds", 0, 0);
        let asc = &t.private;
        // ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo,
        // then SLConfigDescriptor; lengths in the 4-byte form.
        let dsi = 5 + asc.len();
        let dcd = 5 + 13 + dsi;
        let es = 5 + 3 + dcd + 6;
        descriptor(w, 3, es - 5);
        w.u16(0); // ES_ID
        w.bytes(&[0]);
        descriptor(w, 4, dcd - 5);
        w.bytes(&[0x40, 0x15, 0, 0, 0]); // AAC, audio stream, buffer size
        w.u32(0);
        w.u32(0);
        descriptor(w, 5, asc.len());
        w.bytes(asc);
        descriptor(w, 6, 1);
        w.bytes(&[2]);
        w.end(esds);
    }
    w.end(entry);
}

fn descriptor(w: &mut Writer, tag: u8, len: usize) {
    let len = u32::try_from(len).unwrap_or(0).min(0x0FFF_FFFF);
    w.bytes(&[
        tag,
        0x80 | (len >> 21) as u8 & 0x7F,
        0x80 | (len >> 14) as u8 & 0x7F,
        0x80 | (len >> 7) as u8 & 0x7F,
        len as u8 & 0x7F,
    ]);
}

/// The fragment writer's state across Clusters.
#[derive(Debug, Clone)]
pub struct Fragmenter {
    tracks: Vec<Mp4Track>,
    sequence: u32,
    /// Per track: the last frame's duration, for the last frame of the next
    /// fragment when the track has no DefaultDuration.
    last_duration: Vec<u32>,
}

/// One sample of a `trun`.
struct Sample<'a> {
    duration: u32,
    offset: i32,
    key: bool,
    data: std::borrow::Cow<'a, [u8]>,
}

impl Fragmenter {
    pub fn new(tracks: Vec<Mp4Track>) -> Self {
        let last_duration = vec![0; tracks.len()];
        Fragmenter {
            tracks,
            sequence: 0,
            last_duration,
        }
    }

    /// The `moof` + `mdat` of one Cluster's frames.
    pub fn fragment(&mut self, timecode: u64, frames: &[Frame<'_>]) -> Vec<u8> {
        self.sequence = self.sequence.wrapping_add(1);
        let base = i64::try_from(timecode).unwrap_or(i64::MAX / 2);
        let mut runs = Vec::with_capacity(self.tracks.len());
        for (i, t) in self.tracks.iter().enumerate() {
            let mine: Vec<&Frame<'_>> = frames.iter().filter(|f| f.track == t.number).collect();
            if mine.is_empty() {
                continue;
            }
            let pts: Vec<i64> = mine.iter().map(|f| base + i64::from(f.time)).collect();
            let dts: Vec<i64> = if t.kind == TrackKind::Video {
                let mut sorted = pts.clone();
                sorted.sort_unstable();
                sorted
            } else {
                pts.clone()
            };
            let last = self.last_duration.get(i).copied().unwrap_or(0);
            let fallback = t.frame_ticks.unwrap_or(last);
            let samples: Vec<Sample<'_>> = mine
                .iter()
                .enumerate()
                .zip(pts.iter().zip(&dts))
                .map(|((n, f), (&pts, &dts_n))| {
                    let duration = match dts.get(n + 1) {
                        Some(next) => u32::try_from(next - dts_n).unwrap_or(0),
                        None => fallback,
                    };
                    Sample {
                        duration,
                        offset: i32::try_from(pts - dts_n).unwrap_or(0),
                        key: f.key || t.kind != TrackKind::Video,
                        data: if t.annex_b && super::annexb::is_annex_b(f.data) {
                            std::borrow::Cow::Owned(super::annexb::length_prefixed(f.data))
                        } else {
                            std::borrow::Cow::Borrowed(f.data)
                        },
                    }
                })
                .collect();
            if let (Some(d), Some(slot)) = (
                samples.iter().rev().nth(1).map(|s| s.duration),
                self.last_duration.get_mut(i),
            ) {
                *slot = d;
            }
            let first = dts
                .first()
                .map_or(0, |&d| u64::try_from(d.max(0)).unwrap_or(0));
            runs.push((i as u32 + 1, first, samples));
        }
        let payload: usize = runs.iter().flat_map(|r| &r.2).map(|s| s.data.len()).sum();
        let mut w = Writer::with_capacity(payload + 256 + 16 * frames.len());
        let moof = w.begin(b"moof");
        let mfhd = w.begin_full(b"mfhd", 0, 0);
        w.u32(self.sequence);
        w.end(mfhd);
        let mut patches = Vec::with_capacity(runs.len());
        let mut in_mdat = 0usize;
        for (track_id, first, samples) in &runs {
            let traf = w.begin(b"traf");
            let tfhd = w.begin_full(b"tfhd", 0, DEFAULT_BASE_IS_MOOF);
            w.u32(*track_id);
            w.end(tfhd);
            let tfdt = w.begin_full(b"tfdt", 1, 0);
            w.u64(*first);
            w.end(tfdt);
            let flags = DATA_OFFSET
                | SAMPLE_DURATION
                | SAMPLE_SIZE
                | SAMPLE_FLAGS
                | SAMPLE_COMPOSITION_TIME_OFFSET;
            let trun = w.begin_full(b"trun", 1, flags);
            w.u32(u32::try_from(samples.len()).unwrap_or(u32::MAX));
            patches.push((w.len(), in_mdat));
            w.u32(0);
            for s in samples {
                w.u32(s.duration);
                w.u32(u32::try_from(s.data.len()).unwrap_or(u32::MAX));
                w.u32(if s.key { SYNC_FLAGS } else { NON_SYNC_FLAGS });
                w.u32(s.offset as u32);
            }
            w.end(trun);
            w.end(traf);
            in_mdat += samples.iter().map(|s| s.data.len()).sum::<usize>();
        }
        w.end(moof);
        let moof_len = w.len();
        for (at, in_mdat) in patches {
            w.patch_u32(
                at,
                u32::try_from(moof_len + 8 + in_mdat).unwrap_or(u32::MAX),
            );
        }
        w.u32(u32::try_from(payload + 8).unwrap_or(u32::MAX));
        w.bytes(b"mdat");
        for (_, _, samples) in &runs {
            for s in samples {
                w.bytes(&s.data);
            }
        }
        w.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_head_becomes_dops() {
        // OpusHead v1, 2 channels, pre-skip 312, 48 kHz, gain 0, family 0.
        let head = [
            b"OpusHead".as_slice(),
            &[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(
            opus_dops(&head),
            Some(vec![0, 2, 0x01, 0x38, 0, 0, 0xBB, 0x80, 0, 0, 0])
        );
        assert_eq!(opus_dops(b"OpusHead"), None);
        assert_eq!(opus_dops(b"NotOpus!"), None);
    }
}
