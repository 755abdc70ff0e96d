//! `--faststart`: the same boxes, `moov` moved before the first `mdat`.
//!
//! The media bytes are copied unchanged, in chunks; only the chunk offsets
//! in the `moov` change, each by where its box moved. Offsets are mapped
//! box by box rather than shifted by one constant, so any arrangement of
//! top-level boxes (several `mdat`s, `free` space, boxes after `moov`)
//! comes out right.

use std::io::{Read, Seek, SeekFrom, Write};

use caudal_media::index::MediaError;

use super::ToolError;
use super::layout::{MediaFile, Moov, TopBox};
use super::moov_rewrite;

/// Copy buffer: large enough for full-speed sequential I/O, small enough
/// not to matter.
const COPY_CHUNK: usize = 256 << 10;

/// What the rewrite did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Faststart {
    /// A `stco` became `co64` (an offset passed 4 GiB).
    pub widened: bool,
    pub moov_size: u64,
}

/// Writes `f` with its `moov` (read as `moov`, one of `boxes`) first.
pub(crate) fn write(
    f: &mut MediaFile,
    boxes: &[TopBox],
    moov: &Moov,
    out: &mut impl Write,
) -> Result<Faststart, ToolError> {
    let first_mdat = boxes
        .iter()
        .position(|b| b.kind() == b"mdat")
        .unwrap_or(boxes.len());
    let is_moov = |b: &TopBox| b.offset() == moov.top.offset();
    // The output order; `None` stands for the new `moov`.
    let order: Vec<Option<&TopBox>> = boxes[..first_mdat]
        .iter()
        .filter(|b| !is_moov(b))
        .map(Some)
        .chain(std::iter::once(None))
        .chain(boxes[first_mdat..].iter().filter(|b| !is_moov(b)).map(Some))
        .collect();

    // The moov's size decides where the media goes, and the media's place
    // the moov's size (stco -> co64): settle it in a few rounds.
    let mut size = moov.top.size;
    let mut rewritten = None;
    for _ in 0..4 {
        let moved = layout(&order, size);
        let map = |old: u64| map_offset(&moved, old);
        let (bytes, widened) = moov_rewrite::rewrite(moov, &map)?;
        if bytes.len() as u64 == size {
            rewritten = Some((bytes, widened));
            break;
        }
        size = bytes.len() as u64;
    }
    let (bytes, widened) = rewritten.ok_or_else(|| MediaError::Unsupported {
        container: "mp4",
        what: "a 'moov' whose size does not settle".into(),
    })?;

    for entry in &order {
        match entry {
            None => out.write_all(&bytes).map_err(ToolError::Output)?,
            Some(b) => copy_range(f, b.offset(), b.size, out)?,
        }
    }
    Ok(Faststart {
        widened,
        moov_size: size,
    })
}

/// (old start, old end, new start) of every box but the `moov`, sorted by
/// old start, when the new `moov` is `moov_size` bytes.
fn layout(order: &[Option<&TopBox>], moov_size: u64) -> Vec<(u64, u64, u64)> {
    let mut pos = 0u64;
    let mut moved = Vec::with_capacity(order.len());
    for entry in order {
        match entry {
            None => pos = pos.saturating_add(moov_size),
            Some(b) => {
                moved.push((b.offset(), b.end(), pos));
                pos = pos.saturating_add(b.size);
            }
        }
    }
    moved.sort_unstable();
    moved
}

fn map_offset(moved: &[(u64, u64, u64)], old: u64) -> Result<u64, ToolError> {
    let i = moved.partition_point(|&(start, _, _)| start <= old);
    match i.checked_sub(1).and_then(|i| moved.get(i)) {
        Some(&(start, end, new)) if old <= end => Ok(new.saturating_add(old - start)),
        _ => Err(ToolError::StrayChunkOffset { offset: old }),
    }
}

/// Copies `len` bytes from `offset` of `f` to `out`, a chunk at a time.
pub(crate) fn copy_range(
    f: &mut MediaFile,
    offset: u64,
    len: u64,
    out: &mut impl Write,
) -> Result<(), ToolError> {
    f.file
        .seek(SeekFrom::Start(offset))
        .map_err(ToolError::read(&f.path))?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(COPY_CHUNK);
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let n = f.file.read(chunk).map_err(ToolError::read(&f.path))?;
        if n == 0 {
            // The file shrank while we read it.
            return Err(MediaError::Truncated {
                len: offset.saturating_add(len - left),
                what: "media data",
            }
            .into());
        }
        out.write_all(chunk.get(..n).unwrap_or_default())
            .map_err(ToolError::Output)?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_their_box() {
        // ftyp 0..32, mdat 32..1032, moov 1032..1232 -> ftyp, moov(300), mdat
        let moved = vec![(0, 32, 0), (32, 1032, 332)];
        assert_eq!(map_offset(&moved, 40).ok(), Some(340));
        assert_eq!(map_offset(&moved, 1032).ok(), Some(1332));
        assert!(map_offset(&moved, 1100).is_err());
    }
}
