//! The pacing cap on a connection's socket: set for a paced response with a
//! small `TCP_NOTSENT_LOWAT` (so that at most that much sits unsent in the
//! socket buffer, and a rate change reaches the wire at once), and taken
//! off when the response's last bytes have left the socket — not when its
//! writer finished, which is earlier by what the socket (and hyper's write
//! buffer) still hold: that tail would leave unpaced — so that the next
//! request on a keep-alive connection starts uncapped. A request arriving
//! first takes a leftover cap off itself; a response's late reset never
//! touches a cap a newer response has taken ([`CapSlot`]'s owner).

use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::net::connection::{CapSlot, SocketHandle};
use crate::net::tcp_options::{self, TcpInfo};

/// How often an ended response looks whether its last bytes have left.
const DRAIN_POLL: Duration = Duration::from_millis(5);
/// The longest it waits for that (a client that stopped reading).
const DRAIN_MAX: Duration = Duration::from_secs(10);

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

/// A response takes the socket's cap: its owner number.
pub fn take(socket: &SocketHandle) -> u64 {
    let slot = socket.cap_slot();
    slot.leftover.store(false, Ordering::Release);
    slot.owner.fetch_add(1, Ordering::AcqRel) + 1
}

/// A request arrived on the connection: a cap that an ended response left
/// on it comes off now.
pub fn clear_leftover(socket: &SocketHandle) {
    let slot = socket.cap_slot();
    if slot.leftover.swap(false, Ordering::AcqRel) {
        slot.owner.fetch_add(1, Ordering::AcqRel);
        set_cap(socket, None);
    }
}

/// The response that took the cap as `owner` ended: the cap comes off once
/// the socket has sent everything queued (at once outside a runtime);
/// `hold` (its place under the egress budget) is let go then too.
pub fn release_when_sent<T: Send + 'static>(socket: SocketHandle, owner: u64, hold: T) {
    socket.cap_slot().leftover.store(true, Ordering::Release);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        release_if_owner(&socket, owner);
        drop(hold);
        return;
    };
    runtime.spawn(async move {
        let _hold = hold;
        let deadline = Instant::now() + DRAIN_MAX;
        loop {
            let Some(info) = info(&socket) else {
                return; // closed: nothing to reset
            };
            let slot: &CapSlot = socket.cap_slot();
            if info.notsent_bytes == 0
                || slot.owner.load(Ordering::Acquire) != owner
                || Instant::now() > deadline
            {
                break;
            }
            tokio::time::sleep(DRAIN_POLL).await;
        }
        release_if_owner(&socket, owner);
    });
}

fn release_if_owner(socket: &SocketHandle, owner: u64) {
    let slot = socket.cap_slot();
    if slot.owner.load(Ordering::Acquire) == owner && slot.leftover.swap(false, Ordering::AcqRel) {
        set_cap(socket, None);
    }
}
