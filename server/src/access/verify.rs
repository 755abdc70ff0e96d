//! Deciding on a token: given its text, the keys, the time, the request
//! path and the client address, a [`Grant`] or a [`Refusal`] that says why.
//!
//! The signature is checked first, so nothing about an unsigned token's
//! fields (its expiry, its paths) is ever reported. Then time — valid from
//! `st` (when present) until just before `exp` — then the path, then `ip`.
//! For a URL token (no `acl`) the path is part of the signature, so a
//! token used on another path reads as a bad signature; the path is tried
//! as sent and percent-decoded, each also in both `escape_early` forms
//! ([`super::escape`]).

use std::borrow::Cow;
use std::net::IpAddr;

use percent_encoding::percent_decode_str;

use super::acl;
use super::escape;
use super::keys::KeySet;
use super::signature::{self, Algorithm, PreparedSha256};
use super::token::{Malformed, Token};

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
    /// It grants by `acl` patterns (only such a token becomes a cookie).
    pub acl: bool,
}

/// Why a token does not open the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A protected path asked for without a token (said by [`super::protection`]).
    #[error("no token")]
    Missing,
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
    /// The one line a refused client is told: only a token that is
    /// genuinely signed learns that it is expired or not yet valid (so a
    /// player knows to fetch a fresh one); everything else is `forbidden`.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Refusal::Expired { .. } => "forbidden: token expired",
            Refusal::NotYetValid { .. } => "forbidden: token not yet valid",
            _ => "forbidden",
        }
    }

    /// A short stable name, for log lines.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
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
    /// Each key's HMAC-SHA256, ready (in `keys` order).
    prepared: Vec<PreparedSha256>,
    algorithms: Vec<Algorithm>,
}

impl Verifier {
    /// A verifier accepting HMAC-SHA256 tokens signed by any of `keys`.
    pub fn new(keys: KeySet) -> Verifier {
        let prepared = keys.iter().map(PreparedSha256::new).collect();
        Verifier {
            keys,
            prepared,
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
    ///
    /// A token is read as written; one that does not parse so and holds a
    /// `%` is read once more percent-decoded: that is a whole token that
    /// went through `encodeURIComponent` or `URLSearchParams` on its way
    /// into a URL (`exp%3D…%7Eacl%3D…`). A token that parses as written is
    /// never decoded, as `escape_early` values hold `%` in the signed text.
    pub fn verify(&self, text: &str, now: u64, request: Request<'_>) -> Result<Grant, Refusal> {
        match Token::parse(text) {
            Err(malformed) if text.contains('%') => {
                let decoded = percent_decode_str(text).decode_utf8_lossy();
                match Token::parse(&decoded) {
                    Ok(token) => self.verify_parsed(token, now, request),
                    Err(_) => Err(malformed.into()),
                }
            }
            Err(malformed) => Err(malformed.into()),
            Ok(token) => self.verify_parsed(token, now, request),
        }
    }

    fn verify_parsed(
        &self,
        token: Token<'_>,
        now: u64,
        request: Request<'_>,
    ) -> Result<Grant, Refusal> {
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
        let by_acl = token.acl.is_some();
        if let Some(patterns) = token.acl
            && !acl::allows(patterns, request.path)
        {
            return Err(Refusal::WrongPath);
        }
        if let Some(url) = token.url
            && !path_forms(request.path).any(|form| form == url)
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
            acl: by_acl,
        })
    }

    /// Which key made the token's signature, if any.
    fn signer(&self, token: &Token<'_>, path: &str) -> Result<usize, Refusal> {
        let algorithm = Algorithm::for_len(token.hmac.len())
            .filter(|algorithm| self.algorithms.contains(algorithm))
            .ok_or(Refusal::BadSignature)?;
        let signed_by = |parts: &[&str]| match algorithm {
            Algorithm::Sha256 => self
                .prepared
                .iter()
                .position(|key| key.verify(parts, &token.hmac)),
            _ => self
                .keys
                .iter()
                .position(|key| signature::verify(algorithm, key, parts, &token.hmac)),
        };
        if token.acl.is_some() || token.url.is_some() {
            return signed_by(&[token.signed]).ok_or(Refusal::BadSignature);
        }
        // A URL token signs a `url=` it does not carry: the path, in one of
        // the forms a signer may have written it, each made only when the
        // ones before it did not verify (most signers write it as sent,
        // which costs no allocation).
        let mut tried: Vec<Cow<'_, str>> = Vec::new();
        for form in path_forms(path) {
            if tried.contains(&form) {
                continue;
            }
            if let Some(index) = signed_by(&[token.signed, URL_FIELD, &form]) {
                return Ok(index);
            }
            tried.push(form);
        }
        Err(Refusal::BadSignature)
    }
}

/// What a URL token's signed text has before the path: the field
/// delimiter, then `url=`.
const URL_FIELD: &str = "~url=";

/// The forms a URL token's signer may have written the path in, the
/// commonest first: as sent, each `escape_early` form, then the same of
/// the percent-decoded path (some repeat: the caller skips those). Each is
/// made only when asked for (the first is `path` itself, borrowed).
fn path_forms(path: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    let decoded = move || percent_decode_str(path).decode_utf8_lossy();
    (0..6).map(move |form| match form {
        0 => Cow::Borrowed(path),
        1 => Cow::Owned(escape::python(path)),
        2 => Cow::Owned(escape::javascript(path)),
        3 => Cow::Owned(escape::python(&decoded())),
        4 => Cow::Owned(escape::javascript(&decoded())),
        _ => decoded(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::keys::Key;
    use crate::access::sign::{self, Fields, Options, Scope};

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_url_field_follows_the_field_delimiter() {
        let delimiter = crate::access::token::FIELD_DELIMITER;
        assert_eq!(URL_FIELD, format!("{delimiter}url="));
    }
    const OLD_KEY: &str = "fedcba9876543210fedcba9876543210";
    const NOW: u64 = 1_700_001_000;

    fn verifier(keys: &[&str]) -> Verifier {
        let keys = keys
            .iter()
            .map(|k| Key::from_hex(k).expect("test key"))
            .collect();
        Verifier::new(KeySet::new(keys).expect("keys"))
    }

    fn at(path: &str) -> Request<'_> {
        Request { path, ip: None }
    }

    fn from<'a>(path: &'a str, ip: &str) -> Request<'a> {
        Request {
            path,
            ip: Some(ip.parse().expect("address")),
        }
    }

    /// Tokens made by EdgeAuth 0.3.2 (PyPI `akamai-edgeauth`) with key
    /// `KEY`, e.g. `EdgeAuth(key=KEY, end_time=1700003600).generate_acl_token('/media/*')`
    /// (the interop test makes fresh ones with the library itself).
    #[test]
    fn tokens_made_by_edgeauth_are_granted() {
        let v = verifier(&[KEY]);
        let acl = "exp=1700003600~acl=/media/*~hmac=a95b60103bed79bba7c82033b387916264d6b61c1110c5c36db4c162be82a25c";
        assert!(v.verify(acl, NOW, at("/media/a/b.mp4")).is_ok());
        let full = "ip=203.0.113.7~st=1700000000~exp=1700003600~acl=/media/*!/live/*~id=u 42~data=a/b~hmac=4109d389dcb1ed706ae267428590b2245c62dececfcca1cfd6c034fe0ff6820f";
        let grant = v
            .verify(full, NOW, from("/live/x", "203.0.113.7"))
            .expect("granted");
        assert_eq!(grant.id.as_deref(), Some("u 42"));
        assert_eq!(grant.data.as_deref(), Some("a/b"));
        let url =
            "exp=1700003600~hmac=187cd47ed3725393a446a5c0b05764f44f67ce6ffb2ce7d26a05b204b073ccc8";
        assert!(v.verify(url, NOW, at("/media/clip.mp4")).is_ok());
        // escape_early=True, ip='2001:db8::1', payload='a b/c', url '/media/my clip.mp4'
        let early = "ip=2001%3adb8%3a%3a1~exp=1700003600~data=a+b%2fc~hmac=25f56ba054219da4de679b4455ee964d6e7ca5a62a7fcf5790d6284d19f07d1c";
        assert!(
            v.verify(early, NOW, from("/media/my%20clip.mp4", "2001:db8::1"))
                .is_ok()
        );
    }

    #[test]
    fn signing_gives_the_strings_edgeauth_gives() {
        let key = Key::from_hex(KEY).expect("test key");
        let acl = Fields {
            scope: Scope::Acl(vec!["/media/*".into(), "/live/*".into()]),
            start: Some(1_700_000_000),
            expires: 1_700_003_600,
            ip: Some("203.0.113.7".into()),
            id: Some("u 42".into()),
            data: Some("a/b".into()),
        };
        assert_eq!(
            sign::sign(&acl, &key, Options::default()),
            "ip=203.0.113.7~st=1700000000~exp=1700003600~acl=/media/*!/live/*~id=u 42~data=a/b~hmac=4109d389dcb1ed706ae267428590b2245c62dececfcca1cfd6c034fe0ff6820f"
        );
        let early = Fields {
            scope: Scope::Url("/media/my clip.mp4".into()),
            start: None,
            expires: 1_700_003_600,
            ip: Some("2001:db8::1".into()),
            id: None,
            data: Some("a b/c".into()),
        };
        let options = Options {
            escape_early: true,
            ..Options::default()
        };
        assert_eq!(
            sign::sign(&early, &key, options),
            "ip=2001%3adb8%3a%3a1~exp=1700003600~data=a+b%2fc~hmac=25f56ba054219da4de679b4455ee964d6e7ca5a62a7fcf5790d6284d19f07d1c"
        );
    }

    #[test]
    fn sha1_is_refused_unless_allowed() {
        let sha1 = "exp=1700003600~acl=/media/*~hmac=ce315ccfe87db3571976669ff2485a0277c92412";
        assert_eq!(
            verifier(&[KEY]).verify(sha1, NOW, at("/media/a")),
            Err(Refusal::BadSignature)
        );
        let allowed = verifier(&[KEY]).allow(Algorithm::Sha1);
        assert!(allowed.verify(sha1, NOW, at("/media/a")).is_ok());
    }

    fn token(
        key: &str,
        scope: Scope,
        start: Option<u64>,
        expires: u64,
        ip: Option<&str>,
    ) -> String {
        let fields = Fields {
            scope,
            start,
            expires,
            ip: ip.map(str::to_owned),
            id: None,
            data: None,
        };
        sign::sign(
            &fields,
            &Key::from_hex(key).expect("test key"),
            Options::default(),
        )
    }

    fn media() -> Scope {
        Scope::Acl(vec!["/media/*".into()])
    }

    #[test]
    fn each_way_a_token_fails_has_its_reason() {
        let v = verifier(&[KEY, OLD_KEY]);
        let good = token(KEY, media(), None, NOW + 60, None);
        let url = token(KEY, Scope::Url("/media/a.mp4".into()), None, NOW + 60, None);
        let bound = token(KEY, media(), None, NOW + 60, Some("10.0.0.1"));
        let later = format!("exp={}", NOW + 9999);
        let cases: Vec<(&str, String, Request<'_>, Result<usize, Refusal>)> = vec![
            ("valid", good.clone(), at("/media/a.mp4"), Ok(0)),
            (
                "old key still configured",
                token(OLD_KEY, media(), None, NOW + 60, None),
                at("/media/a.mp4"),
                Ok(1),
            ),
            (
                "key no longer configured",
                token("aa", media(), None, NOW + 60, None),
                at("/media/a.mp4"),
                Err(Refusal::BadSignature),
            ),
            (
                "expired",
                token(KEY, media(), None, NOW, None),
                at("/media/a.mp4"),
                Err(Refusal::Expired { expires: NOW }),
            ),
            (
                "not yet valid",
                token(KEY, media(), Some(NOW + 1), NOW + 60, None),
                at("/media/a.mp4"),
                Err(Refusal::NotYetValid { start: NOW + 1 }),
            ),
            (
                "outside acl",
                good.clone(),
                at("/other/a.mp4"),
                Err(Refusal::WrongPath),
            ),
            (
                "url token, its path",
                url.clone(),
                at("/media/a.mp4"),
                Ok(0),
            ),
            (
                "url token, other path",
                url,
                at("/media/b.mp4"),
                Err(Refusal::BadSignature),
            ),
            (
                "tampered exp",
                good.replace(&format!("exp={}", NOW + 60), &later),
                at("/media/a.mp4"),
                Err(Refusal::BadSignature),
            ),
            (
                "tampered acl",
                good.replace("acl=/media/*", "acl=/*"),
                at("/other"),
                Err(Refusal::BadSignature),
            ),
            (
                "bound ip, same",
                bound.clone(),
                from("/media/a", "10.0.0.1"),
                Ok(0),
            ),
            (
                "bound ip, mapped v6",
                bound.clone(),
                from("/media/a", "::ffff:10.0.0.1"),
                Ok(0),
            ),
            (
                "bound ip, other",
                bound.clone(),
                from("/media/a", "10.0.0.2"),
                Err(Refusal::WrongIp),
            ),
            (
                "bound ip, none known",
                bound,
                at("/media/a"),
                Err(Refusal::WrongIp),
            ),
            (
                "garbage",
                "hello".into(),
                at("/media/a"),
                Err(Refusal::Malformed(Malformed::NoEquals)),
            ),
        ];
        for (name, text, request, expected) in cases {
            let got = v.verify(&text, NOW, request).map(|grant| grant.key_index);
            assert_eq!(got, expected, "{name}: {text}");
        }
    }

    #[test]
    fn a_wholly_url_encoded_token_is_read_decoded() {
        let v = verifier(&[KEY]);
        let good = token(KEY, media(), None, NOW + 60, None);
        let encoded: String =
            percent_encoding::utf8_percent_encode(&good, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert!(
            encoded.contains("%3D") && encoded.contains("%7E"),
            "{encoded}"
        );
        assert_eq!(
            v.verify(&encoded, NOW, at("/media/a")).map(|g| g.key_index),
            Ok(0)
        );
        let garbage = "exp%3D1%7Ehmac%3Dzz";
        assert_eq!(
            v.verify(garbage, NOW, at("/media/a")),
            Err(Refusal::Malformed(Malformed::NoEquals))
        );
    }

    #[test]
    fn an_unsigned_token_reveals_nothing_of_its_fields() {
        let v = verifier(&[KEY]);
        let forged = token("aa", media(), None, NOW - 100, None);
        assert_eq!(
            v.verify(&forged, NOW, at("/other")),
            Err(Refusal::BadSignature)
        );
    }
}
