//! CMCD in: either form, from any player. The value is an RFC 8941
//! dictionary (parsed by `sfv`); the keys of CTA-5004 version 1 are read
//! with their types, custom (`x-…`) and later keys are ignored.

use percent_encoding::percent_decode_str;
use sfv::{BareItem, Dictionary, ListEntry, Parser};

use super::{Cmcd, QUERY_KEY};
use crate::cta::Token;

/// Why a CMCD value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmcdError {
    #[error("the CMCD value is not UTF-8 once URL-decoded")]
    Encoding,
    #[error("the CMCD value is not a structured-field dictionary: {0}")]
    Syntax(String),
    #[error("CMCD key `{0}` has a value of the wrong type")]
    Type(&'static str),
}

/// The query without its `CMCD` argument, and that argument's value
/// (URL-decoded) if there was one. The other arguments stay exactly as
/// sent, in order, so that anything keyed on them (a signed URL) still
/// matches.
pub fn strip_query(query: &str) -> (String, Option<Result<String, CmcdError>>) {
    let mut rest = String::with_capacity(query.len());
    let mut value = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((QUERY_KEY, encoded)) if value.is_none() => {
                value = Some(
                    percent_decode_str(encoded)
                        .decode_utf8()
                        .map(|text| text.into_owned())
                        .map_err(|_| CmcdError::Encoding),
                );
            }
            _ if pair == QUERY_KEY => value = Some(Ok(String::new())),
            _ => {
                if !rest.is_empty() {
                    rest.push('&');
                }
                rest.push_str(pair);
            }
        }
    }
    (rest, value)
}

/// The CMCD keys of a query string (`None`: it has no `CMCD` argument).
pub fn from_query(query: &str) -> Option<Result<Cmcd, CmcdError>> {
    let (_, value) = strip_query(query);
    Some(value?.and_then(|value| parse_value(&value)))
}

/// The CMCD keys of the header form: every `CMCD-*` header among `headers`
/// (names compared without case), merged. `None`: there was none.
pub fn from_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Result<Cmcd, CmcdError>> {
    let mut merged: Option<Cmcd> = None;
    for (name, value) in headers {
        if !super::HEADER_NAMES
            .iter()
            .any(|known| known.eq_ignore_ascii_case(name))
        {
            continue;
        }
        match parse_value(value) {
            Ok(cmcd) => merged.get_or_insert_with(Cmcd::default).merge(cmcd),
            Err(error) => return Some(Err(error)),
        }
    }
    merged.map(Ok)
}

/// One dictionary of CMCD keys (a header's value, or the query's once URL-decoded).
pub fn parse_value(value: &str) -> Result<Cmcd, CmcdError> {
    let mut cmcd = Cmcd::default();
    if value.trim().is_empty() {
        return Ok(cmcd);
    }
    let dict: Dictionary = Parser::new(value)
        .parse()
        .map_err(|error| CmcdError::Syntax(error.to_string()))?;
    let get = |key: &str| match dict.get(key) {
        Some(ListEntry::Item(item)) => Some(&item.bare_item),
        _ => None,
    };
    let integer = |key: &'static str| -> Result<Option<u64>, CmcdError> {
        match get(key) {
            None => Ok(None),
            Some(BareItem::Integer(value)) => u64::try_from(i64::from(*value))
                .map(Some)
                .map_err(|_| CmcdError::Type(key)),
            // Some players send whole numbers as decimals.
            Some(BareItem::Decimal(value)) => {
                let value = f64::from(*value);
                if value >= 0.0 {
                    Ok(Some(value.round() as u64))
                } else {
                    Err(CmcdError::Type(key))
                }
            }
            Some(_) => Err(CmcdError::Type(key)),
        }
    };
    let flag = |key: &'static str| -> Result<bool, CmcdError> {
        match get(key) {
            None => Ok(false),
            Some(BareItem::Boolean(value)) => Ok(*value),
            Some(_) => Err(CmcdError::Type(key)),
        }
    };
    let text = |key: &'static str| -> Result<Option<String>, CmcdError> {
        match get(key) {
            None => Ok(None),
            Some(BareItem::String(value)) => Ok(Some(value.as_str().to_string())),
            Some(_) => Err(CmcdError::Type(key)),
        }
    };
    fn token<T: Token>(item: Option<&BareItem>, key: &'static str) -> Result<Option<T>, CmcdError> {
        match item {
            None => Ok(None),
            Some(BareItem::Token(value)) => T::from_token(value.as_str())
                .map(Some)
                .ok_or(CmcdError::Type(key)),
            Some(_) => Err(CmcdError::Type(key)),
        }
    }
    cmcd.br = integer("br")?;
    cmcd.d = integer("d")?;
    cmcd.ot = token(get("ot"), "ot")?;
    cmcd.tb = integer("tb")?;
    cmcd.bl = integer("bl")?;
    cmcd.dl = integer("dl")?;
    cmcd.ltc = integer("ltc")?;
    cmcd.mtp = integer("mtp")?;
    cmcd.nor = text("nor")?;
    cmcd.nrr = text("nrr")?;
    cmcd.su = flag("su")?;
    cmcd.cid = text("cid")?;
    cmcd.pr = match get("pr") {
        None => None,
        Some(BareItem::Decimal(value)) => Some(f64::from(*value)),
        Some(BareItem::Integer(value)) => Some(i64::from(*value) as f64),
        Some(_) => return Err(CmcdError::Type("pr")),
    };
    cmcd.sf = token(get("sf"), "sf")?;
    cmcd.sid = text("sid")?;
    cmcd.st = token(get("st"), "st")?;
    cmcd.v = integer("v")?;
    cmcd.bs = flag("bs")?;
    cmcd.rtp = integer("rtp")?;
    Ok(cmcd)
}
