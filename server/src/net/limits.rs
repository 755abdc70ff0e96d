//! What bounds a connection: how many are served at once, how long a client
//! has to send its request head and how large it may be, how long a write may
//! make no progress.

use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::config::Config;

/// hyper's HTTP/1 settings: header-read timeout and head-size limit set,
/// which `warp::serve` leaves off. Half-closed connections are kept: a
/// live publisher (ffmpeg) shuts its write side after the body and waits
/// for the answer, which hyper would otherwise never send.
pub fn http1(config: &Config) -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_header_size(config.max_header_bytes)
        .half_close(true)
        .keep_alive(true);
    http
}

/// A stream whose writes fail after `send_timeout` without progress, so a
/// client that stops reading does not hold its slot forever.
pub fn with_send_timeout<S>(stream: S, send_timeout: Duration) -> tokio_io_timeout::TimeoutStream<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
    stream.set_write_timeout(Some(send_timeout));
    stream
}

/// Answers a connection over the cap with a 503 that says why, then closes it.
pub async fn refuse_busy(mut stream: TcpStream) {
    const BODY: &str = "server busy: too many connections\n";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
