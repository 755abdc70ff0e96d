//! Which requests need a token, and whether the one they carry opens them:
//! the decision of `caudal serve`'s token stage, without the HTTP types.
//!
//! A path is protected when it lies under one of the configured prefixes
//! (at a segment boundary: `/media/private` covers `/media/private/a.mp4`,
//! not `/media/privateer.mp4`), compared both as sent and percent-decoded,
//! so `/media/%70rivate/a.mp4` is covered too. The token is looked for in
//! the query, then the `Cookie` header, then a header, all of the
//! configured name; the token's `acl` is matched against the path as sent.

use std::net::IpAddr;

use percent_encoding::percent_decode_str;

use super::carrier;
use super::verify::{Grant, Refusal, Request, Verifier};

/// What `caudal serve --protect PREFIX --key ...` enforces.
#[derive(Debug, Clone)]
pub struct Protection {
    pub verifier: Verifier,
    /// URL path prefixes that need a token (each starts with `/`).
    pub prefixes: Vec<String>,
    /// The query parameter, cookie and header name (`__token__`).
    pub token_name: String,
}

/// The parts of a request the decision reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offered<'a> {
    /// The URL path as sent (percent-encoded).
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// Every `Cookie` header, in order.
    pub cookies: &'a [&'a str],
    /// The value of the header named like the token, if any.
    pub header: Option<&'a str>,
    pub client: Option<IpAddr>,
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not under a protected prefix: no token needed.
    Open,
    Granted(Grant),
    Refused(Refusal),
}

impl Protection {
    /// Whether `path` (as sent) lies under a protected prefix.
    pub fn covers(&self, path: &str) -> bool {
        let decoded = percent_decode_str(path).decode_utf8_lossy();
        self.prefixes
            .iter()
            .any(|prefix| under_prefix(path, prefix) || under_prefix(&decoded, prefix))
    }

    /// The protected prefix `path` lies under, if any.
    pub fn prefix_for(&self, path: &str) -> Option<&str> {
        let decoded = percent_decode_str(path).decode_utf8_lossy();
        self.prefixes
            .iter()
            .find(|prefix| under_prefix(path, prefix) || under_prefix(&decoded, prefix))
            .map(String::as_str)
    }

    /// Decides on a request at `now` (Unix seconds).
    pub fn decide(&self, offered: &Offered<'_>, now: u64) -> Decision {
        if !self.covers(offered.path) {
            return Decision::Open;
        }
        self.decide_covered(offered, now)
    }

    /// [`decide`](Protection::decide) for a path the caller found
    /// [`covers`](Protection::covers)ed already.
    pub fn decide_covered(&self, offered: &Offered<'_>, now: u64) -> Decision {
        let name = self.token_name.as_str();
        let token = offered
            .query
            .and_then(|query| carrier::from_query(query, name))
            .or_else(|| {
                offered
                    .cookies
                    .iter()
                    .find_map(|header| carrier::from_cookies(header, name))
            })
            .or(offered.header);
        let Some(token) = token else {
            return Decision::Refused(Refusal::Missing);
        };
        let request = Request {
            path: offered.path,
            ip: offered.client,
        };
        match self.verifier.verify(token, now, request) {
            Ok(grant) => Decision::Granted(grant),
            Err(refusal) => Decision::Refused(refusal),
        }
    }
}

/// `path` is `prefix` or below it, at a segment boundary.
pub fn under_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::keys::{Key, KeySet};
    use crate::access::sign::{self, Fields, Options, Scope};

    const KEY: &str = "00112233445566778899aabbccddeeff";
    const NOW: u64 = 1_000_000;

    fn protection(prefixes: &[&str]) -> Protection {
        let keys = KeySet::new(vec![Key::from_hex(KEY).expect("key")]).expect("keys");
        Protection {
            verifier: Verifier::new(keys),
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            token_name: "__token__".into(),
        }
    }

    fn token(acl: &str) -> String {
        let fields = Fields {
            scope: Scope::Acl(vec![acl.into()]),
            start: None,
            expires: NOW + 60,
            ip: None,
            id: None,
            data: None,
        };
        sign::sign(
            &fields,
            &Key::from_hex(KEY).expect("key"),
            Options::default(),
        )
    }

    #[test]
    fn prefixes_cover_whole_segments_as_sent_or_decoded() {
        let p = protection(&["/media/private", "/live/"]);
        assert!(p.covers("/media/private"));
        assert!(p.covers("/media/private/a.mp4"));
        assert!(p.covers("/media/%70rivate/a.mp4"));
        assert!(p.covers("/live/x"));
        assert!(!p.covers("/media/privateer.mp4"));
        assert!(!p.covers("/media/a.mp4"));
        assert!(!p.covers("/player.js"));
    }

    #[test]
    fn the_token_is_taken_from_query_cookie_or_header() {
        let p = protection(&["/media/"]);
        let good = token("/media/*");
        let query = format!("a=1&__token__={good}");
        let cookie = format!("x=y; __token__={good}");
        let cookies = [cookie.as_str()];
        let base = Offered {
            path: "/media/a.mp4",
            ..Offered::default()
        };
        let granted =
            |offered: Offered<'_>| matches!(p.decide(&offered, NOW), Decision::Granted(_));
        assert!(granted(Offered {
            query: Some(&query),
            ..base
        }));
        assert!(granted(Offered {
            cookies: &cookies,
            ..base
        }));
        assert!(granted(Offered {
            header: Some(&good),
            ..base
        }));
        assert_eq!(p.decide(&base, NOW), Decision::Refused(Refusal::Missing));
        assert_eq!(
            p.decide(
                &Offered {
                    path: "/www.js",
                    ..base
                },
                NOW
            ),
            Decision::Open
        );
    }

    #[test]
    fn the_acl_is_matched_against_the_path_as_sent() {
        let p = protection(&["/media/"]);
        let header = token("/media/private/*");
        let at = |path| {
            p.decide(
                &Offered {
                    path,
                    header: Some(&header),
                    ..Offered::default()
                },
                NOW,
            )
        };
        assert!(matches!(
            at("/media/private/a%20b.mp4"),
            Decision::Granted(_)
        ));
        assert_eq!(
            at("/media/public/a.mp4"),
            Decision::Refused(Refusal::WrongPath)
        );
    }
}
