//! Falling back to native playback: where MSE or the file's codecs are not
//! supported, the browser plays `src=url` itself and Caudal only says so.

use wasm_bindgen::prelude::*;
use web_sys::HtmlVideoElement;

/// How the file is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Caudal's policy drives MSE.
    Mse,
    /// The browser plays `src=` itself (MSE or the codecs unsupported).
    Native,
}

/// Hands `video` to the browser, keeping the viewer's intent: the
/// MediaSource's object URL (if any) is revoked, `src` is the file, playback
/// resumes where it was, and it plays if the viewer wanted it to — asked by
/// `wants_play`, or by a `play()` whose event has not reached us yet (the
/// element is unpaused at once). Setting `src` runs the load algorithm,
/// which pauses the element and rejects a pending `play()`; so autoplay is
/// set and `play()` asked again. A hold (rate 0) survives the load: the
/// viewer's `rate` comes back.
pub fn play_natively(
    video: &HtmlVideoElement,
    object_url: Option<String>,
    url: &str,
    wants_play: bool,
    rate: f64,
) {
    let wants_play = wants_play || !video.paused();
    let position = video.current_time();
    if let Some(object_url) = object_url {
        let _ = web_sys::Url::revoke_object_url(&object_url);
    }
    video.set_src(url);
    video.set_autoplay(wants_play);
    if video.playback_rate() == 0.0 && rate > 0.0 {
        video.set_playback_rate(rate);
    }
    if position > 0.0 {
        // Before metadata this is the default playback start position.
        video.set_current_time(position);
    }
    if wants_play && let Ok(promise) = video.play() {
        // Refused autoplay is the page's to handle; not an uncaught rejection.
        // (One tiny closure per fallback, kept for the promise's life.)
        let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
        let _ = promise.catch(&ignore);
        ignore.forget();
    }
}
