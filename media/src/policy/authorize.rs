//! Signed URLs: what a refused request (HTTP 401/403) means, and when the
//! page's `authorize(url)` is asked for a new URL — ahead of the token's
//! expiry, so playback never waits on it, and once after a refusal, never
//! in a loop.
//!
//! The server's refusal says why on the first line of its body
//! (`forbidden: token expired`, `forbidden: token not yet valid`, or
//! `forbidden`): a token whose time is up can be replaced; any other
//! refusal is final unless the URL came from `authorize` before.

use super::error::ErrorCode;
use super::millis::Millis;

/// Ask for a new URL this long before the token expires, milliseconds
/// (less for a short token: see [`lead_ms`]).
const LEAD_MS: f64 = 30_000.0;
/// The least time between two authorizations asked ahead of expiry.
const MIN_GAP_MS: f64 = 1_000.0;
/// The most of a refusal's body that is read, bytes.
pub const REFUSAL_BODY_BYTES: usize = 256;

/// Why the server refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The token's time is up, or not yet come: a new token may open it.
    Expired,
    /// Anything else: a bad, missing or foreign token.
    Forbidden,
}

impl Refusal {
    /// What the first line of a refusal's body says.
    pub fn from_body(body: &str) -> Refusal {
        let line = body.lines().next().unwrap_or("").trim();
        match line {
            "forbidden: token expired" | "forbidden: token not yet valid" => Refusal::Expired,
            _ => Refusal::Forbidden,
        }
    }

    pub fn code(self) -> ErrorCode {
        match self {
            Refusal::Expired => ErrorCode::Expired,
            Refusal::Forbidden => ErrorCode::Forbidden,
        }
    }
}

/// The `exp=` of the `__token__` in `url`'s query: Unix seconds.
pub fn token_expiry(url: &str) -> Option<u64> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    let token = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("__token__="))?;
    // Fields separated by `~`, perhaps percent-encoded (`%7E`, `%3D`):
    // decoded byte by byte (`str::replace` costs the player's wasm 2 KB).
    let mut decoded = Vec::with_capacity(token.len());
    let mut bytes = token.as_bytes();
    while let Some((&first, rest)) = bytes.split_first() {
        match (first, rest) {
            (b'%', [b'7', b'E' | b'e', tail @ ..]) => (decoded.push(b'~'), bytes = tail),
            (b'%', [b'3', b'D' | b'd', tail @ ..]) => (decoded.push(b'='), bytes = tail),
            _ => (decoded.push(first), bytes = rest),
        };
    }
    decoded
        .split(|&b| b == b'~')
        .find_map(|field| decimal(field.strip_prefix(b"exp=")?))
}

/// A run of ASCII digits as a number; `None` when empty, not digits, or
/// too large.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let digit = (d as char).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// How long before `expires_at` to ask, for a token learned at `now`:
/// [`LEAD_MS`], or half the time left when that is shorter.
fn lead_ms(now: Millis, expires_at: Millis) -> f64 {
    LEAD_MS.min((expires_at - now) / 2.0)
}

/// What the policy does after a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AfterRefusal {
    /// Ask `authorize` for a new URL, then fetch again.
    Authorize,
    /// An authorization is already on its way: wait for it.
    Wait,
    Fail(ErrorCode, String),
}

/// Why an authorization is outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// Ahead of expiry: fetching goes on with the old URL meanwhile.
    Ahead,
    /// After a refusal: fetching waits for the answer.
    Refused(Refusal),
}

/// The authorization state.
#[derive(Debug, Default)]
pub(super) struct Authorization {
    /// The page gave `authorize`.
    enabled: bool,
    asked: Option<Asked>,
    /// Refusals since bytes last came; a second in a row is final.
    refusals: u32,
    /// When to ask ahead of expiry.
    refresh_at: Option<Millis>,
    last_asked: Option<Millis>,
    /// When fetching waits on an answer: the answer must come by then.
    answer_by: Option<Millis>,
}

impl Authorization {
    pub(super) fn new(enabled: bool) -> Self {
        Authorization {
            enabled,
            ..Default::default()
        }
    }

    /// Fetching waits on an authorization asked after a refusal.
    pub(super) fn blocks_fetching(&self) -> bool {
        matches!(self.asked, Some(Asked::Refused(_)))
    }

    /// When [`Authorization::due`] or [`Authorization::overdue`] should
    /// be checked next.
    pub(super) fn refresh_at(&self) -> Option<Millis> {
        if self.blocks_fetching() {
            return self.answer_by;
        }
        self.refresh_at
    }

    /// Fetching has waited on the page for too long: the error to end with.
    pub(super) fn overdue(&mut self, now: Millis) -> Option<(ErrorCode, String)> {
        let Some(Asked::Refused(refusal)) = self.asked else {
            return None;
        };
        if !self.answer_by.is_some_and(|at| now >= at) {
            return None;
        }
        self.asked = None;
        self.answer_by = None;
        Some((
            refusal.code(),
            "the media's token was refused and authorize() gave no new URL in time".into(),
        ))
    }

    /// The current URL's token expires at `expires_at` (none: unknown).
    pub(super) fn set_expiry(&mut self, now: Millis, expires_at: Option<Millis>) {
        self.refresh_at = None;
        let Some(expires_at) = expires_at.filter(|_| self.enabled) else {
            return;
        };
        let lead = lead_ms(now, expires_at);
        if lead <= 0.0 {
            // Already expired: the refusal will ask.
            return;
        }
        let earliest = self.last_asked.map_or(now, |t| t + MIN_GAP_MS);
        self.refresh_at = Some((expires_at + -lead).max(earliest));
    }

    /// Whether to ask ahead of expiry now.
    pub(super) fn due(&mut self, now: Millis) -> bool {
        if self.asked.is_some() || !self.refresh_at.is_some_and(|at| now >= at) {
            return false;
        }
        self.refresh_at = None;
        self.asked = Some(Asked::Ahead);
        self.last_asked = Some(now);
        true
    }

    /// Bytes came: the URL works.
    pub(super) fn delivered(&mut self) {
        self.refusals = 0;
    }

    /// The server refused a request, for `refusal`.
    /// `wait_ms`: how long the page may take to answer.
    pub(super) fn refused(&mut self, now: Millis, refusal: Refusal, wait_ms: f64) -> AfterRefusal {
        let said = match refusal {
            Refusal::Expired => "the media's token has expired (or is not valid yet)",
            Refusal::Forbidden => "the server refused the media's token",
        };
        if !self.enabled {
            return AfterRefusal::Fail(refusal.code(), format!("{said} (HTTP 403)"));
        }
        match self.asked {
            Some(Asked::Refused(_)) => return AfterRefusal::Wait,
            // The answer to the ask ahead will do for this one too.
            Some(Asked::Ahead) => {
                self.asked = Some(Asked::Refused(refusal));
                self.answer_by = Some(now + wait_ms);
                return AfterRefusal::Wait;
            }
            None => {}
        }
        self.refusals += 1;
        let authorized_before = self.last_asked.is_some();
        if self.refusals > 1 || (refusal == Refusal::Forbidden && !authorized_before) {
            let again = if self.refusals > 1 {
                ", even with the new URL from authorize()"
            } else {
                ""
            };
            return AfterRefusal::Fail(refusal.code(), format!("{said}{again} (HTTP 403)"));
        }
        self.asked = Some(Asked::Refused(refusal));
        self.last_asked = Some(now);
        self.refresh_at = None;
        self.answer_by = Some(now + wait_ms);
        AfterRefusal::Authorize
    }

    /// The page answered: `Ok` with the new URL's expiry, or why it could
    /// not. `Err` back: the error to end with (after a refusal).
    pub(super) fn answered(
        &mut self,
        now: Millis,
        answer: Result<Option<Millis>, String>,
    ) -> Result<(), (ErrorCode, String)> {
        let Some(asked) = self.asked.take() else {
            return Ok(());
        };
        self.answer_by = None;
        match (answer, asked) {
            (Ok(expires_at), _) => {
                self.set_expiry(now, expires_at);
                Ok(())
            }
            (Err(_), Asked::Ahead) => Ok(()),
            (Err(why), Asked::Refused(refusal)) => Err((
                refusal.code(),
                format!("authorize() gave no new URL for the refused media: {why}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_of_the_body_tells_an_expired_token_from_a_bad_one() {
        assert_eq!(
            Refusal::from_body("forbidden: token expired\n"),
            Refusal::Expired
        );
        assert_eq!(
            Refusal::from_body("forbidden: token not yet valid"),
            Refusal::Expired
        );
        assert_eq!(Refusal::from_body("forbidden\n"), Refusal::Forbidden);
        assert_eq!(Refusal::from_body(""), Refusal::Forbidden);
        assert_eq!(Refusal::from_body("<html>no</html>"), Refusal::Forbidden);
    }

    #[test]
    fn the_expiry_is_read_from_the_token_in_the_query() {
        let url = "http://h/media/a.mp4?__token__=st=1~exp=1700000000~acl=/media/*~hmac=ab";
        assert_eq!(token_expiry(url), Some(1_700_000_000));
        let encoded = "http://h/a.mp4?x=1&__token__=st%3D1%7Eexp%3D12%7Eacl%3D%2F*";
        assert_eq!(token_expiry(encoded), Some(12));
        assert_eq!(
            token_expiry("http://h/a.mp4?__token__=acl=/*~hmac=ab"),
            None
        );
        assert_eq!(token_expiry("http://h/a.mp4?exp=5"), None);
        assert_eq!(token_expiry("http://h/a.mp4"), None);
        let lower = "http://h/a?__token__=st%3d1%7eexp%3d34%7ehmac%3dab#t=5";
        assert_eq!(token_expiry(lower), Some(34));
        for odd in [
            "exp=~hmac=1",
            "exp=12a~hmac=1",
            "exp=99999999999999999999",
            "exp%7",
            "%",
        ] {
            let url = format!("http://h/a?__token__={odd}");
            assert_eq!(token_expiry(&url), None, "{url}");
        }
    }

    #[test]
    fn a_short_token_is_refreshed_at_half_its_time_a_long_one_thirty_seconds_ahead() {
        let mut a = Authorization::new(true);
        let now = Millis::from(1000.0);
        a.set_expiry(now, Some(now + 8000.0));
        assert_eq!(a.refresh_at(), Some(now + 4000.0));
        a.set_expiry(now, Some(now + 3_600_000.0));
        assert_eq!(a.refresh_at(), Some(now + 3_570_000.0));
        a.set_expiry(now, Some(now + -1.0));
        assert_eq!(
            a.refresh_at(),
            None,
            "an expired token waits for its refusal"
        );
        let mut off = Authorization::new(false);
        off.set_expiry(now, Some(now + 8000.0));
        assert_eq!(off.refresh_at(), None, "no authorize, nothing to ask");
    }
}
