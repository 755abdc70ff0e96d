//! Request heads in a client's byte stream: what the link's log says each
//! player asked for. HTTP/1.1 only, keep-alive included; bodies are skipped
//! by `Content-Length` (the browsers' GETs have none).

/// What the log keeps of a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RequestHead {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) range: Option<String>,
}

/// Finds HTTP/1.1 request heads in the client's byte stream (keep-alive:
/// several per connection). Bodies are skipped by `Content-Length`; the
/// browsers' media GETs have none.
#[derive(Debug, Default)]
pub(super) struct RequestParser {
    pending: Vec<u8>,
    /// Body bytes of the last request still to skip.
    skip: usize,
}

impl RequestParser {
    /// A head larger than this is not HTTP we care about: stop buffering it.
    const MAX_HEAD: usize = 64 * 1024;

    pub(super) fn push(&mut self, data: &[u8]) -> Vec<RequestHead> {
        let mut data = data;
        let skipped = self.skip.min(data.len());
        self.skip -= skipped;
        data = &data[skipped..];
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some(end) = find(&self.pending, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
            let rest = self.pending.split_off(end + 4);
            self.pending = rest;
            let Some(parsed) = parse_head(&head) else {
                continue;
            };
            let body = content_length(&head);
            let now = body.min(self.pending.len());
            self.pending.drain(..now);
            self.skip = body - now;
            out.push(parsed);
        }
        if self.pending.len() > Self::MAX_HEAD {
            self.pending.clear();
        }
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &str) -> Option<RequestHead> {
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let range = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("range"))
        .map(|(_, value)| value.trim().to_owned());
    Some(RequestHead {
        method,
        path,
        range,
    })
}

fn content_length(head: &str) -> usize {
    head.split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keep_alive_heads_split_anywhere() {
        let stream = b"GET /a HTTP/1.1\r\nRange: bytes=0-1\r\n\r\nPOST /b HTTP/1.1\r\ncontent-length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\n\r\n";
        for split in 0..stream.len() {
            let mut parser = RequestParser::default();
            let mut heads = parser.push(&stream[..split]);
            heads.extend(parser.push(&stream[split..]));
            let paths: Vec<_> = heads.iter().map(|h| h.path.as_str()).collect();
            assert_eq!(paths, ["/a", "/b", "/c"], "split at {split}");
            assert_eq!(heads[0].range.as_deref(), Some("bytes=0-1"));
        }
    }
}
