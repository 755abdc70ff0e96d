//! Telling the container from the first bytes, and making its indexer.

use crate::index::{ContainerIndexer, Handover, MediaError, OnDemand};

/// Bytes needed to tell the formats apart.
pub const SNIFF_LEN: usize = 8;

/// The container family a file's first bytes announce: which reader
/// starts on it. (An MP4 may still turn out plain or in need of a
/// rewrite: its reader hands it over.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ISO BMFF: fragmented or plain MP4, MOV, M4A.
    Mp4,
    /// Matroska / WebM.
    WebM,
    /// MPEG audio Layer III, maybe behind an ID3v2 tag.
    Mp3,
}

/// The format `head` (the file's first [`SNIFF_LEN`] bytes, or all of a
/// shorter file) starts.
pub fn format_of(head: &[u8]) -> Result<Format, MediaError> {
    if head.len() >= 4 && head[..4] == [0x1A, 0x45, 0xDF, 0xA3] {
        return Ok(Format::WebM);
    }
    if head.len() >= 8 && matches!(&head[4..8], b"ftyp" | b"styp" | b"moov" | b"free" | b"skip") {
        return Ok(Format::Mp4);
    }
    // MP3: an ID3v2 tag, or a Layer III frame header right away (checked in
    // full, so that ADTS and random bytes with 0xFFE are not taken).
    if head.starts_with(b"ID3") || crate::mp3::frame::parse_slice(head).is_ok() {
        return Ok(Format::Mp3);
    }
    Err(MediaError::UnknownFormat)
}

/// The indexer for the container `head` (the file's first bytes) starts,
/// with this build's reader for plain MP4s
/// ([`default_plain_mp4`](crate::mp4::default_plain_mp4)).
pub fn indexer_for(head: &[u8]) -> Result<Box<dyn ContainerIndexer>, MediaError> {
    indexer_with(head, crate::mp4::default_plain_mp4())
}

/// The indexer for the container `head` starts; `plain` makes the reader
/// of a plain MP4, should the file be one.
pub fn indexer_with(
    head: &[u8],
    plain: Option<OnDemand>,
) -> Result<Box<dyn ContainerIndexer>, MediaError> {
    Ok(reader_for(format_of(head)?, plain))
}

/// This crate's reader for `format`; `plain` makes the reader a file is
/// handed over to, should it need one.
pub fn reader_for(format: Format, plain: Option<OnDemand>) -> Box<dyn ContainerIndexer> {
    match format {
        Format::WebM => Box::new(crate::webm::WebmIndexer::with_tidy(plain)),
        // As in the player: the triage first, then the fMP4 reader (which
        // may still hand the file to `plain`) or `plain` itself.
        Format::Mp4 => match plain {
            Some(plain) => Box::new(crate::mp4::Mp4Triage::new(Box::new(move |why| match why {
                Handover::FragmentedMp4 => {
                    Box::new(crate::mp4::Mp4Indexer::with_plain(Some(plain)))
                }
                other => plain(other),
            }))),
            None => Box::new(crate::mp4::Mp4Indexer::with_plain(None)),
        },
        Format::Mp3 => Box::new(crate::mp3::Mp3Indexer::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp3_by_id3_tag_or_frame_header() {
        assert!(indexer_for(b"ID3\x03\x00\x00\x00\x00").is_ok());
        assert!(indexer_for(&[0xFF, 0xFB, 0x90, 0x44, 0, 0, 0, 0]).is_ok());
        // ADTS (AAC), Layer II, and a reserved sample rate are not MP3.
        for head in [
            [0xFF, 0xF1, 0x50, 0x80],
            [0xFF, 0xFD, 0x90, 0x44],
            [0xFF, 0xFB, 0x9C, 0x44],
        ] {
            assert!(matches!(indexer_for(&head), Err(MediaError::UnknownFormat)));
        }
    }

    #[test]
    fn each_format_by_its_first_bytes() {
        let ftyp = *b"\0\0\0\x18ftypisom";
        assert_eq!(format_of(&ftyp).ok(), Some(Format::Mp4));
        assert_eq!(format_of(b"\0\0\0\x08moov").ok(), Some(Format::Mp4));
        assert_eq!(
            format_of(&[0x1A, 0x45, 0xDF, 0xA3, 0xA3, 0x42, 0x86, 0x81]).ok(),
            Some(Format::WebM)
        );
        assert_eq!(format_of(b"ID3\x04\0\0\0\0").ok(), Some(Format::Mp3));
        // Four bytes of an MP4 box header say nothing yet.
        assert!(format_of(b"\0\0\0\x18").is_err());
    }

    #[test]
    fn random_bytes_are_not_media() {
        assert!(matches!(
            indexer_for(b"GIF89a\0\0\0\0"),
            Err(MediaError::UnknownFormat)
        ));
        assert!(matches!(indexer_for(b""), Err(MediaError::UnknownFormat)));
    }
}
