//! The fast path: Caudal's own HTTP/1.1 connection loop, so that a file
//! body can leave kernel to socket (`sendfile`), which hyper cannot do (it
//! owns the socket and takes bodies as buffers).
//!
//! The loop reads request heads with `httparse` ([`request_head`]), runs
//! the same request pipeline as hyper would (every stage, the access log
//! and the metrics included), writes the response head itself
//! ([`response_head`]) and then the body: a [`SendFile`] range through the
//! kernel, anything else frame by frame ([`socket`]). It keeps the limits of
//! the general path: the header timeout (slowloris), the head-size limit
//! (431), the send timeout, keep-alive and pipelining, graceful shutdown.
//!
//! What it gives up it hands to hyper: a request with a body, `Expect`,
//! `Upgrade` or HTTP/1.0 moves the connection, bytes already read
//! included ([`rewind`]), to hyper for the rest of its life.

use std::future::poll_fn;
use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::{Method, Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::{Service, ServiceExt};
use tower_http::add_extension::AddExtension;

use super::connection::{ConnectionContext, SharedStream};
use super::limits;
use super::request_body::RequestBody;
use crate::body::send_file::{SendFile, SendsFiles};

pub mod request_head;
pub mod response_head;
pub mod rewind;
pub mod socket;

use request_head::{HeadError, Parsed};
use response_head::Framing;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body written from memory yields its worker after each this many bytes.
const YIELD_EVERY: u64 = 1024 * 1024;

/// Read buffer per connection, grown only for a head that needs it.
const READ_BUF: usize = 4096;

/// What bounds a connection, on either loop.
#[derive(Debug, Clone)]
pub struct Settings {
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub send_timeout: Duration,
    /// hyper's settings, for connections served or handed over to it.
    pub hyper: http1::Builder,
}

/// How a connection ended, for the accept loop to log and count.
#[derive(Debug)]
pub enum Ended {
    /// Closed by either side, or cut by an error already logged.
    Closed,
    /// No complete request head within the header timeout.
    HeadTimeout,
    /// hyper's connection ended with an error.
    Hyper(hyper::Error),
}

/// Serves one connection on the fast path. Everything is borrowed from the
/// connection's task, so that an idle connection's future holds each once.
pub async fn serve<S, B>(
    stream: &SharedStream,
    context: &ConnectionContext,
    service: &mut S,
    settings: &Settings,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended
where
    S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError> + Send,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let tcp = stream.tcp();
    let mut buf = BytesMut::new();
    let mut served = 0u64;
    loop {
        // 1. A request head, within the header timeout.
        let deadline = tokio::time::Instant::now() + settings.header_timeout;
        let (request, keep_alive) = loop {
            match request_head::parse(&mut buf, settings.max_header_bytes) {
                Ok(Parsed::Request {
                    request,
                    keep_alive,
                }) => break (request, keep_alive),
                Ok(Parsed::HandOver) => {
                    let io = rewind::Rewind::new(buf.freeze(), stream.clone());
                    let hyper = serve_hyper(
                        io,
                        context.clone(),
                        service.clone(),
                        settings,
                        shutdown.clone(),
                    );
                    return Box::pin(hyper).await;
                }
                Ok(Parsed::Partial) => {}
                Err(error) => {
                    refuse(&tcp, &error, settings.send_timeout).await;
                    return Ended::Closed;
                }
            }
            let idle = buf.is_empty();
            if idle && *shutdown.borrow() {
                return Ended::Closed;
            }
            tokio::select! {
                read = tokio::time::timeout_at(deadline, read_more(&tcp, &mut buf)) => match read {
                    // An idle keep-alive connection simply expires.
                    Err(_) if idle && served > 0 => return Ended::Closed,
                    Err(_) => return Ended::HeadTimeout,
                    Ok(Ok(0) | Err(_)) => return Ended::Closed,
                    Ok(Ok(_)) => {}
                },
                _ = shutdown.changed(), if idle => return Ended::Closed,
            }
        };
        if buf.is_empty() {
            // Nothing pipelined: an idle connection holds no read buffer.
            buf = BytesMut::new();
        }
        // 2. and 3., boxed: their state (the pipeline's future, the body)
        // takes memory only while a request is being answered.
        let answer = answer(
            &tcp, service, *request, keep_alive, context, settings, shutdown,
        );
        if !Box::pin(answer).await {
            return Ended::Closed;
        }
        served += 1;
    }
}

/// Runs the pipeline on `request` and writes its response; whether the
/// connection goes on.
async fn answer<S, B>(
    tcp: &TcpStream,
    service: &mut S,
    request: Request<()>,
    keep_alive: bool,
    context: &ConnectionContext,
    settings: &Settings,
    shutdown: &watch::Receiver<bool>,
) -> bool
where
    S: Service<Request<RequestBody>, Response = Response<B>>,
    S::Error: Into<BoxError> + Send,
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut request = request.map(|()| RequestBody::Empty);
    request.extensions_mut().insert(context.clone());
    request.extensions_mut().insert(SendsFiles);
    let head_request = request.method() == Method::HEAD;
    let answered: Result<_, BoxError> = match service.ready().await {
        Ok(ready) => ready.call(request).await.map_err(Into::into),
        Err(error) => Err(error.into()),
    };
    let response = match answered {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%error, "request pipeline failed");
            return false;
        }
    };
    let close = !keep_alive || *shutdown.borrow() || response_head::asks_close(response.headers());
    match write_response(tcp, response, head_request, close, settings.send_timeout).await {
        Ok(()) if !close => true,
        Ok(()) => {
            let _ = socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Write);
            false
        }
        Err(error) => {
            log_cut(&error);
            false
        }
    }
}

/// Serves a connection with hyper, to its end or a graceful shutdown.
pub async fn serve_hyper<I, S, B>(
    io: I,
    context: ConnectionContext,
    service: S,
    settings: &Settings,
    mut shutdown: watch::Receiver<bool>,
) -> Ended
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError> + Send,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let io = limits::with_send_timeout(io, settings.send_timeout);
    let service = tower::util::MapRequest::new(service, hyper_request as fn(_) -> _);
    let service = TowerToHyperService::new(AddExtension::new(service, context));
    let connection = settings
        .hyper
        .serve_connection(TokioIo::new(Box::pin(io)), service);
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => Some(ended),
        _ = shutdown.wait_for(|stop| *stop) => None,
    };
    let ended = match ended {
        Some(ended) => ended,
        None => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    match ended {
        Ok(()) => Ended::Closed,
        Err(error) => Ended::Hyper(error),
    }
}

fn hyper_request(request: Request<Incoming>) -> Request<RequestBody> {
    request.map(RequestBody::Hyper)
}

/// Reads what the client sent next into `buf`; 0 at its end. The buffer
/// grows only once there is something to read.
async fn read_more(tcp: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        tcp.readable().await?;
        if buf.capacity() - buf.len() < READ_BUF / 4 {
            buf.reserve(READ_BUF);
        }
        match tcp.try_read_buf(buf) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            result => return result,
        }
    }
}

async fn write_response<B>(
    tcp: &TcpStream,
    response: Response<B>,
    head_request: bool,
    close: bool,
    timeout: Duration,
) -> io::Result<()>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = response.into_parts();
    let send = parts.extensions.remove::<SendFile>();
    let framing = response_head::framing(
        parts.status,
        head_request,
        &parts.headers,
        body.size_hint().exact(),
    );
    // A HEAD answer carries the length the GET's body would have, as hyper's.
    if let (true, Some(len)) = (head_request, body.size_hint().exact())
        && len > 0
        && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
        && !(parts.status.is_informational()
            || parts.status == http::StatusCode::NO_CONTENT
            || parts.status == http::StatusCode::NOT_MODIFIED)
    {
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, len.into());
    }
    let mut head = Vec::with_capacity(256 + parts.headers.len() * 32);
    response_head::write(&mut head, parts.status, &parts.headers, framing, close);
    let follows = framing != Framing::None && (send.is_some() || !body.is_end_stream());
    // Heads first: the head leaves in its own packet and the connection
    // yields, so under a burst every waiting request gets its head out
    // before any one body takes the worker.
    socket::write_all(tcp, &head, timeout, false).await?;
    if follows {
        tokio::task::yield_now().await;
    }

    let mut body = std::pin::pin!(body);
    match (framing, send) {
        (Framing::None, _) => Ok(()),
        (Framing::Length(len), Some(send)) => {
            if send.range.end() - send.range.start() + 1 != len {
                return Err(io::Error::other("file range and Content-Length disagree"));
            }
            socket::send_file(tcp, &send, timeout).await?;
            // The (empty) body is polled to its end: the access log ends there.
            while poll_fn(|cx| body.as_mut().poll_frame(cx)).await.is_some() {}
            Ok(())
        }
        (framing, _) => write_body(tcp, body, framing, timeout).await,
    }
}

/// Writes a body frame by frame, as `framing` says.
async fn write_body<B>(
    tcp: &TcpStream,
    mut body: std::pin::Pin<&mut B>,
    framing: Framing,
    timeout: Duration,
) -> io::Result<()>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut written = 0u64;
    loop {
        let next = poll_fn(|cx| {
            body.as_mut().poll_frame(cx).map(|frame| {
                frame.map(|frame| frame.map_err(|error| io::Error::other(error.into())))
            })
        })
        .await;
        let Some(frame) = next else { break };
        let frame = frame?;
        let Ok(mut data) = frame.into_data() else {
            continue; // trailers: not sent over HTTP/1.1 here
        };
        let len = data.remaining();
        if len == 0 {
            continue;
        }
        written += len as u64;
        if framing == Framing::Chunked {
            let size = format!("{len:x}\r\n");
            socket::write_all(tcp, size.as_bytes(), timeout, true).await?;
        }
        while data.has_remaining() {
            let chunk = data.chunk();
            let n = chunk.len();
            socket::write_all(tcp, chunk, timeout, framing == Framing::Chunked).await?;
            data.advance(n);
        }
        if framing == Framing::Chunked {
            socket::write_all(tcp, b"\r\n", timeout, false).await?;
        }
        // Turns, as `sendfile`'s: one MiB, then the other connections.
        if written / YIELD_EVERY != (written - len as u64) / YIELD_EVERY {
            tokio::task::yield_now().await;
        }
    }
    match framing {
        Framing::Chunked => socket::write_all(tcp, b"0\r\n\r\n", timeout, false).await,
        Framing::Length(len) if written != len => Err(io::Error::other(format!(
            "body ended after {written} of {len} bytes"
        ))),
        _ => Ok(()),
    }
}

/// Answers a head that is refused, then closes without resetting what the
/// client is still sending (so it reads the answer).
async fn refuse(tcp: &TcpStream, error: &HeadError, timeout: Duration) {
    let status = match error {
        HeadError::TooLarge(_) => "431 Request Header Fields Too Large",
        HeadError::Malformed(_) => "400 Bad Request",
    };
    tracing::debug!(%error, "request head refused");
    let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    if socket::write_all(tcp, answer.as_bytes(), timeout, false)
        .await
        .is_err()
    {
        return;
    }
    let _ = socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Write);
    // Lingering close: read and drop what is still arriving, bounded.
    let mut sink = BytesMut::with_capacity(READ_BUF);
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut drained = 0;
        while drained < 1 << 20 {
            sink.clear();
            match read_more(tcp, &mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

fn log_cut(error: &io::Error) {
    if error.kind() == io::ErrorKind::TimedOut {
        tracing::info!(target: "caudal::refused", %error, "connection closed");
    } else if error.kind() == io::ErrorKind::Other {
        tracing::warn!(%error, "aborting response body");
    } else {
        tracing::debug!(%error, "connection ended while sending");
    }
}
