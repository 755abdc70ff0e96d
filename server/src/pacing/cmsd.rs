//! The CMSD headers of a media response: `CMSD-Static` from the file (its
//! object type and bit rate, a progressive file on demand), `CMSD-Dynamic`
//! from the connection as the kernel sees it when the response starts —
//! `etp` (what the congestion window allows over the RTT, or the measured
//! delivery rate when higher), `rtt`, and `mb` the rate the server will
//! deliver at when it paces.

use caudal_media::cmsd::{CmsdDynamic, CmsdStatic, encode_dynamic, encode_static};
use caudal_media::cta::{ObjectType, StreamType, StreamingFormat};

use super::media_facts::Facts;
use crate::net::tcp_options::TcpInfo;

/// How this server names itself in `CMSD-Dynamic`.
pub const SERVER_NAME: &str = "caudal";

/// The `CMSD-Static` value for a file.
pub fn static_value(facts: Option<&Facts>, fallback: ObjectType) -> String {
    encode_static(&CmsdStatic {
        ot: Some(facts.map_or(fallback, |f| f.object)),
        sf: Some(StreamingFormat::Other),
        st: Some(StreamType::Vod),
        br: facts.and_then(|f| f.bitrate).map(kbps),
        ..CmsdStatic::default()
    })
}

/// The `CMSD-Dynamic` value: the connection's state, when paced the rate
/// (`mb`, bits per second in) allowed, and `du` when the server's egress
/// budget holds the response below what its viewer's buffer calls for.
pub fn dynamic_value(
    info: Option<&TcpInfo>,
    paced_bits_per_second: Option<f64>,
    duress: bool,
) -> String {
    let etp = info.and_then(|info| {
        let window = info.window_throughput();
        let delivered = (info.delivery_rate > 0).then_some(info.delivery_rate as f64 * 8.0);
        match (window, delivered) {
            (Some(w), Some(d)) => Some(w.max(d)),
            (w, d) => w.or(d),
        }
    });
    encode_dynamic(&CmsdDynamic {
        server: SERVER_NAME.into(),
        etp: etp.map(kbps),
        rtt: info
            .filter(|info| info.rtt_us > 0)
            .map(|info| u64::from(info.rtt_us).div_ceil(1000)),
        mb: paced_bits_per_second.map(kbps),
        du: duress,
        ..CmsdDynamic::default()
    })
}

/// Bits per second as whole kbps.
fn kbps(bits_per_second: f64) -> u64 {
    (bits_per_second / 1000.0).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_names_the_file_and_its_bitrate() {
        let facts = Facts {
            bitrate: Some(1_512_345.0),
            object: ObjectType::Muxed,
        };
        assert_eq!(
            static_value(Some(&facts), ObjectType::Other),
            "ot=av,sf=o,st=v,br=1512"
        );
        assert_eq!(static_value(None, ObjectType::Audio), "ot=a,sf=o,st=v");
    }

    #[test]
    fn dynamic_reports_the_window_rate_the_rtt_and_the_pace() {
        let info = TcpInfo {
            rtt_us: 40_000,
            snd_cwnd: 100,
            snd_mss: 1448,
            snd_wnd: 1_000_000,
            ..TcpInfo::default()
        };
        // 100 x 1448 B per 40 ms = 28.96 Mbit/s.
        assert_eq!(
            dynamic_value(Some(&info), Some(8_400_000.0), false),
            "\"caudal\";etp=28960;rtt=40;mb=8400"
        );
        assert_eq!(dynamic_value(None, None, false), "\"caudal\"");
        assert_eq!(
            dynamic_value(None, Some(3_000_000.0), true),
            "\"caudal\";mb=3000;du"
        );
    }
}
