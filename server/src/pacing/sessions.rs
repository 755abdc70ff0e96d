//! Playback sessions as the server sees them: one per CMCD `sid`, or — for
//! a player that sends no CMCD — one per client address and file. A session
//! remembers what the rule needs between requests: the last buffer length
//! and bit rate the player reported, its stalls, and for players without
//! CMCD an estimate of their buffer from the media handed out ahead of the
//! time elapsed (a request that does not continue where the last one ended
//! is a seek: the estimate starts again).
//!
//! Bounded: at most [`MAX_SESSIONS`], idle ones forgotten after
//! [`IDLE_FORGET`]. Time is passed in, so the logic is tested without a clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Sessions remembered at once; the longest idle goes first beyond it.
pub const MAX_SESSIONS: usize = 10_000;
/// A session with no request this long is forgotten.
pub const IDLE_FORGET: Duration = Duration::from_secs(120);
/// A session counts as active when it asked within this.
pub const ACTIVE_WITHIN: Duration = Duration::from_secs(30);
/// A request starting this close to where the last one ended continues it
/// (players re-ask a few bytes across a cancelled request).
const CONTINUES_WITHIN: u64 = 256 * 1024;

/// Who a session is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionKey {
    /// CMCD `sid`.
    Cmcd(String),
    /// No CMCD: a client address and the path it plays.
    Client(IpAddr, String),
}

/// What is remembered of one session.
#[derive(Debug, Clone)]
pub struct Session {
    pub first_seen: Instant,
    pub last_seen: Instant,
    pub requests: u64,
    /// Requests that said the buffer had run dry (`bs`).
    pub stalls: u64,
    /// The last buffer length reported.
    pub buffer: Option<Duration>,
    /// Estimate for players without CMCD: when the current run of
    /// contiguous requests began, and the media seconds handed out since.
    run_started: Instant,
    run_media_seconds: f64,
    /// Where the last request ended (exclusive).
    next_offset: Option<u64>,
}

/// One request, as the session table takes it.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub now: Instant,
    /// The player's own report (CMCD `bl`), if any.
    pub buffer: Option<Duration>,
    pub stalled: bool,
    /// The byte range asked for (`start..end`), if it is known.
    pub range: Option<(u64, u64)>,
    /// The media's bytes per second, if known (for the estimate).
    pub bytes_per_second: Option<f64>,
}

/// What the table tells the rule about a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The buffer: as reported, or estimated.
    pub buffer: Option<Duration>,
    /// The request does not continue the last one (or is the first).
    pub starts_a_run: bool,
}

/// The session table.
#[derive(Debug, Default)]
pub struct Sessions {
    sessions: HashMap<SessionKey, Session>,
    last_prune: Option<Instant>,
    /// [`Sessions::active`] as last counted, and when: counted again when a
    /// session is new or a second has passed, not on every request (a
    /// count walks every session).
    active: usize,
    counted_at: Option<Instant>,
}

impl Sessions {
    /// Records a request of `key`'s session, and tells what the rule needs.
    pub fn seen(&mut self, key: SessionKey, seen: Seen) -> Estimate {
        self.prune(seen.now);
        let recount = !self.sessions.contains_key(&key)
            || self
                .counted_at
                .is_none_or(|at| seen.now.saturating_duration_since(at) >= Duration::from_secs(1));
        let session = self.sessions.entry(key).or_insert_with(|| Session {
            first_seen: seen.now,
            last_seen: seen.now,
            requests: 0,
            stalls: 0,
            buffer: None,
            run_started: seen.now,
            run_media_seconds: 0.0,
            next_offset: None,
        });
        session.last_seen = seen.now;
        session.requests += 1;
        session.stalls += u64::from(seen.stalled);
        if seen.buffer.is_some() {
            session.buffer = seen.buffer;
        }
        let starts_a_run = match (seen.range, session.next_offset) {
            (Some((start, _)), Some(next)) => start.abs_diff(next) > CONTINUES_WITHIN,
            _ => true,
        };
        if starts_a_run {
            session.run_started = seen.now;
            session.run_media_seconds = 0.0;
        }
        let estimated = seen.bytes_per_second.filter(|rate| *rate > 0.0).map(|_| {
            let elapsed = seen.now.saturating_duration_since(session.run_started);
            Duration::from_secs_f64((session.run_media_seconds - elapsed.as_secs_f64()).max(0.0))
        });
        if let (Some((start, end)), Some(rate)) = (seen.range, seen.bytes_per_second) {
            if rate > 0.0 && end > start {
                session.run_media_seconds += (end - start) as f64 / rate;
            }
            session.next_offset = Some(end);
        }
        if recount {
            self.active = self.active(seen.now);
            self.counted_at = Some(seen.now);
        }
        Estimate {
            buffer: seen.buffer.or(if starts_a_run { None } else { estimated }),
            starts_a_run,
        }
    }

    /// Active sessions as last counted (at most a second old).
    pub fn active_count(&self) -> usize {
        self.active
    }

    /// Sessions that asked within [`ACTIVE_WITHIN`] of `now`.
    pub fn active(&self, now: Instant) -> usize {
        self.sessions
            .values()
            .filter(|s| now.saturating_duration_since(s.last_seen) <= ACTIVE_WITHIN)
            .count()
    }

    pub fn get(&self, key: &SessionKey) -> Option<&Session> {
        self.sessions.get(key)
    }

    /// Forgets idle sessions (at most once a second), and the longest idle
    /// beyond [`MAX_SESSIONS`].
    fn prune(&mut self, now: Instant) {
        if self
            .last_prune
            .is_some_and(|last| now.saturating_duration_since(last) < Duration::from_secs(1))
            && self.sessions.len() < MAX_SESSIONS
        {
            return;
        }
        self.last_prune = Some(now);
        self.sessions
            .retain(|_, s| now.saturating_duration_since(s.last_seen) < IDLE_FORGET);
        while self.sessions.len() >= MAX_SESSIONS {
            let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            self.sessions.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> SessionKey {
        SessionKey::Client("127.0.0.1".parse().expect("ip"), "/media/a.mp4".into())
    }

    #[test]
    fn without_cmcd_the_buffer_is_the_media_handed_out_ahead_of_the_time_elapsed() {
        let mut sessions = Sessions::default();
        let t0 = Instant::now();
        let rate = Some(375_000.0); // 3 Mbit/s
        let at = |s: u64| t0 + Duration::from_secs(s);
        let seen = |now, range| Seen {
            now,
            buffer: None,
            stalled: false,
            range: Some(range),
            bytes_per_second: rate,
        };
        // 10 s of media at once: a first request, no estimate yet.
        let first = sessions.seen(client(), seen(at(0), (0, 3_750_000)));
        assert_eq!(
            first,
            Estimate {
                buffer: None,
                starts_a_run: true
            }
        );
        // 4 s later, the next 10 s: 10 - 4 = 6 s ahead.
        let next = sessions.seen(client(), seen(at(4), (3_750_000, 7_500_000)));
        assert_eq!(next.buffer, Some(Duration::from_secs(6)));
        assert!(!next.starts_a_run);
        // A jump elsewhere is a seek: the run starts again.
        let seek = sessions.seen(client(), seen(at(5), (40_000_000, 41_000_000)));
        assert_eq!(
            seek,
            Estimate {
                buffer: None,
                starts_a_run: true
            }
        );
    }

    #[test]
    fn a_reported_buffer_wins_and_stalls_are_counted() {
        let mut sessions = Sessions::default();
        let now = Instant::now();
        let key = SessionKey::Cmcd("s1".into());
        let estimate = sessions.seen(
            key.clone(),
            Seen {
                now,
                buffer: Some(Duration::from_millis(12_300)),
                stalled: true,
                range: None,
                bytes_per_second: None,
            },
        );
        assert_eq!(estimate.buffer, Some(Duration::from_millis(12_300)));
        let session = sessions.get(&key).expect("remembered");
        assert_eq!((session.requests, session.stalls), (1, 1));
        assert_eq!(sessions.active(now), 1);
        assert_eq!(sessions.active(now + ACTIVE_WITHIN * 2), 0);
        assert_eq!(sessions.active_count(), 1);
    }

    #[test]
    fn the_active_count_follows_new_sessions_at_once_and_idle_ones_within_a_second() {
        let mut sessions = Sessions::default();
        let t0 = Instant::now();
        let seen = |now| Seen {
            now,
            buffer: None,
            stalled: false,
            range: None,
            bytes_per_second: None,
        };
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            sessions.seen(SessionKey::Cmcd(key.into()), seen(t0));
            assert_eq!(sessions.active_count(), i + 1);
        }
        // "a" keeps asking; "b" and "c" went quiet 31 s ago.
        let later = t0 + ACTIVE_WITHIN + Duration::from_secs(1);
        sessions.seen(SessionKey::Cmcd("a".into()), seen(later));
        assert_eq!(sessions.active_count(), 1);
    }

    #[test]
    fn idle_sessions_are_forgotten_and_the_table_is_bounded() {
        let mut sessions = Sessions::default();
        let t0 = Instant::now();
        let seen = |now| Seen {
            now,
            buffer: None,
            stalled: false,
            range: None,
            bytes_per_second: None,
        };
        for i in 0..(MAX_SESSIONS + 10) {
            sessions.seen(SessionKey::Cmcd(format!("s{i}")), seen(t0));
        }
        assert!(sessions.sessions.len() <= MAX_SESSIONS);
        sessions.seen(SessionKey::Cmcd("late".into()), seen(t0 + IDLE_FORGET * 2));
        assert_eq!(sessions.sessions.len(), 1);
    }
}
