//! The link's log read as requests: what a test asks of it (which paths,
//! which ranges, when each left and ended, how many bytes came back).

use super::{LogEntry, ShapedLink};

/// One request head that crossed the link, with its answer so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// When the head reached the link (ms on the link's clock).
    pub t_ms: f64,
    pub conn: u64,
    /// The path without its query: what names the file.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// When the answer's last byte reached the client (see [`LogEntry`]).
    pub end_ms: Option<f64>,
    /// Bytes delivered for it: the response head and as much of the body
    /// as got through.
    pub bytes_down: u64,
}

impl Request {
    /// The first byte a `Range: bytes=N-...` asks for.
    pub fn range_start(&self) -> Option<u64> {
        let spec = self.range.as_deref()?.trim().strip_prefix("bytes=")?;
        spec.split('-').next()?.trim().parse().ok()
    }

    /// The body a whole answer has for a file of `file_len` bytes: the
    /// range (its end clipped to the file), or the file. `None` for a
    /// range this does not read (suffix or multiple ranges).
    pub fn body_len(&self, file_len: u64) -> Option<u64> {
        let Some(range) = self.range.as_deref() else {
            return Some(file_len);
        };
        let spec = range.trim().strip_prefix("bytes=")?;
        let (first, last) = spec.split_once('-')?;
        let first: u64 = first.trim().parse().ok()?;
        let last = match last.trim() {
            "" => file_len.checked_sub(1)?,
            last => last.parse::<u64>().ok()?.min(file_len.checked_sub(1)?),
        };
        (last >= first).then(|| last - first + 1)
    }

    /// Whether the whole answer came: more bytes than its body (the head
    /// is never empty). An answer cut short (an aborted fetch) is not.
    pub fn whole(&self, file_len: u64) -> bool {
        self.body_len(file_len)
            .is_some_and(|body| self.bytes_down > body)
    }
}

impl ShapedLink {
    /// The requests in the log so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log()
            .into_iter()
            .filter_map(|entry| match entry {
                LogEntry::Request {
                    t_ms,
                    conn,
                    path,
                    range,
                    end_ms,
                    bytes_down,
                    ..
                } => Some(Request {
                    t_ms,
                    conn,
                    path: path.split('?').next().unwrap_or_default().to_owned(),
                    range,
                    end_ms,
                    bytes_down,
                }),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(range: Option<&str>, bytes_down: u64) -> Request {
        Request {
            t_ms: 0.0,
            conn: 0,
            path: "/media/a.mp4".into(),
            range: range.map(str::to_owned),
            end_ms: None,
            bytes_down,
        }
    }

    #[test]
    fn a_range_gives_its_start_and_its_body_clipped_to_the_file() {
        let r = request(Some("bytes=100-199"), 0);
        assert_eq!((r.range_start(), r.body_len(1000)), (Some(100), Some(100)));
        let open = request(Some("bytes=100-"), 0);
        assert_eq!(open.body_len(1000), Some(900));
        assert_eq!(request(Some("bytes=900-5000"), 0).body_len(1000), Some(100));
        assert_eq!(request(None, 0).body_len(1000), Some(1000));
        assert_eq!(request(Some("bytes=-100"), 0).body_len(1000), None);
    }

    #[test]
    fn an_answer_is_whole_once_more_than_its_body_came() {
        assert!(request(Some("bytes=0-99"), 400).whole(1000));
        assert!(!request(Some("bytes=0-99"), 100).whole(1000));
        assert!(!request(Some("bytes=0-"), 5000 - 1).whole(100_000));
    }
}
