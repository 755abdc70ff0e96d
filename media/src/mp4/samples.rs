//! The per-track sample walk of a plain (non-fragmented) MP4: from the
//! sample tables under `moov/trak/mdia/minf/stbl` to one compact [`Sample`]
//! per sample — where its bytes are, when it is decoded and presented, and
//! whether decoding may start there.
//!
//! This is the remuxer's index (symphonia keeps the same walk apart from
//! its box parsers, in `stream.rs`). The tables are run-length coded and
//! the walk expands them: `stsc` chunk runs × `stco`/`co64` chunk offsets ×
//! `stsz`/`stz2` sizes give each sample's offset; `stts` runs its decode
//! time; `ctts` runs its composition offset; `stss` its sync flag.
//!
//! Bounded and total: every table is checked to be whole in its box before
//! it is walked, the tables must agree on the sample count, at most
//! [`MAX_SAMPLES`] samples a track are expanded, and with the file length
//! known every sample must lie inside the file.

use super::boxes::ctts::Ctts;
use super::boxes::elst::Edit;
use super::boxes::moov::time_header;
use super::boxes::stco::ChunkOffsets;
use super::boxes::stsc::Stsc;
use super::boxes::stss::Stss;
use super::boxes::stsz::SampleSizes;
use super::boxes::stts::Stts;
use super::boxes::{Child, codec, full_box, malformed};
use crate::index::{MediaError, TrackKind};

/// Most samples we expand in one track: 2^24 is 93 hours of 50 fps video
/// or 97 hours of 48 kHz AAC, and 384 MiB of [`Sample`]s — the ceiling on
/// what a hostile 100-byte table can make us allocate.
pub const MAX_SAMPLES: u32 = 1 << 24;

/// Largest sample: the top bit of the size field holds the sync flag.
pub const MAX_SAMPLE_SIZE: u32 = (1 << 31) - 1;

/// More tracks than this is not a file a browser plays.
const MAX_TRACKS: usize = 64;

const NON_SYNC: u32 = 1 << 31;

// The sample list is the remuxer's whole index: keep a sample at 24 bytes.
const _: () = assert!(std::mem::size_of::<Sample>() <= 24);

/// One sample, 24 bytes: the remuxer keeps one per sample of the file.
///
/// The duration is not stored: it is the next sample's decode time minus
/// this one's ([`TrackSamples::duration`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// File offset of the sample's bytes.
    pub offset: u64,
    /// Decode time in the track's timescale (before any edit).
    pub decode_time: u64,
    /// Presentation minus decode time, track timescale (`ctts`).
    pub composition_offset: i32,
    /// Size in bytes, and [`NON_SYNC`] in the top bit.
    size_and_flags: u32,
}

impl Sample {
    /// A sample of `size` bytes (at most [`MAX_SAMPLE_SIZE`]).
    pub fn new(
        offset: u64,
        decode_time: u64,
        composition_offset: i32,
        size: u32,
        sync: bool,
    ) -> Self {
        let flag = if sync { 0 } else { NON_SYNC };
        Sample {
            offset,
            decode_time,
            composition_offset,
            size_and_flags: (size & MAX_SAMPLE_SIZE) | flag,
        }
    }

    pub fn size(&self) -> u32 {
        self.size_and_flags & MAX_SAMPLE_SIZE
    }

    /// A random access point: decoding may start here.
    pub fn is_sync(&self) -> bool {
        self.size_and_flags & NON_SYNC == 0
    }

    /// The byte after the sample.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(u64::from(self.size()))
    }
}

/// One audio or video track with its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSamples {
    /// `tkhd` track_ID.
    pub id: u32,
    pub kind: TrackKind,
    /// `mdhd` timescale: the unit of all times of this track.
    pub timescale: u32,
    /// RFC 6381 codec string of the sample entry.
    pub codec: String,
    /// Whole boxes (header included), copied verbatim into the init
    /// segment: `tkhd`, `mdhd`, `hdlr`, the media header (`vmhd`, `smhd`,
    /// ...; empty when the file has none) and the sample entry (`avc1`,
    /// `mp4a`, ... with its `avcC`, `esds`, ...).
    pub tkhd: Vec<u8>,
    pub mdhd: Vec<u8>,
    pub hdlr: Vec<u8>,
    pub media_header: Vec<u8>,
    pub sample_entry: Vec<u8>,
    pub edit: Edit,
    /// In decode order.
    pub samples: Vec<Sample>,
    /// Decode time after the last sample: the sum of all durations.
    pub end_time: u64,
}

impl TrackSamples {
    /// The duration of sample `i`, track timescale (0 past the end).
    pub fn duration(&self, i: usize) -> u32 {
        let Some(s) = self.samples.get(i) else {
            return 0;
        };
        let next = self
            .samples
            .get(i.saturating_add(1))
            .map_or(self.end_time, |n| n.decode_time);
        // Consecutive decode times differ by one `stts` delta, a u32.
        u32::try_from(next.saturating_sub(s.decode_time)).unwrap_or(u32::MAX)
    }
}

/// What the remuxer needs from a `moov`.
#[derive(Debug, Clone, PartialEq)]
pub struct MovieSamples {
    /// `mvhd` timescale and duration (the unit of edit list durations).
    pub timescale: u32,
    pub duration: u64,
    /// The whole `mvhd` box, copied into the init segment.
    pub mvhd: Vec<u8>,
    /// The audio and video tracks, in file order (other tracks — text,
    /// timecode, hint — are left out: MSE takes none of them).
    pub tracks: Vec<TrackSamples>,
}

impl MovieSamples {
    /// Reads the payload of a `moov`. `file_len`, when known, is checked
    /// against every sample's byte range.
    pub fn parse(moov: &Child<'_>, file_len: Option<u64>) -> Result<Self, MediaError> {
        let mut movie = MovieSamples {
            timescale: 0,
            duration: 0,
            mvhd: Vec::new(),
            tracks: Vec::new(),
        };
        let mut traks = 0usize;
        for child in moov.children()? {
            let child = child?;
            match &child.header.kind {
                b"mvhd" => {
                    let (timescale, duration) = time_header(&child, "'mvhd' box too short")?;
                    movie.timescale = timescale;
                    movie.duration = duration;
                    movie.mvhd = whole_box(&child);
                }
                b"trak" => {
                    traks = traks.saturating_add(1);
                    if traks > MAX_TRACKS {
                        return Err(MediaError::Unsupported {
                            container: super::CONTAINER,
                            what: "more than 64 tracks".into(),
                        });
                    }
                    if let Some(track) = parse_trak(&child, file_len)? {
                        movie.tracks.push(track);
                    }
                }
                _ => {}
            }
        }
        if movie.mvhd.is_empty() {
            return Err(malformed(moov.header.offset, "'moov' without 'mvhd'"));
        }
        if movie.timescale == 0 {
            return Err(malformed(moov.header.offset, "'mvhd' timescale is 0"));
        }
        Ok(movie)
    }

    /// Duration in seconds: `mvhd` when it says, else the longest track.
    pub fn duration_secs(&self) -> Option<f64> {
        let known =
            self.duration > 0 && self.duration != u64::from(u32::MAX) && self.duration != u64::MAX;
        if known {
            return Some(self.duration as f64 / f64::from(self.timescale));
        }
        self.tracks
            .iter()
            .map(|t| t.end_time as f64 / f64::from(t.timescale))
            .reduce(f64::max)
    }
}

/// The box `child` as bytes: an 8-byte header and the payload (a box taken
/// from inside a `moov` of at most 64 MiB always fits a 32-bit size).
pub(crate) fn whole_box(child: &Child<'_>) -> Vec<u8> {
    let size = u32::try_from(child.payload.len().saturating_add(8)).unwrap_or(u32::MAX);
    let mut v = Vec::with_capacity(child.payload.len().saturating_add(8));
    v.extend_from_slice(&size.to_be_bytes());
    v.extend_from_slice(&child.header.kind);
    v.extend_from_slice(child.payload);
    v
}

/// The boxes of one `trak` the walk needs.
#[derive(Default)]
struct TrakBoxes<'a> {
    tkhd: Option<Child<'a>>,
    elst: Option<Child<'a>>,
    mdhd: Option<Child<'a>>,
    hdlr: Option<Child<'a>>,
    media_header: Option<Child<'a>>,
    stbl: Option<Child<'a>>,
}

/// One `trak`; `None` for a track that is neither audio nor video.
fn parse_trak(trak: &Child<'_>, file_len: Option<u64>) -> Result<Option<TrackSamples>, MediaError> {
    let mut b = TrakBoxes::default();
    for child in trak.children()? {
        let child = child?;
        match &child.header.kind {
            b"tkhd" => b.tkhd = Some(child),
            b"edts" => b.elst = child.children()?.find(b"elst")?,
            b"mdia" => {
                for child in child.children()? {
                    let child = child?;
                    match &child.header.kind {
                        b"mdhd" => b.mdhd = Some(child),
                        b"hdlr" => b.hdlr = Some(child),
                        b"minf" => {
                            for child in child.children()? {
                                let child = child?;
                                match &child.header.kind {
                                    b"vmhd" | b"smhd" | b"nmhd" | b"sthd" => {
                                        b.media_header = Some(child);
                                    }
                                    b"stbl" => b.stbl = Some(child),
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let at = trak.header.offset;
    let hdlr = b
        .hdlr
        .ok_or_else(|| malformed(at, "'trak' without 'hdlr'"))?;
    let kind = {
        let mut c = hdlr.cursor("'hdlr' box too short");
        full_box(&mut c)?;
        c.skip(4)?; // pre_defined
        match c.take(4)? {
            b"vide" => TrackKind::Video,
            b"soun" => TrackKind::Audio,
            _ => return Ok(None),
        }
    };
    let tkhd = b
        .tkhd
        .ok_or_else(|| malformed(at, "'trak' without 'tkhd'"))?;
    let id = {
        let mut c = tkhd.cursor("'tkhd' box too short");
        let (version, _) = full_box(&mut c)?;
        c.skip(if version == 1 { 16 } else { 8 })?;
        c.u32()?
    };
    let mdhd = b
        .mdhd
        .ok_or_else(|| malformed(at, "'trak' without 'mdhd'"))?;
    let timescale = time_header(&mdhd, "'mdhd' box too short")?.0;
    if timescale == 0 {
        return Err(malformed(mdhd.header.offset, "'mdhd' timescale is 0"));
    }
    let stbl = b
        .stbl
        .ok_or_else(|| malformed(at, "'trak' without 'stbl'"))?;
    let tables = Tables::find(&stbl)?;
    let entry = tables.sample_entry;
    let codec = codec::codec_string(&entry)?;
    let (samples, end_time) = tables.walk(file_len)?;
    let edit = b
        .elst
        .as_ref()
        .map(Edit::parse)
        .transpose()?
        .unwrap_or_default();
    Ok(Some(TrackSamples {
        id,
        kind,
        timescale,
        codec,
        tkhd: whole_box(&tkhd),
        mdhd: whole_box(&mdhd),
        hdlr: whole_box(&hdlr),
        media_header: b.media_header.as_ref().map(whole_box).unwrap_or_default(),
        // A QuickTime sound description goes into the init segment as the
        // ISO entry MSE takes.
        // (and an Opus `dOps` written little-endian, big-endian).
        sample_entry: {
            let whole = whole_box(&entry);
            let mut entry = super::boxes::sound_entry::iso_sound_entry(&whole).unwrap_or(whole);
            super::boxes::dops::make_big_endian(&mut entry);
            entry
        },
        edit,
        samples,
        end_time,
    }))
}

/// The sample tables of one `stbl`, each checked whole.
struct Tables<'a> {
    at: u64,
    sample_entry: Child<'a>,
    stts: Stts<'a>,
    ctts: Option<Ctts<'a>>,
    stss: Option<Stss<'a>>,
    sizes: SampleSizes<'a>,
    stsc: Stsc<'a>,
    chunks: ChunkOffsets<'a>,
}

impl<'a> Tables<'a> {
    fn find(stbl: &Child<'a>) -> Result<Self, MediaError> {
        let at = stbl.header.offset;
        let (mut entry, mut stts, mut ctts, mut stss, mut sizes, mut stsc, mut chunks) =
            (None, None, None, None, None, None, None);
        for child in stbl.children()? {
            let child = child?;
            match &child.header.kind {
                b"stsd" => entry = Some(first_entry(&child)?),
                b"stts" => stts = Some(Stts::parse(&child)?),
                b"ctts" => ctts = Some(Ctts::parse(&child)?),
                b"stss" => stss = Some(Stss::parse(&child)?),
                b"stsz" => sizes = Some(SampleSizes::parse_stsz(&child)?),
                b"stz2" => sizes = Some(SampleSizes::parse_stz2(&child)?),
                b"stsc" => stsc = Some(Stsc::parse(&child)?),
                b"stco" => chunks = Some(ChunkOffsets::parse(&child, false)?),
                b"co64" => chunks = Some(ChunkOffsets::parse(&child, true)?),
                _ => {}
            }
        }
        Ok(Tables {
            at,
            sample_entry: entry.ok_or_else(|| malformed(at, "'stbl' without 'stsd'"))?,
            stts: stts.ok_or_else(|| malformed(at, "'stbl' without 'stts'"))?,
            ctts,
            stss,
            sizes: sizes.ok_or_else(|| malformed(at, "'stbl' without 'stsz' or 'stz2'"))?,
            stsc: stsc.ok_or_else(|| malformed(at, "'stbl' without 'stsc'"))?,
            chunks: chunks.ok_or_else(|| malformed(at, "'stbl' without 'stco' or 'co64'"))?,
        })
    }

    /// Expands the tables into samples; also returns the end decode time.
    fn walk(&self, file_len: Option<u64>) -> Result<(Vec<Sample>, u64), MediaError> {
        let at = self.at;
        let count = self.sizes.sample_count;
        if count > MAX_SAMPLES {
            return Err(MediaError::TooLarge {
                what: "track sample count",
                limit: u64::from(MAX_SAMPLES),
            });
        }
        if self.stts.sample_count != u64::from(count) {
            return Err(malformed(
                at,
                "'stts' and 'stsz' disagree on the sample count",
            ));
        }
        if self
            .ctts
            .is_some_and(|c| c.sample_count != u64::from(count))
        {
            return Err(malformed(
                at,
                "'ctts' and 'stsz' disagree on the sample count",
            ));
        }
        if self.stss.is_some_and(|s| s.last() > count) {
            return Err(malformed(at, "'stss' names a sample past the last"));
        }
        let mut samples: Vec<Sample> = Vec::new();
        samples
            .try_reserve_exact(usize::try_from(count).unwrap_or(usize::MAX))
            .map_err(|_| MediaError::TooLarge {
                what: "track sample table",
                limit: u64::from(MAX_SAMPLES),
            })?;

        let mut durations = self
            .stts
            .runs()
            .flat_map(|(n, delta)| std::iter::repeat_n(delta, n as usize));
        let mut offsets = self
            .ctts
            .iter()
            .flat_map(|c| c.runs())
            .flat_map(|(n, off)| std::iter::repeat_n(off, n as usize));
        let mut syncs = self.stss.map(|s| s.numbers().peekable());
        let mut decode_time: u64 = 0;
        let mut i: u32 = 0;

        let mut runs = self.stsc.runs().peekable();
        while let Some(run) = runs.next() {
            if run.sample_description_index != 1 {
                return Err(MediaError::Unsupported {
                    container: super::CONTAINER,
                    what: "a track with several sample descriptions".into(),
                });
            }
            // The run's chunks: up to the next run's first chunk, or the last.
            let last_chunk = match runs.peek() {
                Some(next) => next.first_chunk.saturating_sub(1), // ascending: >= first_chunk
                None => self.chunks.chunk_count,
            };
            if run.first_chunk > last_chunk {
                return Err(malformed(at, "'stsc' names a chunk past 'stco'"));
            }
            for chunk in run.first_chunk..=last_chunk {
                let mut offset = self
                    .chunks
                    .get(chunk)
                    .ok_or_else(|| malformed(at, "'stsc' names a chunk past 'stco'"))?;
                for _ in 0..run.samples_per_chunk {
                    let size = self.sizes.get(i).ok_or_else(|| {
                        malformed(at, "'stsc' describes more samples than 'stsz'")
                    })?;
                    if size > MAX_SAMPLE_SIZE {
                        return Err(MediaError::TooLarge {
                            what: "sample",
                            limit: u64::from(MAX_SAMPLE_SIZE),
                        });
                    }
                    let end = offset
                        .checked_add(u64::from(size))
                        .ok_or_else(|| malformed(at, "sample offset past 2^64"))?;
                    if let Some(len) = file_len
                        && end > len
                    {
                        return Err(MediaError::Truncated {
                            len,
                            what: "samples the 'moov' lists",
                        });
                    }
                    let number = i + 1; // i < count <= 2^24
                    let sync = match syncs.as_mut() {
                        None => true,
                        Some(s) => s.next_if_eq(&number).is_some(),
                    };
                    let composition = offsets.next().unwrap_or(0);
                    samples.push(Sample::new(offset, decode_time, composition, size, sync));
                    let delta = durations.next().unwrap_or(0);
                    decode_time = decode_time
                        .checked_add(u64::from(delta))
                        .ok_or_else(|| malformed(at, "decode time past 2^64"))?;
                    offset = end;
                    i += 1;
                }
            }
        }
        if i != count {
            return Err(malformed(at, "'stsc' describes fewer samples than 'stsz'"));
        }
        Ok((samples, decode_time))
    }
}

/// The first sample entry of `stsd` (whose entry_count is only trusted to
/// be non-zero: the entry itself must be present).
fn first_entry<'a>(stsd: &Child<'a>) -> Result<Child<'a>, MediaError> {
    let mut c = stsd.cursor("'stsd' box too short");
    full_box(&mut c)?;
    if c.u32()? == 0 {
        return Err(malformed(
            stsd.header.offset,
            "'stsd' without sample entries",
        ));
    }
    stsd.children_from(8)?
        .next()
        .transpose()?
        .ok_or_else(|| malformed(stsd.header.offset, "'stsd' without sample entries"))
}
