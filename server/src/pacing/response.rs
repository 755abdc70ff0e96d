//! One media response's pace while it is sent: the cap the rule chose, put
//! on the connection's socket (`SO_MAX_PACING_RATE`) or, where the kernel
//! cannot pace or `--pace-by app` says so, enforced by a token bucket the
//! body's writer waits on; decided again as the body goes when [`Repace`]
//! says so; and taken off when the body ends or is dropped, so that the
//! next request on a keep-alive connection starts uncapped.
//!
//! Under `--max-egress` the cap in force is the lower of the rule's and the
//! response's share of the budget ([`super::egress`]), looked at again as
//! the shares move.
//!
//! Both writers report to it: the response body (each frame, the general
//! path) and the `sendfile` loop (each call, the zero-copy path, through
//! [`SendProgress`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::egress::{Demand, Egress, Ticket};
use super::repace::Repace;
use super::socket;
use super::token_bucket::TokenBucket;
use crate::body::send_file::SendProgress;
use crate::net::connection::SocketHandle;

/// Under a budget: the smallest piece, and the piece of an uncapped response.
const BUDGET_PIECE_MIN: u64 = 64 * 1024;
const BUDGET_PIECE_UNCAPPED: u64 = 256 * 1024;

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
    /// The socket carries this response's cap: its owner number.
    on_socket: Option<u64>,
    /// The application's bucket, while it enforces a cap.
    bucket: Option<TokenBucket>,
    repace: Option<Repace>,
    /// The rule's cap (bytes per second), as last decided.
    rule_cap: Option<u64>,
    /// The response's place under `--max-egress`, what it asked and its share.
    budget: Option<(Ticket, Demand, u64)>,
    /// The cap in force: the lower of the rule's and the share.
    in_force: Option<u64>,
    ended: bool,
}

/// How a response starts out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// Who enforces the cap, if any.
    pub enforcer: Option<Enforcer>,
    /// The cap in force, bytes per second.
    pub cap: Option<u64>,
    /// The budget's share, when under `--max-egress`.
    pub share: Option<u64>,
}

impl ResponsePace {
    /// Applies the rule's `cap` (bytes per second; `None`: none yet) and,
    /// under a budget, the response's share of it.
    pub fn start(
        socket: SocketHandle,
        by: PaceBy,
        cap: Option<u64>,
        repace: Option<Repace>,
        budget: Option<(&std::sync::Arc<Egress>, Demand)>,
        now: Instant,
    ) -> (ResponsePace, Started) {
        let budget = budget.map(|(egress, demand)| {
            let (ticket, share) = egress.join(demand);
            (ticket, demand, share)
        });
        let share = budget.as_ref().map(|(_, _, share)| *share);
        let mut state = State {
            socket,
            by,
            on_socket: None,
            bucket: None,
            repace,
            rule_cap: cap,
            budget,
            in_force: None,
            ended: false,
        };
        let in_force = lower(cap, share);
        let enforcer = state.apply(in_force, now);
        let pace = ResponsePace {
            state: Mutex::new(state),
        };
        let started = Started {
            enforcer,
            cap: in_force,
            share,
        };
        (pace, started)
    }

    /// `len` body bytes left at `now`: how long the writer waits before the
    /// next piece (zero unless the application enforces a cap).
    pub fn sent(&self, len: u64, now: Instant) -> Duration {
        let mut state = self.lock();
        if state.ended {
            return Duration::ZERO;
        }
        let state = &mut *state;
        if let Some(cap) = state.repace.as_mut().and_then(|r| r.sent(len, now)) {
            state.rule_cap = cap;
            if let Some((ticket, demand, share)) = &mut state.budget {
                demand.want = cap;
                *share = ticket.update(*demand);
            }
        }
        if let Some((ticket, _, share)) = &mut state.budget
            && let Some(moved) = ticket.moved()
        {
            *share = moved;
        }
        let in_force = lower(state.rule_cap, state.budget.as_ref().map(|b| b.2));
        if in_force != state.in_force {
            state.apply(in_force, now);
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
            state.bucket = None;
            state.in_force = None;
            // Its place under the budget: the others' shares move when it
            // leaves — once what the socket (and hyper's buffer) still hold
            // has left too, when the kernel paces it.
            let ticket = state.budget.take().map(|(ticket, _, _)| ticket);
            match state.on_socket.take() {
                Some(owner) => socket::release_when_sent(state.socket.clone(), owner, ticket),
                None => drop(ticket),
            }
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
        self.in_force = cap;
        let Some(bytes_per_second) = cap else {
            if self.on_socket.take().is_some() {
                socket::set_cap(&self.socket, None);
            }
            self.bucket = None;
            return None;
        };
        if self.by == PaceBy::Kernel && socket::set_cap(&self.socket, Some(bytes_per_second)) {
            if self.on_socket.is_none() {
                self.on_socket = Some(socket::take(&self.socket));
            }
            self.bucket = None;
            return Some(Enforcer::Kernel);
        }
        if self.on_socket.take().is_some() {
            socket::set_cap(&self.socket, None);
        }
        match &mut self.bucket {
            Some(bucket) => bucket.set_rate(bytes_per_second, now),
            None => self.bucket = Some(TokenBucket::new(bytes_per_second, now)),
        }
        Some(Enforcer::App)
    }
}

/// The lower of two caps, `None` meaning none.
fn lower(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl SendProgress for ResponsePace {
    fn sent(&self, bytes: u64, now: Instant) -> Duration {
        ResponsePace::sent(self, bytes, now)
    }

    /// A burst under the token bucket; under a budget, about 100 ms at the
    /// cap (so that a moved share is read again soon); else no limit.
    fn max_piece(&self) -> Option<u64> {
        let state = self.lock();
        if let Some(bucket) = &state.bucket {
            return Some(bucket.burst());
        }
        state.budget.as_ref().map(|_| {
            state.in_force.map_or(BUDGET_PIECE_UNCAPPED, |cap| {
                (cap / 10).max(BUDGET_PIECE_MIN)
            })
        })
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
        let (pace, started) = ResponsePace::start(
            SocketHandle::closed(),
            PaceBy::Kernel,
            Some(1_000_000),
            None,
            None,
            t0,
        );
        assert_eq!(started.enforcer, Some(Enforcer::App));
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
        let (pace, started) =
            ResponsePace::start(SocketHandle::closed(), PaceBy::App, None, None, None, t0);
        assert_eq!(started.enforcer, None);
        assert_eq!(pace.sent(100_000_000, t0), Duration::ZERO);
        assert_eq!(SendProgress::max_piece(&pace), None);
    }

    #[test]
    fn under_a_budget_the_cap_is_the_lower_of_the_rule_and_the_share_as_it_moves() {
        let t0 = Instant::now();
        let egress = Egress::new(2_000_000, Duration::from_secs(4), Default::default());
        let calm = Demand {
            buffer: Duration::from_secs(20),
            floor: 375_000,
            want: Some(1_100_000),
        };
        let (pace, started) = ResponsePace::start(
            SocketHandle::closed(),
            PaceBy::App,
            calm.want,
            None,
            Some((&egress, calm)),
            t0,
        );
        assert_eq!(
            (started.cap, started.share),
            (Some(1_100_000), Some(1_100_000))
        );
        // A viewer starts: the calm one keeps only its floor.
        let starting = Demand {
            buffer: Duration::ZERO,
            floor: 375_000,
            want: None,
        };
        let (other, started) = ResponsePace::start(
            SocketHandle::closed(),
            PaceBy::App,
            None,
            None,
            Some((&egress, starting)),
            t0,
        );
        assert_eq!(
            started.cap,
            Some(1_625_000),
            "uncapped by the rule, capped by the budget"
        );
        pace.sent(1, t0);
        assert_eq!(pace.lock().in_force, Some(375_000));
        // It ends: the calm viewer's cap goes back to the rule's.
        other.end();
        pace.sent(1, t0);
        assert_eq!(pace.lock().in_force, Some(1_100_000));
        pace.end();
        assert_eq!(egress.allotted(), 0, "both left the budget");
    }
}
