//! Telling the container from the first bytes, and making its indexer.

use crate::index::{ContainerIndexer, MediaError, OnDemand};

/// Bytes needed to tell the formats apart.
pub const SNIFF_LEN: usize = 8;

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
    if head.len() >= 4 && head[..4] == [0x1A, 0x45, 0xDF, 0xA3] {
        return Ok(Box::new(crate::webm::WebmIndexer::with_tidy(plain)));
    }
    if head.len() >= 8 && matches!(&head[4..8], b"ftyp" | b"styp" | b"moov" | b"free" | b"skip") {
        return Ok(Box::new(crate::mp4::Mp4Indexer::with_plain(plain)));
    }
    // MP3: an ID3v2 tag, or a Layer III frame header right away (checked in
    // full, so that ADTS and random bytes with 0xFFE are not taken).
    if head.starts_with(b"ID3") || crate::mp3::frame::parse_slice(head).is_ok() {
        return Ok(Box::new(crate::mp3::Mp3Indexer::new()));
    }
    Err(MediaError::UnknownFormat)
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
    fn random_bytes_are_not_media() {
        assert!(matches!(
            indexer_for(b"GIF89a\0\0\0\0"),
            Err(MediaError::UnknownFormat)
        ));
        assert!(matches!(indexer_for(b""), Err(MediaError::UnknownFormat)));
    }
}
