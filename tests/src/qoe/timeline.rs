//! Where a visit's time went: every request as the link saw it and the
//! page's own account (Resource Timing, the player's `caudal:*` marks),
//! all on the page's clock (ms since navigation start), with the first
//! frame at the end.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::shaped_link::LogEntry;

/// What the page reports of its loads (`timeline()` in the recorder).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageTimeline {
    /// `performance.timeOrigin`: navigation start, ms since the Unix epoch.
    pub time_origin: f64,
    pub navigation: Option<ResourceEntry>,
    pub resources: Vec<ResourceEntry>,
    /// `performance.getEntriesByType('mark')` named `caudal:*`.
    pub marks: Vec<Mark>,
}

/// A Resource Timing (or navigation) entry, the fields the timeline shows.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceEntry {
    pub name: String,
    pub initiator_type: String,
    pub start_time: f64,
    pub request_start: f64,
    pub response_start: f64,
    pub response_end: f64,
    /// Bytes on the wire, heads included (0 from the cache).
    pub transfer_size: u64,
    /// The body as sent (compressed, when it was).
    pub encoded_body_size: u64,
    pub decoded_body_size: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    pub name: String,
    pub start_time: f64,
}

/// A request as the link saw it, on the page's clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkRequest {
    /// When its head reached the link.
    pub start_ms: f64,
    /// When its answer's last byte reached the browser (approximate: see
    /// [`crate::shaped_link`]'s log).
    pub end_ms: Option<f64>,
    /// The answer's bytes, head included.
    pub bytes: u64,
    pub conn: u64,
    pub method: String,
    pub path: String,
    pub range: Option<String>,
}

impl LinkRequest {
    /// A request for the media (for hls.js: its playlist too).
    pub fn is_media(&self) -> bool {
        self.path.starts_with("/media/")
    }
}

/// The link's requests, moved from the link's clock (started at
/// `link_started_unix_ms`) to the page's (`time_origin`, both Unix ms).
pub fn link_requests(
    log: &[LogEntry],
    link_started_unix_ms: f64,
    time_origin: f64,
) -> Vec<LinkRequest> {
    let shift = link_started_unix_ms - time_origin;
    log.iter()
        .filter_map(|entry| match entry {
            LogEntry::Request {
                t_ms,
                conn,
                method,
                path,
                range,
                end_ms,
                bytes_down,
            } => Some(LinkRequest {
                start_ms: t_ms + shift,
                end_ms: end_ms.map(|end| end + shift),
                bytes: *bytes_down,
                conn: *conn,
                method: method.clone(),
                path: path.clone(),
                range: range.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// One visit's timeline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    pub requests: Vec<LinkRequest>,
    pub page: PageTimeline,
    pub first_paint_ms: Option<f64>,
    pub ttff_ms: Option<f64>,
}

impl Timeline {
    /// When the first media request reached the link.
    pub fn first_media_request_ms(&self) -> Option<f64> {
        self.requests
            .iter()
            .filter(|r| r.is_media())
            .map(|r| r.start_ms)
            .reduce(f64::min)
    }

    /// Bytes of the answers to requests for `path` exactly.
    pub fn bytes_of(&self, path: &str) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.bytes)
            .sum()
    }

    /// (count, bytes) of the answers to requests under `prefix`.
    pub fn bytes_under(&self, prefix: &str) -> (usize, u64) {
        self.requests
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .fold((0, 0), |(n, bytes), r| (n + 1, bytes + r.bytes))
    }

    /// Bytes of the media answers, and of everything else (the page and
    /// the players' code).
    pub fn media_and_other_bytes(&self) -> (u64, u64) {
        self.requests.iter().fold((0, 0), |(media, other), r| {
            if r.is_media() {
                (media + r.bytes, other)
            } else {
                (media, other + r.bytes)
            }
        })
    }

    /// The timeline as printed, each line indented by `indent`.
    pub fn render(&self, indent: &str) -> String {
        let mut out = String::new();
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
        let _ = writeln!(
            out,
            "{indent}{:<52} {:>6} {:>6} {:>9}",
            "link: request (conn)", "start", "end", "bytes"
        );
        for r in &self.requests {
            let what = match &r.range {
                Some(range) => format!("{} {} {range} ({})", r.method, r.path, r.conn),
                None => format!("{} {} ({})", r.method, r.path, r.conn),
            };
            let _ = writeln!(
                out,
                "{indent}  {:<50} {:>6.0} {:>6} {:>9}",
                truncate(&what, 50),
                r.start_ms,
                ms(r.end_ms),
                thousands(r.bytes)
            );
        }
        let _ = writeln!(
            out,
            "{indent}{:<40} {:>6} {:>6} {:>6} {:>9} {:>9}",
            "page: Resource Timing", "start", "resp", "end", "transfer", "encoded"
        );
        for e in self.page.navigation.iter().chain(&self.page.resources) {
            let _ = writeln!(
                out,
                "{indent}  {:<38} {:>6.0} {:>6.0} {:>6.0} {:>9} {:>9}",
                truncate(&format!("{} {}", e.initiator_type, path_of(&e.name)), 38),
                e.start_time,
                e.response_start,
                e.response_end,
                thousands(e.transfer_size),
                thousands(e.encoded_body_size)
            );
        }
        let marks = if self.page.marks.is_empty() {
            "none".to_owned()
        } else {
            self.page
                .marks
                .iter()
                .map(|m| format!("{} {:.0}", m.name, m.start_time))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "{indent}marks: {marks}");
        let _ = writeln!(
            out,
            "{indent}first frame painted {}, picture moves (ttff) {}",
            ms(self.first_paint_ms),
            ms(self.ttff_ms)
        );
        out
    }
}

/// The path of a same-origin URL (`http://host:port/a/b` → `/a/b`).
fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url)
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let keep: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{keep}…")
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut groups: Vec<&str> = Vec::new();
    let mut end = digits.len();
    while end > 3 {
        groups.push(&digits[end - 3..end]);
        end -= 3;
    }
    groups.push(&digits[..end]);
    groups.reverse();
    groups.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(t_ms: f64, path: &str, end_ms: Option<f64>, bytes_down: u64) -> LogEntry {
        LogEntry::Request {
            t_ms,
            conn: 1,
            method: "GET".into(),
            path: path.into(),
            range: None,
            end_ms,
            bytes_down,
        }
    }

    #[test]
    fn link_times_move_to_the_page_clock_and_media_is_told_apart() {
        let log = vec![
            LogEntry::Rate {
                t_ms: 0.0,
                bits_per_second: 1,
            },
            request(20.0, "/page.html", Some(50.0), 5_000),
            request(60.0, "/player.js", Some(90.0), 3_000),
            request(120.0, "/media/a.mp4", None, 0),
            request(100.0, "/media/a.mp4", Some(400.0), 100_000),
        ];
        // The link started 15 ms before navigation.
        let t = Timeline {
            requests: link_requests(&log, 1_000.0, 1_015.0),
            ..Timeline::default()
        };
        assert_eq!(t.requests.len(), 4);
        assert_eq!(t.requests[0].start_ms, 5.0);
        assert_eq!(t.requests[0].end_ms, Some(35.0));
        assert_eq!(t.first_media_request_ms(), Some(85.0));
        assert_eq!(t.bytes_of("/player.js"), 3_000);
        assert_eq!(t.bytes_under("/media/"), (2, 100_000));
        assert_eq!(t.media_and_other_bytes(), (100_000, 8_000));
        assert!(t.render("").contains("GET /player.js (1)"));
    }

    #[test]
    fn numbers_and_paths_print_short() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(path_of("http://127.0.0.1:9/pkg/a.wasm"), "/pkg/a.wasm");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
