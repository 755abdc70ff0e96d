//! The tidy init segment: an EBML header with DocType `webm`, a Segment of
//! unknown size, an Info with only TimecodeScale and Duration, and Tracks
//! with only the elements Chromium's WebM parser takes
//! (`webm::chromium`), for the tracks kept.

use super::write;
use crate::index::MediaError;
use crate::webm::chromium;
use crate::webm::ebml::{Children, read_uint};
use crate::webm::elements as id;

/// Masters Chromium names but whose content the tidy output drops: track
/// translation and operations, encryption (ContentEncodings), colour and
/// projection metadata (the bitstream carries what decoders need).
const DROPPED: &[u32] = &[0x6624, 0xE2, 0x6D80, 0x55B0, 0x7670, 0x9C];

/// Builds the init segment from the original Tracks payload (at file
/// offset `at`), keeping the tracks numbered in `keep`.
pub fn init_segment(
    timecode_scale: u64,
    duration: Option<f64>,
    tracks: &[u8],
    at: u64,
    keep: &[u64],
) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::with_capacity(tracks.len() + 128);
    let mut header = Vec::new();
    write::uint(&mut header, 0x4286, 1); // EBMLVersion
    write::uint(&mut header, id::EBML_READ_VERSION, 1);
    write::uint(&mut header, id::EBML_MAX_ID_LENGTH, 4);
    write::uint(&mut header, id::EBML_MAX_SIZE_LENGTH, 8);
    write::element(&mut header, id::DOC_TYPE, b"webm");
    write::uint(&mut header, 0x4287, 4); // DocTypeVersion
    write::uint(&mut header, 0x4285, 2); // DocTypeReadVersion
    write::element(&mut out, id::EBML, &header);
    write::unknown_size(&mut out, id::SEGMENT);

    let mut info = Vec::new();
    write::uint(&mut info, id::TIMECODE_SCALE, timecode_scale);
    if let Some(seconds) = duration.filter(|d| d.is_finite() && *d > 0.0) {
        write::float(
            &mut info,
            id::DURATION,
            seconds * 1e9 / timecode_scale as f64,
        );
    }
    write::element(&mut out, id::INFO, &info);

    let mut entries = Vec::new();
    for entry in Children::new(tracks, at) {
        let entry = entry?;
        if entry.id != id::TRACK_ENTRY {
            continue;
        }
        let number = Children::new(entry.payload, entry.offset)
            .filter_map(Result::ok)
            .find(|c| c.id == id::TRACK_NUMBER)
            .and_then(|c| read_uint(c.payload).ok());
        if !number.is_some_and(|n| keep.contains(&n)) {
            continue;
        }
        let mut body = filtered(id::TRACK_ENTRY, entry.payload, entry.offset)?;
        write::uint(&mut body, 0x9C, 0); // FlagLacing: the blocks are de-laced
        write::element(&mut entries, id::TRACK_ENTRY, &body);
    }
    write::element(&mut out, id::TRACKS, &entries);
    Ok(out)
}

/// The children of `parent` Chromium takes, Video and Audio filtered too.
fn filtered(parent: u32, payload: &[u8], at: u64) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::with_capacity(payload.len());
    for child in Children::new(payload, at) {
        let child = child?;
        if !chromium::knows(parent, child.id)
            || DROPPED.contains(&child.id)
            || child.id == chromium::VOID
            || child.id == chromium::CRC32
        {
            continue;
        }
        if parent == id::TRACK_ENTRY && (child.id == chromium::VIDEO || child.id == chromium::AUDIO)
        {
            let inner = filtered(child.id, child.payload, child.offset)?;
            write::element(&mut out, child.id, &inner);
        } else {
            write::element(&mut out, child.id, child.payload);
        }
    }
    Ok(out)
}
