//! One ranged HTTP request, streamed chunk by chunk to a [`FetchSink`].
//!
//! The fetcher knows nothing of the player: it reports the response head,
//! each chunk and the end to its sink, and asks the sink whether the
//! request is still wanted (an abort, a seek or a destroy drop it). The
//! player (`player.rs`) is the sink.

use std::ops::Range;

use caudal_media::policy::{OPEN_END, Outcome, REFUSAL_BODY_BYTES, RequestId};
use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, ReadableStreamDefaultReader, RequestInit, Response};

use crate::js;

/// Where a request's progress goes.
pub trait FetchSink {
    /// Whether request `id` is still wanted.
    fn is_live(&self, id: RequestId) -> bool;
    /// The response head: status, file length (if the headers tell) and
    /// the server's `CMSD-Dynamic` (if it sent one); false when the body
    /// is not wanted.
    fn response(
        &self,
        id: RequestId,
        status: u16,
        total: Option<u64>,
        cmsd: Option<String>,
    ) -> bool;
    /// The server refused the request (401/403): the start of its body,
    /// which says why. Nothing more comes for `id`.
    fn refused(&self, id: RequestId, body: String);
    /// The next chunk of the body.
    fn data(&self, id: RequestId, chunk: Uint8Array);
    /// The request ended; nothing more comes for `id`.
    fn finish(&self, id: RequestId, outcome: Outcome);
}

/// Where a request's response comes from.
pub enum Source {
    /// A new `GET url` with `Range` for `range` and `headers` (CMCD's
    /// header form), cancelled by `signal`.
    Fetch {
        url: String,
        range: Range<u64>,
        headers: Vec<(&'static str, String)>,
        signal: AbortSignal,
    },
    /// The response to the loader's own first request (`bytes=0-`, sent
    /// while this module was still downloading): a `Promise<Response>`.
    Early(Promise),
}

/// Runs the request, reporting to `sink` as bytes arrive. Ends quietly
/// once the sink has dropped the request.
pub async fn run(sink: impl FetchSink, source: Source, id: RequestId) {
    let outcome = stream(&sink, source, id).await;
    if let Err(error) = outcome
        && sink.is_live(id)
    {
        sink.finish(id, Outcome::NetworkError(js::error_message(&error)));
    }
}

async fn stream(sink: &impl FetchSink, source: Source, id: RequestId) -> Result<(), JsValue> {
    let pending = match source {
        Source::Fetch {
            url,
            range,
            headers: extra,
            signal,
        } => {
            let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
            let init = RequestInit::new();
            init.set_signal(Some(&signal));
            let headers = web_sys::Headers::new()?;
            headers.set("Range", &range_header(&range))?;
            for (name, value) in &extra {
                headers.set(name, value)?;
            }
            init.set_headers(&headers);
            window.fetch_with_str_and_init(&url, &init)
        }
        Source::Early(response) => response,
    };
    let response: Response = JsFuture::from(pending).await?.dyn_into()?;
    let status = response.status();
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let total = total_length(
        status,
        header("Content-Range").as_deref(),
        header("Content-Length").as_deref(),
    );
    if matches!(status, 401 | 403) {
        let body = refusal_body(&response).await;
        if sink.is_live(id) {
            sink.refused(id, body);
        }
        return Ok(());
    }
    if !sink.response(id, status, total, header("CMSD-Dynamic")) {
        return Ok(());
    }
    let Some(body) = response.body() else {
        sink.finish(id, Outcome::Complete);
        return Ok(());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().dyn_into()?;
    loop {
        let result = JsFuture::from(reader.read()).await?;
        if !sink.is_live(id) {
            let _ = reader.cancel();
            return Ok(());
        }
        let done = Reflect::get(&result, &JsValue::from_str("done"))?
            .as_bool()
            .unwrap_or(true);
        if done {
            sink.finish(id, Outcome::Complete);
            return Ok(());
        }
        let chunk: Uint8Array = Reflect::get(&result, &JsValue::from_str("value"))?.dyn_into()?;
        sink.data(id, chunk);
    }
}

/// The first [`REFUSAL_BODY_BYTES`] of a refusal's body (a one-line
/// reason), as text; the rest is not read.
async fn refusal_body(response: &Response) -> String {
    let mut bytes = Vec::new();
    let Some(body) = response.body() else {
        return String::new();
    };
    let Ok(reader) = body.get_reader().dyn_into::<ReadableStreamDefaultReader>() else {
        return String::new();
    };
    while bytes.len() < REFUSAL_BODY_BYTES {
        let Ok(result) = JsFuture::from(reader.read()).await else {
            break;
        };
        let done = Reflect::get(&result, &JsValue::from_str("done"))
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        let chunk = Reflect::get(&result, &JsValue::from_str("value"))
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok());
        match chunk {
            Some(chunk) if !done => bytes.extend(chunk.to_vec()),
            _ => break,
        }
    }
    let _ = reader.cancel();
    bytes.truncate(REFUSAL_BODY_BYTES);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `bytes=a-b` for the half-open `range` (HTTP ranges are inclusive);
/// `bytes=a-` when it is open-ended.
fn range_header(range: &Range<u64>) -> String {
    if range.end == OPEN_END {
        return format!("bytes={}-", range.start);
    }
    format!("bytes={}-{}", range.start, range.end.saturating_sub(1))
}

/// The file length from `Content-Range: bytes a-b/LEN`, or the
/// Content-Length of a 200 (the whole file).
fn total_length(
    status: u16,
    content_range: Option<&str>,
    content_length: Option<&str>,
) -> Option<u64> {
    if let Some(range) = content_range {
        return range
            .rsplit_once('/')
            .and_then(|(_, len)| len.trim().parse().ok());
    }
    if status == 200 {
        return content_length.and_then(|v| v.trim().parse().ok());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_header_is_inclusive() {
        assert_eq!(range_header(&(0..1024)), "bytes=0-1023");
        assert_eq!(range_header(&(500..501)), "bytes=500-500");
        assert_eq!(range_header(&(0..OPEN_END)), "bytes=0-");
        assert_eq!(range_header(&(7000..OPEN_END)), "bytes=7000-");
    }

    #[test]
    fn the_file_length_comes_from_content_range_or_a_whole_file_response() {
        assert_eq!(
            total_length(206, Some("bytes 0-1023/98765"), None),
            Some(98765)
        );
        assert_eq!(
            total_length(206, Some("bytes 0-1023/*"), Some("1024")),
            None
        );
        assert_eq!(total_length(200, None, Some(" 4096 ")), Some(4096));
        assert_eq!(total_length(206, None, Some("1024")), None);
        assert_eq!(total_length(416, Some("bytes */5000"), None), Some(5000));
    }
}
