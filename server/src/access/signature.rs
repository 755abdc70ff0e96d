//! The HMAC of a token: SHA-256 by default, as Auth Token 2.0 specifies;
//! SHA-1 and MD5 only because EdgeAuth can still make them, and only when
//! asked for. The comparison is constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};

use super::keys::Key;

/// The hash under the HMAC (EdgeAuth's `algorithm` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha1,
    Md5,
}

impl Algorithm {
    /// Reads `sha256`, `sha1` or `md5`, in any case (as EdgeAuth does).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name.to_ascii_lowercase().as_str() {
            "sha256" => Some(Algorithm::Sha256),
            "sha1" => Some(Algorithm::Sha1),
            "md5" => Some(Algorithm::Md5),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha1 => "sha1",
            Algorithm::Md5 => "md5",
        }
    }

    /// The algorithm whose HMAC is `len` bytes long: tokens do not name
    /// theirs, the length of `hmac` tells.
    pub fn for_len(len: usize) -> Option<Algorithm> {
        match len {
            32 => Some(Algorithm::Sha256),
            20 => Some(Algorithm::Sha1),
            16 => Some(Algorithm::Md5),
            _ => None,
        }
    }
}

/// The HMAC of `text` under `key`, as lowercase hex.
pub fn sign(algorithm: Algorithm, key: &Key, text: &str) -> String {
    match algorithm {
        Algorithm::Sha256 => hex::encode(
            mac::<Hmac<sha2::Sha256>>(key, &[text])
                .finalize()
                .into_bytes(),
        ),
        Algorithm::Sha1 => hex::encode(
            mac::<Hmac<sha1::Sha1>>(key, &[text])
                .finalize()
                .into_bytes(),
        ),
        Algorithm::Md5 => hex::encode(mac::<Hmac<md5::Md5>>(key, &[text]).finalize().into_bytes()),
    }
}

/// Whether `signature` is the HMAC of the text `parts` make, one after the
/// other, under `key`, compared in constant time. (In parts: a URL token's
/// signed text is its fields and a `~url=` the server adds, hashed without
/// being put together.)
pub fn verify(algorithm: Algorithm, key: &Key, parts: &[&str], signature: &[u8]) -> bool {
    match algorithm {
        Algorithm::Sha256 => mac::<Hmac<sha2::Sha256>>(key, parts)
            .verify_slice(signature)
            .is_ok(),
        Algorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(key, parts)
            .verify_slice(signature)
            .is_ok(),
        Algorithm::Md5 => mac::<Hmac<md5::Md5>>(key, parts)
            .verify_slice(signature)
            .is_ok(),
    }
}

/// A key's HMAC-SHA256 with the key already mixed in (its two padded key
/// blocks hashed once, when the key is loaded): cloned for each check, so a
/// request pays only for its own text. The algorithm of every default token.
#[derive(Clone)]
pub struct PreparedSha256(Hmac<sha2::Sha256>);

impl std::fmt::Debug for PreparedSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key's state.
        f.write_str("PreparedSha256")
    }
}

impl PreparedSha256 {
    pub fn new(key: &Key) -> Self {
        PreparedSha256(mac::<Hmac<sha2::Sha256>>(key, &[]))
    }

    /// [`verify`] with [`Algorithm::Sha256`] and this key.
    pub fn verify(&self, parts: &[&str], signature: &[u8]) -> bool {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part.as_bytes());
        }
        mac.verify_slice(signature).is_ok()
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &Key, parts: &[&str]) -> M {
    // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = <M as Mac>::new_from_slice(key.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for part in parts {
        mac.update(part.as_bytes());
    }
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (key "Jefe").
    #[test]
    fn sha256_matches_rfc_4231() {
        let key = Key::from_hex(&hex::encode("Jefe")).expect("granted");
        let text = "what do ya want for nothing?";
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(sign(Algorithm::Sha256, &key, text), expected);
        let signature = hex::decode(expected).expect("hex");
        assert!(verify(Algorithm::Sha256, &key, &[text], &signature));
        // The same text in parts is the same HMAC.
        assert!(verify(
            Algorithm::Sha256,
            &key,
            &["what do ya", " want for ", "", "nothing?"],
            &signature
        ));
        assert!(!verify(
            Algorithm::Sha256,
            &key,
            &["what do ya want for nothing!"],
            &signature
        ));
        assert!(!verify(
            Algorithm::Sha256,
            &key,
            &["what do ya want for nothing"],
            &signature
        ));
    }

    #[test]
    fn a_prepared_key_verifies_as_the_key_does() {
        let key = Key::from_hex(&hex::encode("Jefe")).expect("granted");
        let prepared = PreparedSha256::new(&key);
        let signature = hex::decode(sign(Algorithm::Sha256, &key, "exp=1~acl=/*")).expect("hex");
        assert!(prepared.verify(&["exp=1~", "acl=/*"], &signature));
        assert!(
            prepared.verify(&["exp=1~acl=/*"], &signature),
            "twice: the state is cloned"
        );
        assert!(!prepared.verify(&["exp=2~acl=/*"], &signature));
        let other = PreparedSha256::new(&Key::from_hex("00").expect("key"));
        assert!(!other.verify(&["exp=1~acl=/*"], &signature));
    }

    #[test]
    fn the_length_of_the_hmac_names_the_algorithm() {
        let key = Key::from_hex("00").expect("test key");
        for algorithm in [Algorithm::Sha256, Algorithm::Sha1, Algorithm::Md5] {
            let len = sign(algorithm, &key, "x").len() / 2;
            assert_eq!(Algorithm::for_len(len), Some(algorithm));
            assert_eq!(
                Algorithm::from_name(&algorithm.name().to_uppercase()),
                Some(algorithm)
            );
        }
    }
}
