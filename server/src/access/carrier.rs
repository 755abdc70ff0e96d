//! Where a token travels: a query parameter, a cookie or a header, all
//! named `__token__` unless configured otherwise (EdgeAuth's `token_name`).
//! Values are taken as written, not percent-decoded: EdgeAuth tokens are
//! already URL-safe, and the signature covers their exact text.

/// EdgeAuth's default token name.
pub const DEFAULT_TOKEN_NAME: &str = "__token__";

/// The value of parameter `name` in a query string (`a=1&__token__=…&b=2`);
/// other parameters are ignored. The first one named `name` wins.
pub fn from_query<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The value of cookie `name` in a `Cookie` header (`a=1; __token__=…`).
pub fn from_cookies<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// A URL (`https://host/path?query`) or an absolute path (`/path?query`)
/// split into its path and query; the fragment is dropped.
pub fn split_url(url: &str) -> (&str, Option<&str>) {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let from_path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|at| rest.get(at..)).unwrap_or("/"),
        None => url,
    };
    match from_path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (from_path, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_parameter_is_found_among_others() {
        let query = "a=1&__token__=exp=5~acl=/*~hmac=00&b=2";
        assert_eq!(from_query(query, "__token__"), Some("exp=5~acl=/*~hmac=00"));
        assert_eq!(from_query(query, "t"), None);
        assert_eq!(from_query("", "__token__"), None);
    }

    #[test]
    fn the_token_cookie_is_found_among_others() {
        let header = "theme=dark; __token__=exp=5~hmac=00; x=y";
        assert_eq!(from_cookies(header, "__token__"), Some("exp=5~hmac=00"));
        assert_eq!(
            from_cookies("__token__=\"exp=5~hmac=00\"", "__token__"),
            Some("exp=5~hmac=00")
        );
        assert_eq!(from_cookies("a=b", "__token__"), None);
    }

    #[test]
    fn urls_and_paths_split_into_path_and_query() {
        assert_eq!(
            split_url("https://cdn.example/m/a.mp4?x=1#t=3"),
            ("/m/a.mp4", Some("x=1"))
        );
        assert_eq!(split_url("http://host"), ("/", None));
        assert_eq!(split_url("/m/a.mp4"), ("/m/a.mp4", None));
        assert_eq!(
            split_url("/m/a.mp4?__token__=x"),
            ("/m/a.mp4", Some("__token__=x"))
        );
    }
}
