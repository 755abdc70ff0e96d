//! The pacing cap on a connection's socket: set for a paced response with a
//! small `TCP_NOTSENT_LOWAT` (so that at most that much sits unsent in the
//! socket buffer, and a rate change reaches the wire at once), and taken
//! off when the response ends so that the next request on a keep-alive
//! connection starts uncapped ([`super::response`] sees to that).

use std::os::fd::AsFd;

use crate::net::connection::SocketHandle;
use crate::net::tcp_options::{self, TcpInfo};

/// Unsent bytes the socket may hold while paced.
pub const PACED_NOTSENT_LOWAT: u32 = 128 * 1024;

/// Caps the connection at `bytes_per_second`, or uncaps it (`None`).
/// Errors (an old kernel, a closed socket) are logged once per call and
/// leave the response unpaced.
pub fn set_cap(socket: &SocketHandle, bytes_per_second: Option<u64>) -> bool {
    let applied = socket.with(|sock| {
        tcp_options::set_max_pacing_rate(sock.as_fd(), bytes_per_second)?;
        // 0: back to the system's default.
        sock.set_tcp_notsent_lowat(bytes_per_second.map_or(0, |_| PACED_NOTSENT_LOWAT))
    });
    match applied {
        Some(Ok(())) => true,
        Some(Err(error)) => {
            tracing::debug!(%error, "could not set the pacing rate");
            false
        }
        None => false,
    }
}

/// The kernel's view of the connection, if it is still open.
pub fn info(socket: &SocketHandle) -> Option<TcpInfo> {
    socket
        .with(|sock| tcp_options::tcp_info(sock.as_fd()))
        .and_then(Result::ok)
}
