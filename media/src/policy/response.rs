//! What the server's answer means: the status of a response to a range
//! request, and whether a body that ended brought all that was asked.

use std::ops::Range;

use super::action::Outcome;
use super::error::ErrorCode;

/// What a response's status calls for.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Reply {
    /// 206: the range comes.
    Partial,
    /// 200 to a request from byte 0: the server ignores Range and the whole
    /// file comes; take it.
    WholeFile,
    /// A server error: worth another try.
    Retry(String),
    Fail(ErrorCode, String),
}

/// The status of the response to a request for bytes from `start`.
/// `total`: the file length it gives; `index_wanted`: index bytes are still
/// to be fetched (then a range past the end is not the file being short).
pub(super) fn reply(status: u16, start: u64, total: Option<u64>, index_wanted: bool) -> Reply {
    match status {
        206 => Reply::Partial,
        200 if start == 0 => Reply::WholeFile,
        200 => Reply::Fail(
            ErrorCode::Http,
            "the server does not support Range requests".into(),
        ),
        416 if total.is_some_and(|len| start >= len) && !index_wanted => Reply::Fail(
            ErrorCode::Truncated,
            format!(
                "the file ends at byte {} but its index promises more",
                total.unwrap_or(0)
            ),
        ),
        416 => Reply::Fail(
            ErrorCode::Http,
            "the server refused the byte range (416)".into(),
        ),
        401 | 403 => Reply::Fail(
            ErrorCode::Forbidden,
            format!("the server refused the media (HTTP {status})"),
        ),
        500..=599 => Reply::Retry(format!("server error {status}")),
        _ => Reply::Fail(
            ErrorCode::Http,
            format!("the server answered HTTP {status}"),
        ),
    }
}

/// A body for `range` ended after `received` bytes: `Ok` if it brought
/// what was asked (or the file ends there), else why to try again.
pub(super) fn body_end(
    range: &Range<u64>,
    received: u64,
    outcome: Outcome,
    file_len: Option<u64>,
) -> Result<(), String> {
    let expected = range.end - range.start;
    match outcome {
        // Open-ended, and the server never said the file's length: the
        // end of the body is the end of the file.
        Outcome::Complete if range.end == super::OPEN_END => Ok(()),
        Outcome::Complete if received >= expected => Ok(()),
        // The server clipped the range at the end of the file.
        Outcome::Complete if file_len.is_some_and(|len| range.start + received >= len) => Ok(()),
        Outcome::Complete => Err("the response ended early".into()),
        Outcome::NetworkError(reason) => Err(reason),
    }
}
