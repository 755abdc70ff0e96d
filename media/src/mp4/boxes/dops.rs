//! `dOps` (Opus in ISO BMFF, §4.3.2) written little-endian.
//!
//! The box carries an `OpusHead`'s fields big-endian; GStreamer's `mp4mux`
//! and Shaka Packager copy them as `OpusHead` has them, little-endian (a
//! pre-skip of 14337 samples, an input rate of 2.16 GHz). Native playback
//! shrugs; Chromium's MSE refuses the init segment. Such a box is found
//! where it lies in an entry or a `moov` and its fields are turned around
//! in place (same size, so nothing around it moves).

/// Bytes of a version-0 `dOps` payload up to the channel mapping family.
const FIELDS: usize = 11;

/// Where the `dOps` boxes in `bytes` start (their size field), found by
/// their type and a size that fits.
fn boxes(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes.windows(4).enumerate().filter_map(move |(i, w)| {
        let start = i.checked_sub(4)?;
        let size = u32::from_be_bytes(bytes.get(start..i)?.try_into().ok()?) as usize;
        (w == b"dOps" && size >= 8 + FIELDS && start + size <= bytes.len()).then_some(start)
    })
}

/// The payload of the `dOps` at `start` is version 0 with its input rate
/// little-endian: read big-endian it is no rate at all, read little-endian
/// a real one.
fn little_endian(bytes: &[u8], start: usize) -> bool {
    let Some(p) = bytes.get(start + 8..start + 8 + FIELDS) else {
        return false;
    };
    let be = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    let le = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
    p[0] == 0 && (be == 0 || be > 768_000) && (8_000..=192_000).contains(&le)
}

/// Whether `bytes` (a `moov`, a sample entry) holds a little-endian `dOps`.
pub fn has_little_endian(bytes: &[u8]) -> bool {
    boxes(bytes).any(|start| little_endian(bytes, start))
}

/// Turns every little-endian `dOps` in `bytes` big-endian, in place:
/// pre-skip, input sample rate and output gain.
pub fn make_big_endian(bytes: &mut [u8]) {
    let starts: Vec<usize> = boxes(bytes)
        .filter(|&start| little_endian(bytes, start))
        .collect();
    for start in starts {
        let p = start + 8;
        bytes[p + 2..p + 4].reverse(); // PreSkip
        bytes[p + 4..p + 8].reverse(); // InputSampleRate
        bytes[p + 8..p + 10].reverse(); // OutputGain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GStreamer's and Shaka's: pre-skip 312, 48 kHz, little-endian.
    const LITTLE: [u8; 19] = [
        0, 0, 0, 19, b'd', b'O', b'p', b's', 0, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0,
    ];

    #[test]
    fn a_little_endian_dops_is_turned_around_and_a_right_one_left_alone() {
        let mut entry = [b"\0\0\0\0Opus".as_slice(), &LITTLE].concat();
        assert!(has_little_endian(&entry));
        make_big_endian(&mut entry);
        assert!(!has_little_endian(&entry));
        assert_eq!(
            &entry[8 + 8..],
            &[0, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0],
            "pre-skip 312, 48000 Hz, gain 0, big-endian"
        );
        // Right already (Chromium's MediaRecorder): unchanged.
        let right = entry.clone();
        make_big_endian(&mut entry);
        assert_eq!(entry, right);
        // Cut short: nothing read past the end.
        assert!(!has_little_endian(&LITTLE[..12]));
    }
}
