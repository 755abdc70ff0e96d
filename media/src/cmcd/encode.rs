//! CMCD out: the keys in alphabetical order, integers rounded as CTA-5004
//! asks, `true` booleans as the bare key, `false` ones and defaults
//! (`pr=1`, `v=1`) left out, strings quoted with `\` and `"` escaped.

use std::fmt::Write;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{Cmcd, MAX_ID_LEN, QUERY_KEY};
use crate::cta::Token;

/// The header form's four headers, in the order [`to_headers`] gives them.
pub const HEADER_NAMES: [&str; 4] = ["CMCD-Object", "CMCD-Request", "CMCD-Session", "CMCD-Status"];

/// What `encodeURIComponent` leaves alone: the query form is decoded by
/// that rule (validators check the value is encoded so).
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Which header a key travels in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Header {
    Object,
    Request,
    Session,
    Status,
}

/// One key ready to write.
enum Value<'a> {
    Integer(u64),
    Decimal(f64),
    Flag,
    Token(&'static str),
    Text(&'a str),
}

/// The keys to send, alphabetically, with their header.
fn entries<'a>(cmcd: &'a Cmcd) -> Vec<(&'static str, Header, Value<'a>)> {
    use Header::*;
    let mut out: Vec<(&'static str, Header, Value<'a>)> = Vec::with_capacity(18);
    let mut push = |key: &'static str, header: Header, value: Option<Value<'a>>| {
        if let Some(value) = value {
            out.push((key, header, value));
        }
    };
    push(
        "bl",
        Request,
        cmcd.bl.map(|ms| Value::Integer(nearest_100(ms))),
    );
    push("br", Object, cmcd.br.map(Value::Integer));
    push("bs", Status, cmcd.bs.then_some(Value::Flag));
    push(
        "cid",
        Session,
        cmcd.cid.as_deref().map(|id| Value::Text(clip_id(id))),
    );
    push("d", Object, cmcd.d.map(Value::Integer));
    push(
        "dl",
        Request,
        cmcd.dl.map(|ms| Value::Integer(nearest_100(ms))),
    );
    push(
        "mtp",
        Request,
        cmcd.mtp
            .map(nearest_100)
            .filter(|&kbps| kbps > 0)
            .map(Value::Integer),
    );
    push("nor", Request, cmcd.nor.as_deref().map(Value::Text));
    push("nrr", Request, cmcd.nrr.as_deref().map(Value::Text));
    push("ot", Object, cmcd.ot.map(|ot| Value::Token(ot.token())));
    push(
        "pr",
        Session,
        cmcd.pr
            .filter(|rate| rate.is_finite() && *rate >= 0.0 && (rate - 1.0).abs() > 1e-9)
            .map(Value::Decimal),
    );
    push(
        "rtp",
        Status,
        cmcd.rtp.map(|kbps| Value::Integer(up_to_100(kbps))),
    );
    push("sf", Session, cmcd.sf.map(|sf| Value::Token(sf.token())));
    push(
        "sid",
        Session,
        cmcd.sid.as_deref().map(|id| Value::Text(clip_id(id))),
    );
    push("st", Session, cmcd.st.map(|st| Value::Token(st.token())));
    push("su", Request, cmcd.su.then_some(Value::Flag));
    push("tb", Object, cmcd.tb.map(Value::Integer));
    push("v", Session, cmcd.v.filter(|&v| v != 1).map(Value::Integer));
    out
}

/// Rounded to the nearest multiple of 100 (`bl`, `dl`, `mtp`).
fn nearest_100(value: u64) -> u64 {
    value.saturating_add(50) / 100 * 100
}

/// Rounded up to a multiple of 100 (`rtp`: never ask for less than meant).
fn up_to_100(value: u64) -> u64 {
    value.div_ceil(100).saturating_mul(100)
}

/// At most [`MAX_ID_LEN`] characters.
fn clip_id(id: &str) -> &str {
    match id.char_indices().nth(MAX_ID_LEN) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// `key[=value]` appended to `out`.
fn write_entry(out: &mut String, key: &str, value: &Value<'_>) {
    out.push_str(key);
    match value {
        Value::Flag => {}
        Value::Integer(number) => {
            let _ = write!(out, "={number}");
        }
        Value::Decimal(number) => {
            // Structured-field decimals have at most three fraction digits.
            let text = format!("{number:.3}");
            let text = text.trim_end_matches('0');
            let text = text
                .strip_suffix('.')
                .map_or(text.to_string(), |whole| format!("{whole}.0"));
            let _ = write!(out, "={text}");
        }
        Value::Token(token) => {
            let _ = write!(out, "={token}");
        }
        Value::Text(text) => {
            out.push_str("=\"");
            for c in text.chars().filter(|c| (' '..='~').contains(c)) {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
    }
}

/// The keys as one comma-separated list (the query form's value, before
/// URL encoding); empty when no key is set.
pub fn to_query_value(cmcd: &Cmcd) -> String {
    let mut out = String::new();
    for (key, _, value) in entries(cmcd) {
        if !out.is_empty() {
            out.push(',');
        }
        write_entry(&mut out, key, &value);
    }
    out
}

/// `url` with the `CMCD` query argument added (before any `#fragment`);
/// `url` unchanged when no key is set.
pub fn append_to_url(url: &str, cmcd: &Cmcd) -> String {
    let value = to_query_value(cmcd);
    if value.is_empty() {
        return url.to_string();
    }
    let (base, fragment) = match url.find('#') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let separator = match base.find('?') {
        None => "?",
        Some(at) if at + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    format!(
        "{base}{separator}{QUERY_KEY}={}{fragment}",
        utf8_percent_encode(&value, URI_COMPONENT)
    )
}

/// The header form: `(name, value)` for each of the four headers that has
/// a key, keys alphabetical within each.
pub fn to_headers(cmcd: &Cmcd) -> Vec<(&'static str, String)> {
    let mut headers: Vec<(&'static str, String)> = Vec::with_capacity(4);
    let order = [
        Header::Object,
        Header::Request,
        Header::Session,
        Header::Status,
    ];
    let entries = entries(cmcd);
    for (name, header) in HEADER_NAMES.iter().zip(order) {
        let mut value = String::new();
        for (key, _, entry) in entries.iter().filter(|(_, h, _)| *h == header) {
            if !value.is_empty() {
                value.push(',');
            }
            write_entry(&mut value, key, entry);
        }
        if !value.is_empty() {
            headers.push((name, value));
        }
    }
    headers
}
