//! One ranged HTTP request, streamed chunk by chunk into the player.

use caudal_media::policy::{Outcome, RequestId};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, ReadableStreamDefaultReader, RequestInit, Response};

use crate::js;
use crate::player::Shared;

/// Runs `GET url` for `range`, feeding the player as bytes arrive. Ends
/// quietly once the player has dropped the request (abort, seek, destroy).
pub async fn run(
    shared: Shared,
    url: String,
    id: RequestId,
    range: std::ops::Range<u64>,
    signal: AbortSignal,
) {
    let outcome = stream(&shared, &url, id, &range, &signal).await;
    if let Err(error) = outcome
        && shared.is_live(id)
    {
        shared.finish(id, Outcome::NetworkError(js::error_message(&error)));
    }
}

async fn stream(
    shared: &Shared,
    url: &str,
    id: RequestId,
    range: &std::ops::Range<u64>,
    signal: &AbortSignal,
) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let init = RequestInit::new();
    init.set_signal(Some(signal));
    let headers = web_sys::Headers::new()?;
    headers.set(
        "Range",
        &format!("bytes={}-{}", range.start, range.end.saturating_sub(1)),
    )?;
    init.set_headers(&headers);
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    let status = response.status();
    let total = total_length(&response);
    if !shared.response(id, status, total) {
        return Ok(());
    }
    let Some(body) = response.body() else {
        shared.finish(id, Outcome::Complete);
        return Ok(());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().dyn_into()?;
    loop {
        let result = JsFuture::from(reader.read()).await?;
        if !shared.is_live(id) {
            let _ = reader.cancel();
            return Ok(());
        }
        let done = Reflect::get(&result, &JsValue::from_str("done"))?
            .as_bool()
            .unwrap_or(true);
        if done {
            shared.finish(id, Outcome::Complete);
            return Ok(());
        }
        let chunk: Uint8Array = Reflect::get(&result, &JsValue::from_str("value"))?.dyn_into()?;
        shared.data(id, chunk);
    }
}

/// The file length from `Content-Range: bytes a-b/LEN`, or Content-Length of a 200.
fn total_length(response: &Response) -> Option<u64> {
    let headers = response.headers();
    if let Ok(Some(range)) = headers.get("Content-Range") {
        return range
            .rsplit_once('/')
            .and_then(|(_, len)| len.trim().parse().ok());
    }
    if response.status() == 200 {
        return headers
            .get("Content-Length")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse().ok());
    }
    None
}
