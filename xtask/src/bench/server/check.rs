//! Checks on a running server: that it answers ranges right (a fast wrong
//! server is no result) and how much memory it took.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use super::files::FILE_SIZE;

/// Checks, with a plain socket, that `Range: bytes=0-99` answers 206 with
/// exactly the first 100 bytes of the file: a fast wrong server is no result.
pub fn verify_range(addr: SocketAddr, path: &str, expected: &[u8]) -> Result<()> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .context("setting a read timeout")?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes=0-99\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .context("sending the request")?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .context("reading the response")?;

    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the response has no end of headers")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let status_line = head.lines().next().unwrap_or_default();
    ensure!(
        status_line.split_whitespace().nth(1) == Some("206"),
        "expected status 206, got `{status_line}`"
    );
    let content_range = header(&head, "content-range");
    let want_range = format!("bytes 0-99/{FILE_SIZE}");
    ensure!(
        content_range == Some(want_range.as_str()),
        "expected Content-Range `{want_range}`, got {content_range:?}"
    );
    ensure!(
        body.len() == 100,
        "expected a 100-byte body, got {} bytes",
        body.len()
    );
    ensure!(
        body == expected,
        "the body differs from the file's first 100 bytes"
    );
    Ok(())
}

/// The value of header `name` (case-insensitive) in a response head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Peak resident set size of a process (VmHWM), in KiB.
pub fn peak_rss_kib(pid: u32) -> Result<u64> {
    status_kib(pid, "VmHWM")
}

/// The `field` (`VmHWM`, `VmRSS`, ...) of `/proc/PID/status`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .with_context(|| format!("no {field} in {path}"))?;
    let kib = line.trim().trim_end_matches("kB").trim();
    kib.parse()
        .with_context(|| format!("parsing {field} `{line}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_headers_case_insensitively() {
        let head = "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-99/1000\r\n";
        assert_eq!(header(head, "Content-Range"), Some("bytes 0-99/1000"));
        assert_eq!(header(head, "Content-Length"), None);
    }
}
