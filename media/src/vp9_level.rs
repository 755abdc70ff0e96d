//! A VP9 level for a codec string whose container gives none.
//!
//! VP9's codec string (`vp09.PP.LL.DD`) needs a level; muxers write 0 ("not
//! known": MP4Box's `vpcC`, Chromium's own MediaRecorder MP4s) or leave it
//! out (WebM CodecPrivate is optional), and `MediaSource.isTypeSupported`
//! refuses `vp09.00.00.08`. Like other players, we take the lowest level
//! whose limits the picture fits (the VP9 level table, from the WebM
//! project's "VP9 Levels and Decoder Testing"), at 30 frames a second when
//! the rate is not known.

/// (level, largest picture in luma samples, luma samples a second).
const LEVELS: [(u8, u64, u64); 14] = [
    (10, 36_864, 829_440),
    (11, 73_728, 2_764_800),
    (20, 122_880, 4_608_000),
    (21, 245_760, 9_216_000),
    (30, 552_960, 20_736_000),
    (31, 983_040, 36_864_000),
    (40, 2_228_224, 83_558_400),
    (41, 2_228_224, 160_432_128),
    (50, 8_912_896, 311_951_360),
    (51, 8_912_896, 588_251_136),
    (52, 8_912_896, 1_176_502_272),
    (60, 35_651_584, 1_176_502_272),
    (61, 35_651_584, 2_353_004_544),
    (62, 35_651_584, 4_706_009_088),
];

/// The lowest level that holds `width` × `height` at `fps` (30 when
/// unknown); the highest one for anything larger, 3.1 (720p30) when the
/// size is not known either.
pub fn vp9_level(width: u32, height: u32, fps: Option<f64>) -> u8 {
    let picture = u64::from(width) * u64::from(height);
    if picture == 0 {
        return 31;
    }
    let fps = fps.filter(|f| f.is_finite() && *f > 0.0).unwrap_or(30.0);
    let rate = (picture as f64 * fps).ceil() as u64;
    LEVELS
        .iter()
        .find(|&&(_, size, samples)| picture <= size && rate <= samples)
        .map_or(62, |&(level, ..)| level)
}

/// `level` when it is a VP9 level, else the one [`vp9_level`] derives.
pub fn valid_vp9_level(level: u8, width: u32, height: u32, fps: Option<f64>) -> u8 {
    if LEVELS.iter().any(|&(l, ..)| l == level) {
        level
    } else {
        vp9_level(width, height, fps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_level_that_holds_the_picture() {
        assert_eq!(vp9_level(320, 180, None), 11);
        assert_eq!(vp9_level(640, 360, Some(30.0)), 21);
        assert_eq!(vp9_level(1280, 720, Some(30.0)), 31);
        assert_eq!(vp9_level(1920, 1080, Some(30.0)), 40);
        assert_eq!(vp9_level(1920, 1080, Some(60.0)), 41);
        assert_eq!(vp9_level(3840, 2160, Some(30.0)), 50);
        assert_eq!(vp9_level(16_384, 16_384, None), 62);
        assert_eq!(vp9_level(0, 0, None), 31);
    }

    #[test]
    fn a_valid_level_is_kept() {
        assert_eq!(valid_vp9_level(31, 320, 180, None), 31);
        assert_eq!(valid_vp9_level(0, 320, 180, None), 11);
        assert_eq!(valid_vp9_level(13, 1920, 1080, None), 40);
    }
}
