//! Clusters, as far as scanning needs them: the Cluster's timestamp and
//! whether its first video block is a keyframe (a unit must start with a
//! random access point for MSE to accept it after `abort()`).

/// Bytes of a SimpleBlock's payload needed to read its header: the track
/// number (a vint of up to 8 bytes), a 16-bit relative timestamp, flags.
pub const SIMPLE_BLOCK_HEADER_MAX: usize = 8 + 2 + 1;

/// What a SimpleBlock's header says: its track and whether it is a keyframe.
/// `Ok(None)` when `head` is too short to tell.
pub fn simple_block(head: &[u8]) -> Result<Option<(u64, bool)>, &'static str> {
    let Some((track, len)) =
        super::ebml::read_size(head).map_err(|_| "invalid SimpleBlock track number")?
    else {
        return Ok(None);
    };
    let Some(track) = track else {
        return Err("invalid SimpleBlock track number");
    };
    let Some(&flags) = head.get(len + 2) else {
        return Ok(None);
    };
    Ok(Some((track, flags & 0x80 != 0)))
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
