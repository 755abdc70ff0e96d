//! Caudal's browser player: the wasm-bindgen shell around `caudal-media`.
//!
//! This crate is compiled to `wasm32-unknown-unknown` and loaded by
//! `www/player.js` (the classic-script loader), which imports the
//! wasm-bindgen "web" target output from `pkg/` next to itself.
//!
//! For now it exports only what the loader and the demo page need to prove
//! the pipeline end to end:
//!
//! - [`version`]: the crate version, so a page can tell which player it runs;
//! - [`mse_supported`]: whether Media Source Extensions can play a MIME type.
//!
//! The MSE player itself (MediaSource/SourceBuffer, ranged fetches, the
//! buffer policy from `caudal-media`) arrives with the player issue. Until
//! then the loader plays everything natively (`video.src = url`) and says so
//! in `stats().mode`.
//!
//! The crate also compiles for the host so that `cargo clippy --workspace
//! --all-targets` and `cargo test` cover it; there, no browser exists, so
//! [`mse_supported`] answers `false`.

use wasm_bindgen::prelude::*;

/// The player's version (the crate version, e.g. `"0.1.0"`).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Whether this browser's Media Source Extensions can play `mime`, a full
/// MIME type with codecs such as `video/mp4; codecs="avc1.4d401e,mp4a.40.2"`.
///
/// Answers `false`, without throwing, where `MediaSource` does not exist
/// (old browsers, iOS Safari before 17.1, workers, non-browser hosts).
#[wasm_bindgen(js_name = mseSupported)]
pub fn mse_supported(mime: &str) -> bool {
    media_source_present() && web_sys::MediaSource::is_type_supported(mime)
}

/// Whether the global object has a callable `MediaSource` constructor.
///
/// Checked before calling `MediaSource.isTypeSupported`, which would throw a
/// `ReferenceError` through the wasm boundary if `MediaSource` were absent.
#[cfg(target_arch = "wasm32")]
fn media_source_present() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("MediaSource"))
        .map(|ctor| ctor.is_function())
        .unwrap_or(false)
}

/// On the host there is no browser, hence no `MediaSource`.
#[cfg(not(target_arch = "wasm32"))]
fn media_source_present() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_crate_version() {
        assert_eq!(version(), env!("CARGO_PKG_VERSION"));
        assert!(!version().is_empty());
    }

    #[test]
    fn no_mse_outside_a_browser() {
        assert!(!mse_supported(r#"video/mp4; codecs="avc1.4d401e""#));
        assert!(!mse_supported(""));
    }
}
