//! EdgeAuth's `escape_early` option: the `ip`, `id`, `data` and `url`
//! values are percent-encoded, with lowercase hex, before they are signed
//! (the `acl` value never is). The two libraries encode slightly
//! differently, so both forms are here: the Python one (`quote_plus`:
//! a space becomes `+`, `!*'()` are encoded) and the JavaScript one
//! (`encodeURIComponent`, then `~'*` encoded too: a space becomes `%20`,
//! `!()` stay). They agree on letters, digits, `-_.` and `/` (`%2f`).

/// The Python library's `escape_early` (`quote_plus`, lowercase hex).
pub fn python(text: &str) -> String {
    encode(
        text,
        |b| b.is_ascii_alphanumeric() || b"_.-~".contains(&b),
        true,
    )
}

/// The JavaScript library's `escapeEarly` (`encodeURIComponent`, then `~'*`).
pub fn javascript(text: &str) -> String {
    encode(
        text,
        |b| b.is_ascii_alphanumeric() || b"-_.!()".contains(&b),
        false,
    )
}

fn encode(text: &str, keep: impl Fn(u8) -> bool, space_as_plus: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else if b == b' ' && space_as_plus {
            out.push('+');
        } else {
            out.push('%');
            out.push_str(&hex::encode([b]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_form_is_quote_plus_with_lowercase_hex() {
        assert_eq!(python("/media/a b.mp4"), "%2fmedia%2fa+b.mp4");
        assert_eq!(python("2001:db8::1"), "2001%3adb8%3a%3a1");
        assert_eq!(python("a~b!c*é"), "a~b%21c%2a%c3%a9");
    }

    #[test]
    fn javascript_form_is_encode_uri_component_plus_tilde_quote_star() {
        assert_eq!(javascript("/media/a b.mp4"), "%2fmedia%2fa%20b.mp4");
        assert_eq!(javascript("a~b!c*'()é"), "a%7eb!c%2a%27()%c3%a9");
    }
}
