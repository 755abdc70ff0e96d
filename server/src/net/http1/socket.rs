//! Writes on the fast path, straight on the socket: bytes (`send`, with
//! `MSG_MORE` when a body follows, so head and body share packets) and file
//! ranges moved by the kernel (`sendfile`). Every wait for the socket is
//! bounded by the send timeout, so a client that stops reading frees its
//! slot; after each `sendfile` call the connection yields its worker, so
//! under load the connections take turns a call each and a new request's
//! head is not queued behind whole bodies.

use std::io;
use std::time::Duration;

use rustix::net::SendFlags;
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::body::send_file::SendFile;

/// Most bytes handed to one `sendfile` call: the file's identity is checked
/// after each, so a file written in place ends the response within this.
const SENDFILE_MAX: usize = 512 * 1024;

/// Waits until the socket takes more, at most `timeout`.
async fn writable(tcp: &TcpStream, timeout: Duration) -> io::Result<()> {
    match tokio::time::timeout(timeout, tcp.writable()).await {
        Ok(ready) => ready,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "send timeout: the client stopped reading",
        )),
    }
}

/// Writes all of `buf`. `more`: a body follows at once (`MSG_MORE`).
pub async fn write_all(
    tcp: &TcpStream,
    mut buf: &[u8],
    timeout: Duration,
    more: bool,
) -> io::Result<()> {
    let flags = if more {
        SendFlags::MORE | SendFlags::NOSIGNAL
    } else {
        SendFlags::NOSIGNAL
    };
    while !buf.is_empty() {
        writable(tcp, timeout).await?;
        match tcp.try_io(Interest::WRITABLE, || {
            rustix::net::send(tcp, buf, flags).map_err(io::Error::from)
        }) {
            Ok(n) => buf = &buf[n..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        tokio::task::coop::consume_budget().await;
    }
    Ok(())
}

/// Sends the range of `body`'s file, kernel to socket, checking before
/// each call that the file is still the version whose validators were sent.
///
/// `sendfile` hands the kernel references to page-cache pages, not copies:
/// bytes already queued when a file is written in place may go out new (as
/// with nginx's `sendfile on`). The check ends the response at the next
/// call, so such a write cuts it within [`SENDFILE_MAX`] bytes; a file
/// replaced by rename is never affected (the open descriptor keeps the old
/// inode). There is no check after the last call: the client has every
/// byte by then, and cutting the connection would only break its next
/// request on it.
pub async fn send_file(tcp: &TcpStream, body: &SendFile, timeout: Duration) -> io::Result<()> {
    let mut offset = *body.range.start();
    let end = body.range.end() + 1;
    while offset < end {
        let most = body
            .progress
            .as_ref()
            .and_then(|p| p.max_piece())
            .map_or(SENDFILE_MAX, |piece| {
                usize::try_from(piece).map_or(SENDFILE_MAX, |p| p.clamp(1, SENDFILE_MAX))
            });
        let count = usize::try_from(end - offset).map_or(most, |n| n.min(most));
        writable(tcp, timeout).await?;
        body.file.check_unchanged()?;
        let before = offset;
        match tcp.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(tcp, body.file.fd(), Some(&mut offset), count)
                .map_err(io::Error::from)
        }) {
            Ok(0) => return Err(io::Error::other("file shorter than it was when opened")),
            Ok(_) => {
                body.add_sent(offset - before);
                if let Some(progress) = &body.progress {
                    let wait = progress.sent(offset - before, std::time::Instant::now());
                    if !wait.is_zero() {
                        // The application paces this response (`--pace-by app`).
                        tokio::time::sleep(wait).await;
                    }
                }
            }
            // `sendfile` reports a partial move as a count, never with EAGAIN.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}
