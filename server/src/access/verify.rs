//! Deciding on a token: given its text, the keys, the time, the request
//! path and the client address, a [`Grant`] or a [`Refusal`] that says why.
//!
//! The signature is checked first, so nothing about an unsigned token's
//! fields (its expiry, its paths) is ever reported. Then time — valid from
//! `st` (when present) until just before `exp` — then the path, then `ip`.
//! For a URL token (no `acl`) the path is part of the signature, so a
//! token used on another path reads as a bad signature; the path is tried
//! as given and in both `escape_early` forms ([`super::escape`]).

use std::net::IpAddr;

use percent_encoding::percent_decode_str;

use super::acl;
use super::escape;
use super::keys::KeySet;
use super::signature::{self, Algorithm};
use super::token::{FIELD_DELIMITER, Malformed, Token};

/// The request a token is offered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The URL path as sent (still percent-encoded), without the query.
    pub path: &'a str,
    /// The client's address; a token bound to an `ip` needs one.
    pub ip: Option<IpAddr>,
}

/// A token that opens the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// When the token expires (Unix seconds).
    pub expires: u64,
    /// The token's `id` and `data`, as written (for logs and the application).
    pub id: Option<String>,
    pub data: Option<String>,
    /// Which configured key signed it (0: the first, the signing key).
    pub key_index: usize,
}

/// Why a token does not open the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("malformed token: {0}")]
    Malformed(#[from] Malformed),
    #[error("bad signature")]
    BadSignature,
    #[error("token expired at {expires}")]
    Expired { expires: u64 },
    #[error("token not valid before {start}")]
    NotYetValid { start: u64 },
    #[error("token not valid for this path")]
    WrongPath,
    #[error("token not valid for this address")]
    WrongIp,
}

impl Refusal {
    /// A short stable name, for log lines and bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::BadSignature => "bad-signature",
            Refusal::Expired { .. } => "expired",
            Refusal::NotYetValid { .. } => "not-yet-valid",
            Refusal::WrongPath => "wrong-path",
            Refusal::WrongIp => "wrong-ip",
        }
    }
}

/// Checks tokens against a set of keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeySet,
    algorithms: Vec<Algorithm>,
}

impl Verifier {
    /// A verifier accepting HMAC-SHA256 tokens signed by any of `keys`.
    pub fn new(keys: KeySet) -> Verifier {
        Verifier {
            keys,
            algorithms: vec![Algorithm::Sha256],
        }
    }

    /// Also accept tokens signed with these algorithms (EdgeAuth's
    /// `sha1`, `md5`); off by default.
    pub fn allow(mut self, algorithm: Algorithm) -> Verifier {
        if !self.algorithms.contains(&algorithm) {
            self.algorithms.push(algorithm);
        }
        self
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Decides on `text` for `request` at `now` (Unix seconds).
    pub fn verify(&self, text: &str, now: u64, request: Request<'_>) -> Result<Grant, Refusal> {
        let token = Token::parse(text)?;
        let key_index = self.signer(&token, request.path)?;
        if let Some(start) = token.start
            && now < start
        {
            return Err(Refusal::NotYetValid { start });
        }
        if now >= token.expires {
            return Err(Refusal::Expired {
                expires: token.expires,
            });
        }
        if let Some(patterns) = token.acl
            && !acl::allows(patterns, request.path)
        {
            return Err(Refusal::WrongPath);
        }
        if let Some(url) = token.url
            && !path_forms(request.path).iter().any(|form| form == url)
        {
            return Err(Refusal::WrongPath);
        }
        if let Some(bound) = token.ip
            && !same_address(bound, request.ip)
        {
            return Err(Refusal::WrongIp);
        }
        Ok(Grant {
            expires: token.expires,
            id: token.id.map(str::to_owned),
            data: token.data.map(str::to_owned),
            key_index,
        })
    }

    /// Which key made the token's signature, if any.
    fn signer(&self, token: &Token<'_>, path: &str) -> Result<usize, Refusal> {
        let algorithm = Algorithm::for_len(token.hmac.len())
            .filter(|algorithm| self.algorithms.contains(algorithm))
            .ok_or(Refusal::BadSignature)?;
        let texts: Vec<String> = if token.acl.is_some() || token.url.is_some() {
            vec![token.signed.to_owned()]
        } else {
            path_forms(path)
                .into_iter()
                .map(|form| format!("{}{FIELD_DELIMITER}url={form}", token.signed))
                .collect()
        };
        self.keys
            .iter()
            .position(|key| {
                texts
                    .iter()
                    .any(|text| signature::verify(algorithm, key, text, &token.hmac))
            })
            .ok_or(Refusal::BadSignature)
    }
}

/// The path as given and as each EdgeAuth library's `escape_early` writes it.
fn path_forms(path: &str) -> Vec<String> {
    let mut forms = vec![path.to_owned()];
    for form in [escape::python(path), escape::javascript(path)] {
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// Whether the token's `ip` (possibly percent-encoded by `escape_early`)
/// is the client's address; IPv4-mapped IPv6 addresses count as IPv4.
fn same_address(bound: &str, client: Option<IpAddr>) -> bool {
    let Some(client) = client else {
        return false;
    };
    let decoded = percent_decode_str(bound).decode_utf8_lossy();
    decoded
        .parse::<IpAddr>()
        .is_ok_and(|bound| bound.to_canonical() == client.to_canonical())
}
