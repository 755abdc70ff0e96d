//! `pkg/manifest.json`: the content-hashed names `cargo xtask build-player`
//! gave each module of the player, `{"player": {"js": …, "wasm": …},
//! "remux": {…}, …}` — the same names it stamped into `pkg/player.js`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Where the manifest is, under the site root.
pub const PATH: &str = "pkg/manifest.json";

/// The largest manifest read: a handful of names.
pub const MAX_BYTES: u64 = 64 * 1024;

/// One module: its JS glue and its wasm, file names in `pkg/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Module {
    pub js: String,
    pub wasm: String,
}

/// The modules by key (`player`, `remux`, `fmp4`, `webm`, `mp3`,
/// `rewrite`, `live`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    modules: BTreeMap<String, Module>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("pkg/manifest.json is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("pkg/manifest.json names {0:?}, which is not a plain file name")]
    Name(String),
    #[error("pkg/manifest.json has no \"player\" module")]
    NoPlayer,
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let modules: BTreeMap<String, Module> = serde_json::from_slice(bytes)?;
        for module in modules.values() {
            for name in [&module.js, &module.wasm] {
                if !is_file_name(name) {
                    return Err(ManifestError::Name(name.clone()));
                }
            }
        }
        if !modules.contains_key("player") {
            return Err(ManifestError::NoPlayer);
        }
        Ok(Manifest { modules })
    }

    pub fn module(&self, key: &str) -> Option<&Module> {
        self.modules.get(key)
    }
}

/// A name a `Link` header carries as it is, that stays inside `pkg/`.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builds_manifest_gives_each_modules_names() -> Result<(), ManifestError> {
        let m = Manifest::parse(
            br#"{"player": {"js": "caudal_player-0123456789abcdef.js", "wasm": "caudal_player-fedcba9876543210.wasm"},
                 "remux": {"js": "caudal_remux-1.js", "wasm": "caudal_remux-2.wasm"}}"#,
        )?;
        assert_eq!(
            m.module("remux"),
            Some(&Module {
                js: "caudal_remux-1.js".into(),
                wasm: "caudal_remux-2.wasm".into()
            })
        );
        assert_eq!(m.module("webm"), None);
        Ok(())
    }

    #[test]
    fn names_that_leave_pkg_or_break_a_header_are_refused() {
        for bad in ["../x.js", "a/b.js", "x.js>; rel=x", "", ".hidden.js"] {
            let text = format!(r#"{{"player": {{"js": "{bad}", "wasm": "p.wasm"}}}}"#);
            assert!(
                matches!(
                    Manifest::parse(text.as_bytes()),
                    Err(ManifestError::Name(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Manifest::parse(br#"{"remux": {"js": "r.js", "wasm": "r.wasm"}}"#),
            Err(ManifestError::NoPlayer)
        ));
        assert!(matches!(
            Manifest::parse(b"not json"),
            Err(ManifestError::Json(_))
        ));
    }
}
