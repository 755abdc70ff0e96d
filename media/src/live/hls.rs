//! The HLS media playlist of a live stream (RFC 8216 with the Low-Latency
//! extension, draft-pantos-hls-rfc8216bis): segments from one keyframe to
//! the next, each made of parts (one or more fragments as the publisher
//! sent them), the newest segments' parts listed (`EXT-X-PART`), blocking
//! reload offered (`CAN-BLOCK-RELOAD`), and a hint of the next part. Pure:
//! the server keeps the segments and serves their bytes.
//!
//! URIs are relative to the playlist at `/live/<name>.m3u8`:
//! `<name>/init.mp4`, `<name>/s<msn>.mp4` (a segment), `<name>/s<msn>.<i>.mp4`
//! (its part `i`).

use std::fmt::Write as _;

/// Segments listed with their parts: the spec asks for at least those of
/// the last three target durations; these are the newest ones.
const SEGMENTS_WITH_PARTS: usize = 3;

/// One part of a segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HlsPart {
    pub duration: f64,
    /// It starts with a keyframe.
    pub independent: bool,
}

/// One segment: a keyframe and what follows it up to the next.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HlsSegment {
    /// Media sequence number.
    pub msn: u64,
    pub parts: Vec<HlsPart>,
    /// Unix milliseconds its first fragment was made (`prft`), if known.
    pub wallclock_ms: Option<u64>,
    /// The first of a new publisher (its timestamps start again).
    pub discontinuity: bool,
}

impl HlsSegment {
    pub fn duration(&self) -> f64 {
        self.parts.iter().map(|p| p.duration).sum()
    }
}

/// What the playlist shows.
#[derive(Debug, Clone, Copy)]
pub struct HlsWindow<'a> {
    pub name: &'a str,
    /// Closed segments, oldest first.
    pub segments: &'a [HlsSegment],
    /// The segment being made (its parts so far), if any.
    pub open: Option<&'a HlsSegment>,
}

impl HlsWindow<'_> {
    /// `EXT-X-TARGETDURATION`: the longest segment, rounded up.
    pub fn target_duration(&self) -> u64 {
        let longest = self
            .segments
            .iter()
            .map(HlsSegment::duration)
            .fold(1.0, f64::max);
        longest.ceil() as u64
    }

    /// `PART-TARGET`: the longest part seen.
    pub fn part_target(&self) -> f64 {
        self.segments
            .iter()
            .chain(self.open)
            .flat_map(|s| &s.parts)
            .map(|p| p.duration)
            .fold(0.0, f64::max)
            .max(0.1)
    }

    /// The newest part there is: `(msn, part index)`.
    pub fn last_part(&self) -> Option<(u64, usize)> {
        let open = self.open.filter(|s| !s.parts.is_empty());
        open.or(self.segments.last())
            .map(|s| (s.msn, s.parts.len().saturating_sub(1)))
    }
}

/// The playlist text.
pub fn media_playlist(window: &HlsWindow<'_>) -> String {
    let name = window.name;
    let part_target = window.part_target();
    let mut out = String::with_capacity(2048);
    let first = window.segments.first().or(window.open).map_or(0, |s| s.msn);
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:{}\n\
         #EXT-X-PART-INF:PART-TARGET={part_target:.3}\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3}\n\
         #EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"{name}/init.mp4\"\n",
        window.target_duration(),
        3.0 * part_target,
    );
    let with_parts_from = window
        .segments
        .len()
        .saturating_sub(SEGMENTS_WITH_PARTS - 1);
    for (i, segment) in window.segments.iter().enumerate() {
        if segment.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(ms) = segment.wallclock_ms {
            let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", rfc3339(ms));
        }
        if i >= with_parts_from {
            parts(&mut out, name, segment);
        }
        let _ = write!(
            out,
            "#EXTINF:{:.3},\n{name}/s{}.mp4\n",
            segment.duration(),
            segment.msn
        );
    }
    let next = match window.open {
        Some(open) => {
            if open.discontinuity && !open.parts.is_empty() {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(ms) = open.wallclock_ms.filter(|_| !open.parts.is_empty()) {
                let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", rfc3339(ms));
            }
            parts(&mut out, name, open);
            (open.msn, open.parts.len())
        }
        None => (window.segments.last().map_or(0, |s| s.msn + 1), 0),
    };
    let _ = writeln!(
        out,
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{name}/s{}.{}.mp4\"",
        next.0, next.1
    );
    out
}

fn parts(out: &mut String, name: &str, segment: &HlsSegment) {
    for (i, part) in segment.parts.iter().enumerate() {
        let _ = writeln!(
            out,
            "#EXT-X-PART:DURATION={:.3},URI=\"{name}/s{}.{i}.mp4\"{}",
            part.duration,
            segment.msn,
            if part.independent {
                ",INDEPENDENT=YES"
            } else {
                ""
            }
        );
    }
}

/// Unix milliseconds as `2026-12-04T02:30:00.123Z`.
fn rfc3339(ms: u64) -> String {
    let (days, rest) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(msn: u64, parts: &[f64]) -> HlsSegment {
        HlsSegment {
            msn,
            parts: parts
                .iter()
                .enumerate()
                .map(|(i, &duration)| HlsPart {
                    duration,
                    independent: i == 0,
                })
                .collect(),
            wallclock_ms: Some(1_764_815_400_000 + msn * 1000),
            discontinuity: msn == 10,
        }
    }

    #[test]
    fn the_playlist_lists_segments_their_newest_parts_and_the_next_part() {
        let closed = [
            segment(7, &[0.5, 0.5]),
            segment(8, &[0.5, 0.5]),
            segment(9, &[0.5, 0.5]),
            segment(10, &[0.5, 0.52]),
        ];
        let open = segment(11, &[0.5]);
        let window = HlsWindow {
            name: "cam",
            segments: &closed,
            open: Some(&open),
        };
        let text = media_playlist(&window);
        assert!(
            text.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"),
            "{text}"
        );
        assert!(
            text.contains("#EXT-X-PART-INF:PART-TARGET=0.520\n"),
            "{text}"
        );
        assert!(
            text.contains("CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.560"),
            "{text}"
        );
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:7\n"), "{text}");
        assert!(text.contains("#EXT-X-MAP:URI=\"cam/init.mp4\""), "{text}");
        assert!(text.contains("#EXTINF:1.020,\ncam/s10.mp4\n"), "{text}");
        assert!(
            text.contains(
                "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2025-12-04T02:30:10.000Z\n"
            ),
            "{text}"
        );
        // Parts of the newest segments only (9, 10 and the open 11).
        assert!(!text.contains("cam/s8.0.mp4"), "{text}");
        assert!(text.contains("#EXT-X-PART:DURATION=0.500,URI=\"cam/s9.0.mp4\",INDEPENDENT=YES\n"));
        assert!(
            text.contains("#EXT-X-PART:DURATION=0.520,URI=\"cam/s10.1.mp4\"\n"),
            "{text}"
        );
        assert!(
            text.contains("URI=\"cam/s11.0.mp4\",INDEPENDENT=YES"),
            "{text}"
        );
        assert!(
            text.ends_with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"cam/s11.1.mp4\"\n"),
            "{text}"
        );
        assert!(
            text.contains("#EXT-X-PROGRAM-DATE-TIME:2025-12-04T02:30:07.000Z"),
            "{text}"
        );
        assert_eq!(window.last_part(), Some((11, 0)));
    }

    #[test]
    fn dates_are_utc_rfc3339_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_796_351_181_999), "2026-12-04T02:26:21.999Z");
    }
}
