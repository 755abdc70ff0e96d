//! Content negotiation of precompressed assets: which of the codings a
//! site file has on disk (`<file>.br`, `<file>.gz`) the request's
//! `Accept-Encoding` lets the server send (RFC 9110 §12.5.3). A pure
//! function, so that every rule of the header is tested without a server.

/// A coding a site file may be stored in beside its plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    /// In order of preference: brotli is smaller than gzip for the same text.
    pub const PREFERRED: [Coding; 2] = [Coding::Brotli, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }

    /// The suffix of the file on disk holding this coding.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Gzip => ".gz",
        }
    }

    /// Marks the ETag of this variant so that caches never mix variants.
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Brotli => "-br",
            Coding::Gzip => "-gz",
        }
    }
}

/// The q-value `accept_encoding` gives `token` (case-insensitive): its own
/// entry, else `*`'s, else none. `x-gzip` counts as `gzip`.
fn quality(accept_encoding: &str, token: &str) -> Option<f32> {
    let mut star = None;
    for entry in accept_encoding.split(',') {
        let mut parts = entry.split(';');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let mut q = 1.0_f32;
        for parameter in parts {
            let Some((key, value)) = parameter.split_once('=') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("q") {
                // A malformed weight is read as "not acceptable": safer than 1.
                q = value
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))
                    .unwrap_or(0.0);
            }
        }
        let same = name.eq_ignore_ascii_case(token)
            || (token == "gzip" && name.eq_ignore_ascii_case("x-gzip"));
        if same {
            return Some(q);
        }
        if name == "*" {
            star = Some(q);
        }
    }
    star
}

/// The coding to send among `available` (in preference order), or `None`
/// for the plain bytes. No header, or an empty one, asks for identity.
pub fn choose(accept_encoding: Option<&str>, available: &[Coding]) -> Option<Coding> {
    let header = accept_encoding?;
    let mut best: Option<(Coding, f32)> = None;
    for &coding in available {
        let Some(q) = quality(header, coding.token()) else {
            continue;
        };
        // Ties keep the earlier (preferred) coding.
        if q > 0.0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((coding, q));
        }
    }
    best.map(|(coding, _)| coding)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &[Coding] = &Coding::PREFERRED;

    #[test]
    fn brotli_is_preferred_when_both_are_accepted() {
        assert_eq!(
            choose(Some("gzip, deflate, br"), BOTH),
            Some(Coding::Brotli)
        );
        assert_eq!(choose(Some("br, gzip"), BOTH), Some(Coding::Brotli));
    }

    #[test]
    fn gzip_when_only_gzip_is_accepted_or_stored() {
        assert_eq!(choose(Some("gzip, deflate"), BOTH), Some(Coding::Gzip));
        assert_eq!(choose(Some("X-GZIP"), BOTH), Some(Coding::Gzip));
        assert_eq!(
            choose(Some("br, gzip"), &[Coding::Gzip]),
            Some(Coding::Gzip)
        );
    }

    #[test]
    fn identity_without_header_or_acceptable_coding() {
        assert_eq!(choose(None, BOTH), None);
        assert_eq!(choose(Some(""), BOTH), None);
        assert_eq!(choose(Some("identity"), BOTH), None);
        assert_eq!(choose(Some("deflate, zstd"), BOTH), None);
        assert_eq!(choose(Some("br, gzip"), &[]), None);
    }

    #[test]
    fn q_zero_refuses_and_higher_q_wins() {
        assert_eq!(choose(Some("br;q=0, gzip"), BOTH), Some(Coding::Gzip));
        assert_eq!(
            choose(Some("br;q=0.5, gzip;q=0.8"), BOTH),
            Some(Coding::Gzip)
        );
        assert_eq!(
            choose(Some("br;q=0.9, gzip;q=0.8"), BOTH),
            Some(Coding::Brotli)
        );
        assert_eq!(choose(Some("br ; Q=0 , gzip;q=0"), BOTH), None);
        assert_eq!(choose(Some("br;q=0.000"), BOTH), None);
    }

    #[test]
    fn star_covers_unnamed_codings_only() {
        assert_eq!(choose(Some("*"), BOTH), Some(Coding::Brotli));
        assert_eq!(choose(Some("br;q=0, *"), BOTH), Some(Coding::Gzip));
        assert_eq!(choose(Some("*;q=0, gzip"), BOTH), Some(Coding::Gzip));
        assert_eq!(choose(Some("*;q=0"), BOTH), None);
        assert_eq!(choose(Some("identity;q=0, *;q=0"), BOTH), None);
    }

    #[test]
    fn tokens_are_case_insensitive_and_malformed_weights_refuse() {
        assert_eq!(choose(Some("BR"), BOTH), Some(Coding::Brotli));
        assert_eq!(choose(Some("br;q=abc, gzip"), BOTH), Some(Coding::Gzip));
        assert_eq!(choose(Some("br;q=2, gzip"), BOTH), Some(Coding::Gzip));
        assert_eq!(choose(Some(" , ,gzip"), BOTH), Some(Coding::Gzip));
    }
}
