//! Caudal's browser player: the wasm-bindgen shell around `caudal-media`.
//!
//! This crate is compiled to `wasm32-unknown-unknown` and loaded by
//! `www/player.js` (the classic-script loader), which imports the
//! wasm-bindgen "web" target output from `pkg/` next to itself. It exports
//! [`Player`] (`attach`, `stats`, `destroy`), [`version`] and
//! [`mse_supported`]. All decisions — what to fetch, when to start, stall,
//! resume, evict — are made by `caudal_media::policy::Policy`; this crate
//! only performs them with MediaSource, fetch and timers.
//!
//! How the modules fit: `player` is the shell — it owns the policy and the
//! browser objects, turns each browser event into a `handle_*` call and
//! performs the actions that come back. It leans on leaves that never call
//! it: `mse_queue` (what the SourceBuffer does next, plain data) and
//! `source_buffer` (doing it), `hold` (holding playback at rate zero
//! without taking it from the viewer), `timer` (the policy's deadline as a
//! browser timer, and the playback tick), `fetcher` (one ranged request,
//! reported to a sink the shell implements), `remux_bridge` (plain MP4s,
//! read by the second wasm module `player-remux` through the
//! `caudal_media::wire` codec), `events`, `stats` and `fallback` (what the
//! page sees), and `js` (small helpers at the JS boundary). The pure
//! leaves are tested natively.
//!
//! The crate also compiles for the host so that `cargo clippy --workspace
//! --all-targets` and `cargo test` cover it; there, no browser exists, so
//! [`mse_supported`] answers `false`.

// One crate, two wasm modules (see Cargo.toml's `live` feature): each
// exports one player, and the code only the other's export reaches is
// dropped at link time, unused in that build.
#![cfg_attr(target_family = "wasm", allow(dead_code, unused_imports))]

mod element;
mod events;
mod fallback;
mod fetcher;
mod hold;
mod in_flight;
mod js;
mod live;
mod mse_queue;
mod panic;
mod player;
mod remux_bridge;
mod source_buffer;
mod stats;
mod timer;

use caudal_media::policy::PolicyOptions;
use wasm_bindgen::prelude::*;

/// The allocator of this module (see Cargo.toml): talc, for its size.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

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
    js::media_source_present() && web_sys::MediaSource::is_type_supported(mime)
}

/// A player attached to one `<video>`.
#[cfg(any(not(feature = "live"), not(target_family = "wasm")))]
#[wasm_bindgen]
pub struct Player {
    shared: player::Shared,
}

#[cfg(any(not(feature = "live"), not(target_family = "wasm")))]
impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Player")
    }
}

#[cfg(any(not(feature = "live"), not(target_family = "wasm")))]
#[wasm_bindgen]
impl Player {
    /// Attaches to `video` and streams `url` under Caudal's buffer policy.
    /// `options` may set `startup`, `goal`, `resume`, `behind` (seconds) and
    /// `maxBytes`, and `authorize(url) → url | Promise<url>`, which gives a
    /// fresh signed URL when the token nears its `exp=` or is refused;
    /// `cmcd` (`"query"`, the default, `"header"` or `"off"`) and
    /// `sessionId` (CMCD's `sid`) say how requests tell the server the
    /// player's state.
    /// `early` is what the loader started before this module
    /// was ready: `{url, response: Promise<Response>, controller}` of a
    /// `GET url` with `Range: bytes=0-` (or undefined); the player takes
    /// it as its first request when it is for the same URL.
    pub fn attach(
        video: web_sys::HtmlVideoElement,
        url: String,
        options: JsValue,
        early: JsValue,
    ) -> Player {
        let early = early_request(&early, &url);
        let authorize = js_sys::Reflect::get(&options, &JsValue::from_str("authorize"))
            .ok()
            .and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok());
        let mut policy = policy_options(&options);
        policy.authorize = authorize.is_some();
        let cmcd = js::string(&options, "cmcd")
            .and_then(|mode| player::CmcdMode::parse(&mode))
            .unwrap_or_else(|| {
                // `cmcd: false` turns it off too.
                let off = js_sys::Reflect::get(&options, &JsValue::from_str("cmcd"))
                    .ok()
                    .and_then(|v| v.as_bool())
                    == Some(false);
                if off {
                    player::CmcdMode::Off
                } else {
                    player::CmcdMode::default()
                }
            });
        Player {
            shared: player::Shared::attach(video, url, policy, early, authorize, cmcd),
        }
    }

    /// A plain object of counters and the current state.
    pub fn stats(&self) -> JsValue {
        self.shared.stats()
    }

    /// Stops every request and detaches from the `<video>`.
    pub fn destroy(&self) {
        self.shared.destroy();
    }
}

/// A player of a live stream (`/live/NAME` of `caudal serve`) attached to
/// one `<video>`.
#[cfg(any(feature = "live", not(target_family = "wasm")))]
#[wasm_bindgen]
pub struct LivePlayer {
    live: live::Live,
}

#[cfg(any(feature = "live", not(target_family = "wasm")))]
impl std::fmt::Debug for LivePlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LivePlayer")
    }
}

#[cfg(any(feature = "live", not(target_family = "wasm")))]
#[wasm_bindgen]
impl LivePlayer {
    /// Attaches to `video` and plays the live stream at `url` (an endless
    /// fragmented-MP4 body) at the target latency. `options`: `latency`
    /// (seconds, default 0.6), `maxRate` (fastest catch-up, default 1.1),
    /// `backBuffer` (seconds kept behind the playhead), `cmcd`,
    /// `sessionId`; `early` as for [`Player::attach`].
    pub fn attach(
        video: web_sys::HtmlVideoElement,
        url: String,
        options: JsValue,
        early: JsValue,
    ) -> LivePlayer {
        let early = early_request(&early, &url);
        let cmcd = js::string(&options, "cmcd")
            .and_then(|mode| player::CmcdMode::parse(&mode))
            .unwrap_or_default();
        let session_id = js::string(&options, "sessionId").filter(|id| !id.is_empty());
        LivePlayer {
            live: live::Live::attach(video, url, live::options(&options), early, cmcd, session_id),
        }
    }

    /// A plain object: state, latency (seconds, from the stream's `prft`),
    /// startup, stalls, buffer ahead, rate, bytes, connections, jumps.
    pub fn stats(&self) -> JsValue {
        self.live.stats()
    }

    /// Ends the connection and detaches from the `<video>`.
    pub fn destroy(&self) {
        self.live.destroy();
    }
}

/// The loader's early request, if `value` is one for `url`.
fn early_request(value: &JsValue, url: &str) -> Option<player::Early> {
    use wasm_bindgen::JsCast;
    if !value.is_object() {
        return None;
    }
    let field = |name: &str| js_sys::Reflect::get(value, &JsValue::from_str(name)).ok();
    if field("url")?.as_string()? != url {
        return None;
    }
    Some(player::Early {
        response: field("response")?.dyn_into().ok()?,
        controller: field("controller")?.dyn_into().ok()?,
    })
}

/// Policy options from a JS object; missing or non-positive numbers keep
/// the defaults.
fn policy_options(options: &JsValue) -> PolicyOptions {
    let mut o = PolicyOptions::default();
    let positive = |key: &str| js::number(options, key).filter(|v| v.is_finite() && *v > 0.0);
    if let Some(v) = positive("startup") {
        o.startup = v;
    }
    if let Some(v) = positive("goal") {
        o.goal = v;
    }
    if let Some(v) = positive("resume") {
        o.resume = v;
    }
    if let Some(v) = positive("behind") {
        o.behind = v;
    }
    if let Some(v) = positive("maxBytes") {
        o.max_bytes = v as u64;
    }
    // CMCD's `sid`: the loader picks one per playback (and sent it with
    // its early request); a page may give its own.
    o.session_id = js::string(options, "sessionId").filter(|id| !id.is_empty());
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `version` the workspace manifest declares, read now (not when
    /// the crate was compiled): `[workspace.package] version = "..."`.
    fn manifest_version() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
        let manifest = std::fs::read_to_string(path).expect("the workspace manifest");
        let package = manifest
            .split("[workspace.package]")
            .nth(1)
            .expect("a [workspace.package] table");
        package
            .lines()
            .take_while(|line| !line.starts_with('['))
            .find_map(|line| line.strip_prefix("version")?.trim().strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_owned())
            .expect("a version in [workspace.package]")
    }

    #[test]
    fn version_is_the_version_in_the_manifest() {
        assert_eq!(version(), manifest_version());
    }

    #[test]
    fn no_mse_outside_a_browser() {
        assert!(!mse_supported(r#"video/mp4; codecs="avc1.4d401e""#));
        assert!(!mse_supported(""));
    }
}
