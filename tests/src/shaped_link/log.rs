//! What the link says happened: one [`LogEntry`] per request head, closed
//! connection and rate step, and per connection the counters that let a
//! request's entry say when its answer ended.
//!
//! When a response *ends* is not in the bytes (the link does not parse
//! responses, which may be chunked or cut short). It is approximated per
//! connection: the time the last downstream byte reached the client before
//! the next request head on that connection, or before it closed. HTTP/1.1
//! as browsers speak it sends the next request on a connection only after
//! the previous answer is complete, so on a keep-alive connection this is
//! the answer's last byte; for an answer cut short (an aborted fetch) it is
//! the last byte that got through.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;

/// One line of the link's log (JSONL when written out). Times are
/// milliseconds since the link's clock started (see
/// [`super::ShapedLink::reset`]).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LogEntry {
    /// A request head the client sent, at the time it reached the link.
    Request {
        t_ms: f64,
        conn: u64,
        method: String,
        path: String,
        /// The `Range` header, if any.
        range: Option<String>,
        /// When the answer's last byte reached the client (see the module
        /// docs); `None` while nothing came back.
        end_ms: Option<f64>,
        /// Bytes delivered on the connection from this request head to the
        /// next one (or the close): the answer, its head included.
        bytes_down: u64,
    },
    /// A connection ended (either side closed, or the link cut it).
    Close {
        t_ms: f64,
        conn: u64,
        /// Bytes delivered to the client on this connection.
        bytes_down: u64,
        /// Bytes the client sent on this connection.
        bytes_up: u64,
    },
    /// The downstream rate changed (a trace step).
    Rate { t_ms: f64, bits_per_second: u64 },
    /// A connection's totals when the log was written (see
    /// [`super::ShapedLink::log_jsonl`]): one per connection, open or closed.
    Connection {
        conn: u64,
        bytes_down: u64,
        bytes_up: u64,
        open: bool,
    },
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One connection's counters.
#[derive(Debug, Default)]
pub(super) struct Conn {
    pub(super) down: AtomicU64,
    pub(super) up: AtomicU64,
    pub(super) closed: AtomicBool,
    /// `f64` bits of the time (ms) the last downstream byte reached the
    /// client; 0 (the bits of 0.0) before any.
    last_down_ms: AtomicU64,
    /// The request whose answer is under way: its index in the log and
    /// `down` when its head arrived.
    open_request: Mutex<Option<(usize, u64)>>,
}

impl Conn {
    pub(super) fn delivered(&self, bytes: u64, at_ms: f64) {
        self.down.fetch_add(bytes, Ordering::SeqCst);
        self.last_down_ms.store(at_ms.to_bits(), Ordering::SeqCst);
    }

    fn last_down_ms(&self) -> f64 {
        f64::from_bits(self.last_down_ms.load(Ordering::SeqCst))
    }

    /// A new request head, logged at `index`: the previous answer on this
    /// connection ends here.
    pub(super) fn request(&self, log: &mut [LogEntry], index: usize) {
        self.settle(log);
        *lock(&self.open_request) = Some((index, self.down.load(Ordering::SeqCst)));
    }

    /// Writes the end and the bytes of the answer under way into its entry
    /// and forgets it (the next head or the close has come).
    pub(super) fn settle(&self, log: &mut [LogEntry]) {
        if let Some(open) = lock(&self.open_request).take() {
            self.fill(log, open);
        }
    }

    /// The same, for a copy of the log, leaving the answer open.
    pub(super) fn peek(&self, log: &mut [LogEntry]) {
        if let Some(open) = *lock(&self.open_request) {
            self.fill(log, open);
        }
    }

    fn fill(&self, log: &mut [LogEntry], (index, down_at_head): (usize, u64)) {
        let bytes = self
            .down
            .load(Ordering::SeqCst)
            .saturating_sub(down_at_head);
        let last = self.last_down_ms();
        if let Some(LogEntry::Request {
            t_ms,
            end_ms,
            bytes_down,
            ..
        }) = log.get_mut(index)
        {
            *bytes_down = bytes;
            *end_ms = (bytes > 0 && last >= *t_ms).then_some(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(t_ms: f64) -> LogEntry {
        LogEntry::Request {
            t_ms,
            conn: 0,
            method: "GET".into(),
            path: "/a".into(),
            range: None,
            end_ms: None,
            bytes_down: 0,
        }
    }

    fn end_and_bytes(entry: &LogEntry) -> (Option<f64>, u64) {
        match entry {
            LogEntry::Request {
                end_ms, bytes_down, ..
            } => (*end_ms, *bytes_down),
            _ => (None, 0),
        }
    }

    #[test]
    fn an_answer_ends_at_the_last_byte_before_the_next_head() {
        let conn = Conn::default();
        let mut log = vec![request(10.0)];
        conn.request(&mut log, 0);
        conn.delivered(300, 50.0);
        conn.delivered(700, 80.0);
        log.push(request(90.0));
        conn.request(&mut log, 1);
        assert_eq!(end_and_bytes(&log[0]), (Some(80.0), 1000));
        // The second answer is still open: a peek fills a copy, the close
        // settles it.
        conn.delivered(5, 120.0);
        let mut copy = log.clone();
        conn.peek(&mut copy);
        assert_eq!(end_and_bytes(&copy[1]), (Some(120.0), 5));
        assert_eq!(end_and_bytes(&log[1]), (None, 0));
        conn.settle(&mut log);
        assert_eq!(end_and_bytes(&log[1]), (Some(120.0), 5));
    }

    #[test]
    fn an_unanswered_request_has_no_end() {
        let conn = Conn::default();
        conn.delivered(10, 5.0);
        let mut log = vec![request(10.0)];
        conn.request(&mut log, 0);
        conn.settle(&mut log);
        assert_eq!(end_and_bytes(&log[0]), (None, 0));
    }
}
