//! The human form of an inspect [`Report`]: a short aligned block per file.

use std::fmt::{self, Write};

use super::report::Report;

impl fmt::Display for Report {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(out, "{}", self.file)?;
        let mut line = |label: &str, value: String| writeln!(out, "  {label:<12} {value}");
        let container = match self.container {
            "mp4" => "MP4 (plain)",
            "fragmented-mp4" => "MP4 (fragmented)",
            "webm" => "WebM",
            "mp3" => "MP3",
            other => other,
        };
        line(
            "container",
            format!("{container}, {}", human_bytes(self.size)),
        )?;
        line("streamable", self.verdict())?;
        let tracks: Vec<String> = self
            .tracks
            .iter()
            .map(|t| format!("{} {} ({})", t.id, t.kind, t.codec))
            .collect();
        line("tracks", tracks.join(", "))?;
        line(
            "duration",
            self.duration
                .map_or("unknown".into(), |d| format!("{d:.2} s")),
        )?;
        line(
            "bitrate",
            self.bitrate.map_or("unknown".into(), |b| {
                format!("{:.0} kbit/s", b as f64 / 1e3)
            }),
        )?;
        if let Some(k) = &self.keyframes {
            let partial = if k.whole_file {
                ""
            } else {
                ", file start only"
            };
            line(
                "keyframes",
                format!(
                    "every {:.2} s on average, at most {:.2} s apart ({} from {}{partial})",
                    k.mean, k.max, k.count, k.source
                ),
            )?;
        }
        if let Some(m) = &self.moov {
            line(
                "moov",
                format!(
                    "at byte {}, {}, {}",
                    m.offset,
                    human_bytes(m.size),
                    m.position.replace('-', " ")
                ),
            )?;
        }
        let trips = match self.first_frame.round_trips {
            1 => "1 round trip".to_owned(),
            n => format!("{n} round trips"),
        };
        line(
            "first frame",
            format!(
                "{} in {trips}: {}",
                human_bytes(self.first_frame.bytes),
                self.first_frame.how
            ),
        )?;
        for reason in &self.slow {
            line("slow start", reason.clone())?;
        }
        Ok(())
    }
}

impl Report {
    /// One phrase: is it streamable, and what makes it so (or not).
    fn verdict(&self) -> String {
        let mut why = String::new();
        match (self.container, self.faststart, self.index) {
            ("mp4", Some(true), _) => why.push_str("faststart (moov before mdat)"),
            ("mp4", _, _) => why.push_str("moov after mdat"),
            ("fragmented-mp4", _, Some(index)) => {
                let _ = write!(why, "fragmented, index: {index}");
            }
            ("webm", _, Some("cues")) => why.push_str("Cues before the media"),
            ("webm", _, Some("cues-at-end")) => {
                why.push_str("Cues at the end (fetched with one extra round trip)");
            }
            ("webm", _, _) => why.push_str("no Cues up front (clusters found by scanning)"),
            _ => why.push_str("frames found as they arrive"),
        }
        let yes = if self.streamable { "yes" } else { "NO" };
        format!("{yes}: {why}")
    }
}

/// `1.2 MB`, `47.0 KB`, `900 B` (decimal units, as link speeds are).
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::report::{FirstFrame, MoovReport, TrackReport};

    #[test]
    fn bytes_read_like_link_speeds() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(47_000), "47.0 KB");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
    }

    #[test]
    fn a_slow_mp4_says_why_line_by_line() {
        let report = Report {
            file: "clip.mp4".into(),
            size: 28_869,
            container: "mp4",
            streamable: false,
            faststart: Some(false),
            fragmented: false,
            index: Some("moov"),
            tracks: vec![TrackReport {
                id: 1,
                kind: "video",
                codec: "avc1.64000b".into(),
            }],
            mime: String::new(),
            duration: Some(3.0),
            bitrate: Some(76_984),
            keyframes: None,
            moov: Some(MoovReport {
                offset: 25_829,
                size: 3040,
                position: "after-mdat",
            }),
            first_frame: FirstFrame {
                bytes: 12_000,
                round_trips: 2,
                how: "the boxes".into(),
            },
            slow: vec!["moov at the end".into()],
        };
        assert_eq!(
            report.to_string(),
            "clip.mp4\n\
             \x20 container    MP4 (plain), 28.9 KB\n\
             \x20 streamable   NO: moov after mdat\n\
             \x20 tracks       1 video (avc1.64000b)\n\
             \x20 duration     3.00 s\n\
             \x20 bitrate      77 kbit/s\n\
             \x20 moov         at byte 25829, 3.0 KB, after mdat\n\
             \x20 first frame  12.0 KB in 2 round trips: the boxes\n\
             \x20 slow start   moov at the end\n"
        );
    }
}
