//! The two TCP socket options no well-kept crate wraps: `SO_MAX_PACING_RATE`
//! (the kernel paces the connection's packets; TCP does it itself without
//! the `fq` qdisc since Linux 4.13) and `TCP_INFO` (the kernel's view of the
//! connection: RTT, congestion window, retransmissions, pacing rate).
//!
//! This is the one module with `unsafe`: each block is one `setsockopt` /
//! `getsockopt` call on a descriptor the caller borrows, with a buffer whose
//! size is passed beside it.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The value that means "no cap".
const UNLIMITED: u64 = u64::MAX;

/// Caps the connection at `bytes_per_second` (`None`: uncapped).
pub fn set_max_pacing_rate(fd: BorrowedFd<'_>, bytes_per_second: Option<u64>) -> io::Result<()> {
    let rate: u64 = bytes_per_second.unwrap_or(UNLIMITED);
    // SAFETY: `fd` is a live descriptor for the borrow; `rate` is a u64 on
    // the stack and its exact size is passed, as the kernel (≥ 4.20) reads
    // a u64 when given 8 bytes.
    let result = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MAX_PACING_RATE,
            (&rate as *const u64).cast(),
            std::mem::size_of::<u64>() as libc::socklen_t,
        )
    };
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() != Some(libc::EINVAL) {
        return Err(error);
    }
    // Older kernels take a u32 (bytes per second, ~0 for no cap).
    let rate32: u32 = u32::try_from(rate).unwrap_or(u32::MAX);
    // SAFETY: as above, with a u32 and its size.
    let result = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MAX_PACING_RATE,
            (&rate32 as *const u32).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What `TCP_INFO` tells of a connection (the fields Caudal uses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Smoothed RTT, microseconds.
    pub rtt_us: u32,
    /// Lowest RTT seen, microseconds.
    pub min_rtt_us: u32,
    /// Congestion window, segments.
    pub snd_cwnd: u32,
    /// Sender's maximum segment size, bytes.
    pub snd_mss: u32,
    /// The peer's advertised receive window, bytes.
    pub snd_wnd: u32,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    /// The kernel's current pacing rate, bytes per second.
    pub pacing_rate: u64,
    /// `SO_MAX_PACING_RATE`, bytes per second (`u64::MAX`: none).
    pub max_pacing_rate: u64,
    /// The last measured delivery rate, bytes per second.
    pub delivery_rate: u64,
    /// Bytes the peer acknowledged.
    pub bytes_acked: u64,
    /// Bytes retransmitted.
    pub bytes_retrans: u64,
    /// Bytes in the send queue not yet sent.
    pub notsent_bytes: u32,
}

impl TcpInfo {
    /// Whether a pacing cap is set.
    pub fn is_capped(&self) -> bool {
        self.max_pacing_rate != UNLIMITED && self.max_pacing_rate != u64::from(u32::MAX)
    }

    /// Throughput the window allows, bits per second (CTA-5006's example
    /// for `etp`: 8 × min(cwnd × mss, rwnd) / rtt); `None` before an RTT.
    pub fn window_throughput(&self) -> Option<f64> {
        if self.rtt_us == 0 {
            return None;
        }
        let cwnd_bytes = f64::from(self.snd_cwnd) * f64::from(self.snd_mss);
        let window = if self.snd_wnd > 0 {
            cwnd_bytes.min(f64::from(self.snd_wnd))
        } else {
            cwnd_bytes
        };
        Some(window * 8.0 * 1e6 / f64::from(self.rtt_us))
    }
}

/// The connection's `TCP_INFO`.
pub fn tcp_info(fd: BorrowedFd<'_>) -> io::Result<TcpInfo> {
    // SAFETY: `tcp_info` is plain integers, valid when zeroed.
    let mut raw: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `fd` is live for the borrow; `raw` is writable for `len`
    // bytes and the kernel writes at most `len` (fewer on older kernels:
    // the rest stays zero).
    let result = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut raw as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpInfo {
        rtt_us: raw.tcpi_rtt,
        min_rtt_us: raw.tcpi_min_rtt,
        snd_cwnd: raw.tcpi_snd_cwnd,
        snd_mss: raw.tcpi_snd_mss,
        snd_wnd: raw.tcpi_snd_wnd,
        total_retrans: raw.tcpi_total_retrans,
        pacing_rate: raw.tcpi_pacing_rate,
        max_pacing_rate: raw.tcpi_max_pacing_rate,
        delivery_rate: raw.tcpi_delivery_rate,
        bytes_acked: raw.tcpi_bytes_acked,
        bytes_retrans: raw.tcpi_bytes_retrans,
        notsent_bytes: raw.tcpi_notsent_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_pacing_cap_is_set_read_back_and_removed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let before = tcp_info(server.as_fd()).expect("tcp_info");
        assert!(!before.is_capped(), "{before:?}");
        set_max_pacing_rate(server.as_fd(), Some(375_000)).expect("set");
        let capped = tcp_info(server.as_fd()).expect("tcp_info");
        assert_eq!(capped.max_pacing_rate, 375_000);
        assert!(capped.is_capped());
        set_max_pacing_rate(server.as_fd(), None).expect("reset");
        assert!(!tcp_info(server.as_fd()).expect("tcp_info").is_capped());
        drop(client);
    }
}
