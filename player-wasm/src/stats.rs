//! `player.stats()`: the policy's counters and the player's mode and state
//! as one plain JS object.

use caudal_media::policy::{State, Stats};
use wasm_bindgen::JsValue;

use crate::fallback::Mode;
use crate::js;

/// The stats object. `state` is the policy's, shown only in MSE mode (in
/// native mode "native", or "error" once the browser failed too:
/// `native_failed`); `position` is the element's playhead; `reason` why
/// playback is native.
pub fn to_js(
    mode: Mode,
    native_failed: bool,
    state: State,
    stats: &Stats,
    position: f64,
    reason: Option<&str>,
) -> JsValue {
    let (mode, state) = match mode {
        Mode::Mse => ("mse", state.as_str()),
        Mode::Native if native_failed => ("native", "error"),
        Mode::Native => ("native", "native"),
    };
    js::object(&[
        ("mode", JsValue::from_str(mode)),
        ("state", JsValue::from_str(state)),
        ("startupMs", js::opt_number(stats.startup_ms)),
        ("stalls", JsValue::from_f64(f64::from(stats.stalls))),
        ("stallMs", JsValue::from_f64(stats.stall_ms)),
        (
            "bytesFetched",
            JsValue::from_f64(stats.bytes_fetched as f64),
        ),
        ("bufferAhead", JsValue::from_f64(stats.buffer_ahead)),
        ("throughput", js::opt_number(stats.throughput)),
        ("requests", JsValue::from_f64(f64::from(stats.requests))),
        ("aborted", JsValue::from_f64(f64::from(stats.aborted))),
        ("errors", JsValue::from_f64(f64::from(stats.retries))),
        ("refused", JsValue::from_f64(f64::from(stats.refused))),
        (
            "authorizations",
            JsValue::from_f64(f64::from(stats.authorizations)),
        ),
        ("duration", js::opt_number(stats.duration)),
        ("position", JsValue::from_f64(position)),
        ("reason", reason.map_or(JsValue::NULL, JsValue::from_str)),
    ])
}
