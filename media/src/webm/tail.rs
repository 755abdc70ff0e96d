//! A WebM without Duration and Cues (MediaRecorder's, a live capture saved
//! to disk) says how long it is nowhere but in its last Cluster. One read
//! of the file's tail finds that Cluster's Timecode and its last block: the
//! duration, as native playback finds it by reading the end of the file.

use super::cluster;
use super::ebml;
use super::elements as id;
use super::info::Info;

/// Bytes of the tail read: a few seconds of a recording at 1–2 Mbit/s,
/// enough to hold the start of its last Cluster.
pub const TAIL_LEN: u64 = 512 << 10;

/// Cluster starts tried, last first, before giving up.
const MAX_CANDIDATES: usize = 64;

/// Where the last block in `tail` ends, seconds: the last Cluster whose
/// header and Timecode parse, its last SimpleBlock's time plus the gap
/// before it on its track (a frame's duration). `None` if no Cluster with
/// a block starts in `tail`.
pub fn last_block_end(tail: &[u8], info: &Info) -> Option<f64> {
    let magic = id::CLUSTER.to_be_bytes();
    let starts = tail
        .windows(magic.len())
        .enumerate()
        .filter(|(_, w)| *w == magic)
        .map(|(i, _)| i);
    let starts: Vec<usize> = starts.collect();
    starts
        .iter()
        .rev()
        .take(MAX_CANDIDATES)
        .find_map(|&at| cluster_end(tail.get(at..)?, info))
}

/// The end of the last block of the Cluster at the start of `data`.
fn cluster_end(data: &[u8], info: &Info) -> Option<f64> {
    let h = ebml::read_header(data).ok()??;
    let end = match h.size {
        Some(size) => usize::try_from(size)
            .ok()?
            .checked_add(h.len)?
            .min(data.len()),
        None => data.len(),
    };
    let mut pos = h.len;
    let mut timecode = None;
    let mut last = cluster::LastBlocks::default();
    while pos < end {
        let Ok(Some(child)) = ebml::read_header(data.get(pos..end)?) else {
            break;
        };
        if id::is_top_level(child.id) {
            break;
        }
        let body = pos + child.len;
        match child.id {
            id::CLUSTER_TIMECODE if timecode.is_none() => {
                let size = usize::try_from(child.size?).ok()?;
                timecode = Some(ebml::read_uint(data.get(body..body.checked_add(size)?)?).ok()?);
            }
            id::SIMPLE_BLOCK => {
                let tc = i64::try_from(timecode?).ok()?;
                let head = data.get(body..end)?;
                if let Ok(Some((track, time, _))) = cluster::block_header(head) {
                    last.saw(track, tc.saturating_add(i64::from(time)));
                }
            }
            _ => {}
        }
        let Some(size) = child.size.and_then(|s| usize::try_from(s).ok()) else {
            break;
        };
        pos = body.saturating_add(size);
    }
    last.end(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_cluster_with_a_block_gives_the_end() {
        // Junk, then a Cluster at 2000 ms with blocks of track 1 at +0, +40.
        let mut tail = vec![0x1F, 0x43, 0xB6, 0x75, 0x00, 0x12];
        tail.extend_from_slice(&[0x1F, 0x43, 0xB6, 0x75, 0xFF]);
        tail.extend_from_slice(&[0xE7, 0x82, 0x07, 0xD0]);
        tail.extend_from_slice(&[0xA3, 0x85, 0x81, 0x00, 0x00, 0x80, 0xAA]);
        tail.extend_from_slice(&[0xA3, 0x85, 0x81, 0x00, 0x28, 0x00, 0xAA]);
        let end = last_block_end(&tail, &Info::default());
        assert_eq!(end, Some(2.08), "2 s + 40 ms + the 40 ms gap");
        // A Cluster start with no block: nothing to tell.
        assert_eq!(last_block_end(&tail[..15], &Info::default()), None);
        assert_eq!(last_block_end(&[], &Info::default()), None);
    }
}
