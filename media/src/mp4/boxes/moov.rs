//! `moov` and the boxes under it that the index needs: `mvhd`, `trak`,
//! `tkhd`, `mdia`, `mdhd`, `hdlr`, `minf`, `stbl`, `stsd` (ISO 14496-12
//! §8.2–8.5). Sample tables are skipped: in a fragmented file they are empty
//! and the samples are described by the `moof`s.

use super::mvex::Mvex;
use super::{Child, codec, full_box, malformed};
use crate::index::{MediaError, TrackKind};

/// Largest `moov` we buffer and parse. A fragmented file's `moov` holds no
/// sample tables and is a few KB; 64 MiB also covers odd non-fragmented ones
/// far enough to say "not fragmented".
pub const MAX_SIZE: u64 = 64 << 20;

/// More tracks than this is not a file a browser plays.
pub const MAX_TRACKS: usize = 64;

/// What `moov` says.
#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    /// `mvhd` timescale (units per second) and duration in it (0: unknown).
    pub timescale: u32,
    pub duration: u64,
    pub tracks: Vec<Trak>,
    /// `None` for a non-fragmented file.
    pub mvex: Option<Mvex>,
}

/// One `trak`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trak {
    /// `tkhd` track_ID.
    pub id: u32,
    pub kind: TrackKind,
    /// `mdhd` timescale: the unit of this track's `tfdt` and `trun` times.
    pub timescale: u32,
    /// RFC 6381 codec string of the first sample entry.
    pub codec: String,
    /// The edit list's media_time (`elst`): the media time presented
    /// first, in `timescale` units; 0 without one.
    pub media_time: i64,
}

impl Movie {
    /// Parses the payload of `moov`.
    pub fn parse(moov: &Child<'_>) -> Result<Self, MediaError> {
        let mut movie = Movie {
            timescale: 0,
            duration: 0,
            tracks: Vec::new(),
            mvex: None,
        };
        let mut have_mvhd = false;
        for child in moov.children()? {
            let child = child?;
            match &child.header.kind {
                b"mvhd" => {
                    let (timescale, duration) = time_header(&child, "'mvhd' box too short")?;
                    movie.timescale = timescale;
                    movie.duration = duration;
                    have_mvhd = true;
                }
                b"trak" => {
                    if movie.tracks.len() >= MAX_TRACKS {
                        return Err(MediaError::Unsupported {
                            container: super::super::CONTAINER,
                            what: "more than 64 tracks".into(),
                        });
                    }
                    movie.tracks.push(Trak::parse(&child)?);
                }
                b"mvex" => movie.mvex = Some(Mvex::parse(&child)?),
                _ => {}
            }
        }
        if !have_mvhd {
            return Err(malformed(moov.header.offset, "'moov' without 'mvhd'"));
        }
        Ok(movie)
    }

    /// Duration in seconds from `mehd`, else from `mvhd` when it is set.
    pub fn duration_secs(&self) -> Option<f64> {
        if self.timescale == 0 {
            return None;
        }
        let ticks = self
            .mvex
            .as_ref()
            .and_then(|m| m.fragment_duration)
            .filter(|&d| d > 0);
        // All ones means "unknown" in both field widths.
        let known =
            self.duration > 0 && self.duration != u64::from(u32::MAX) && self.duration != u64::MAX;
        let ticks = ticks.or(known.then_some(self.duration))?;
        Some(ticks as f64 / f64::from(self.timescale))
    }
}

impl Trak {
    fn parse(trak: &Child<'_>) -> Result<Self, MediaError> {
        let mut id = None;
        let mut media = None;
        let mut media_time = 0;
        for child in trak.children()? {
            let child = child?;
            match &child.header.kind {
                b"tkhd" => {
                    let mut c = child.cursor("'tkhd' box too short");
                    let (version, _) = full_box(&mut c)?;
                    // creation_time, modification_time
                    c.skip(if version == 1 { 16 } else { 8 })?;
                    id = Some(c.u32()?);
                }
                b"mdia" => media = Some(Media::parse(&child)?),
                b"edts" => {
                    if let Some(elst) = child.children()?.find(b"elst")? {
                        media_time = super::elst::Edit::parse(&elst)?.media_time;
                    }
                }
                _ => {}
            }
        }
        let id = id.ok_or_else(|| malformed(trak.header.offset, "'trak' without 'tkhd'"))?;
        let media = media.ok_or_else(|| malformed(trak.header.offset, "'trak' without 'mdia'"))?;
        Ok(Trak {
            id,
            kind: media.kind,
            timescale: media.timescale,
            codec: media.codec,
            media_time,
        })
    }
}

/// What `mdia` says.
struct Media {
    timescale: u32,
    kind: TrackKind,
    codec: String,
}

impl Media {
    fn parse(mdia: &Child<'_>) -> Result<Self, MediaError> {
        let mut timescale = None;
        let mut kind = TrackKind::Other;
        let mut codec = None;
        for child in mdia.children()? {
            let child = child?;
            match &child.header.kind {
                b"mdhd" => timescale = Some(time_header(&child, "'mdhd' box too short")?.0),
                b"hdlr" => {
                    let mut c = child.cursor("'hdlr' box too short");
                    full_box(&mut c)?;
                    let _pre_defined = c.u32()?;
                    kind = match c.take(4)? {
                        b"vide" => TrackKind::Video,
                        b"soun" => TrackKind::Audio,
                        _ => TrackKind::Other,
                    };
                }
                b"minf" => codec = Some(minf_codec(&child)?),
                _ => {}
            }
        }
        let timescale =
            timescale.ok_or_else(|| malformed(mdia.header.offset, "'mdia' without 'mdhd'"))?;
        let codec = codec.ok_or_else(|| malformed(mdia.header.offset, "'mdia' without 'minf'"))?;
        Ok(Media {
            timescale,
            kind,
            codec,
        })
    }
}

/// `minf/stbl/stsd`: the codec string of the first sample entry.
fn minf_codec(minf: &Child<'_>) -> Result<String, MediaError> {
    let stbl = minf
        .children()?
        .find(b"stbl")?
        .ok_or_else(|| malformed(minf.header.offset, "'minf' without 'stbl'"))?;
    let stsd = stbl
        .children()?
        .find(b"stsd")?
        .ok_or_else(|| malformed(stbl.header.offset, "'stbl' without 'stsd'"))?;
    let mut c = stsd.cursor("'stsd' box too short");
    full_box(&mut c)?;
    // entry_count is not trusted for anything: only the first entry, which
    // must actually be present, is read.
    if c.u32()? == 0 {
        return Err(malformed(
            stsd.header.offset,
            "'stsd' without sample entries",
        ));
    }
    let entry = stsd
        .children_from(8)?
        .next()
        .transpose()?
        .ok_or_else(|| malformed(stsd.header.offset, "'stsd' without sample entries"))?;
    codec::codec_string(&entry)
}

/// (timescale, duration) of `mvhd` / `mdhd`, which share this layout.
pub(crate) fn time_header(
    child: &Child<'_>,
    short: &'static str,
) -> Result<(u32, u64), MediaError> {
    let mut c = child.cursor(short);
    let (version, _) = full_box(&mut c)?;
    c.skip(if version == 1 { 16 } else { 8 })?; // creation, modification time
    let timescale = c.u32()?;
    let duration = c.u32_or_u64(version)?;
    Ok((timescale, duration))
}
