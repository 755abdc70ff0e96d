//! Signed URLs: the page's `authorize(url)` asked for a new URL when the
//! policy says (ahead of the token's expiry, or after a refusal), and the
//! answer handed back to the policy.

use super::*;

impl Shared {
    /// Asks the page's `authorize(url)` for a new URL (a string, or a
    /// Promise of one); the policy hears the answer. Called in a later
    /// task, so the page's function never runs inside the player's own
    /// borrow.
    pub(super) fn authorize(&self) {
        let (function, url) = {
            let inner = self.0.borrow();
            (inner.authorize.clone(), inner.url.clone())
        };
        let shared = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let answer = match function {
                None => Err("no authorize() was given".to_owned()),
                Some(function) => match function.call1(&JsValue::NULL, &JsValue::from_str(&url)) {
                    Ok(value) => {
                        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&value))
                            .await
                            .map_err(|e| js::error_message(&e))
                    }
                    Err(error) => Err(js::error_message(&error)),
                },
            };
            shared.authorized(answer, &url);
        });
    }

    /// `authorize` answered `answer` for `old_url`: later fetches use the
    /// new URL (relative to the old one).
    pub(super) fn authorized(&self, answer: Result<JsValue, String>, old_url: &str) {
        {
            let mut inner = self.0.borrow_mut();
            if inner.destroyed || inner.mode != Mode::Mse {
                return;
            }
            let now = js::now();
            let new_url = answer.and_then(|value| {
                let text = value
                    .as_string()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| "authorize() gave no URL string".to_owned())?;
                web_sys::Url::new_with_base(&text, old_url)
                    .map(|u| u.href())
                    .map_err(|_| format!("authorize() gave no valid URL: \"{text}\""))
            });
            let answer = new_url.map(|url| {
                let expires_at = expiry_on_clock(now, &url);
                inner.url = url;
                expires_at
            });
            inner.policy.handle_authorized(now, answer);
        }
        self.drive();
    }
}

/// When the token in `url` expires, on the policy's clock (`now` is
/// [`js::now`]); the token says it in Unix seconds.
pub(super) fn expiry_on_clock(now: Millis, url: &str) -> Option<Millis> {
    let exp = token_expiry(url)?;
    Some(now + (exp as f64 * 1000.0 - js_sys::Date::now()))
}
