//! `POST /api/cmcd`: CMCD v2 reports (CTA-5004-B's event mode) — what a
//! player tells the server between media requests. Caudal's live player
//! reads one endless body, so it has no later request to carry its CMCD
//! on: every few seconds it posts its live latency (`ltc`), buffer (`bl`)
//! and stalls (`bs`) here instead. The body is one CMCD payload per line
//! (the query form's value, not URL-encoded), as `text/plain` (no CORS
//! preflight) or `application/cmcd`; each is counted as the CMCD of a
//! request is ([`super::cmcd::record`]) and logged with its session.

use bytes::Buf;
use http::{Method, StatusCode};

use super::respond::{self, HttpResponse};
use super::state::AppState;
use caudal_media::cmcd;

/// The most a report body may hold.
pub const MAX_REPORT: u64 = 16 << 10;

/// Answers one report.
pub async fn answer<S, B>(state: &AppState, method: &Method, body: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    if method != Method::POST {
        return respond::method_not_allowed();
    }
    let text = match read_body(body).await {
        Ok(text) => text,
        Err(why) => return respond::text(StatusCode::BAD_REQUEST, format!("{why}\n")),
    };
    let mut read = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match cmcd::parse_value(line) {
            Ok(keys) => {
                read += 1;
                super::cmcd::record(&state.metrics.delivery(), &keys);
                tracing::info!(
                    sid = keys.sid.as_deref().unwrap_or("-"),
                    ltc_ms = keys.ltc,
                    bl_ms = keys.bl,
                    bs = keys.bs,
                    "CMCD report"
                );
            }
            Err(error) => {
                state.metrics.delivery().cmcd_invalid.inc();
                return respond::text(
                    StatusCode::BAD_REQUEST,
                    format!("a CMCD report line cannot be read: {error}\n"),
                );
            }
        }
    }
    if read == 0 {
        return respond::text(StatusCode::BAD_REQUEST, "an empty CMCD report\n".into());
    }
    respond::simple(StatusCode::NO_CONTENT, "")
}

/// The body as text, at most [`MAX_REPORT`] bytes.
async fn read_body<S, B>(mut body: S) -> Result<String, String>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| format!("the report body broke off: {e}"))?;
        if (bytes.len() + chunk.remaining()) as u64 > MAX_REPORT {
            return Err(format!("a CMCD report over {MAX_REPORT} bytes"));
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            bytes.extend_from_slice(piece);
            let n = piece.len();
            chunk.advance(n);
        }
    }
    String::from_utf8(bytes).map_err(|_| "a CMCD report that is not UTF-8".into())
}
