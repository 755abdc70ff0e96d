//! Making a token: the fields in EdgeAuth's order (`ip`, `st`, `exp`,
//! `acl`, `id`, `data`), then `hmac`, the HMAC of those fields joined by
//! `~` — with, for a URL token, `url=<path>` added to the signed text but
//! not to the token. With the same fields, key and options the result is
//! the very string EdgeAuth (Python 0.3.2, JavaScript 0.2.0) makes.

use super::acl::ACL_DELIMITER;
use super::escape;
use super::keys::Key;
use super::signature::{self, Algorithm};
use super::token::FIELD_DELIMITER;

/// What a token grants access to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Path patterns (`*` wildcard), sent in the token's `acl` field.
    Acl(Vec<String>),
    /// One exact path, signed but not sent: the request path stands in for it.
    Url(String),
}

/// The fields of a new token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub scope: Scope,
    /// Not valid before (Unix seconds); none sends no `st`.
    pub start: Option<u64>,
    /// Not valid after (Unix seconds).
    pub expires: u64,
    pub ip: Option<String>,
    pub id: Option<String>,
    pub data: Option<String>,
}

/// How to sign (EdgeAuth's options of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub algorithm: Algorithm,
    /// Percent-encode `ip`, `id`, `data` and `url` first, as the Python library does.
    pub escape_early: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            algorithm: Algorithm::Sha256,
            escape_early: false,
        }
    }
}

/// The token for `fields`, signed with `key`.
pub fn sign(fields: &Fields, key: &Key, options: Options) -> String {
    let escape = |text: &str| {
        if options.escape_early {
            escape::python(text)
        } else {
            text.to_owned()
        }
    };
    // EdgeAuth leaves out empty values (it tests them for truth).
    let present = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let mut token: Vec<String> = Vec::new();
    if let Some(ip) = present(&fields.ip) {
        token.push(format!("ip={}", escape(&ip)));
    }
    // EdgeAuth leaves out a start of 0 (it tests the value for truth).
    if let Some(start) = fields.start.filter(|&start| start > 0) {
        token.push(format!("st={start}"));
    }
    token.push(format!("exp={}", fields.expires));
    if let Scope::Acl(patterns) = &fields.scope {
        token.push(format!("acl={}", patterns.join(&ACL_DELIMITER.to_string())));
    }
    if let Some(id) = present(&fields.id) {
        token.push(format!("id={}", escape(&id)));
    }
    if let Some(data) = present(&fields.data) {
        token.push(format!("data={}", escape(&data)));
    }
    let delimiter = FIELD_DELIMITER.to_string();
    let mut signed = token.join(&delimiter);
    if let Scope::Url(url) = &fields.scope {
        signed.push(FIELD_DELIMITER);
        signed.push_str("url=");
        signed.push_str(&escape(url));
    }
    token.push(format!(
        "hmac={}",
        signature::sign(options.algorithm, key, &signed)
    ));
    token.join(&delimiter)
}
