//! The benchmark file's structure, read with a small box walker of its own:
//! where the init segment ends, where each `moof`+`mdat` fragment lies and
//! what media time it covers.
//!
//! The walker is deliberately independent of `caudal_media`'s index: the
//! HLS playlist that hls.js plays is written from it, and a bug in Caudal's
//! reader must not shape the reference player's input. It reads only what
//! an ffmpeg `+frag_keyframe+empty_moov+default_base_moof` file has: `tfdt`
//! and `trun` of the video track, durations from `trun`, `tfhd` or `trex`.

use std::ops::Range;

use anyhow::{Context, Result, bail, ensure};

/// One `moof`+`mdat` pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// Bytes of the file, `moof` start to `mdat` end.
    pub bytes: Range<u64>,
    /// Video media time, seconds.
    pub start: f64,
    pub duration: f64,
}

/// What the benchmark needs to know about its media file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLayout {
    pub file_len: u64,
    /// `ftyp` and `moov`: the HLS `EXT-X-MAP`.
    pub init: Range<u64>,
    pub fragments: Vec<Fragment>,
}

impl FileLayout {
    /// Reads the layout of a fragmented MP4 held in memory.
    pub fn parse(file: &[u8]) -> Result<FileLayout> {
        let top = boxes(file, 0)?;
        let moov = top
            .iter()
            .find(|b| &b.kind == b"moov")
            .context("no moov box: not an MP4")?;
        let video = video_track(file, moov)?;
        let mut fragments = Vec::new();
        for (i, b) in top.iter().enumerate() {
            if &b.kind != b"moof" {
                continue;
            }
            let mdat = top
                .get(i + 1)
                .filter(|m| &m.kind == b"mdat")
                .with_context(|| format!("the moof at byte {} has no mdat after it", b.start))?;
            let (decode_time, ticks) = fragment_times(file, b, &video)?;
            fragments.push(Fragment {
                bytes: b.start..mdat.end,
                start: decode_time as f64 / video.timescale as f64,
                duration: ticks as f64 / video.timescale as f64,
            });
        }
        ensure!(!fragments.is_empty(), "no moof boxes: not a fragmented MP4");
        Ok(FileLayout {
            file_len: file.len() as u64,
            init: 0..moov.end,
            fragments,
        })
    }

    /// Seconds of media.
    pub fn duration(&self) -> f64 {
        self.fragments
            .last()
            .map_or(0.0, |last| last.start + last.duration)
    }

    /// The average bit rate of the whole file, bit/s ("B" in the scenarios).
    pub fn bit_rate(&self) -> f64 {
        self.file_len as f64 * 8.0 / self.duration().max(1e-9)
    }

    /// Bytes of fragment data a player needs to play media time `a..b`:
    /// each fragment counts in proportion to the part of it inside `a..b`.
    pub fn bytes_between(&self, a: f64, b: f64) -> f64 {
        self.fragments
            .iter()
            .map(|f| {
                let overlap = (b.min(f.start + f.duration) - a.max(f.start)).max(0.0);
                let len = (f.bytes.end - f.bytes.start) as f64;
                len * overlap / f.duration.max(1e-9)
            })
            .sum()
    }

    /// Bytes needed to play the `played` ranges: the init segment once plus
    /// the fragment data of every range.
    pub fn bytes_played(&self, played: &[(f64, f64)]) -> f64 {
        if played.iter().all(|(a, b)| b <= a) {
            return 0.0;
        }
        let init = (self.init.end - self.init.start) as f64;
        init + played
            .iter()
            .map(|&(a, b)| self.bytes_between(a, b))
            .sum::<f64>()
    }

    /// An HLS media playlist (version 7) over this very file: `EXT-X-MAP`
    /// with the init byte range, one `EXT-X-BYTERANGE` segment per fragment.
    pub fn hls_playlist(&self, file_name: &str) -> String {
        let target = self
            .fragments
            .iter()
            .map(|f| f.duration)
            .fold(0.0, f64::max)
            .ceil()
            .max(1.0);
        let mut out = format!(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n\
             #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"{file_name}\",BYTERANGE=\"{}@{}\"\n",
            self.init.end - self.init.start,
            self.init.start
        );
        for f in &self.fragments {
            out.push_str(&format!(
                "#EXTINF:{:.6},\n#EXT-X-BYTERANGE:{}@{}\n{file_name}\n",
                f.duration,
                f.bytes.end - f.bytes.start,
                f.bytes.start
            ));
        }
        out.push_str("#EXT-X-ENDLIST\n");
        out
    }
}

/// A box: its type and where it lies (header included) in the file.
#[derive(Debug, Clone, Copy)]
struct Mp4Box {
    kind: [u8; 4],
    start: u64,
    /// Where the payload starts (after the header).
    body: u64,
    end: u64,
}

/// The boxes inside `data`, which starts at file offset `base`.
fn boxes(data: &[u8], base: u64) -> Result<Vec<Mp4Box>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size32 = u32_at(data, at)?;
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&data[at + 4..at + 8]);
        let (size, header) = match size32 {
            0 => ((data.len() - at) as u64, 8),
            1 => (u64_at(data, at + 8)?, 16),
            n => (u64::from(n), 8),
        };
        ensure!(
            size >= header as u64 && at as u64 + size <= data.len() as u64,
            "box {} at byte {} has a bad size {size}",
            String::from_utf8_lossy(&kind),
            base + at as u64
        );
        out.push(Mp4Box {
            kind,
            start: base + at as u64,
            body: base + (at + header) as u64,
            end: base + at as u64 + size,
        });
        at += size as usize;
    }
    Ok(out)
}

fn children(file: &[u8], parent: &Mp4Box) -> Result<Vec<Mp4Box>> {
    boxes(payload(file, parent), parent.body)
}

fn payload<'a>(file: &'a [u8], b: &Mp4Box) -> &'a [u8] {
    &file[b.body as usize..b.end as usize]
}

fn child(file: &[u8], parent: &Mp4Box, kind: &[u8; 4]) -> Result<Option<Mp4Box>> {
    Ok(children(file, parent)?
        .into_iter()
        .find(|b| &b.kind == kind))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32> {
    let bytes = data
        .get(at..at + 4)
        .with_context(|| format!("4 bytes at {at} past the end"))?;
    Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn u64_at(data: &[u8], at: usize) -> Result<u64> {
    Ok((u64::from(u32_at(data, at)?) << 32) | u64::from(u32_at(data, at + 4)?))
}

/// The video track: its id, timescale and default sample duration (`trex`).
#[derive(Debug)]
struct VideoTrack {
    id: u32,
    timescale: u32,
    trex_duration: Option<u32>,
}

fn video_track(file: &[u8], moov: &Mp4Box) -> Result<VideoTrack> {
    let mut found = None;
    for trak in children(file, moov)?.iter().filter(|b| &b.kind == b"trak") {
        let Some(mdia) = child(file, trak, b"mdia")? else {
            continue;
        };
        let handler = child(file, &mdia, b"hdlr")?
            .map(|h| payload(file, &h).get(8..12).map(<[u8]>::to_vec))
            .unwrap_or_default();
        if handler.as_deref() != Some(b"vide") {
            continue;
        }
        let tkhd = child(file, trak, b"tkhd")?.context("a trak without tkhd")?;
        let tkhd = payload(file, &tkhd);
        let id = if tkhd.first() == Some(&1) {
            u32_at(tkhd, 20)?
        } else {
            u32_at(tkhd, 12)?
        };
        let mdhd = child(file, &mdia, b"mdhd")?.context("a trak without mdhd")?;
        let mdhd = payload(file, &mdhd);
        let timescale = if mdhd.first() == Some(&1) {
            u32_at(mdhd, 20)?
        } else {
            u32_at(mdhd, 12)?
        };
        ensure!(timescale > 0, "the video track's timescale is 0");
        found = Some(VideoTrack {
            id,
            timescale,
            trex_duration: None,
        });
        break;
    }
    let mut video = found.context("no video track")?;
    if let Some(mvex) = child(file, moov, b"mvex")? {
        for trex in children(file, &mvex)?.iter().filter(|b| &b.kind == b"trex") {
            let body = payload(file, trex);
            if u32_at(body, 4)? == video.id {
                video.trex_duration = Some(u32_at(body, 12)?);
            }
        }
    }
    Ok(video)
}

/// (baseMediaDecodeTime, total sample duration) of the video track in one
/// `moof`, in the track's timescale.
fn fragment_times(file: &[u8], moof: &Mp4Box, video: &VideoTrack) -> Result<(u64, u64)> {
    for traf in children(file, moof)?.iter().filter(|b| &b.kind == b"traf") {
        let parts = children(file, traf)?;
        let tfhd = parts
            .iter()
            .find(|b| &b.kind == b"tfhd")
            .context("a traf without tfhd")?;
        let tfhd = payload(file, tfhd);
        if u32_at(tfhd, 4)? != video.id {
            continue;
        }
        let flags = u32_at(tfhd, 0)? & 0x00ff_ffff;
        // Optional fields in order: base data offset (8), sample description
        // index (4), default sample duration (4).
        let mut at = 8;
        if flags & 0x01 != 0 {
            at += 8;
        }
        if flags & 0x02 != 0 {
            at += 4;
        }
        let default_duration = if flags & 0x08 != 0 {
            Some(u32_at(tfhd, at)?)
        } else {
            video.trex_duration
        };
        let tfdt = parts
            .iter()
            .find(|b| &b.kind == b"tfdt")
            .context("a video traf without tfdt")?;
        let tfdt = payload(file, tfdt);
        let decode_time = if tfdt.first() == Some(&1) {
            u64_at(tfdt, 4)?
        } else {
            u64::from(u32_at(tfdt, 4)?)
        };
        let mut ticks = 0u64;
        for trun in parts.iter().filter(|b| &b.kind == b"trun") {
            ticks += trun_duration(payload(file, trun), default_duration)?;
        }
        return Ok((decode_time, ticks));
    }
    bail!("the moof at byte {} has no video traf", moof.start)
}

fn trun_duration(trun: &[u8], default_duration: Option<u32>) -> Result<u64> {
    let flags = u32_at(trun, 0)? & 0x00ff_ffff;
    let count = u32_at(trun, 4)? as usize;
    let mut at = 8;
    if flags & 0x01 != 0 {
        at += 4; // data offset
    }
    if flags & 0x04 != 0 {
        at += 4; // first sample flags
    }
    let has_duration = flags & 0x100 != 0;
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&bit| flags & bit != 0)
        .count()
        * 4;
    if !has_duration {
        let each = default_duration.context("a trun without sample durations or a default")?;
        return Ok(count as u64 * u64::from(each));
    }
    let mut total = 0u64;
    for i in 0..count {
        total += u64::from(u32_at(trun, at + i * per_sample)?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> FileLayout {
        FileLayout {
            file_len: 1000,
            init: 0..100,
            fragments: vec![
                Fragment {
                    bytes: 100..500,
                    start: 0.0,
                    duration: 2.0,
                },
                Fragment {
                    bytes: 500..1000,
                    start: 2.0,
                    duration: 2.0,
                },
            ],
        }
    }

    #[test]
    fn counts_played_bytes_by_fragment_share() {
        let l = layout();
        assert_eq!(l.duration(), 4.0);
        assert_eq!(l.bytes_played(&[(0.0, 1.0)]), 100.0 + 200.0);
        assert_eq!(
            l.bytes_played(&[(0.0, 1.0), (3.0, 4.0)]),
            100.0 + 200.0 + 250.0
        );
        assert_eq!(l.bytes_played(&[]), 0.0);
    }

    #[test]
    fn writes_a_byte_range_playlist() {
        let text = layout().hls_playlist("a.mp4");
        assert!(text.contains("#EXT-X-MAP:URI=\"a.mp4\",BYTERANGE=\"100@0\""));
        assert!(text.contains("#EXTINF:2.000000,\n#EXT-X-BYTERANGE:400@100\na.mp4\n"));
        assert!(text.contains("#EXT-X-TARGETDURATION:2\n"));
        assert!(text.ends_with("#EXT-X-ENDLIST\n"));
    }
}
