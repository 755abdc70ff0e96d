//! EBML primitives: variable-length integers (element IDs and sizes),
//! element headers, and the scalar payload types (unsigned, float, string).
//!
//! Everything here works on a byte slice that may be incomplete: `Ok(None)`
//! means "not enough bytes yet", so the indexer can wait for more without
//! guessing. Errors are short static reasons; the caller adds the offset.

/// The longest element ID we accept (EBMLMaxIDLength 4, as WebM requires).
pub const MAX_ID_LEN: usize = 4;
/// The longest size field EBML allows (EBMLMaxSizeLength 8).
pub const MAX_SIZE_LEN: usize = 8;
/// The longest element header: ID plus size field.
pub const MAX_HEADER_LEN: usize = MAX_ID_LEN + MAX_SIZE_LEN;

/// An element header: its ID (with the length marker bits kept, as the
/// Matroska spec writes IDs, e.g. `0x1A45DFA3`), the payload size (`None`
/// for the "unknown size" that live writers use for Segment and Cluster),
/// and the header's own length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u32,
    pub size: Option<u64>,
    pub len: usize,
}

/// Length of a vint from its first byte: the position of the first set bit.
/// A zero byte has no marker and is never valid.
fn vint_len(first: u8) -> Option<usize> {
    match first.leading_zeros() {
        8 => None,
        n => Some(n as usize + 1),
    }
}

/// Reads an element ID (1 to 4 bytes, marker kept).
pub fn read_id(data: &[u8]) -> Result<Option<(u32, usize)>, &'static str> {
    let Some(&first) = data.first() else {
        return Ok(None);
    };
    let len = match vint_len(first) {
        Some(len) if len <= MAX_ID_LEN => len,
        _ => return Err("invalid element ID"),
    };
    let Some(bytes) = data.get(..len) else {
        return Ok(None);
    };
    let id = bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    Ok(Some((id, len)))
}

/// Reads an element size (1 to 8 bytes, marker removed). All value bits set
/// means "unknown size" and gives `None`.
pub fn read_size(data: &[u8]) -> Result<Option<(Option<u64>, usize)>, &'static str> {
    let Some(&first) = data.first() else {
        return Ok(None);
    };
    let Some(len) = vint_len(first) else {
        return Err("invalid element size");
    };
    let Some(bytes) = data.get(..len) else {
        return Ok(None);
    };
    // len <= 8, so 7 * len <= 56 bits of value: no overflow.
    let value_bits = 7 * len as u32;
    let mask = (1u64 << value_bits) - 1;
    let raw = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let value = raw & mask;
    Ok(Some((if value == mask { None } else { Some(value) }, len)))
}

/// Reads an element header (ID then size).
pub fn read_header(data: &[u8]) -> Result<Option<Header>, &'static str> {
    let Some((id, id_len)) = read_id(data)? else {
        return Ok(None);
    };
    let Some((size, size_len)) = read_size(data.get(id_len..).unwrap_or(&[]))? else {
        return Ok(None);
    };
    Ok(Some(Header {
        id,
        size,
        len: id_len + size_len,
    }))
}

/// Reads an unsigned integer payload (0 to 8 bytes, big-endian; empty is 0).
pub fn read_uint(payload: &[u8]) -> Result<u64, &'static str> {
    if payload.len() > 8 {
        return Err("unsigned integer longer than 8 bytes");
    }
    Ok(payload
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Reads a float payload: 0 (meaning 0.0), 4 or 8 bytes, IEEE 754 big-endian.
pub fn read_float(payload: &[u8]) -> Result<f64, &'static str> {
    match payload.len() {
        0 => Ok(0.0),
        4 => {
            let mut b = [0u8; 4];
            b.copy_from_slice(payload);
            Ok(f64::from(f32::from_be_bytes(b)))
        }
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(payload);
            Ok(f64::from_be_bytes(b))
        }
        _ => Err("float that is not 0, 4 or 8 bytes"),
    }
}

/// Reads an ASCII string payload; EBML pads strings with trailing zeros.
pub fn read_ascii(payload: &[u8]) -> Result<&str, &'static str> {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    let text = payload.get(..end).unwrap_or(&[]);
    if !text.is_ascii() {
        return Err("string that is not ASCII");
    }
    std::str::from_utf8(text).map_err(|_| "string that is not ASCII")
}

/// The children of a fully buffered master element, each complete and of
/// known size. Iteration stops at the first malformed child (yielding the
/// error once), so a hostile payload cannot make it loop.
#[derive(Debug)]
pub struct Children<'a> {
    data: &'a [u8],
    pos: usize,
    /// File offset of `data[0]`, for error messages.
    at: u64,
}

/// One child: its ID, payload and the file offset of its header.
#[derive(Debug, Clone, Copy)]
pub struct Child<'a> {
    pub id: u32,
    pub payload: &'a [u8],
    pub offset: u64,
}

impl<'a> Children<'a> {
    /// Iterates over `data`, the payload of a master element that starts at
    /// file offset `at`.
    pub fn new(data: &'a [u8], at: u64) -> Self {
        Children { data, pos: 0, at }
    }

    fn fail(
        &mut self,
        reason: &'static str,
    ) -> Option<Result<Child<'a>, crate::index::MediaError>> {
        let offset = self.at.saturating_add(self.pos as u64);
        self.pos = self.data.len();
        Some(Err(super::malformed(offset, reason)))
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Child<'a>, crate::index::MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let header = match read_header(rest) {
            Ok(Some(h)) => h,
            Ok(None) => return self.fail("child element cut short by its parent"),
            Err(reason) => return self.fail(reason),
        };
        let Some(size) = header.size else {
            return self.fail("unknown-size element inside a sized parent");
        };
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| s.checked_add(header.len));
        let Some(payload) = end.and_then(|end| rest.get(header.len..end)) else {
            return self.fail("child element larger than its parent");
        };
        let offset = self.at.saturating_add(self.pos as u64);
        self.pos = self.pos.saturating_add(header.len + payload.len());
        Some(Ok(Child {
            id: header.id,
            payload,
            offset,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(
            read_id(&[0x1A, 0x45, 0xDF, 0xA3]),
            Ok(Some((0x1A45_DFA3, 4)))
        );
        assert_eq!(read_id(&[0xEC]), Ok(Some((0xEC, 1))));
        assert_eq!(read_id(&[0x1A, 0x45]), Ok(None));
        assert_eq!(read_id(&[]), Ok(None));
        assert!(read_id(&[0x00, 1, 2, 3]).is_err());
        assert!(
            read_id(&[0x08, 1, 2, 3, 4]).is_err(),
            "5-byte IDs are not WebM"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(read_size(&[0x81]), Ok(Some((Some(1), 1))));
        assert_eq!(read_size(&[0x40, 0x02]), Ok(Some((Some(2), 2))));
        assert_eq!(read_size(&[0xFF]), Ok(Some((None, 1))));
        assert_eq!(
            read_size(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            Ok(Some((None, 8)))
        );
        let near_max = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE];
        assert_eq!(read_size(&near_max), Ok(Some((Some((1 << 56) - 2), 8))));
        assert_eq!(read_size(&[0x01, 0xFF]), Ok(None));
        assert!(read_size(&[0x00]).is_err());
    }

    #[test]
    fn scalars() {
        assert_eq!(read_uint(&[0x0F, 0x42, 0x40]), Ok(1_000_000));
        assert_eq!(read_uint(&[]), Ok(0));
        assert!(read_uint(&[0; 9]).is_err());
        assert_eq!(read_float(&20.5f32.to_be_bytes()), Ok(20.5));
        assert_eq!(read_float(&20.5f64.to_be_bytes()), Ok(20.5));
        assert!(read_float(&[0; 3]).is_err());
        assert_eq!(read_ascii(b"webm\0\0"), Ok("webm"));
        assert!(read_ascii(&[0xC3, 0xA9]).is_err());
    }

    #[test]
    fn children_stop_at_malformed() {
        // One good child (0xE7, 1 byte), then one claiming more than is left.
        let data = [0xE7, 0x81, 0x05, 0xE7, 0x85, 0x00];
        let kids: Vec<_> = Children::new(&data, 100).collect();
        assert_eq!(kids.len(), 2);
        assert!(matches!(
            kids[0],
            Ok(Child {
                id: 0xE7,
                payload: [5],
                offset: 100
            })
        ));
        assert!(kids[1].is_err());
    }
}
