//! Token keys: the shared secrets, given as hex like every EdgeAuth library
//! and CDN takes them, and the set of keys a verifier accepts (several at
//! once, so a key can be rotated: sign with the new one while tokens made
//! with the old one are still out there).

use std::fmt;

/// Random bytes in a key made by [`Key::generate`] (256 bits, the HMAC-SHA256 block is 512).
pub const GENERATED_KEY_BYTES: usize = 32;

/// Why a key was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a key must not be empty")]
    Empty,
    #[error("a key must be hexadecimal digits, an even number of them")]
    NotHex,
    #[error("no key given (use --key HEX or --key-file PATH)")]
    NoKeys,
    #[error("cannot make a random key: {0}")]
    Random(String),
}

/// One secret key. Its bytes never appear in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    bytes: Vec<u8>,
}

impl Key {
    /// A key from its hex text, as printed by `caudal keygen` (surrounding
    /// whitespace, such as the newline at the end of a key file, is ignored).
    pub fn from_hex(text: &str) -> Result<Key, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let bytes = hex::decode(text).map_err(|_| KeyError::NotHex)?;
        Ok(Key { bytes })
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Key, KeyError> {
        let mut bytes = vec![0u8; GENERATED_KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|error| KeyError::Random(error.to_string()))?;
        Ok(Key { bytes })
    }

    /// The key as lowercase hex, the form `caudal keygen` prints.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bytes)", self.bytes.len())
    }
}

/// The keys a verifier accepts, in the order given; the first one signs.
/// A token is accepted when any of them made its signature (EdgeAuth
/// tokens carry no key id, so each key is tried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// At least one key.
    pub fn new(keys: Vec<Key>) -> Result<KeySet, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoKeys);
        }
        Ok(KeySet { keys })
    }

    /// The key new tokens are signed with: the first given.
    pub fn signing(&self) -> &Key {
        // `new` refuses an empty list, so there is always a first.
        &self.keys[0]
    }

    /// Every key, the signing key first.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_hex_in_either_case_and_ignores_surrounding_whitespace() {
        let key = Key::from_hex("  0A0b\n").expect("test key");
        assert_eq!(key.bytes(), &[0x0a, 0x0b]);
        assert_eq!(key.to_hex(), "0a0b");
    }

    #[test]
    fn a_key_refuses_empty_odd_or_non_hex_text() {
        assert_eq!(Key::from_hex(" \n"), Err(KeyError::Empty));
        assert_eq!(Key::from_hex("abc"), Err(KeyError::NotHex));
        assert_eq!(Key::from_hex("zz"), Err(KeyError::NotHex));
    }

    #[test]
    fn generated_keys_are_32_random_bytes() {
        let a = Key::generate().expect("random key");
        let b = Key::generate().expect("random key");
        assert_eq!(a.to_hex().len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = Key::from_hex("deadbeef").expect("test key");
        assert_eq!(format!("{key:?}"), "Key(4 bytes)");
    }

    #[test]
    fn a_key_set_needs_a_key_and_signs_with_the_first() {
        assert_eq!(KeySet::new(vec![]), Err(KeyError::NoKeys));
        let set = KeySet::new(vec![
            Key::from_hex("01").expect("test key"),
            Key::from_hex("02").expect("test key"),
        ])
        .expect("granted");
        assert_eq!(set.signing().to_hex(), "01");
        assert_eq!(set.len(), 2);
    }
}
