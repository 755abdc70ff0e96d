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

/// Writes the keys of one header (or all, for the query form) into `out`,
/// comma-separated. Each kind of value has one method, so the keys cost a
/// call each (the player's module is size-critical).
struct Writer<'a> {
    out: &'a mut String,
    only: Option<Header>,
}

impl Writer<'_> {
    /// Starts `key` if it belongs here: the separator and the name.
    fn key(&mut self, key: &str, header: Header) -> bool {
        if self.only.is_some_and(|only| only != header) {
            return false;
        }
        if !self.out.is_empty() {
            self.out.push(',');
        }
        self.out.push_str(key);
        true
    }

    fn integer(&mut self, key: &str, header: Header, value: Option<u64>) {
        if let Some(value) = value
            && self.key(key, header)
        {
            let _ = write!(self.out, "={value}");
        }
    }

    fn flag(&mut self, key: &str, header: Header, set: bool) {
        if set {
            self.key(key, header);
        }
    }

    fn token(&mut self, key: &str, header: Header, value: Option<&'static str>) {
        if let Some(value) = value
            && self.key(key, header)
        {
            self.out.push('=');
            self.out.push_str(value);
        }
    }

    fn text(&mut self, key: &str, header: Header, value: Option<&str>) {
        if let Some(value) = value
            && self.key(key, header)
        {
            self.out.push_str("=\"");
            for c in value.chars().filter(|c| (' '..='~').contains(c)) {
                if c == '"' || c == '\\' {
                    self.out.push('\\');
                }
                self.out.push(c);
            }
            self.out.push('"');
        }
    }

    /// A structured-field decimal (at most three fraction digits), written
    /// from integers: float formatting is large in wasm.
    fn decimal(&mut self, key: &str, header: Header, value: Option<f64>) {
        if let Some(value) = value
            && self.key(key, header)
        {
            let milli = (value * 1000.0).round() as u64;
            let _ = write!(self.out, "={}.", milli / 1000);
            let fraction = milli % 1000;
            let (mut digits, mut width) = (fraction, 3);
            while width > 1 && digits % 10 == 0 {
                digits /= 10;
                width -= 1;
            }
            let _ = write!(self.out, "{digits:0width$}");
        }
    }
}

/// The keys in alphabetical order, rounded and filtered as CTA-5004 says.
fn write_keys(cmcd: &Cmcd, only: Option<Header>, out: &mut String) {
    use Header::*;
    let mut w = Writer { out, only };
    w.integer("bl", Request, cmcd.bl.map(nearest_100));
    w.integer("br", Object, cmcd.br);
    w.flag("bs", Status, cmcd.bs);
    w.text("cid", Session, cmcd.cid.as_deref().map(clip_id));
    w.integer("d", Object, cmcd.d);
    w.integer("dl", Request, cmcd.dl.map(nearest_100));
    w.integer("ltc", Request, cmcd.ltc);
    w.integer(
        "mtp",
        Request,
        cmcd.mtp.map(nearest_100).filter(|&kbps| kbps > 0),
    );
    w.text("nor", Request, cmcd.nor.as_deref());
    w.text("nrr", Request, cmcd.nrr.as_deref());
    w.token("ot", Object, cmcd.ot.map(Token::token));
    let rate = cmcd
        .pr
        .filter(|r| r.is_finite() && *r >= 0.0 && (r - 1.0).abs() > 1e-9);
    w.decimal("pr", Session, rate);
    w.integer("rtp", Status, cmcd.rtp.map(up_to_100));
    w.token("sf", Session, cmcd.sf.map(Token::token));
    w.text("sid", Session, cmcd.sid.as_deref().map(clip_id));
    w.token("st", Session, cmcd.st.map(Token::token));
    w.flag("su", Request, cmcd.su);
    w.integer("tb", Object, cmcd.tb);
    w.integer("v", Session, cmcd.v.filter(|&v| v != 1));
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
        Some((end, _)) => id.get(..end).unwrap_or(id),
        None => id,
    }
}

/// The keys as one comma-separated list (the query form's value, before
/// URL encoding); empty when no key is set.
pub fn to_query_value(cmcd: &Cmcd) -> String {
    let mut out = String::new();
    write_keys(cmcd, None, &mut out);
    out
}

/// `url` with the `CMCD` query argument added (before any `#fragment`);
/// `url` unchanged when no key is set.
pub fn append_to_url(url: &str, cmcd: &Cmcd) -> String {
    let value = to_query_value(cmcd);
    if value.is_empty() {
        return url.to_string();
    }
    // `split_once`, not `split_at`: no char-boundary panic path in the wasm.
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, ("#", fragment)),
        None => (url, ("", "")),
    };
    let separator = match base.find('?') {
        None => "?",
        Some(at) if at + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    format!(
        "{base}{separator}{QUERY_KEY}={}{}{}",
        utf8_percent_encode(&value, URI_COMPONENT),
        fragment.0,
        fragment.1
    )
}

/// The header form: `(name, value)` for each of the four headers that has
/// a key, keys alphabetical within each.
pub fn to_headers(cmcd: &Cmcd) -> Vec<(&'static str, String)> {
    let order = [
        Header::Object,
        Header::Request,
        Header::Session,
        Header::Status,
    ];
    let mut headers = Vec::with_capacity(4);
    for (name, header) in HEADER_NAMES.into_iter().zip(order) {
        let mut value = String::new();
        write_keys(cmcd, Some(header), &mut value);
        if !value.is_empty() {
            headers.push((name, value));
        }
    }
    headers
}
