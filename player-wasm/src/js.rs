//! Small helpers at the JS boundary: reading options, building plain
//! objects, the clock, dispatching events, feature detection.

use caudal_media::policy::Millis;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CustomEvent, CustomEventInit, EventTarget};

/// `performance.now()`, the monotonic clock the policy runs on.
pub fn now() -> Millis {
    Millis::from(
        web_sys::window()
            .and_then(|w| w.performance())
            .map_or(0.0, |p| p.now()),
    )
}

/// A User Timing mark `caudal:<name>`, for the page's timeline (the QoE
/// bench prints them beside each request).
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

/// `object[key]` as a string, if it is one.
pub fn string(object: &JsValue, key: &str) -> Option<String> {
    js_sys::Reflect::get(object, &JsValue::from_str(key))
        .ok()?
        .as_string()
}

/// A number property of a JS object, if present and numeric.
pub fn number(object: &JsValue, key: &str) -> Option<f64> {
    Reflect::get(object, &JsValue::from_str(key)).ok()?.as_f64()
}

/// Builds a plain object from key/value pairs.
pub fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in entries {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

pub fn opt_number(value: Option<f64>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_f64)
}

/// Dispatches `caudal:<name>` with `detail` on `target`.
pub fn dispatch(target: &EventTarget, name: &str, detail: &JsValue) {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = target.dispatch_event(&event);
    }
}

/// The message of a thrown JS value (an Error or a DOMException).
pub fn error_message(error: &JsValue) -> String {
    if let Some(exception) = error.dyn_ref::<web_sys::DomException>() {
        return format!("{}: {}", exception.name(), exception.message());
    }
    if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    error.as_string().unwrap_or_else(|| "unknown error".into())
}

/// Whether a thrown value is the DOMException named `name`.
pub fn is_dom_exception(error: &JsValue, name: &str) -> bool {
    error
        .dyn_ref::<web_sys::DomException>()
        .is_some_and(|e| e.name() == name)
}

/// Whether the global object has a callable `MediaSource` constructor.
///
/// Checked before calling `MediaSource.isTypeSupported`, which would throw a
/// `ReferenceError` through the wasm boundary if `MediaSource` were absent.
#[cfg(target_arch = "wasm32")]
pub fn media_source_present() -> bool {
    Reflect::get(&js_sys::global(), &JsValue::from_str("MediaSource"))
        .map(|ctor| ctor.is_function())
        .unwrap_or(false)
}

/// On the host there is no browser, hence no `MediaSource`.
#[cfg(not(target_arch = "wasm32"))]
pub fn media_source_present() -> bool {
    false
}
