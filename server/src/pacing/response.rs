//! One media response's pace while it is sent: the cap the rule chose, put
//! on the connection's socket (`SO_MAX_PACING_RATE`) or, where the kernel
//! cannot pace or `--pace-by app` says so, enforced by a token bucket the
//! body's writer waits on; decided again as the body goes when [`Repace`]
//! says so; and taken off when the body ends or is dropped, so that the
//! next request on a keep-alive connection starts uncapped.
//!
//! Both writers report to it: the response body (each frame, the general
//! path) and the `sendfile` loop (each call, the zero-copy path, through
//! [`SendProgress`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::repace::Repace;
use super::socket;
use super::token_bucket::TokenBucket;
use crate::body::send_file::SendProgress;
use crate::net::connection::SocketHandle;

/// `--pace-by`: who enforces a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaceBy {
    /// The kernel (`SO_MAX_PACING_RATE`), else the application.
    #[default]
    Kernel,
    /// Always the application's token bucket.
    App,
}

impl PaceBy {
    pub fn parse(value: &str) -> Result<PaceBy, String> {
        match value {
            "kernel" => Ok(PaceBy::Kernel),
            "app" => Ok(PaceBy::App),
            _ => Err(format!("expected kernel or app, not {value:?}")),
        }
    }
}

/// Who enforces the cap in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcer {
    Kernel,
    App,
}

/// A media response's pace; shared by its body and its transport.
#[derive(Debug)]
pub struct ResponsePace {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    socket: SocketHandle,
    by: PaceBy,
    /// The socket carries a cap to take off.
    on_socket: bool,
    /// The application's bucket, while it enforces a cap.
    bucket: Option<TokenBucket>,
    repace: Option<Repace>,
    ended: bool,
}

impl ResponsePace {
    /// Applies `cap` (bytes per second; `None`: none yet) and says who
    /// enforces it.
    pub fn start(
        socket: SocketHandle,
        by: PaceBy,
        cap: Option<u64>,
        repace: Option<Repace>,
        now: Instant,
    ) -> (ResponsePace, Option<Enforcer>) {
        let mut state = State {
            socket,
            by,
            on_socket: false,
            bucket: None,
            repace,
            ended: false,
        };
        let enforcer = state.apply(cap, now);
        let pace = ResponsePace {
            state: Mutex::new(state),
        };
        (pace, enforcer)
    }

    /// `len` body bytes left at `now`: how long the writer waits before the
    /// next piece (zero unless the application enforces a cap).
    pub fn sent(&self, len: u64, now: Instant) -> Duration {
        let mut state = self.lock();
        if state.ended {
            return Duration::ZERO;
        }
        if let Some(cap) = state.repace.as_mut().and_then(|r| r.sent(len, now)) {
            state.apply(cap, now);
        }
        state
            .bucket
            .as_mut()
            .map_or(Duration::ZERO, |bucket| bucket.take(len, now))
    }

    /// The body ended: the cap comes off.
    pub fn end(&self) {
        let mut state = self.lock();
        if !state.ended {
            state.ended = true;
            state.apply(None, Instant::now());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl State {
    /// Puts `cap` in force (`None`: uncapped); who enforces it.
    fn apply(&mut self, cap: Option<u64>, now: Instant) -> Option<Enforcer> {
        let Some(bytes_per_second) = cap else {
            if std::mem::take(&mut self.on_socket) {
                socket::set_cap(&self.socket, None);
            }
            self.bucket = None;
            return None;
        };
        if self.by == PaceBy::Kernel && socket::set_cap(&self.socket, Some(bytes_per_second)) {
            self.on_socket = true;
            self.bucket = None;
            return Some(Enforcer::Kernel);
        }
        if std::mem::take(&mut self.on_socket) {
            socket::set_cap(&self.socket, None);
        }
        match &mut self.bucket {
            Some(bucket) => bucket.set_rate(bytes_per_second, now),
            None => self.bucket = Some(TokenBucket::new(bytes_per_second, now)),
        }
        Some(Enforcer::App)
    }
}

impl SendProgress for ResponsePace {
    fn sent(&self, bytes: u64, now: Instant) -> Duration {
        ResponsePace::sent(self, bytes, now)
    }

    fn max_piece(&self) -> Option<u64> {
        self.lock().bucket.as_ref().map(TokenBucket::burst)
    }
}

impl Drop for ResponsePace {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_the_kernel_refuses_the_cap_the_application_enforces_it() {
        let t0 = Instant::now();
        let (pace, by) = ResponsePace::start(
            SocketHandle::closed(),
            PaceBy::Kernel,
            Some(1_000_000),
            None,
            t0,
        );
        assert_eq!(by, Some(Enforcer::App));
        assert_eq!(pace.sent(65_536, t0), Duration::ZERO, "the first burst");
        let wait = pace.sent(100_000, t0);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert_eq!(SendProgress::max_piece(&pace), Some(65_536));
        pace.end();
        assert_eq!(pace.sent(10_000_000, t0), Duration::ZERO, "ended: no wait");
    }

    #[test]
    fn an_uncapped_response_never_waits() {
        let t0 = Instant::now();
        let (pace, by) = ResponsePace::start(SocketHandle::closed(), PaceBy::App, None, None, t0);
        assert_eq!(by, None);
        assert_eq!(pace.sent(100_000_000, t0), Duration::ZERO);
        assert_eq!(SendProgress::max_piece(&pace), None);
    }
}
