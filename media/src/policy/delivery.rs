//! What the server says of its delivery (CMSD-Dynamic, CTA-5006) and how
//! the link's estimate takes it. A server that paces a response by the
//! buffer (`mb`: the rate it allows) delivers below what the link could
//! carry: timed naively, the response would look like a slow link and
//! shrink the next requests and the buffer goal. So a paced response's
//! samples are held a second at a time and judged: near the server's cap,
//! the server set the pace — the link is at least that fast, and the
//! server's own estimate (`etp`) stands in, if higher; well below the cap,
//! the link did — the samples count as measured. Under duress (`du`) the
//! server is held back by its load, not the link: samples below the
//! current estimate do not lower it.

/// Milliseconds of a paced response judged at once.
const WINDOW_MS: f64 = 1000.0;
/// A window at least this share of the cap was paced by the server.
const AT_CAP: f64 = 0.8;

/// The server's word on one response (the hop nearest the player).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerDelivery {
    /// The rate the server paces this response at, bits per second.
    pub paced_bps: Option<f64>,
    /// The server's estimate of the link's throughput, bits per second.
    pub etp_bps: Option<f64>,
    /// Delivery deliberately slowed by load.
    pub duress: bool,
}

impl ServerDelivery {
    /// From a `CMSD-Dynamic` header value: the parameters of its last
    /// entry (the hop nearest the player); `None` when it says nothing that
    /// matters here or cannot be read. A scanner for just this (RFC 8941
    /// list members and parameters), so the player's main module carries
    /// no general structured-field parser; `caudal_media::cmsd` reads the
    /// whole header with `sfv`, and a test holds the two to the same answers.
    #[inline(never)]
    pub fn from_cmsd_dynamic(value: &str) -> Option<Self> {
        let mut delivery = ServerDelivery::default();
        scan::last_params(value.as_bytes(), |key, param| {
            let kbps = || {
                param
                    .and_then(scan::whole_number)
                    .map(|k| k as f64 * 1000.0)
            };
            match key {
                b"mb" => delivery.paced_bps = kbps(),
                b"etp" => delivery.etp_bps = kbps(),
                b"du" => delivery.duress = matches!(param, None | Some(b"?1")),
                _ => {}
            }
        })?;
        (delivery != ServerDelivery::default()).then_some(delivery)
    }
}

/// The bits of RFC 8941's grammar that `from_cmsd_dynamic` needs, on bytes
/// (no string searching: the player's module is size-critical).
mod scan {
    /// Calls `each(key, value)` for the parameters of the list's last
    /// member (`None` value: a bare key, true); `None` when the list is
    /// empty or malformed.
    pub(super) fn last_params(
        list: &[u8],
        mut each: impl FnMut(&[u8], Option<&[u8]>),
    ) -> Option<()> {
        let member = trim(&list[last_member_start(list)?..]);
        let mut at = skip_bare_item(member)?;
        while at < member.len() {
            if member[at] != b';' {
                return None;
            }
            at += 1;
            while member.get(at) == Some(&b' ') {
                at += 1;
            }
            let key_start = at;
            while member.get(at).is_some_and(|&b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b)
            }) {
                at += 1;
            }
            let key = &member[key_start..at];
            if !key
                .first()
                .is_some_and(|&b| b.is_ascii_lowercase() || b == b'*')
            {
                return None;
            }
            let value = if member.get(at) == Some(&b'=') {
                let start = at + 1;
                at = start + skip_bare_item(&member[start..])?;
                Some(&member[start..at])
            } else {
                None
            };
            each(key, value);
        }
        Some(())
    }

    /// Where the last top-level member starts (commas inside strings do
    /// not split).
    fn last_member_start(list: &[u8]) -> Option<usize> {
        let (mut start, mut quoted, mut escaped) = (0, false, false);
        for (i, &b) in list.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b',' if !quoted => start = i + 1,
                _ => {}
            }
        }
        (!quoted && !trim(&list[start..]).is_empty()).then_some(start)
    }

    /// The length of the bare item `item` starts with: a string with its
    /// quotes, else everything up to the next `;`.
    fn skip_bare_item(item: &[u8]) -> Option<usize> {
        if item.first() != Some(&b'"') {
            return Some(item.iter().position(|&b| b == b';').unwrap_or(item.len()));
        }
        let mut escaped = false;
        for (i, &b) in item.iter().enumerate().skip(1) {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => return Some(i + 1),
                _ => {}
            }
        }
        None
    }

    fn trim(bytes: &[u8]) -> &[u8] {
        let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
        let end = bytes
            .iter()
            .rposition(|&b| b != b' ')
            .map_or(start, |at| at + 1);
        &bytes[start..end]
    }

    /// A non-negative integer or decimal, rounded to a whole number
    /// (CMSD's keys are whole kbps and ms).
    pub(super) fn whole_number(text: &[u8]) -> Option<u64> {
        let dot = text.iter().position(|&b| b == b'.').unwrap_or(text.len());
        let (whole, fraction) = (&text[..dot], text.get(dot + 1..).unwrap_or(&[]));
        if whole.is_empty()
            || whole.len() > 15
            || !whole.iter().chain(fraction).all(u8::is_ascii_digit)
        {
            return None;
        }
        let value = whole
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        Some(value + u64::from(fraction.first().is_some_and(|&d| d >= b'5')))
    }
}

/// A paced response's samples not yet judged.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PacedSamples {
    bytes: u64,
    ms: f64,
}

impl PacedSamples {
    /// Adds a piece; the window to judge once it spans [`WINDOW_MS`].
    pub(super) fn add(&mut self, len: u64, ms: f64) -> Option<(u64, f64)> {
        self.bytes += len;
        self.ms += ms.max(0.0);
        (self.ms >= WINDOW_MS).then(|| self.take())
    }

    /// What is held (at the response's end).
    pub(super) fn take(&mut self) -> (u64, f64) {
        let held = (self.bytes, self.ms);
        *self = PacedSamples::default();
        held
    }
}

/// What a window of a paced response's samples becomes for the estimator:
/// `(bytes, ms)` to sample, `None` to leave out.
pub(super) fn judge(bytes: u64, ms: f64, delivery: &ServerDelivery) -> Option<(u64, f64)> {
    let cap = delivery.paced_bps?;
    if bytes == 0 {
        return None;
    }
    let rate = if ms > 0.0 {
        bytes as f64 * 8.0 * 1000.0 / ms
    } else {
        f64::INFINITY
    };
    if rate < AT_CAP * cap {
        // The link, not the server, held it back: as measured.
        return Some((bytes, ms));
    }
    // The server's pace: the link does at least the cap; the server's own
    // estimate says how much more (without one, the window says nothing).
    match delivery.etp_bps {
        Some(etp) if etp > rate => Some((bytes, bytes as f64 * 8.0 * 1000.0 / etp)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paced(cap: f64, etp: Option<f64>) -> ServerDelivery {
        ServerDelivery {
            paced_bps: Some(cap),
            etp_bps: etp,
            duress: false,
        }
    }

    #[test]
    fn the_cmsd_of_a_paced_response_reads_as_its_cap_and_estimate() {
        let read = ServerDelivery::from_cmsd_dynamic("\"caudal\";etp=48000;rtt=12;mb=8800");
        assert_eq!(read, Some(paced(8_800_000.0, Some(48_000_000.0))));
        // The hop nearest the player counts.
        let two = ServerDelivery::from_cmsd_dynamic("\"origin\";mb=1, \"edge\";du");
        assert_eq!(two.map(|d| (d.paced_bps, d.duress)), Some((None, true)));
        assert_eq!(ServerDelivery::from_cmsd_dynamic("\"caudal\""), None);
        assert_eq!(ServerDelivery::from_cmsd_dynamic("(("), None);
    }

    /// The scanner and `sfv` (through `caudal_media::cmsd`) agree.
    #[cfg(feature = "structured-fields")]
    #[test]
    fn the_scanner_reads_what_the_full_parser_reads() {
        for value in [
            "\"caudal\";etp=48000;rtt=12;mb=8800",
            "\"caudal\";etp=48000;mb=8800;du",
            "\"a, b\";mb=1, \"edge\";etp=30;du=?1",
            "\"x\\\";y\";etp=7",
            "tok;etp=5;mb=2",
            "\"caudal\"",
            "\"a\";mb=3, \"b\";du=?0",
        ] {
            let full = crate::cmsd::decode_dynamic(value)
                .expect("valid")
                .pop()
                .map(|hop| ServerDelivery {
                    paced_bps: hop.mb.map(|k| k as f64 * 1000.0),
                    etp_bps: hop.etp.map(|k| k as f64 * 1000.0),
                    duress: hop.du,
                });
            let full = full.filter(|d| *d != ServerDelivery::default());
            assert_eq!(ServerDelivery::from_cmsd_dynamic(value), full, "{value}");
        }
    }

    #[test]
    fn a_window_at_the_cap_counts_at_the_servers_estimate_not_the_pace() {
        // 1.1 MB in a second: 8.8 Mbit/s, the cap; etp says 48 Mbit/s.
        let sample = judge(1_100_000, 1000.0, &paced(8_800_000.0, Some(48_000_000.0)));
        let (bytes, ms) = sample.expect("sampled at etp");
        assert_eq!(bytes, 1_100_000);
        assert!((bytes as f64 * 8.0 / ms - 48_000.0).abs() < 1.0, "{ms}");
        // Without an estimate from the server, the window is left out.
        assert_eq!(judge(1_100_000, 1000.0, &paced(8_800_000.0, None)), None);
    }

    #[test]
    fn a_window_well_below_the_cap_is_the_link_and_counts_as_measured() {
        // 2 Mbit/s under a cap of 8.8: the link is the bottleneck.
        let slow = judge(250_000, 1000.0, &paced(8_800_000.0, Some(48_000_000.0)));
        assert_eq!(slow, Some((250_000, 1000.0)));
    }

    #[test]
    fn windows_close_after_a_second() {
        let mut held = PacedSamples::default();
        assert_eq!(held.add(1000, 400.0), None);
        assert_eq!(held.add(1000, 700.0), Some((2000, 1100.0)));
        assert_eq!(held.take(), (0, 0.0));
    }
}
