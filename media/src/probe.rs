//! Telling the container from the first bytes, and making its indexer.

use crate::index::{ContainerIndexer, MediaError};

/// Bytes needed to tell the formats apart.
pub const SNIFF_LEN: usize = 8;

/// The indexer for the container `head` (the file's first bytes) starts.
pub fn indexer_for(head: &[u8]) -> Result<Box<dyn ContainerIndexer>, MediaError> {
    if head.len() >= 4 && head[..4] == [0x1A, 0x45, 0xDF, 0xA3] {
        return Ok(Box::new(crate::webm::WebmIndexer::new()));
    }
    if head.len() >= 8 && matches!(&head[4..8], b"ftyp" | b"styp" | b"moov" | b"free" | b"skip") {
        return Ok(Box::new(crate::mp4::Fmp4Indexer::new()));
    }
    Err(MediaError::UnknownFormat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_are_not_media() {
        assert!(matches!(
            indexer_for(b"GIF89a\0\0\0\0"),
            Err(MediaError::UnknownFormat)
        ));
        assert!(matches!(indexer_for(b""), Err(MediaError::UnknownFormat)));
    }
}
