//! `caudal keygen`, `caudal sign` and `caudal verify`, the I/O half: keys
//! read from the command line and key files, the clock, the printed
//! answers. The decisions are [`crate::access`] (sans-I/O).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::access::{
    self, Fields, Key, KeyError, KeySet, Options, Request, Scope, Token, Verifier,
};

/// Why a token command could not run (a refused token is not an error: see [`Verdict`]).
#[derive(Debug, thiserror::Error)]
pub enum TokenToolError {
    #[error("cannot read key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path}, line {line}: {error}")]
    KeyFileLine {
        path: PathBuf,
        line: usize,
        error: KeyError,
    },
    #[error("--key: {0}")]
    Key(KeyError),
    #[error(transparent)]
    Keys(KeyError),
    #[error("{0}")]
    Usage(String),
}

/// The keys of `--key HEX` (first) and `--key-file PATH` (then), in order;
/// the first signs. A key file holds one hex key per line (blank lines and
/// `#` comments are skipped), so one file can carry the keys of a rotation.
pub fn load_keys(hex_keys: &[String], files: &[PathBuf]) -> Result<KeySet, TokenToolError> {
    let mut keys = Vec::new();
    for hex in hex_keys {
        keys.push(Key::from_hex(hex).map_err(TokenToolError::Key)?);
    }
    for path in files {
        keys.extend(read_key_file(path)?);
    }
    KeySet::new(keys).map_err(TokenToolError::Keys)
}

fn read_key_file(path: &Path) -> Result<Vec<Key>, TokenToolError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokenToolError::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    let mut keys = Vec::new();
    for (at, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = Key::from_hex(line).map_err(|error| TokenToolError::KeyFileLine {
            path: path.to_owned(),
            line: at + 1,
            error,
        })?;
        keys.push(key);
    }
    Ok(keys)
}

/// The current time in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// When a token starts being valid (`--start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `st=` the time of signing.
    Now,
    /// `st=` this Unix time.
    At(u64),
}

impl std::str::FromStr for Start {
    type Err = String;
    fn from_str(text: &str) -> Result<Start, String> {
        if text.eq_ignore_ascii_case("now") {
            return Ok(Start::Now);
        }
        text.parse()
            .map(Start::At)
            .map_err(|_| format!("`{text}` is not `now` or Unix seconds"))
    }
}

/// What `caudal sign` was asked for.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// A path: sign it (a URL token, unless `acl` is given) and print its URL.
    pub path: Option<String>,
    /// Path patterns: an ACL token.
    pub acl: Vec<String>,
    pub ttl: Duration,
    pub start: Option<Start>,
    pub ip: Option<IpAddr>,
    pub id: Option<String>,
    pub data: Option<String>,
    /// Put before the path in the printed URL (`https://cdn.example`).
    pub base: Option<String>,
    pub token_name: String,
    pub options: Options,
}

/// Characters percent-encoded in the path of a printed URL.
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The line `caudal sign` prints: the URL with its token, or the bare
/// token for an ACL token with no path.
pub fn sign(request: &SignRequest, keys: &KeySet, now: u64) -> Result<String, TokenToolError> {
    if request.path.is_none() && request.acl.is_empty() {
        return Err(TokenToolError::Usage("give a PATH or --acl PATTERN".into()));
    }
    if request.path.is_none() && request.base.is_some() {
        return Err(TokenToolError::Usage("--base needs a PATH".into()));
    }
    if request.ttl.is_zero() {
        return Err(TokenToolError::Usage("--ttl must be longer than 0".into()));
    }
    let start = match request.start {
        None => None,
        Some(Start::Now) => Some(now),
        Some(Start::At(at)) => Some(at),
    };
    let expires = start
        .unwrap_or(now)
        .saturating_add(request.ttl.as_secs().max(1));
    let path = request
        .path
        .as_deref()
        .map(|path| path.split_once('?').map_or(path, |(p, _)| p));
    let scope = match (path, request.acl.is_empty()) {
        (_, false) => Scope::Acl(request.acl.clone()),
        (Some(path), true) => Scope::Url(path.to_owned()),
        (None, true) => return Err(TokenToolError::Usage("give a PATH or --acl PATTERN".into())),
    };
    let fields = Fields {
        scope,
        start,
        expires,
        ip: request.ip.map(|ip| ip.to_string()),
        id: request.id.clone(),
        data: request.data.clone(),
    };
    let token = access::sign::sign(&fields, keys.signing(), request.options);
    let Some(path) = request.path.as_deref() else {
        return Ok(token);
    };
    let (path, query) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    let base = request.base.as_deref().unwrap_or("").trim_end_matches('/');
    let path = utf8_percent_encode(path, PATH_ESCAPES);
    let name = &request.token_name;
    Ok(match query {
        Some(query) => format!("{base}{path}?{query}&{name}={token}"),
        None => format!("{base}{path}?{name}={token}"),
    })
}

/// What `caudal verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub valid: bool,
    /// One line: `valid: …` or `invalid: <reason>`.
    pub line: String,
}

/// Checks a URL (with its token parameter) or a bare token. A bare ACL
/// token with no `--path` is checked for its signature and time only; a
/// token bound to an address is checked against `--ip`, or reported as
/// bound when none is given.
pub fn verify(
    input: &str,
    path: Option<&str>,
    ip: Option<IpAddr>,
    verifier: &Verifier,
    token_name: &str,
    now: u64,
) -> Result<Verdict, TokenToolError> {
    let is_url = input.starts_with('/') || input.contains("://");
    let (url_path, text) = if is_url {
        let (url_path, query) = access::carrier::split_url(input);
        let token = query
            .and_then(|query| access::carrier::from_query(query, token_name))
            .ok_or_else(|| {
                TokenToolError::Usage(format!("the URL has no `{token_name}` parameter"))
            })?;
        (Some(url_path), token)
    } else {
        (None, input)
    };
    // As the verifier does: a whole token URL-encoded on its way is read decoded.
    let decoded;
    let text = if Token::parse(text).is_err() && text.contains('%') {
        decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        if Token::parse(&decoded).is_ok() {
            &*decoded
        } else {
            text
        }
    } else {
        text
    };
    let parsed = match Token::parse(text) {
        Ok(token) => token,
        Err(error) => return Ok(refused(&access::Refusal::from(error))),
    };
    let checked_path = path.or(url_path);
    let path = match (checked_path, parsed.acl) {
        (Some(path), _) => path.to_owned(),
        // An ACL pattern matches itself (`*` matches `*`): time and signature only.
        (None, Some(acl)) => acl
            .split(access::acl::ACL_DELIMITER)
            .next()
            .unwrap_or("")
            .to_owned(),
        (None, None) => {
            return Err(TokenToolError::Usage(
                "a URL token signs its path: give the URL, or --path PATH".into(),
            ));
        }
    };
    let bound_ip = parsed.ip.and_then(|bound| {
        percent_encoding::percent_decode_str(bound)
            .decode_utf8_lossy()
            .parse::<IpAddr>()
            .ok()
    });
    let ip = ip.or(bound_ip);
    match verifier.verify(text, now, Request { path: &path, ip }) {
        Ok(grant) => {
            let left = Duration::from_secs(grant.expires.saturating_sub(now));
            let mut line = format!(
                "valid: expires in {} (exp={}), key {} of {}",
                humantime::format_duration(left),
                grant.expires,
                grant.key_index + 1,
                verifier.keys().len()
            );
            match (checked_path, parsed.acl) {
                (Some(path), _) => line.push_str(&format!(", for {path}")),
                (None, Some(acl)) => line.push_str(&format!(", acl {acl}")),
                (None, None) => {}
            }
            if let Some(bound) = parsed.ip {
                line.push_str(&format!(", bound to ip {bound}"));
            }
            Ok(Verdict { valid: true, line })
        }
        Err(refusal) => Ok(refused(&refusal)),
    }
}

fn refused(refusal: &access::Refusal) -> Verdict {
    Verdict {
        valid: false,
        line: format!("invalid: {refusal}"),
    }
}
