//! Reading an Akamai Auth Token 2.0: `name=value` fields joined by `~`,
//! the last one `hmac=`, the HMAC of everything before it.
//!
//! ```text
//! ip=203.0.113.7~st=1700000000~exp=1700003600~acl=/media/*~id=u42~data=x~hmac=5f0c…
//! ```
//!
//! Fields: `st` (optional start, Unix seconds), `exp` (required end),
//! `acl` (path patterns, see [`super::acl`]) — or no `acl`, and the path is
//! then part of the signature as an unsent `url=` field (EdgeAuth's URL
//! tokens) — optional `ip`, `id`, `data`, and `hmac` (hex). The parser keeps
//! the values as written: the signature covers the text, not a meaning of it.

/// The delimiter between fields (EdgeAuth's default `field_delimiter`).
pub const FIELD_DELIMITER: char = '~';

/// The longest token read; anything longer is refused unread (a URL or a
/// cookie seldom carries more than a few hundred bytes of token).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Why a token could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum Malformed {
    #[error("the token is empty")]
    Empty,
    #[error("the token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("a field has no `=`")]
    NoEquals,
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("field `{0}` appears twice")]
    Repeated(&'static str),
    #[error("the token has no `exp` field")]
    NoExpiry,
    #[error("the token has no `hmac` field")]
    NoHmac,
    #[error("`hmac` must be the last field")]
    HmacNotLast,
    #[error("field `{0}` is not a number of seconds")]
    NotATime(&'static str),
    #[error("the token has both `acl` and `url`")]
    AclAndUrl,
    #[error("`hmac` is not hexadecimal")]
    HmacNotHex,
}

/// A token's fields, borrowed from its text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    pub ip: Option<&'a str>,
    pub start: Option<u64>,
    pub expires: u64,
    pub acl: Option<&'a str>,
    /// A `url` field sent in the token (EdgeAuth never sends it; when
    /// present it is signed like the others and must equal the path).
    pub url: Option<&'a str>,
    pub id: Option<&'a str>,
    pub data: Option<&'a str>,
    /// The signature, decoded from hex.
    pub hmac: Vec<u8>,
    /// The text the signature covers: every field before `hmac`, as written.
    pub signed: &'a str,
}

impl<'a> Token<'a> {
    /// Reads a token. Never panics; any text gives a token or an error.
    pub fn parse(text: &'a str) -> Result<Token<'a>, Malformed> {
        if text.is_empty() {
            return Err(Malformed::Empty);
        }
        if text.len() > MAX_TOKEN_LEN {
            return Err(Malformed::TooLong);
        }
        let mut fields = Fields::default();
        let mut hmac: Option<&str> = None;
        let mut signed_end = 0;
        let mut offset: usize = 0;
        for field in text.split(FIELD_DELIMITER) {
            if hmac.is_some() {
                return Err(Malformed::HmacNotLast);
            }
            let (name, value) = field.split_once('=').ok_or(Malformed::NoEquals)?;
            if name == "hmac" {
                hmac = Some(value);
                // The signed text ends before the `~` that precedes `hmac=`.
                signed_end = offset.saturating_sub(1);
            } else {
                fields.set(name, value)?;
            }
            offset += field.len() + FIELD_DELIMITER.len_utf8();
        }
        let hmac = hmac.ok_or(Malformed::NoHmac)?;
        let hmac = hex::decode(hmac).map_err(|_| Malformed::HmacNotHex)?;
        let expires = fields.exp.ok_or(Malformed::NoExpiry)?;
        if fields.acl.is_some() && fields.url.is_some() {
            return Err(Malformed::AclAndUrl);
        }
        Ok(Token {
            ip: fields.ip,
            start: fields.st.map(|st| time(st, "st")).transpose()?,
            expires: time(expires, "exp")?,
            acl: fields.acl,
            url: fields.url,
            id: fields.id,
            data: fields.data,
            hmac,
            signed: text.get(..signed_end).unwrap_or(""),
        })
    }
}

#[derive(Default)]
struct Fields<'a> {
    ip: Option<&'a str>,
    st: Option<&'a str>,
    exp: Option<&'a str>,
    acl: Option<&'a str>,
    url: Option<&'a str>,
    id: Option<&'a str>,
    data: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn set(&mut self, name: &str, value: &'a str) -> Result<(), Malformed> {
        let (slot, name) = match name {
            "ip" => (&mut self.ip, "ip"),
            "st" => (&mut self.st, "st"),
            "exp" => (&mut self.exp, "exp"),
            "acl" => (&mut self.acl, "acl"),
            "url" => (&mut self.url, "url"),
            "id" => (&mut self.id, "id"),
            "data" => (&mut self.data, "data"),
            other => {
                return Err(Malformed::UnknownField(
                    other.chars().take(32).collect::<String>(),
                ));
            }
        };
        if slot.replace(value).is_some() {
            return Err(Malformed::Repeated(name));
        }
        Ok(())
    }
}

/// Unix seconds, decimal digits only (no sign, no spaces).
fn time(value: &str, field: &'static str) -> Result<u64, Malformed> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed::NotATime(field));
    }
    value.parse().map_err(|_| Malformed::NotATime(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gives_its_fields_and_the_text_its_signature_covers() {
        let text = "ip=1.2.3.4~st=10~exp=20~acl=/media/*~id=u~data=d~hmac=0aff";
        let token = Token::parse(text).expect("token");
        assert_eq!(token.ip, Some("1.2.3.4"));
        assert_eq!(token.start, Some(10));
        assert_eq!(token.expires, 20);
        assert_eq!(token.acl, Some("/media/*"));
        assert_eq!(token.id, Some("u"));
        assert_eq!(token.data, Some("d"));
        assert_eq!(token.hmac, vec![0x0a, 0xff]);
        assert_eq!(
            token.signed,
            "ip=1.2.3.4~st=10~exp=20~acl=/media/*~id=u~data=d"
        );
    }

    #[test]
    fn a_value_may_hold_an_equals_sign() {
        let token = Token::parse("exp=5~data=a=b~hmac=00").expect("token");
        assert_eq!(token.data, Some("a=b"));
    }

    #[test]
    fn broken_tokens_say_what_is_wrong() {
        let cases: &[(&str, Malformed)] = &[
            ("", Malformed::Empty),
            ("exp=5", Malformed::NoHmac),
            ("acl=/*~hmac=00", Malformed::NoExpiry),
            ("exp=5~hmac=00~id=x", Malformed::HmacNotLast),
            ("exp=5~junk~hmac=00", Malformed::NoEquals),
            ("exp=5~kid=1~hmac=00", Malformed::UnknownField("kid".into())),
            ("exp=5~exp=6~hmac=00", Malformed::Repeated("exp")),
            ("exp=-5~hmac=00", Malformed::NotATime("exp")),
            ("st=~exp=5~hmac=00", Malformed::NotATime("st")),
            (
                "exp=99999999999999999999999~hmac=00",
                Malformed::NotATime("exp"),
            ),
            ("exp=5~acl=/*~url=/a~hmac=00", Malformed::AclAndUrl),
            ("exp=5~hmac=xyz", Malformed::HmacNotHex),
        ];
        for (text, error) in cases {
            assert_eq!(Token::parse(text).as_ref().err(), Some(error), "{text}");
        }
        let long = format!("exp=5~data={}~hmac=00", "a".repeat(MAX_TOKEN_LEN));
        assert_eq!(Token::parse(&long).err(), Some(Malformed::TooLong));
    }
}
