//! Codec-string helpers shared by the container readers.

/// VP9 levels (the `LL` of `vp09.PP.LL.DD`) with the largest picture (luma
/// samples), largest dimension and luma sample rate each allows (VP9
/// bitstream specification, Annex A).
const VP9_LEVELS: &[(u8, u64, u64, u64)] = &[
    (10, 36_864, 512, 829_440),
    (11, 73_728, 768, 2_764_800),
    (20, 122_880, 960, 4_608_000),
    (21, 245_760, 1_344, 9_216_000),
    (30, 552_960, 2_048, 20_736_000),
    (31, 983_040, 2_752, 36_864_000),
    (40, 2_228_224, 4_160, 83_558_400),
    (41, 2_228_224, 4_160, 160_432_128),
    (50, 8_912_896, 8_384, 311_951_360),
    (51, 8_912_896, 8_384, 588_251_136),
    (52, 8_912_896, 8_384, 1_176_502_272),
    (60, 35_651_584, 16_832, 1_176_502_272),
    (61, 35_651_584, 16_832, 2_353_004_544),
    (62, 35_651_584, 16_832, 4_706_009_088),
];

/// The lowest VP9 level that allows a `width`×`height` picture at
/// `frame_rate` frames per second (30 when unknown), for a codec string
/// whose level the file leaves out or gives as 0 ("unknown", which
/// `MediaSource.isTypeSupported` refuses): what other players derive.
/// Beyond every level: 62, the highest.
pub fn vp9_level(width: u64, height: u64, frame_rate: Option<f64>) -> u8 {
    let picture = width.saturating_mul(height);
    let dimension = width.max(height);
    let rate = frame_rate
        .filter(|r| r.is_finite() && *r > 0.0)
        .unwrap_or(30.0);
    let sample_rate = picture as f64 * rate;
    VP9_LEVELS
        .iter()
        .find(|&&(_, max_picture, max_dimension, max_rate)| {
            picture <= max_picture && dimension <= max_dimension && sample_rate <= max_rate as f64
        })
        .map_or(62, |&(level, ..)| level)
}

/// `level` when it is a VP9 level, else the one [`vp9_level`] derives (an
/// MP4 `vpcC` with level 0: MP4Box, Chromium's MediaRecorder).
pub fn valid_vp9_level(level: u8, width: u64, height: u64, frame_rate: Option<f64>) -> u8 {
    if VP9_LEVELS.iter().any(|&(l, ..)| l == level) {
        level
    } else {
        vp9_level(width, height, frame_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp9_levels_from_picture_size_and_rate() {
        assert_eq!(vp9_level(320, 180, None), 11);
        assert_eq!(vp9_level(640, 360, Some(30.0)), 21);
        assert_eq!(vp9_level(1280, 720, Some(30.0)), 31);
        assert_eq!(vp9_level(1920, 1080, Some(30.0)), 40);
        assert_eq!(vp9_level(1920, 1080, Some(60.0)), 41);
        assert_eq!(vp9_level(3840, 2160, Some(30.0)), 50);
        assert_eq!(vp9_level(3840, 2160, Some(60.0)), 51);
        // A tall thin picture: the dimension limit, not the area, decides.
        assert_eq!(vp9_level(16, 1000, None), 21);
        assert_eq!(vp9_level(u64::MAX, u64::MAX, Some(f64::NAN)), 62);
        assert_eq!(vp9_level(0, 0, None), 10);
    }

    #[test]
    fn a_valid_level_is_kept_an_invalid_one_derived() {
        assert_eq!(valid_vp9_level(31, 320, 180, None), 31);
        assert_eq!(valid_vp9_level(0, 320, 180, None), 11);
        assert_eq!(valid_vp9_level(13, 1920, 1080, None), 40);
    }
}
