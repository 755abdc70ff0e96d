//! Parsing the `Range` request header (RFC 9110 §14.1–14.2) and resolving it
//! against a representation length.
//!
//! Pure: bytes in, a [`RangeRequest`] out. The rules that matter, and that
//! off-the-shelf file servers get wrong:
//! - the unit is case-insensitive (`Bytes=` is `bytes=`);
//! - a syntactically invalid header, or another unit, is *ignored* (200), not 416;
//! - a last-pos past the end is clipped; a suffix longer than the file is the file;
//! - only when *no* range-spec is satisfiable is the answer 416.

use std::ops::RangeInclusive;

/// How many range-specs one header may carry before we stop honouring it.
/// Beyond this a client is broken or hostile (the "Apache Killer" asked for
/// thousands of overlapping ranges); we then serve the plain representation.
pub const MAX_RANGE_SPECS: usize = 16;

/// Gaps smaller than this are cheaper to send than a new multipart header, so
/// parts closer than this are merged (RFC 9110 §14.2 allows it).
const COALESCE_GAP: u64 = 80;

/// One `range-spec` as written by the client, before it meets a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-last` (inclusive); `last` `None` means "to the end".
    FromTo { first: u64, last: Option<u64> },
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// What a `Range` header asks for, once resolved against a length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable Range header (absent, malformed, other unit, too many specs):
    /// serve the whole representation with 200.
    Ignore,
    /// Nothing asked for exists: 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
    /// Satisfiable, disjoint, ascending byte ranges (inclusive ends); never empty.
    Ranges(Vec<RangeInclusive<u64>>),
}

/// Parses a `Range` header value into its specs. `None` means "ignore the
/// header": wrong unit, bad syntax, or more than [`MAX_RANGE_SPECS`] specs.
pub fn parse_range_header(value: &[u8]) -> Option<Vec<RangeSpec>> {
    let value = std::str::from_utf8(value).ok()?;
    let (unit, set) = value.split_once('=')?;
    if !unit.trim_matches(is_ows).eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for element in set.split(',') {
        let element = element.trim_matches(is_ows);
        if element.is_empty() {
            // RFC 9110 §5.6.1: empty list elements are tolerated.
            continue;
        }
        if specs.len() == MAX_RANGE_SPECS {
            return None;
        }
        specs.push(parse_spec(element)?);
    }
    if specs.is_empty() { None } else { Some(specs) }
}

fn parse_spec(spec: &str) -> Option<RangeSpec> {
    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        return Some(RangeSpec::Suffix(parse_pos(last)?));
    }
    let first = parse_pos(first)?;
    let last = if last.is_empty() {
        None
    } else {
        Some(parse_pos(last)?)
    };
    if last.is_some_and(|last| last < first) {
        return None;
    }
    Some(RangeSpec::FromTo { first, last })
}

/// `1*DIGIT`, saturating: a position beyond `u64::MAX` is past any file's end,
/// which is what the saturated value means too.
fn parse_pos(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |acc, digit| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Resolves parsed specs against a representation of `len` bytes: clips,
/// drops unsatisfiable specs, sorts and coalesces overlapping or nearly
/// adjacent ones so a response is never larger than the file plus a few
/// part headers.
pub fn resolve(specs: &[RangeSpec], len: u64) -> RangeRequest {
    if len == 0 {
        // Only a suffix-range can be satisfied by an empty representation, and
        // its result is the (empty) whole: plain 200.
        return if specs
            .iter()
            .any(|s| matches!(s, RangeSpec::Suffix(n) if *n > 0))
        {
            RangeRequest::Ignore
        } else {
            RangeRequest::Unsatisfiable
        };
    }
    let mut ranges: Vec<RangeInclusive<u64>> = specs
        .iter()
        .filter_map(|spec| match *spec {
            RangeSpec::FromTo { first, last } if first < len => {
                Some(first..=last.map_or(len - 1, |last| last.min(len - 1)))
            }
            RangeSpec::FromTo { .. } => None,
            RangeSpec::Suffix(0) => None,
            RangeSpec::Suffix(n) => Some(len.saturating_sub(n)..=len - 1),
        })
        .collect();
    if ranges.is_empty() {
        return RangeRequest::Unsatisfiable;
    }
    ranges.sort_by_key(|r| *r.start());
    let mut merged: Vec<RangeInclusive<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(prev) if *range.start() <= prev.end().saturating_add(COALESCE_GAP) => {
                let end = (*prev.end()).max(*range.end());
                *prev = *prev.start()..=end;
            }
            _ => merged.push(range),
        }
    }
    RangeRequest::Ranges(merged)
}

/// Parses and resolves in one step; `None` header means no Range at all.
pub fn range_request(header: Option<&[u8]>, len: u64) -> RangeRequest {
    match header.and_then(parse_range_header) {
        Some(specs) => resolve(&specs, len),
        None => RangeRequest::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(header: &str, len: u64) -> RangeRequest {
        range_request(Some(header.as_bytes()), len)
    }

    fn ranges(list: &[(u64, u64)]) -> RangeRequest {
        RangeRequest::Ranges(list.iter().map(|&(a, b)| a..=b).collect())
    }

    #[test]
    fn each_range_form_resolves_against_the_length() {
        assert_eq!(req("bytes=0-99", 1000), ranges(&[(0, 99)]));
        assert_eq!(req("bytes=500-", 1000), ranges(&[(500, 999)]));
        assert_eq!(req("bytes=-100", 1000), ranges(&[(900, 999)]));
        assert_eq!(req("bytes=0-0", 1000), ranges(&[(0, 0)]));
    }

    #[test]
    fn last_pos_past_the_end_is_clipped_not_refused() {
        assert_eq!(req("bytes=990-1990", 1000), ranges(&[(990, 999)]));
        assert_eq!(req("bytes=0-18446744073709551616", 10), ranges(&[(0, 9)]));
    }

    #[test]
    fn suffix_longer_than_the_file_is_the_whole_file() {
        assert_eq!(req("bytes=-5000", 1000), ranges(&[(0, 999)]));
    }

    #[test]
    fn unit_is_case_insensitive_and_whitespace_tolerated() {
        assert_eq!(req("Bytes=0-1", 10), ranges(&[(0, 1)]));
        assert_eq!(
            req("BYTES = 0-1 ,\t 500-600", 1000),
            ranges(&[(0, 1), (500, 600)])
        );
        assert_eq!(req("bytes=0-1,,", 10), ranges(&[(0, 1)]));
    }

    #[test]
    fn invalid_syntax_or_other_unit_is_ignored() {
        for header in [
            "bytes=5-1",
            "bytes=abc",
            "bytes=1-2-3",
            "bytes=-",
            "bytes=",
            "bytes=+1-2",
            "bytes=1 -2",
            "items=0-1",
            "bytes 0-1",
            "bytes=0x10-",
            "",
        ] {
            assert_eq!(req(header, 1000), RangeRequest::Ignore, "{header}");
        }
        assert_eq!(range_request(Some(&[0xff, 0xfe]), 10), RangeRequest::Ignore);
    }

    #[test]
    fn nothing_satisfiable_is_416() {
        assert_eq!(req("bytes=1000-", 1000), RangeRequest::Unsatisfiable);
        assert_eq!(
            req("bytes=1000-2000, 3000-", 1000),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(req("bytes=-0", 1000), RangeRequest::Unsatisfiable);
        assert_eq!(
            req("bytes=99999999999999999999999-", 1000),
            RangeRequest::Unsatisfiable
        );
    }

    #[test]
    fn unsatisfiable_specs_are_dropped_when_another_is_satisfiable() {
        assert_eq!(req("bytes=2000-3000,0-1", 1000), ranges(&[(0, 1)]));
    }

    #[test]
    fn overlapping_and_adjacent_ranges_are_coalesced_in_order() {
        assert_eq!(
            req("bytes=500-600,0-10,5-20", 1000),
            ranges(&[(0, 20), (500, 600)])
        );
        assert_eq!(req("bytes=0-9,10-19", 1000), ranges(&[(0, 19)]));
        assert_eq!(req("bytes=0-9,50-59", 1000), ranges(&[(0, 59)]));
        assert_eq!(
            req("bytes=0-9,200-209", 1000),
            ranges(&[(0, 9), (200, 209)])
        );
    }

    #[test]
    fn too_many_specs_are_ignored_not_amplified() {
        let many = vec!["0-"; MAX_RANGE_SPECS + 1].join(",");
        assert_eq!(req(&format!("bytes={many}"), 1000), RangeRequest::Ignore);
        let allowed = vec!["0-"; MAX_RANGE_SPECS].join(",");
        assert_eq!(req(&format!("bytes={allowed}"), 1000), ranges(&[(0, 999)]));
    }

    #[test]
    fn empty_representation_has_only_suffix_satisfiable() {
        assert_eq!(req("bytes=0-", 0), RangeRequest::Unsatisfiable);
        assert_eq!(req("bytes=-1", 0), RangeRequest::Ignore);
    }
}

/// Property tests of the parser and resolver against a reference model that
/// works byte by byte: no cleverness, so it can be trusted.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// The reference: which bytes of a `len`-byte file a spec asks for.
    fn reference_bytes(spec: &RangeSpec, len: u64) -> Option<(u64, u64)> {
        match *spec {
            RangeSpec::FromTo { first, last } => {
                let last = last.unwrap_or(u64::MAX).min(len.checked_sub(1)?);
                (first <= last).then_some((first, last))
            }
            RangeSpec::Suffix(n) => (n > 0 && len > 0).then(|| (len.saturating_sub(n), len - 1)),
        }
    }

    fn spec_strategy() -> impl Strategy<Value = RangeSpec> {
        prop_oneof![
            (0u64..3000, proptest::option::of(0u64..3000)).prop_map(|(a, b)| {
                let (first, last) = match b {
                    Some(b) => (a.min(b), Some(a.max(b))),
                    None => (a, None),
                };
                RangeSpec::FromTo { first, last }
            }),
            (0u64..3000).prop_map(RangeSpec::Suffix),
        ]
    }

    fn write_spec(spec: &RangeSpec) -> String {
        match spec {
            RangeSpec::FromTo {
                first,
                last: Some(last),
            } => format!("{first}-{last}"),
            RangeSpec::FromTo { first, last: None } => format!("{first}-"),
            RangeSpec::Suffix(n) => format!("-{n}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_header_bytes_never_panic_and_stay_inside_the_file(
            header in proptest::collection::vec(any::<u8>(), 0..64),
            len in 0u64..5000,
        ) {
            if let RangeRequest::Ranges(ranges) = range_request(Some(&header), len) {
                for r in ranges {
                    prop_assert!(r.start() <= r.end() && *r.end() < len);
                }
            }
        }

        #[test]
        fn header_shaped_strings_never_panic(
            header in "(?i)(bytes|items)? ?=[0-9 ,\t-]{0,40}",
            len in 0u64..5000,
        ) {
            let _ = range_request(Some(header.as_bytes()), len);
        }

        #[test]
        fn resolved_ranges_cover_exactly_what_was_asked_plus_small_gaps(
            specs in proptest::collection::vec(spec_strategy(), 1..20),
            len in 0u64..2500,
        ) {
            let header = format!("bytes={}", specs.iter().map(write_spec).collect::<Vec<_>>().join(","));
            let wanted: Vec<(u64, u64)> = specs.iter().filter_map(|s| reference_bytes(s, len)).collect();
            let result = range_request(Some(header.as_bytes()), len);
            if specs.len() > MAX_RANGE_SPECS {
                prop_assert_eq!(result, RangeRequest::Ignore);
                return Ok(());
            }
            if len == 0 {
                prop_assert!(matches!(result, RangeRequest::Ignore | RangeRequest::Unsatisfiable));
                return Ok(());
            }
            match result {
                RangeRequest::Ignore => prop_assert!(false, "valid header ignored: {}", header),
                RangeRequest::Unsatisfiable => prop_assert!(wanted.is_empty()),
                RangeRequest::Ranges(ranges) => {
                    prop_assert!(!wanted.is_empty());
                    let mut total = 0;
                    for pair in ranges.windows(2) {
                        // Disjoint, ascending, and not mergeable.
                        prop_assert!(*pair[1].start() > pair[0].end() + COALESCE_GAP);
                    }
                    for r in &ranges {
                        prop_assert!(*r.end() < len);
                        total += r.end() - r.start() + 1;
                        // Each part starts and ends on a byte that was asked for.
                        prop_assert!(wanted.iter().any(|w| w.0 <= *r.start() && *r.start() <= w.1));
                        prop_assert!(wanted.iter().any(|w| w.0 <= *r.end() && *r.end() <= w.1));
                    }
                    prop_assert!(total <= len, "never more than the file");
                    for (first, last) in &wanted {
                        prop_assert!(ranges.iter().any(|r| r.start() <= first && last <= r.end()));
                    }
                }
            }
        }
    }
}
