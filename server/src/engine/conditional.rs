//! Conditional requests (RFC 9110 §13): If-Match, If-Unmodified-Since,
//! If-None-Match, If-Modified-Since and If-Range, evaluated in the order §13.2.2
//! prescribes. Pure: header bytes and validators in, a verdict out.

use std::time::SystemTime;

/// The validators of the selected representation.
#[derive(Debug, Clone)]
pub struct Validators<'a> {
    /// Strong entity tag including its quotes, e.g. `"1a-2b-3c"`.
    pub etag: &'a str,
    /// Whole seconds, as sent in Last-Modified.
    pub last_modified: SystemTime,
    /// Whether `last_modified` is a strong validator (RFC 9110 §8.8.2.2): the
    /// file was last written at least a second before now, so no second write
    /// can share that date. Only then may an If-Range date select a range.
    pub last_modified_is_strong: bool,
}

/// The conditional headers of a GET or HEAD request, raw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
}

/// What the preconditions decide before any Range is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Go on and serve (possibly a range).
    Proceed,
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition the client required is false.
    Failed,
}

/// RFC 9110 §13.2.2 steps 1–4, for GET and HEAD.
pub fn evaluate(conditions: &Conditions<'_>, validators: &Validators<'_>) -> Precondition {
    let failed = match conditions.if_match {
        Some(if_match) => !list_matches(if_match, validators.etag, Comparison::Strong),
        None => conditions
            .if_unmodified_since
            .and_then(parse_date)
            .is_some_and(|date| validators.last_modified > date),
    };
    if failed {
        return Precondition::Failed;
    }
    let not_modified = match conditions.if_none_match {
        Some(if_none_match) => list_matches(if_none_match, validators.etag, Comparison::Weak),
        None => conditions
            .if_modified_since
            .and_then(parse_date)
            .is_some_and(|date| validators.last_modified <= date),
    };
    if not_modified {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// RFC 9110 §13.1.5: whether a Range may be honoured. An absent If-Range
/// allows it; an entity-tag must match strongly (a weak tag never does); an
/// HTTP-date must equal Last-Modified exactly, and Last-Modified must be
/// strong. Anything else (unparseable included) means "send the whole
/// representation".
pub fn if_range_allows_range(if_range: Option<&[u8]>, validators: &Validators<'_>) -> bool {
    let Some(raw) = if_range else { return true };
    let Ok(text) = std::str::from_utf8(raw) else {
        return false;
    };
    let text = text.trim();
    if text.starts_with('"') || text.starts_with("W/") {
        return !text.starts_with("W/") && text == validators.etag;
    }
    validators.last_modified_is_strong && parse_date(raw) == Some(validators.last_modified)
}

#[derive(Clone, Copy)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether an `If-Match`/`If-None-Match` value (`*` or a list of entity
/// tags) matches `etag`. A malformed list matches nothing.
fn list_matches(raw: &[u8], etag: &str, comparison: Comparison) -> bool {
    let Ok(text) = std::str::from_utf8(raw) else {
        return false;
    };
    if text.trim() == "*" {
        return true;
    }
    let ours = etag.strip_prefix("W/").unwrap_or(etag);
    entity_tags(text).any(|(weak, tag)| match comparison {
        Comparison::Strong => !weak && !etag.starts_with("W/") && tag == ours,
        Comparison::Weak => tag == ours,
    })
}

/// Splits `W/"a", "b"` into `(weak, "\"tag\"")` pairs, stopping at the first
/// malformed element (so garbage never matches).
fn entity_tags(list: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = list;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return None;
        }
        let (weak, tail) = match rest.strip_prefix("W/") {
            Some(tail) => (true, tail),
            None => (false, rest),
        };
        let body = tail.strip_prefix('"')?;
        let close = body.find('"')?;
        let tag = &tail[..close + 2];
        rest = &body[close + 1..];
        Some((weak, tag))
    })
}

fn parse_date(raw: &[u8]) -> Option<SystemTime> {
    httpdate::parse_http_date(std::str::from_utf8(raw).ok()?.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const ETAG: &str = "\"abc-10-99\"";

    fn validators() -> Validators<'static> {
        Validators {
            etag: ETAG,
            last_modified: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            last_modified_is_strong: true,
        }
    }

    fn date(secs: u64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn eval(c: Conditions<'_>) -> Precondition {
        evaluate(&c, &validators())
    }

    #[test]
    fn if_none_match_matching_any_listed_tag_is_304() {
        for value in [ETAG, "*", "\"x\", \"abc-10-99\"", "W/\"abc-10-99\""] {
            let c = Conditions {
                if_none_match: Some(value.as_bytes()),
                ..Default::default()
            };
            assert_eq!(eval(c), Precondition::NotModified, "{value}");
        }
        let c = Conditions {
            if_none_match: Some(b"\"other\""),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Proceed);
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let same = date(1_700_000_000);
        let before = date(1_699_999_999);
        let c = Conditions {
            if_modified_since: Some(same.as_bytes()),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::NotModified);
        let c = Conditions {
            if_modified_since: Some(before.as_bytes()),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Proceed);
        let c = Conditions {
            if_modified_since: Some(b"not a date"),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Proceed);
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let same = date(1_700_000_000);
        let c = Conditions {
            if_none_match: Some(b"\"other\""),
            if_modified_since: Some(same.as_bytes()),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Proceed);
    }

    #[test]
    fn if_match_needs_a_strong_match_else_412() {
        let c = Conditions {
            if_match: Some(ETAG.as_bytes()),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Proceed);
        let c = Conditions {
            if_match: Some(b"*"),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Proceed);
        for value in ["\"other\"", "W/\"abc-10-99\"", "garbage"] {
            let c = Conditions {
                if_match: Some(value.as_bytes()),
                ..Default::default()
            };
            assert_eq!(eval(c), Precondition::Failed, "{value}");
        }
    }

    #[test]
    fn if_unmodified_since_in_the_past_is_412() {
        let before = date(1_699_999_999);
        let same = date(1_700_000_000);
        let c = Conditions {
            if_unmodified_since: Some(before.as_bytes()),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Failed);
        let c = Conditions {
            if_unmodified_since: Some(same.as_bytes()),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Proceed);
    }

    #[test]
    fn if_match_takes_precedence_over_if_unmodified_since() {
        let before = date(1_699_999_999);
        let c = Conditions {
            if_match: Some(ETAG.as_bytes()),
            if_unmodified_since: Some(before.as_bytes()),
            ..Default::default()
        };
        assert_eq!(eval(c), Precondition::Proceed);
    }

    #[test]
    fn if_range_allows_only_exact_strong_validators() {
        let v = validators();
        let same = date(1_700_000_000);
        let other = date(1_700_000_001);
        assert!(if_range_allows_range(None, &v));
        assert!(if_range_allows_range(Some(ETAG.as_bytes()), &v));
        assert!(if_range_allows_range(Some(same.as_bytes()), &v));
        assert!(!if_range_allows_range(Some(b"\"other\""), &v));
        assert!(!if_range_allows_range(Some(b"W/\"abc-10-99\""), &v));
        assert!(!if_range_allows_range(Some(other.as_bytes()), &v));
        assert!(!if_range_allows_range(Some(b"nonsense"), &v));
    }

    #[test]
    fn if_range_date_of_a_file_written_this_second_is_not_trusted() {
        let v = Validators {
            last_modified_is_strong: false,
            ..validators()
        };
        let same = date(1_700_000_000);
        assert!(!if_range_allows_range(Some(same.as_bytes()), &v));
        assert!(if_range_allows_range(Some(ETAG.as_bytes()), &v));
    }
}
