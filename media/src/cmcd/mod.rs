//! CMCD, Common Media Client Data (CTA-5004): what a player tells the
//! server with each request — its buffer, the media's bit rate, its
//! throughput, startup and stalls — so that the server can deliver by it.
//!
//! [`Cmcd`] holds the keys of CTA-5004 version 1 in their wire units;
//! [`encode`] writes them as the query argument (`CMCD=…`, no CORS
//! preflight) or as the four `CMCD-*` headers, applying the spec's rounding
//! and omissions; [`decode`] reads either form from any player (hls.js,
//! dash.js, Shaka send it when configured). Pure: no clock, no I/O.

#[cfg(feature = "structured-fields")]
mod decode;
mod encode;

#[cfg(feature = "structured-fields")]
pub use decode::{CmcdError, from_headers, from_query, parse_value, strip_query};
pub use encode::{HEADER_NAMES, append_to_url, to_headers, to_query_value};

use crate::cta::{ObjectType, StreamType, StreamingFormat};

/// The query argument's name.
pub const QUERY_KEY: &str = "CMCD";

/// Longest `sid` / `cid` the spec allows (characters).
pub const MAX_ID_LEN: usize = 64;

/// The CTA-5004 keys of one request. Integers are in the spec's units
/// (kbps, milliseconds); the encoder rounds them as the spec says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cmcd {
    // CMCD-Object
    /// `br`: encoded bit rate of the object, kbps.
    pub br: Option<u64>,
    /// `d`: playback duration of the object, ms.
    pub d: Option<u64>,
    /// `ot`: object type.
    pub ot: Option<ObjectType>,
    /// `tb`: top bit rate the client can play, kbps.
    pub tb: Option<u64>,
    // CMCD-Request
    /// `bl`: buffer length, ms (sent rounded to 100 ms).
    pub bl: Option<u64>,
    /// `dl`: deadline from the request until its first sample is needed, ms
    /// (sent rounded to 100 ms).
    pub dl: Option<u64>,
    /// `ltc`: live stream latency, ms (CMCD v2, CTA-5004-B): how far behind
    /// the moment it was made the media on screen is.
    pub ltc: Option<u64>,
    /// `mtp`: measured throughput, kbps (sent rounded to 100 kbps; never 0).
    pub mtp: Option<u64>,
    /// `nor`: relative path of the next object.
    pub nor: Option<String>,
    /// `nrr`: the next range request, `start-end`.
    pub nrr: Option<String>,
    /// `su`: the object is needed for startup or after a seek.
    pub su: bool,
    // CMCD-Session
    /// `cid`: content id.
    pub cid: Option<String>,
    /// `pr`: playback rate (omitted when 1).
    pub pr: Option<f64>,
    /// `sf`: streaming format.
    pub sf: Option<StreamingFormat>,
    /// `sid`: session id, one per playback.
    pub sid: Option<String>,
    /// `st`: stream type.
    pub st: Option<StreamType>,
    /// `v`: CMCD version (omitted when 1).
    pub v: Option<u64>,
    // CMCD-Status
    /// `bs`: the buffer ran dry since the previous request.
    pub bs: bool,
    /// `rtp`: the throughput the client asks this request be delivered at,
    /// kbps (sent rounded up to 100 kbps).
    pub rtp: Option<u64>,
}

impl Cmcd {
    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        *self == Cmcd::default()
    }

    /// Keys from `other` fill the ones this lacks (the four headers of the
    /// header form each carry some keys).
    pub fn merge(&mut self, other: Cmcd) {
        fn fill<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        fill(&mut self.br, other.br);
        fill(&mut self.d, other.d);
        fill(&mut self.ot, other.ot);
        fill(&mut self.tb, other.tb);
        fill(&mut self.bl, other.bl);
        fill(&mut self.dl, other.dl);
        fill(&mut self.ltc, other.ltc);
        fill(&mut self.mtp, other.mtp);
        fill(&mut self.nor, other.nor);
        fill(&mut self.nrr, other.nrr);
        self.su |= other.su;
        fill(&mut self.cid, other.cid);
        fill(&mut self.pr, other.pr);
        fill(&mut self.sf, other.sf);
        fill(&mut self.sid, other.sid);
        fill(&mut self.st, other.st);
        fill(&mut self.v, other.v);
        self.bs |= other.bs;
        fill(&mut self.rtp, other.rtp);
    }
}

#[cfg(all(test, feature = "structured-fields"))]
mod tests;
