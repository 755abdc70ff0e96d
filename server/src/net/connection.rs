//! What a request knows of the connection it came on.
//!
//! The accept loop wraps each accepted socket in a [`SharedStream`] (the I/O
//! hyper reads and writes) and puts a [`ConnectionContext`] — peer address,
//! local address and a [`SocketHandle`] — into the extensions of every
//! request of that connection, so any stage can read it: the access log its
//! client address, later stages the socket itself (pacing, `TCP_INFO`).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The connection a request arrived on; cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    peer: SocketAddr,
    local: SocketAddr,
    socket: SocketHandle,
}

impl ConnectionContext {
    pub fn new(peer: SocketAddr, local: SocketAddr, socket: SocketHandle) -> Self {
        ConnectionContext {
            peer,
            local,
            socket,
        }
    }

    /// The client's address (as the socket sees it: no proxy headers).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The address of ours the client connected to.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn socket(&self) -> &SocketHandle {
        &self.socket
    }
}

/// A handle on the connection's socket for socket options. It does not keep
/// the socket open: once hyper is done with the connection, the socket
/// closes as before and [`SocketHandle::with`] returns `None`.
#[derive(Debug, Clone)]
pub struct SocketHandle {
    tcp: Weak<TcpStream>,
    cap: Arc<CapSlot>,
}

/// Which response's pacing cap the socket carries, so that one response's
/// late reset never takes the next one's cap off (`crate::pacing::socket`).
#[derive(Debug, Default)]
pub struct CapSlot {
    /// Moves each time a response takes the socket's cap.
    pub owner: AtomicU64,
    /// A cap is on the socket, left by a response that has ended, until its
    /// last bytes have left.
    pub leftover: AtomicBool,
}

impl SocketHandle {
    /// A handle whose connection is gone (every option refused): for tests.
    #[cfg(test)]
    pub fn closed() -> SocketHandle {
        SocketHandle {
            tcp: Weak::new(),
            cap: Arc::default(),
        }
    }

    /// Runs `f` on the socket while the connection is still open.
    pub fn with<R>(&self, f: impl FnOnce(socket2::SockRef<'_>) -> R) -> Option<R> {
        let stream = self.tcp.upgrade()?;
        Some(f(socket2::SockRef::from(&*stream)))
    }

    /// The connection's cap owner.
    pub fn cap_slot(&self) -> &CapSlot {
        &self.cap
    }
}

/// The accepted socket as hyper's I/O, shared with the connection's
/// [`SocketHandle`]s. Reads and writes are tokio's readiness-based ones, as
/// `TcpStream`'s own `AsyncRead`/`AsyncWrite` do.
#[derive(Debug, Clone)]
pub struct SharedStream(Arc<TcpStream>, Arc<CapSlot>);

impl SharedStream {
    pub fn new(stream: TcpStream) -> Self {
        SharedStream(Arc::new(stream), Arc::default())
    }

    /// The socket itself, for the fast path's own reads and writes.
    pub fn tcp(&self) -> Arc<TcpStream> {
        self.0.clone()
    }

    pub fn handle(&self) -> SocketHandle {
        SocketHandle {
            tcp: Arc::downgrade(&self.0),
            cap: self.1.clone(),
        }
    }
}

/// Retries `op` until the socket is ready for it, the way tokio's own
/// `poll_read`/`poll_write` do: readiness is cleared when `op` would block.
fn poll_io<T>(
    cx: &mut Context<'_>,
    mut poll_ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    mut op: impl FnMut() -> io::Result<T>,
) -> Poll<io::Result<T>> {
    loop {
        ready!(poll_ready(cx))?;
        match op() {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            result => return Poll::Ready(result),
        }
    }
}

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = &*self.0;
        poll_io(
            cx,
            |cx| stream.poll_read_ready(cx),
            || stream.try_read_buf(buf),
        )
        .map_ok(|_| ())
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = &*self.0;
        poll_io(
            cx,
            |cx| stream.poll_write_ready(cx),
            || stream.try_write(buf),
        )
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = &*self.0;
        poll_io(
            cx,
            |cx| stream.poll_write_ready(cx),
            || stream.try_write_vectored(bufs),
        )
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // As tokio's `TcpStream`: a peer already gone is not an error.
        match socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write) {
            Err(error) if error.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (SharedStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr);
        let (accepted, client) = tokio::join!(listener.accept(), client);
        let (server, _) = accepted.expect("accept");
        (SharedStream::new(server), client.expect("connect"))
    }

    #[tokio::test]
    async fn the_shared_stream_carries_bytes_both_ways_and_shuts_down() {
        let (mut server, mut client) = pair().await;
        client.write_all(b"ping").await.expect("client write");
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.expect("server read");
        assert_eq!(&got, b"ping");
        server.write_all(b"pong").await.expect("server write");
        server.shutdown().await.expect("shutdown");
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.expect("client read");
        assert_eq!(
            rest, b"pong",
            "the client sees the bytes, then end of stream"
        );
    }

    #[tokio::test]
    async fn a_socket_handle_reaches_the_socket_while_the_connection_lives() {
        let (server, _client) = pair().await;
        let handle = server.handle();
        let set = handle.with(|socket| socket.set_tcp_nodelay(true));
        assert!(matches!(set, Some(Ok(()))));
        assert_eq!(
            handle.with(|socket| socket.tcp_nodelay().ok()).flatten(),
            Some(true)
        );
        drop(server);
        assert!(
            handle.with(|_| ()).is_none(),
            "a handle does not keep a closed connection's socket"
        );
    }
}
