//! Clusters, as far as scanning needs them: the Cluster's timestamp and
//! whether its first video block is a keyframe (a unit must start with a
//! random access point for MSE to accept it after `abort()`).

/// Bytes of a SimpleBlock's payload needed to read its header: the track
/// number (a vint of up to 8 bytes), a 16-bit relative timestamp, flags.
pub const SIMPLE_BLOCK_HEADER_MAX: usize = 8 + 2 + 1;

/// What a SimpleBlock's header says: its track and whether it is a keyframe.
/// `Ok(None)` when `head` is too short to tell.
pub fn simple_block(head: &[u8]) -> Result<Option<(u64, bool)>, &'static str> {
    Ok(block_header(head)?.map(|(track, _, key)| (track, key)))
}

/// A SimpleBlock's track, timestamp relative to its Cluster, and keyframe
/// flag; `Ok(None)` when `head` is too short to tell.
pub fn block_header(head: &[u8]) -> Result<Option<(u64, i16, bool)>, &'static str> {
    let Some((track, len)) =
        super::ebml::read_size(head).map_err(|_| "invalid SimpleBlock track number")?
    else {
        return Ok(None);
    };
    let Some(track) = track else {
        return Err("invalid SimpleBlock track number");
    };
    let (Some(&t0), Some(&t1), Some(&flags)) =
        (head.get(len), head.get(len + 1), head.get(len + 2))
    else {
        return Ok(None);
    };
    Ok(Some((
        track,
        i16::from_be_bytes([t0, t1]),
        flags & 0x80 != 0,
    )))
}

/// Per track, the last block's time and the gap before it (ticks): where
/// the last block ends, for a file that gives no duration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastBlocks(Vec<(u64, i64, i64)>);

impl LastBlocks {
    /// A block of `track` at `ticks`.
    pub fn saw(&mut self, track: u64, ticks: i64) {
        let full = self.0.len() >= 64;
        match self.0.iter_mut().find(|b| b.0 == track) {
            Some(b) if ticks > b.1 => *b = (track, ticks, ticks - b.1),
            Some(_) => {}
            None if !full => self.0.push((track, ticks, 0)),
            None => {}
        }
    }

    /// Where the last block ends, seconds: its time plus the gap before it
    /// (a frame's duration, frames being evenly spaced), latest track.
    pub fn end(&self, info: &super::info::Info) -> Option<f64> {
        self.0
            .iter()
            .map(|&(_, last, gap)| info.seconds(last.saturating_add(gap) as f64))
            .filter(|s| s.is_finite() && *s >= 0.0)
            .reduce(f64::max)
    }
}

/// The Cluster being scanned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterScan {
    /// File offset of the Cluster's header.
    pub offset: u64,
    /// File offset where its payload ends; `None` for an unknown-size
    /// Cluster, which ends where the next top-level element starts.
    pub end: Option<u64>,
    /// Cluster Timecode, in ticks.
    pub timecode: Option<u64>,
    /// Whether the first video block is a keyframe (`None` until seen).
    pub keyframe: Option<bool>,
    /// Set once the Cluster was turned into (or merged into) a unit.
    pub decided: bool,
}

impl ClusterScan {
    pub fn new(offset: u64, end: Option<u64>) -> Self {
        ClusterScan {
            offset,
            end,
            timecode: None,
            keyframe: None,
            decided: false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn block_headers() {
        assert_eq!(simple_block(&[0x81, 0x00, 0x00, 0x80]), Ok(Some((1, true))));
        assert_eq!(
            simple_block(&[0x82, 0x00, 0x07, 0x00]),
            Ok(Some((2, false)))
        );
        assert_eq!(simple_block(&[0x81, 0x00]), Ok(None));
        assert!(simple_block(&[0x00]).is_err());
    }
}
