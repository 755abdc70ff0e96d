//! Falling back to native playback: where MSE or the file's codecs are not
//! supported, the browser plays `src=url` itself and Caudal only says so.

use web_sys::HtmlVideoElement;

/// How the file is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Caudal's policy drives MSE.
    Mse,
    /// The browser plays `src=` itself (MSE or the codecs unsupported).
    Native,
}

/// Hands `video` to the browser: the MediaSource's object URL (if any) is
/// revoked, `src` is the file, and autoplay is what the viewer wanted
/// (the player had turned it off to start playback itself).
pub fn play_natively(
    video: &HtmlVideoElement,
    object_url: Option<String>,
    url: &str,
    wants_play: bool,
) {
    if let Some(object_url) = object_url {
        let _ = web_sys::Url::revoke_object_url(&object_url);
    }
    video.set_src(url);
    video.set_autoplay(wants_play);
}
