//! The range engine's one decision: given a GET/HEAD request's headers and a
//! file's validators and length, what response to send. Pure — no sockets,
//! no files — so every case is a table row in a unit test.

use std::ops::RangeInclusive;

use crate::engine::conditional::{self, Conditions, Precondition, Validators};
use crate::engine::range::{self, RangeRequest};

/// The headers that decide a file response.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestHeaders<'a> {
    pub range: Option<&'a [u8]>,
    pub conditions: Conditions<'a>,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponsePlan {
    /// 200 with the whole representation.
    Full,
    /// 206 with one `Content-Range`.
    Partial(RangeInclusive<u64>),
    /// 206 `multipart/byteranges`: two or more disjoint ascending ranges.
    Multipart(Vec<RangeInclusive<u64>>),
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
    /// 416 with `Content-Range: bytes */len`.
    RangeNotSatisfiable,
}

/// Decides the response for a GET or HEAD of a representation of `len` bytes.
pub fn plan(request: &RequestHeaders<'_>, validators: &Validators<'_>, len: u64) -> ResponsePlan {
    match conditional::evaluate(&request.conditions, validators) {
        Precondition::Failed => return ResponsePlan::PreconditionFailed,
        Precondition::NotModified => return ResponsePlan::NotModified,
        Precondition::Proceed => {}
    }
    if request.range.is_none()
        || !conditional::if_range_allows_range(request.conditions.if_range, validators)
    {
        return ResponsePlan::Full;
    }
    match range::range_request(request.range, len) {
        RangeRequest::Ignore => ResponsePlan::Full,
        RangeRequest::Unsatisfiable => ResponsePlan::RangeNotSatisfiable,
        RangeRequest::Ranges(mut ranges) if ranges.len() == 1 => {
            ResponsePlan::Partial(ranges.remove(0))
        }
        RangeRequest::Ranges(ranges) => ResponsePlan::Multipart(ranges),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const ETAG: &str = "\"e\"";

    fn run(range: Option<&str>, conditions: Conditions<'_>) -> ResponsePlan {
        let validators = Validators {
            etag: ETAG,
            last_modified: UNIX_EPOCH + Duration::from_secs(1000),
            last_modified_is_strong: true,
        };
        let request = RequestHeaders {
            range: range.map(str::as_bytes),
            conditions,
        };
        plan(&request, &validators, 1000)
    }

    #[test]
    fn table_of_decisions() {
        let none = Conditions::default();
        let if_range_ok = Conditions {
            if_range: Some(b"\"e\""),
            ..none
        };
        let if_range_stale = Conditions {
            if_range: Some(b"\"old\""),
            ..none
        };
        let inm = Conditions {
            if_none_match: Some(b"\"e\""),
            ..none
        };
        let im_fail = Conditions {
            if_match: Some(b"\"old\""),
            ..none
        };
        let cases: Vec<(Option<&str>, Conditions<'_>, ResponsePlan)> = vec![
            (None, none, ResponsePlan::Full),
            (Some("bytes=0-9"), none, ResponsePlan::Partial(0..=9)),
            (
                Some("bytes=0-0,-1"),
                none,
                ResponsePlan::Multipart(vec![0..=0, 999..=999]),
            ),
            (Some("bytes=5000-"), none, ResponsePlan::RangeNotSatisfiable),
            (Some("bytes=x"), none, ResponsePlan::Full),
            (Some("bytes=0-9"), if_range_ok, ResponsePlan::Partial(0..=9)),
            (Some("bytes=0-9"), if_range_stale, ResponsePlan::Full),
            (Some("bytes=5000-"), if_range_stale, ResponsePlan::Full),
            (Some("bytes=0-9"), inm, ResponsePlan::NotModified),
            (None, inm, ResponsePlan::NotModified),
            (Some("bytes=0-9"), im_fail, ResponsePlan::PreconditionFailed),
        ];
        for (range, conditions, expected) in cases {
            assert_eq!(
                run(range, conditions),
                expected,
                "range {range:?}, {conditions:?}"
            );
        }
    }
}
