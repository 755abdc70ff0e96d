//! The human form of an inspect [`Report`]: a short aligned block per file.

use std::fmt::{self, Write};

use super::inspect::{Report, human_bytes};

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
