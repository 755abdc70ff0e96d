//! The native fallback: the browser's own element plays the file from now
//! on, keeping the viewer's intent; one `caudal:error` only if it cannot
//! either.

use super::*;

impl Shared {
    /// The browser plays the file itself from now on.
    pub(super) fn fall_back(&self, reason: &str) {
        let mut inner = self.0.borrow_mut();
        inner.requests.abort_all();
        if let Some(early) = inner.early.take() {
            early.controller.abort();
        }
        inner.mode = Mode::Native;
        inner.rescue.live.set(false);
        inner.source_buffer = None;
        inner.media_source = None;
        let object_url = inner.object_url.take();
        fallback::play_natively(
            &inner.video,
            object_url,
            &inner.url,
            inner.hold.wants_play(),
            inner.hold.viewer_rate(),
        );
        inner.fallback_reason = Some(reason.to_owned());
        if inner.native_error.is_none() {
            inner.native_error = Some((ErrorCode::Unsupported, reason.to_owned()));
        }
        let event = events::native(inner.policy.state(), reason);
        inner.events.push(event);
        let video = inner.video.clone();
        drop(inner);
        self.listen(video.unchecked_ref(), "error", |s, _| s.native_failed());
    }

    /// The browser could not play the file either: one `caudal:error`.
    pub(super) fn native_failed(&self) {
        {
            let mut inner = self.0.borrow_mut();
            if inner.mode != Mode::Native {
                return;
            }
            let Some((code, message)) = inner.native_error.take() else {
                return;
            };
            let why = inner
                .video
                .error()
                .map(|e| e.message())
                .filter(|m| !m.is_empty())
                .map_or_else(String::new, |m| format!(" ({m})"));
            let message = format!("{message}; the browser cannot play it either{why}");
            inner.events.push(events::error(code, &message));
            inner.events.push(events::native_failed());
            inner.native_failed = true;
        }
        self.drive();
    }
}
