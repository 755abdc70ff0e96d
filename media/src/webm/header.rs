//! The EBML header: says which document type follows. We stream "webm" and,
//! since WebM is a Matroska subset and many `.webm` files are written by
//! Matroska muxers, also "matroska" (MSE decides about the codecs).

use super::ebml::{Children, MAX_ID_LEN, MAX_SIZE_LEN, read_ascii, read_uint};
use super::elements as id;
use super::{malformed, unsupported};
use crate::index::MediaError;

/// The EBML header is a handful of small fields; anything bigger is hostile.
pub const MAX_EBML_HEADER: u64 = 4096;

/// Checks the EBML header's payload (which starts at file offset `at`);
/// true when the DocType is `webm` (a `matroska` one goes to the tidy
/// reader, which writes `webm`).
pub fn check(payload: &[u8], at: u64) -> Result<bool, MediaError> {
    let mut doc_type_ok = false;
    let mut webm = false;
    for child in Children::new(payload, at) {
        let child = child?;
        let bad = |reason| malformed(child.offset, reason);
        match child.id {
            id::DOC_TYPE => {
                let doc_type = read_ascii(child.payload).map_err(bad)?;
                if doc_type != "webm" && doc_type != "matroska" {
                    return Err(unsupported("DocType other than webm or matroska"));
                }
                webm = doc_type == "webm";
                doc_type_ok = true;
            }
            id::EBML_READ_VERSION | id::EBML_MAX_ID_LENGTH | id::EBML_MAX_SIZE_LENGTH => {
                let (max, what) = match child.id {
                    id::EBML_READ_VERSION => (1, "EBMLReadVersion above 1"),
                    id::EBML_MAX_ID_LENGTH => {
                        (MAX_ID_LEN as u64, "element IDs longer than 4 bytes")
                    }
                    _ => (MAX_SIZE_LEN as u64, "element sizes longer than 8 bytes"),
                };
                if read_uint(child.payload).map_err(bad)? > max {
                    return Err(unsupported(what));
                }
            }
            _ => {}
        }
    }
    if doc_type_ok {
        Ok(webm)
    } else {
        Err(malformed(at, "EBML header without DocType"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn doc_types() {
        assert_eq!(check(b"\x42\x82\x84webm", 5), Ok(true));
        assert_eq!(check(b"\x42\x82\x88matroska", 5), Ok(false));
        assert!(matches!(
            check(b"\x42\x82\x83mkv", 5),
            Err(MediaError::Unsupported { .. })
        ));
        assert!(matches!(check(b"", 5), Err(MediaError::Malformed { .. })));
        assert!(matches!(
            check(b"\x42\x82\x84webm\x42\xF7\x81\x02", 5),
            Err(MediaError::Unsupported { .. })
        ));
    }
}
