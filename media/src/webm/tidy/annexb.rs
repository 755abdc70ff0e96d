//! H.264 with its parameter sets in-band, as start-code (Annex B) streams.
//!
//! Chromium's MediaRecorder writes `video/webm;codecs=h264` with no
//! CodecPrivate: every keyframe starts with its SPS and PPS, each NAL unit
//! behind a start code (`00 00 01`). Fragmented MP4 wants an `avcC` in the
//! init segment and length-prefixed NAL units in the samples: the `avcC` is
//! made from the first SPS and PPS met, each frame is written again with
//! four-byte lengths.

/// The NAL units of an Annex B stream, without their start codes.
fn units(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map_or(data.len(), |&next| next - 3);
        // A four-byte start code leaves a zero before the next three.
        while end > start && data[end - 1] == 0 && starts.get(n + 1).is_some() {
            end -= 1;
        }
        if end > start {
            out.push(&data[start..end]);
        }
    }
    out
}

/// Whether a frame is an Annex B stream (starts with a start code).
pub fn is_annex_b(frame: &[u8]) -> bool {
    frame.starts_with(&[0, 0, 1]) || frame.starts_with(&[0, 0, 0, 1])
}

/// An `avcC` (ISO 14496-15 §5.3.3.1) from the first SPS and PPS in `bytes`
/// (a frame, or any bytes holding one), with four-byte lengths.
pub fn avcc(bytes: &[u8]) -> Option<Vec<u8>> {
    let found = units(bytes);
    let sps = found
        .iter()
        .find(|u| u.first().is_some_and(|h| h & 0x1f == 7))?;
    let pps = found
        .iter()
        .find(|u| u.first().is_some_and(|h| h & 0x1f == 8))?;
    let (&[_, profile, compatibility, level, ..], Ok(sps_len), Ok(pps_len)) =
        (*sps, u16::try_from(sps.len()), u16::try_from(pps.len()))
    else {
        return None;
    };
    let mut out = vec![1, profile, compatibility, level, 0xff, 0xe1];
    out.extend_from_slice(&sps_len.to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1);
    out.extend_from_slice(&pps_len.to_be_bytes());
    out.extend_from_slice(pps);
    Some(out)
}

/// `frame` with each NAL unit behind its four-byte length instead of a
/// start code.
pub fn length_prefixed(frame: &[u8]) -> Vec<u8> {
    let found = units(frame);
    let mut out = Vec::with_capacity(frame.len() + 4);
    for unit in found {
        out.extend_from_slice(&(unit.len() as u32).to_be_bytes());
        out.extend_from_slice(unit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: [u8; 6] = [0x67, 0x42, 0xc0, 0x15, 0x8c, 0x8d];
    const PPS: [u8; 4] = [0x68, 0xce, 0x3c, 0x80];
    const IDR: [u8; 5] = [0x65, 0x88, 0x84, 0x00, 0x10];

    fn keyframe() -> Vec<u8> {
        [
            &[0, 0, 0, 1][..],
            &SPS,
            &[0, 0, 0, 1],
            &PPS,
            &[0, 0, 1],
            &IDR,
        ]
        .concat()
    }

    #[test]
    fn the_avcc_comes_from_the_first_sps_and_pps() {
        let avcc = avcc(&keyframe()).expect("an avcC");
        let want = [
            &[1, 0x42, 0xc0, 0x15, 0xff, 0xe1, 0, 6][..],
            &SPS,
            &[1, 0, 4],
            &PPS,
        ]
        .concat();
        assert_eq!(avcc, want);
        assert_eq!(super::avcc(&[0, 0, 1, 0x65, 1, 2]), None, "no SPS");
    }

    #[test]
    fn start_codes_become_four_byte_lengths() {
        let frame = keyframe();
        assert!(is_annex_b(&frame));
        let want = [
            &[0, 0, 0, 6][..],
            &SPS,
            &[0, 0, 0, 4],
            &PPS,
            &[0, 0, 0, 5],
            &IDR,
        ]
        .concat();
        assert_eq!(length_prefixed(&frame), want);
        assert!(!is_annex_b(&want[4..]));
    }
}
