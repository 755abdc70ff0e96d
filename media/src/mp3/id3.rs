//! Tags around the audio: ID3v2 in front (often large: cover art), ID3v1
//! and APEv2 at the end. The indexer needs their sizes only to know where
//! the frames start and end; their contents are for the browser's own
//! parser (which skips them) and for `caudal inspect`.

/// Bytes in an ID3v2 header (and in its optional footer).
pub const ID3V2_HEADER_LEN: usize = 10;

/// Bytes in an ID3v1 tag, which is the last thing in the file.
pub const ID3V1_LEN: u64 = 128;

/// Bytes in an APEv2 footer (and in its optional header).
pub const APE_FOOTER_LEN: u64 = 32;

/// The total length of the ID3v2 tag that `head` starts with (header, body
/// and footer), `Ok(None)` when `head` does not start with `ID3`, or why it
/// is not a valid tag. `head` must hold [`ID3V2_HEADER_LEN`] bytes.
///
/// The size is "syncsafe": four bytes of seven bits each, so that it never
/// contains a frame sync; a byte with its top bit set means this is not an
/// ID3v2 header (or is corrupt), not a bigger size.
pub fn id3v2_len(head: &[u8]) -> Result<Option<u64>, &'static str> {
    let Some(h) = head.get(..ID3V2_HEADER_LEN) else {
        return Ok(None);
    };
    if &h[..3] != b"ID3" {
        return Ok(None);
    }
    // Versions 2.2 to 2.4 exist; 0xFF is forbidden in both version bytes.
    if h[3] == 0xFF || h[4] == 0xFF {
        return Err("bad ID3v2 version");
    }
    let mut size = 0u64;
    for &b in &h[6..10] {
        if b & 0x80 != 0 {
            return Err("ID3v2 size is not syncsafe");
        }
        size = (size << 7) | u64::from(b);
    }
    // Flag bit 4 (v2.4): a copy of the header follows the body.
    let footer = if h[5] & 0x10 != 0 {
        ID3V2_HEADER_LEN as u64
    } else {
        0
    };
    Ok(Some(ID3V2_HEADER_LEN as u64 + size + footer))
}

/// How many bytes at the end of a file are tags, not audio: an ID3v1 tag
/// (`TAG` 128 bytes from the end) and an APEv2 tag (a footer ending with
/// the file or just before the ID3v1 tag), either or both. `tail` is the
/// file's last bytes; with fewer than the tags span, the answer counts
/// only what `tail` shows. Never more than `tail.len()`.
pub fn trailing_tags_len(tail: &[u8]) -> u64 {
    let len = tail.len() as u64;
    let mut tags = 0u64;
    if let Some(start) = tail.len().checked_sub(ID3V1_LEN as usize)
        && tail.get(start..start + 3) == Some(b"TAG")
    {
        tags = ID3V1_LEN;
    }
    // APEv2 footer: "APETAGEX", version, size (LE, footer and items, not
    // the header), item count, flags (bit 31: a header is present).
    let footer_end = len - tags;
    if let Some(footer_start) = footer_end.checked_sub(APE_FOOTER_LEN) {
        let f = tail
            .get(footer_start as usize..footer_end as usize)
            .unwrap_or(&[]);
        if f.len() == APE_FOOTER_LEN as usize && &f[..8] == b"APETAGEX" {
            let size = u64::from(u32::from_le_bytes([f[12], f[13], f[14], f[15]]));
            let has_header = f[23] & 0x80 != 0;
            let ape = size + if has_header { APE_FOOTER_LEN } else { 0 };
            if ape >= APE_FOOTER_LEN && ape <= footer_end {
                tags += ape;
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncsafe_size() {
        let h = *b"ID3\x03\x00\x00\x00\x00\x02\x01";
        assert_eq!(id3v2_len(&h), Ok(Some(10 + 257)));
        let footer = *b"ID3\x04\x00\x10\x7f\x7f\x7f\x7f";
        assert_eq!(id3v2_len(&footer), Ok(Some(20 + (1 << 28) - 1)));
        assert_eq!(
            id3v2_len(b"ID3\x03\x00\x00\x00\x00\x80\x00"),
            Err("ID3v2 size is not syncsafe")
        );
        assert_eq!(
            id3v2_len(b"ID3\xff\x00\x00\x00\x00\x00\x00"),
            Err("bad ID3v2 version")
        );
        assert_eq!(id3v2_len(b"\xff\xfb\x90\x44\0\0\0\0\0\0"), Ok(None));
        assert_eq!(id3v2_len(b"ID3"), Ok(None));
    }

    #[test]
    fn trailing_tags() {
        let mut file = vec![0u8; 400];
        assert_eq!(trailing_tags_len(&file), 0);
        file.extend_from_slice(b"TAG");
        file.extend_from_slice(&[b' '; 125]);
        assert_eq!(trailing_tags_len(&file), 128);

        // An APEv2 tag with header, one 16-byte item, before the ID3v1 tag.
        let mut ape = Vec::new();
        let footer = |flags: u8| {
            let mut f = b"APETAGEX".to_vec();
            f.extend_from_slice(&2000u32.to_le_bytes());
            f.extend_from_slice(&(16 + 32u32).to_le_bytes());
            f.extend_from_slice(&1u32.to_le_bytes());
            f.extend_from_slice(&[0, 0, 0, flags]);
            f.extend_from_slice(&[0; 8]);
            f
        };
        ape.extend(footer(0xA0));
        ape.extend([7u8; 16]);
        ape.extend(footer(0x80));
        let mut with_both = vec![0u8; 400];
        with_both.extend(&ape);
        with_both.extend(&file[400..]);
        assert_eq!(trailing_tags_len(&with_both), 128 + 80);
        // Only the APE tag.
        let mut only_ape = vec![0u8; 400];
        only_ape.extend(&ape);
        assert_eq!(trailing_tags_len(&only_ape), 80);
        // A size claiming more than the tail holds is not counted.
        assert_eq!(trailing_tags_len(&ape[32..]), 0);
    }
}
