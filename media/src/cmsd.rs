//! CMSD, Common Media Server Data (CTA-5006): what the server tells the
//! player with each response. `CMSD-Static` describes the object and stays
//! with it through caches; `CMSD-Dynamic` is one list entry per hop, named
//! by the server that added it, with that hop's view of the connection:
//! estimated throughput (`etp`), round-trip time (`rtt`), the highest bit
//! rate it suggests (`mb`) and whether it is under duress (`du`).
//!
//! Encoded by hand (fixed key order, no whitespace, as the reference
//! library writes it); decoded with `sfv` (feature `structured-fields`), so
//! any server's CMSD is read. The player's main module, which leaves `sfv`
//! out, reads the few keys it needs with `policy::delivery`'s scanner.

use std::fmt::Write;

#[cfg(feature = "structured-fields")]
use sfv::{BareItem, Dictionary, List, ListEntry, Parser};

use crate::cta::{ObjectType, StreamType, StreamingFormat, Token};

/// The header names.
pub const STATIC_HEADER: &str = "CMSD-Static";
pub const DYNAMIC_HEADER: &str = "CMSD-Dynamic";

/// `CMSD-Static` keys (those a file server knows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CmsdStatic {
    /// `br`: encoded bit rate of the object, kbps.
    pub br: Option<u64>,
    /// `d`: playback duration of the object, ms.
    pub d: Option<u64>,
    /// `ot`: object type.
    pub ot: Option<ObjectType>,
    /// `sf`: streaming format.
    pub sf: Option<StreamingFormat>,
    /// `st`: stream type.
    pub st: Option<StreamType>,
    /// `su`: the object is (also) meant for startup.
    pub su: bool,
    /// `n`: the server's name.
    pub n: Option<String>,
}

/// One `CMSD-Dynamic` entry: one hop's view of its connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CmsdDynamic {
    /// The hop that added it.
    pub server: String,
    /// `etp`: estimated throughput to the client at the response's start, kbps.
    pub etp: Option<u64>,
    /// `rtt`: estimated round-trip time, ms.
    pub rtt: Option<u64>,
    /// `mb`: the highest bit rate the client should play, kbps.
    pub mb: Option<u64>,
    /// `rd`: ms from the request to the body's first byte.
    pub rd: Option<u64>,
    /// `du`: the server is under duress (here: delivery deliberately held
    /// back by load, not by the link).
    pub du: bool,
}

/// Why a CMSD value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmsdError {
    #[error("the CMSD value is not a structured field: {0}")]
    Syntax(String),
    #[error("CMSD key `{0}` has a value of the wrong type")]
    Type(String),
}

/// The `CMSD-Static` value.
pub fn encode_static(cmsd: &CmsdStatic) -> String {
    let mut out = String::new();
    let sep = |out: &mut String| {
        if !out.is_empty() {
            out.push(',');
        }
    };
    if let Some(ot) = cmsd.ot {
        sep(&mut out);
        let _ = write!(out, "ot={}", ot.token());
    }
    if let Some(sf) = cmsd.sf {
        sep(&mut out);
        let _ = write!(out, "sf={}", sf.token());
    }
    if let Some(st) = cmsd.st {
        sep(&mut out);
        let _ = write!(out, "st={}", st.token());
    }
    if let Some(d) = cmsd.d {
        sep(&mut out);
        let _ = write!(out, "d={d}");
    }
    if let Some(br) = cmsd.br {
        sep(&mut out);
        let _ = write!(out, "br={br}");
    }
    if cmsd.su {
        sep(&mut out);
        out.push_str("su");
    }
    if let Some(n) = &cmsd.n {
        sep(&mut out);
        out.push_str("n=");
        quote(&mut out, n);
    }
    out
}

/// One `CMSD-Dynamic` entry (a hop appends its own to any already there,
/// comma-separated).
pub fn encode_dynamic(cmsd: &CmsdDynamic) -> String {
    let mut out = String::new();
    quote(&mut out, &cmsd.server);
    for (key, value) in [
        ("etp", cmsd.etp),
        ("rtt", cmsd.rtt),
        ("mb", cmsd.mb),
        ("rd", cmsd.rd),
    ] {
        if let Some(value) = value {
            let _ = write!(out, ";{key}={value}");
        }
    }
    if cmsd.du {
        out.push_str(";du");
    }
    out
}

/// A structured-field string: printable ASCII, `"` and `\` escaped.
fn quote(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// A `CMSD-Static` value.
#[cfg(feature = "structured-fields")]
pub fn decode_static(value: &str) -> Result<CmsdStatic, CmsdError> {
    let dict: Dictionary = Parser::new(value)
        .parse()
        .map_err(|error| CmsdError::Syntax(error.to_string()))?;
    let mut cmsd = CmsdStatic::default();
    for (key, entry) in &dict {
        let ListEntry::Item(item) = entry else {
            continue;
        };
        let item = &item.bare_item;
        match key.as_str() {
            "br" => cmsd.br = Some(integer(item, "br")?),
            "d" => cmsd.d = Some(integer(item, "d")?),
            "ot" => cmsd.ot = Some(token(item, "ot")?),
            "sf" => cmsd.sf = Some(token(item, "sf")?),
            "st" => cmsd.st = Some(token(item, "st")?),
            "su" => cmsd.su = matches!(item, BareItem::Boolean(true)),
            "n" => match item {
                BareItem::String(name) => cmsd.n = Some(name.as_str().to_string()),
                _ => return Err(CmsdError::Type("n".into())),
            },
            _ => {}
        }
    }
    Ok(cmsd)
}

/// Every `CMSD-Dynamic` entry of a value, the origin's first; the last is
/// the hop nearest the client.
#[cfg(feature = "structured-fields")]
pub fn decode_dynamic(value: &str) -> Result<Vec<CmsdDynamic>, CmsdError> {
    let list: List = Parser::new(value)
        .parse()
        .map_err(|error| CmsdError::Syntax(error.to_string()))?;
    let mut hops = Vec::with_capacity(list.len());
    for entry in &list {
        let ListEntry::Item(item) = entry else {
            continue;
        };
        let server = match &item.bare_item {
            BareItem::String(name) => name.as_str().to_string(),
            BareItem::Token(name) => name.as_str().to_string(),
            _ => String::new(),
        };
        let mut hop = CmsdDynamic {
            server,
            ..CmsdDynamic::default()
        };
        for (key, value) in &item.params {
            match key.as_str() {
                "etp" => hop.etp = Some(integer(value, "etp")?),
                "rtt" => hop.rtt = Some(integer(value, "rtt")?),
                "mb" => hop.mb = Some(integer(value, "mb")?),
                "rd" => hop.rd = Some(integer(value, "rd")?),
                "du" => hop.du = matches!(value, BareItem::Boolean(true)),
                _ => {}
            }
        }
        hops.push(hop);
    }
    Ok(hops)
}

#[cfg(feature = "structured-fields")]
fn integer(item: &BareItem, key: &str) -> Result<u64, CmsdError> {
    match item {
        BareItem::Integer(value) => {
            u64::try_from(i64::from(*value)).map_err(|_| CmsdError::Type(key.into()))
        }
        BareItem::Decimal(value) if f64::from(*value) >= 0.0 => {
            Ok(f64::from(*value).round() as u64)
        }
        _ => Err(CmsdError::Type(key.into())),
    }
}

#[cfg(feature = "structured-fields")]
fn token<T: Token>(item: &BareItem, key: &str) -> Result<T, CmsdError> {
    match item {
        BareItem::Token(value) => T::from_token(value.as_str()).ok_or(CmsdError::Type(key.into())),
        _ => Err(CmsdError::Type(key.into())),
    }
}

#[cfg(all(test, feature = "structured-fields"))]
mod tests {
    use super::*;

    #[test]
    fn static_encodes_as_the_reference_library_example() {
        // CTA-5006 / @svta/cml-cmsd's example.
        let cmsd = CmsdStatic {
            ot: Some(ObjectType::Video),
            sf: Some(StreamingFormat::Hls),
            st: Some(StreamType::Vod),
            d: Some(5000),
            br: Some(2000),
            n: Some("OriginProviderA".into()),
            su: false,
        };
        let text = encode_static(&cmsd);
        assert_eq!(text, "ot=v,sf=h,st=v,d=5000,br=2000,n=\"OriginProviderA\"");
        assert_eq!(decode_static(&text), Ok(cmsd));
    }

    #[test]
    fn dynamic_entries_read_back_and_the_last_is_the_nearest_hop() {
        let ours = CmsdDynamic {
            server: "caudal".into(),
            etp: Some(12_000),
            rtt: Some(40),
            mb: Some(4_800),
            rd: None,
            du: true,
        };
        let text = encode_dynamic(&ours);
        assert_eq!(text, "\"caudal\";etp=12000;rtt=40;mb=4800;du");
        // A CDN edge appended its own after ours (CTA-5006's example form).
        let both = format!("{text}, \"CDNB-3ak1\";etp=115;rtt=30");
        let hops = decode_dynamic(&both).expect("valid");
        assert_eq!(hops.len(), 2);
        assert_eq!(hops[0], ours);
        assert_eq!(hops[1].server, "CDNB-3ak1");
        assert_eq!(
            (hops[1].etp, hops[1].rtt, hops[1].du),
            (Some(115), Some(30), false)
        );
    }

    #[test]
    fn bad_cmsd_is_an_error_not_a_panic() {
        assert!(decode_dynamic("\"x\";etp=\"fast\"").is_err());
        assert!(decode_dynamic("((").is_err());
        assert!(decode_static("ot=zz").is_err());
        assert!(decode_static("br=-1").is_err());
        assert_eq!(decode_dynamic(""), Ok(vec![]));
    }
}
