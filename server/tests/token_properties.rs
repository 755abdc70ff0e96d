//! Properties of the token reader and verifier: any input gives a token
//! or an error and never a panic; nothing is granted without the key; a
//! signed token is granted where it should be and refused once any byte
//! of its signed fields changes; the `acl` matcher agrees with a plain
//! recursive definition of `*`.

use caudal_server::access::{
    self, Fields, Key, KeySet, Options, Refusal, Request, Scope, Token, Verifier,
};
use proptest::prelude::*;

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;

fn verifier() -> Verifier {
    Verifier::new(KeySet::new(vec![Key::from_hex(KEY).expect("key")]).expect("keys"))
        .allow(access::Algorithm::Sha1)
        .allow(access::Algorithm::Md5)
}

fn request(path: &str) -> Request<'_> {
    Request {
        path,
        ip: Some("10.0.0.1".parse().expect("address")),
    }
}

/// Text that looks like a token: the fields in any order, some repeated or
/// broken, values from the characters tokens use, and a random `hmac`.
fn token_like() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("ip"),
        Just("st"),
        Just("exp"),
        Just("acl"),
        Just("url"),
        Just("id"),
        Just("data"),
        Just("hmac"),
        Just("kid"),
        Just(""),
    ];
    let value = "[0-9a-f/*!=.%~ ]{0,24}";
    let field = (name, value).prop_map(|(name, value)| format!("{name}={value}"));
    (
        proptest::collection::vec(field, 0..8),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(fields, mac)| {
            let mut text = fields.join("~");
            text.push_str("~hmac=");
            text.push_str(&hex::encode(mac));
            text
        })
}

/// `*` matches any run of characters; everything else itself.
fn reference_match(pattern: &[u8], path: &[u8]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((b'*', rest)) => (0..=path.len()).any(|skip| reference_match(rest, &path[skip..])),
        Some((c, rest)) => path.first() == Some(c) && reference_match(rest, &path[1..]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_give_a_token_or_an_error_and_no_grant(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Token::parse(&text);
        prop_assert!(verifier().verify(&text, NOW, request("/media/a.mp4")).is_err());
    }

    #[test]
    fn token_like_text_is_never_granted_without_the_key(text in token_like(), path in "/[a-z*/]{0,12}") {
        let _ = Token::parse(&text);
        let verdict = verifier().verify(&text, NOW, request(&path));
        prop_assert!(verdict.is_err(), "{text} granted for {path}");
    }

    #[test]
    fn signed_tokens_are_granted_and_any_changed_byte_is_refused(
        acl in proptest::option::of("/[a-z]{1,6}/\\*"),
        start in proptest::option::of(NOW - 1000..=NOW),
        ttl in 1u64..100_000,
        ip in proptest::option::of(Just("10.0.0.1".to_owned())),
        id in proptest::option::of("[a-z0-9]{1,8}"),
        data in proptest::option::of("[a-z0-9=]{1,8}"),
        escape_early in any::<bool>(),
        at in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let path = match &acl {
            Some(pattern) => format!("{}file.mp4", pattern.trim_end_matches('*')),
            None => "/media/a.mp4".to_owned(),
        };
        let scope = match acl {
            Some(pattern) => Scope::Acl(vec![pattern]),
            None => Scope::Url(path.clone()),
        };
        let fields = Fields { scope, start, expires: NOW + ttl, ip, id, data };
        let key = Key::from_hex(KEY).expect("key");
        let options = Options { escape_early, ..Options::default() };
        let token = access::sign::sign(&fields, &key, options);
        prop_assert!(verifier().verify(&token, NOW, request(&path)).is_ok(), "{token}");

        let signed_len = token.find("~hmac=").expect("an hmac");
        let at = at.index(signed_len);
        let mut changed = token.clone().into_bytes();
        prop_assume!(changed[at] != replacement);
        changed[at] = replacement;
        let changed = String::from_utf8_lossy(&changed).into_owned();
        prop_assert!(
            verifier().verify(&changed, NOW, request(&path)).is_err(),
            "{changed} (from {token}) granted"
        );
    }

    #[test]
    fn the_acl_matcher_agrees_with_the_definition_of_star(pattern in "[ab*/]{0,8}", path in "[ab/]{0,10}") {
        prop_assert_eq!(
            access::acl::matches(&pattern, &path),
            reference_match(pattern.as_bytes(), path.as_bytes()),
            "{} on {}", pattern, path
        );
    }
}

#[test]
fn expiry_is_only_said_of_signed_tokens() {
    let unsigned = format!("exp=1~acl=/*~hmac={}", "00".repeat(32));
    assert_eq!(
        verifier().verify(&unsigned, NOW, request("/a")),
        Err(Refusal::BadSignature)
    );
}
