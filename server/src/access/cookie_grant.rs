//! The cookie exchange: an ACL token that arrived in the query is handed
//! back as a `Set-Cookie`, scoped to the path its ACL opens, so the
//! player's later (range) requests carry the grant without a token in
//! every URL. There is no TLS yet, so no `Secure` attribute: behind a TLS
//! proxy the cookie still travels only as far as the proxy.

use super::token::Token;

/// The `Set-Cookie` value for `token` (carried as `name`), or `None` when
/// it is no ACL token or holds characters a cookie value cannot.
/// `protected` is the protected prefix the request lies under, the cookie's
/// path when the ACL is not one prefix pattern.
pub fn set_cookie(name: &str, token: &str, protected: &str) -> Option<String> {
    let acl = Token::parse(token).ok()?.acl?;
    if !token.bytes().all(is_cookie_octet) {
        return None;
    }
    let path = acl_prefix(acl).unwrap_or(protected);
    if !path.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
        return None;
    }
    Some(format!(
        "{name}={token}; Path={path}; HttpOnly; SameSite=Lax"
    ))
}

/// The folder one ACL pattern opens (`/media/private/*` → `/media/private/`);
/// `None` for several patterns (`!`-separated) or a pattern whose wildcard
/// is not in the last segment's place.
pub fn acl_prefix(acl: &str) -> Option<&str> {
    if acl.contains('!') {
        return None;
    }
    let literal = acl.split('*').next().unwrap_or(acl);
    let end = literal.rfind('/')? + 1;
    literal.get(..end).filter(|prefix| prefix.starts_with('/'))
}

/// RFC 6265's cookie-octet: visible ASCII but `"`, `,`, `;` and `\`.
fn is_cookie_octet(byte: u8) -> bool {
    byte.is_ascii_graphic() && !matches!(byte, b'"' | b',' | b';' | b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acl_pattern_scopes_the_cookie_to_its_folder() {
        assert_eq!(acl_prefix("/media/private/*"), Some("/media/private/"));
        assert_eq!(acl_prefix("/media/private/a*.mp4"), Some("/media/private/"));
        assert_eq!(acl_prefix("/media/a.mp4"), Some("/media/"));
        assert_eq!(acl_prefix("/*"), Some("/"));
        assert_eq!(acl_prefix("/a/*!/b/*"), None);
        assert_eq!(acl_prefix("*"), None);
    }

    #[test]
    fn only_acl_tokens_become_cookies() {
        let acl = "exp=9999999999~acl=/media/private/*~hmac=00ff";
        assert_eq!(
            set_cookie("__token__", acl, "/media/").as_deref(),
            Some(
                "__token__=exp=9999999999~acl=/media/private/*~hmac=00ff; \
                 Path=/media/private/; HttpOnly; SameSite=Lax"
            )
        );
        let several = "exp=9999999999~acl=/a/*!/b/*~hmac=00ff";
        assert!(
            set_cookie("__token__", several, "/media/")
                .is_some_and(|c| c.contains("Path=/media/;"))
        );
        assert_eq!(
            set_cookie("__token__", "exp=9999999999~hmac=00ff", "/m/"),
            None
        );
        assert_eq!(
            set_cookie(
                "__token__",
                "exp=9999999999~acl=/a/*~id=a,b~hmac=00ff",
                "/m/"
            ),
            None
        );
    }
}
