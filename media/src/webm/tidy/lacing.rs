//! A Block's header and its frames: Matroska's three lacings (Xiph, EBML,
//! fixed-size) undone, which Chromium's WebM parser does not take
//! ("Lacing ... is not supported yet").

/// A Block (or SimpleBlock) read: its track, timestamp relative to the
/// Cluster, flags byte, and the frames it holds (one unless laced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block<'a> {
    pub track: u64,
    pub timecode: i16,
    pub flags: u8,
    pub frames: Vec<&'a [u8]>,
}

/// Most frames in a lace: the count is one byte, plus one.
const MAX_LACED: usize = 256;

/// A vint's raw value (marker removed; "all ones" is a plain value here)
/// and length.
fn vint(data: &[u8]) -> Result<(u64, usize), &'static str> {
    let first = *data.first().ok_or("Block cut short")?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return Err("invalid vint in a Block");
    }
    let bytes = data.get(..len).ok_or("Block cut short")?;
    let raw = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok((raw & ((1u64 << (7 * len)) - 1), len))
}

/// Reads a whole Block payload.
pub fn parse(block: &[u8]) -> Result<Block<'_>, &'static str> {
    let (track, len) = vint(block)?;
    let Some(&[t0, t1, flags]) = block.get(len..len + 3) else {
        return Err("Block cut short");
    };
    let timecode = i16::from_be_bytes([t0, t1]);
    let rest = block.get(len + 3..).unwrap_or(&[]);
    let frames = match (flags >> 1) & 3 {
        0 => vec![rest],
        lacing => {
            let (&count, body) = rest.split_first().ok_or("laced Block without a count")?;
            let count = usize::from(count) + 1;
            match lacing {
                1 => xiph(body, count)?,
                3 => ebml(body, count)?,
                _ => fixed(body, count)?,
            }
        }
    };
    Ok(Block {
        track,
        timecode,
        flags,
        frames,
    })
}

/// Splits `body` after the lace sizes of all frames but the last; the last
/// takes what remains.
fn split<'a>(body: &'a [u8], sizes: &[usize]) -> Result<Vec<&'a [u8]>, &'static str> {
    let mut frames = Vec::with_capacity(sizes.len() + 1);
    let mut rest = body;
    for &size in sizes {
        if size > rest.len() {
            return Err("laced frame larger than its Block");
        }
        let (frame, tail) = rest.split_at(size);
        frames.push(frame);
        rest = tail;
    }
    frames.push(rest);
    Ok(frames)
}

/// Xiph lacing: each size but the last as a run of 255s and a last byte.
fn xiph(body: &[u8], count: usize) -> Result<Vec<&[u8]>, &'static str> {
    let mut sizes = Vec::with_capacity(count.min(MAX_LACED));
    let mut at = 0;
    for _ in 1..count {
        let mut size = 0usize;
        loop {
            let &b = body.get(at).ok_or("Xiph lace sizes cut short")?;
            at += 1;
            size = size.saturating_add(usize::from(b));
            if b != 255 {
                break;
            }
        }
        sizes.push(size);
    }
    split(body.get(at..).unwrap_or(&[]), &sizes)
}

/// EBML lacing: the first size a vint, each next one a signed difference.
fn ebml(body: &[u8], count: usize) -> Result<Vec<&[u8]>, &'static str> {
    let mut sizes = Vec::with_capacity(count.min(MAX_LACED));
    let mut at = 0;
    let mut size: i64 = 0;
    for i in 1..count {
        let (raw, len) = vint(body.get(at..).unwrap_or(&[]))?;
        at += len;
        size = if i == 1 {
            i64::try_from(raw).map_err(|_| "EBML lace size too large")?
        } else {
            // Signed: the raw value minus half the range.
            let bias = (1i64 << (7 * len - 1)) - 1;
            size.saturating_add(raw as i64 - bias)
        };
        sizes.push(usize::try_from(size).map_err(|_| "negative EBML lace size")?);
    }
    split(body.get(at..).unwrap_or(&[]), &sizes)
}

/// Fixed-size lacing: the frames share the body evenly.
fn fixed(body: &[u8], count: usize) -> Result<Vec<&[u8]>, &'static str> {
    if !body.len().is_multiple_of(count) {
        return Err("fixed-size lace that does not divide its Block");
    }
    match body.len() / count {
        0 => Ok(vec![body; count]),
        size => Ok(body.chunks(size).collect()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// Track 1, timecode 0x0102, `flags`, then `rest`.
    fn block(flags: u8, rest: &[u8]) -> Vec<u8> {
        [&[0x81, 0x01, 0x02, flags][..], rest].concat()
    }

    #[test]
    fn unlaced_block_is_one_frame() {
        let b = block(0x80, b"abc");
        let parsed = parse(&b).unwrap();
        assert_eq!(parsed.track, 1);
        assert_eq!(parsed.timecode, 0x0102);
        assert_eq!(parsed.frames, [b"abc"]);
    }

    #[test]
    fn xiph_lacing_with_a_size_past_255() {
        let first = vec![7u8; 300];
        let mut rest = vec![2, 255, 45, 2]; // 3 frames: 300, 2, and the rest
        rest.extend_from_slice(&first);
        rest.extend_from_slice(b"xyz");
        rest.extend_from_slice(b"last");
        let b = block(0x82, &rest);
        let frames = parse(&b).unwrap().frames;
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], &first[..]);
        assert_eq!(frames[1], b"xy");
        assert_eq!(frames[2], b"zlast");
    }

    #[test]
    fn ebml_lacing_with_signed_differences() {
        // 3 frames: 4, 4 - 1 = 3, rest. 0xBE is 62 - 63 = -1 (1-byte signed).
        let b = block(
            0x86,
            &[
                2, 0x84, 0xBE, b'a', b'a', b'a', b'a', b'b', b'b', b'b', b'c',
            ],
        );
        let frames = parse(&b).unwrap().frames;
        assert_eq!(frames, [&b"aaaa"[..], b"bbb", b"c"]);
        // A difference that makes a size negative is malformed.
        let b = block(0x86, &[2, 0x81, 0x80, b'a']);
        assert!(parse(&b).is_err());
    }

    #[test]
    fn fixed_lacing_shares_evenly() {
        let b = block(0x84, &[2, b'a', b'a', b'b', b'b', b'c', b'c']);
        assert_eq!(parse(&b).unwrap().frames, [&b"aa"[..], b"bb", b"cc"]);
        let b = block(0x84, &[2, b'a', b'a']);
        assert!(parse(&b).is_err(), "2 bytes do not split in 3");
    }

    #[test]
    fn hostile_blocks_are_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x81, 0x00]).is_err());
        assert!(parse(&[0x00, 1, 2, 3]).is_err());
        // Xiph sizes larger than the Block, and a run of 255s that never ends.
        assert!(parse(&block(0x82, &[1, 200, 1, 2])).is_err());
        assert!(parse(&block(0x82, &[1, 255, 255])).is_err());
        assert!(parse(&block(0x82, &[])).is_err());
    }
}
