//! The `caudal:*` events the player dispatches on the `<video>` (see
//! `www/player.js` for the page's view of them), each as its name and detail.

use caudal_media::policy::{ErrorCode, State};
use wasm_bindgen::JsValue;

use crate::js;

/// An event's name and its `detail` object.
pub type Event = (&'static str, JsValue);

/// Playback ran dry at `position`.
pub fn stall(position: f64) -> Event {
    let detail = js::object(&[("position", JsValue::from_f64(position))]);
    ("caudal:stall", detail)
}

/// The policy's state changed.
pub fn state(state: State, previous: State) -> Event {
    let detail = js::object(&[
        ("state", JsValue::from_str(state.as_str())),
        ("previous", JsValue::from_str(previous.as_str())),
    ]);
    ("caudal:state", detail)
}

/// The browser plays the file natively from now on, and why.
pub fn native(previous: State, reason: &str) -> Event {
    let detail = js::object(&[
        ("state", JsValue::from_str("loading")),
        ("previous", JsValue::from_str(previous.as_str())),
        ("mode", JsValue::from_str("native")),
        ("reason", JsValue::from_str(reason)),
    ]);
    ("caudal:state", detail)
}

/// The browser could not play the file natively either: the state ends.
pub fn native_failed() -> Event {
    let detail = js::object(&[
        ("state", JsValue::from_str("error")),
        ("previous", JsValue::from_str("loading")),
        ("mode", JsValue::from_str("native")),
    ]);
    ("caudal:state", detail)
}

/// The policy gave up.
pub fn error(code: ErrorCode, message: &str) -> Event {
    let detail = js::object(&[
        ("code", JsValue::from_str(code.as_str())),
        ("message", JsValue::from_str(message)),
    ]);
    ("caudal:error", detail)
}
