//! The muxer corpus (`tests/fixtures/corpus/`, issue 12): what each file
//! did under the browser's own `<video>` and under Caudal, the class that
//! makes of it, and whether that class is the right answer.
//!
//! How it fits: `tests/corpus.rs` plays every committed file in headless
//! Chromium (the pages in [`pages`]) and hands the two outcomes here;
//! [`lists`] reads the corpus README (producer and layout of each file) and
//! the known-defects list the test holds the player to.

pub mod lists;
pub mod pages;

use std::fmt;

use serde::Deserialize;

/// A `<video>`'s `duration` as the page reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Duration {
    Seconds(f64),
    Infinite,
    /// NaN: no metadata.
    Unknown,
}

impl<'de> Deserialize<'de> for Duration {
    /// The page sends a number, `"Infinity"`, or null (NaN).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(match value {
            serde_json::Value::Number(n) => n.as_f64().map_or(Duration::Unknown, Duration::Seconds),
            serde_json::Value::String(s) if s == "Infinity" => Duration::Infinite,
            _ => Duration::Unknown,
        })
    }
}

impl Duration {
    /// Within 0.1 s or 2 % of each other; Infinity equals Infinity.
    pub fn matches(self, other: Duration) -> bool {
        match (self, other) {
            (Duration::Seconds(a), Duration::Seconds(b)) => {
                let diff = (a - b).abs();
                diff <= 0.1 || diff <= 0.02 * a.abs().max(b.abs())
            }
            (Duration::Infinite, Duration::Infinite) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Duration::Seconds(s) => write!(f, "{s:.2} s"),
            Duration::Infinite => f.write_str("∞"),
            Duration::Unknown => f.write_str("NaN"),
        }
    }
}

/// One `<video>`'s run (native `src`, or `Caudal.attach`), as the probe
/// page reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// `currentTime` moved forward by 0.5 s of playback after `play()`
    /// (small steps only: a jump to where a timeline starts is not playback).
    pub moved: bool,
    /// `duration` once it moved to 1.5 s (or when the run ended).
    pub duration: Duration,
    /// `video.error.code` at the end.
    pub error: Option<u32>,
    #[serde(default)]
    pub error_message: Option<String>,
    /// `caudal:error` events, as `code: message`.
    #[serde(default)]
    pub errors: Vec<String>,
    /// `stats().mode` (Caudal only).
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// `played`, `error`, `timeout`, ...: why the page stopped watching.
    #[serde(default)]
    pub why: String,
    #[serde(default)]
    pub max_time: f64,
    /// `buffered` at the end, `[start, end]` seconds.
    #[serde(default)]
    pub buffered: Vec<(f64, f64)>,
    /// Seconds played (the sum of the small forward steps).
    #[serde(default)]
    pub progress: f64,
    /// `videoWidth` at the end: 0 when no picture (audio only, or a video
    /// track the element could not decode).
    #[serde(default)]
    pub video_width: u32,
    /// `getVideoPlaybackQuality().totalVideoFrames` at the end.
    #[serde(default)]
    pub frames: Option<u64>,
    /// play() rejections and the like.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Run {
    /// `code` of each `caudal:error`.
    pub fn error_codes(&self) -> Vec<&str> {
        self.errors
            .iter()
            .map(|e| e.split(':').next().unwrap_or(e).trim())
            .collect()
    }

    /// `" (no picture)"` when the element showed no video frame.
    fn picture(&self) -> &'static str {
        if self.video_width == 0 {
            " (no picture)"
        } else {
            ""
        }
    }

    /// Short text for the table: what the native element did.
    pub fn native_summary(&self) -> String {
        if self.moved {
            format!("plays{}, {}", self.picture(), self.duration)
        } else if let Some(code) = self.error {
            format!("MediaError {code}")
        } else {
            format!("stuck at {:.2} s ({})", self.max_time, self.why)
        }
    }

    /// Short text for the table: what Caudal did.
    pub fn caudal_summary(&self) -> String {
        let mode = self.mode.as_deref().unwrap_or("?");
        let mut s = if self.moved {
            format!("{mode}, plays{}, {}", self.picture(), self.duration)
        } else {
            format!("{mode}, stuck at {:.2} s ({})", self.max_time, self.why)
        };
        let codes = self.error_codes();
        if !codes.is_empty() {
            s.push_str(&format!(", caudal:error {}", codes.join("+")));
        }
        s
    }
}

/// What Caudal did with a file, against what the browser did.
#[derive(Debug, Clone, PartialEq)]
pub enum Class {
    /// Played under MSE with native's duration.
    Mse,
    /// Fell back to the element, which played.
    Native,
    /// Exactly one `caudal:error` and nothing played.
    Error,
    /// Anything else, and why.
    Wrong(String),
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Class::Mse => f.write_str("mse"),
            Class::Native => f.write_str("native"),
            Class::Error => f.write_str("error"),
            Class::Wrong(why) => write!(f, "wrong: {why}"),
        }
    }
}

/// The class of Caudal's run, given native's.
pub fn classify(native: &Run, caudal: &Run) -> Class {
    let errors = caudal.errors.len();
    let mode = caudal.mode.as_deref();
    if caudal.moved && errors == 0 && mode == Some("mse") {
        if caudal.duration.matches(native.duration) {
            return Class::Mse;
        }
        return Class::Wrong(format!(
            "MSE duration {} where native says {}",
            caudal.duration, native.duration
        ));
    }
    if caudal.moved && errors == 0 && mode == Some("native") {
        return Class::Native;
    }
    if !caudal.moved && errors == 1 {
        return Class::Error;
    }
    if caudal.moved {
        return Class::Wrong(format!(
            "plays ({}) but with {errors} caudal:error ({})",
            mode.unwrap_or("no mode"),
            caudal.error_codes().join(", ")
        ));
    }
    if errors == 0 {
        return Class::Wrong(format!(
            "{} at {:.2} s ({}) with no caudal:error",
            mode.unwrap_or("no mode"),
            caudal.max_time,
            caudal.why
        ));
    }
    Class::Wrong(format!(
        "does not play, {errors} caudal:error ({})",
        caudal.error_codes().join(", ")
    ))
}

/// Whether `class` is the right answer: where native plays, Caudal plays
/// (under MSE or by falling back); where it cannot, one clear error — or
/// playback under MSE, which does better than native (a Matroska file
/// FFmpeg's demuxer refuses that Caudal's normaliser reads).
pub fn verdict(native: &Run, caudal: &Run, class: &Class) -> Result<(), String> {
    match (native.moved, class) {
        (true, Class::Mse | Class::Native) | (false, Class::Error | Class::Mse) => Ok(()),
        (_, Class::Wrong(why)) => Err(why.clone()),
        (true, Class::Error) => Err(format!(
            "caudal:error \"{}\" where native plays",
            caudal
                .errors
                .first()
                .map(String::as_str)
                .unwrap_or_default()
        )),
        (false, Class::Native) => Err("falls back and plays where native alone cannot".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(moved: bool, duration: Duration, mode: &str, errors: &[&str]) -> Run {
        Run {
            moved,
            duration,
            error: None,
            error_message: None,
            errors: errors.iter().map(|s| s.to_string()).collect(),
            mode: Some(mode.to_owned()),
            reason: None,
            why: if moved { "played" } else { "timeout" }.to_owned(),
            max_time: 0.0,
            progress: 0.0,
            buffered: vec![],
            video_width: 320,
            frames: None,
            notes: vec![],
        }
    }

    #[test]
    fn durations_match_within_a_tenth_of_a_second_or_two_percent() {
        let s = Duration::Seconds;
        assert!(s(3.0).matches(s(3.09)));
        assert!(!s(3.0).matches(s(3.2)));
        assert!(s(20.0).matches(s(20.35)));
        assert!(Duration::Infinite.matches(Duration::Infinite));
        assert!(!Duration::Infinite.matches(s(3.0)));
        assert!(!Duration::Unknown.matches(Duration::Unknown));
    }

    #[test]
    fn mse_with_natives_duration_is_mse_and_another_duration_is_wrong() {
        let native = run(true, Duration::Seconds(3.0), "", &[]);
        let good = run(true, Duration::Seconds(3.02), "mse", &[]);
        assert_eq!(classify(&native, &good), Class::Mse);
        let bad = run(true, Duration::Seconds(2.0), "mse", &[]);
        assert!(matches!(classify(&native, &bad), Class::Wrong(_)));
        assert!(verdict(&native, &bad, &classify(&native, &bad)).is_err());
    }

    #[test]
    fn a_fallback_that_plays_is_native_and_right_when_native_plays() {
        let native = run(true, Duration::Seconds(3.0), "", &[]);
        let caudal = run(true, Duration::Seconds(3.0), "native", &[]);
        assert_eq!(classify(&native, &caudal), Class::Native);
        assert!(verdict(&native, &caudal, &Class::Native).is_ok());
    }

    #[test]
    fn one_error_is_right_only_where_native_cannot_play() {
        let caudal = run(false, Duration::Unknown, "mse", &["format: no"]);
        assert_eq!(
            classify(&run(false, Duration::Unknown, "", &[]), &caudal),
            Class::Error
        );
        let cannot = run(false, Duration::Unknown, "", &[]);
        assert!(verdict(&cannot, &caudal, &Class::Error).is_ok());
        let plays = run(true, Duration::Seconds(3.0), "", &[]);
        let why = verdict(&plays, &caudal, &Class::Error)
            .err()
            .unwrap_or_default();
        assert!(why.contains("format: no"), "{why}");
        let twice = run(false, Duration::Unknown, "mse", &["format: a", "decode: b"]);
        assert!(matches!(
            classify(&run(false, Duration::Unknown, "", &[]), &twice),
            Class::Wrong(_)
        ));
    }

    #[test]
    fn stuck_without_an_error_is_wrong() {
        let native = run(true, Duration::Seconds(3.0), "", &[]);
        let caudal = run(false, Duration::Seconds(3.0), "mse", &[]);
        assert!(matches!(classify(&native, &caudal), Class::Wrong(_)));
    }
}
