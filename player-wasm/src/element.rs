//! What a player holds on the page's `<video>` and lets go of on destroy:
//! its event listeners and the MediaSource object URL in `src`.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventTarget, HtmlMediaElement};

/// A registered listener, kept to remove it on destroy.
pub type Listener = (
    EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
);

/// Removes every listener the player added.
pub fn remove_listeners(listeners: &mut Vec<Listener>) {
    for (target, name, closure) in listeners.drain(..) {
        let _ = target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    }
}

/// Detaches the MediaSource: the object URL revoked, `src` cleared, the
/// element reset so that it holds nothing of the player.
pub fn release_source(video: &HtmlMediaElement, object_url: Option<String>) {
    if let Some(url) = object_url {
        let _ = web_sys::Url::revoke_object_url(&url);
        video.remove_attribute("src").ok();
        video.load();
    }
}
