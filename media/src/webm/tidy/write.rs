//! Writing EBML elements: the tidy output's one writer.

/// Appends `id` (marker bits kept, as the Matroska IDs are written).
fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    out.extend_from_slice(bytes.get(skip..).unwrap_or(&bytes));
}

/// Appends `size` as the shortest EBML size vint (all ones is reserved for
/// "unknown", so a value that would fill its length takes one byte more).
pub fn put_size(out: &mut Vec<u8>, size: u64) {
    let mut len = 1;
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(marked.to_be_bytes().get(8 - len..).unwrap_or(&[]));
}

/// The 8-byte "unknown size" (a Segment whose end is not written).
pub const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Appends a whole element.
pub fn element(out: &mut Vec<u8>, id: u32, payload: &[u8]) {
    put_id(out, id);
    put_size(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Appends an unsigned integer element in as few bytes as it takes.
pub fn uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    element(out, id, bytes.get(skip..).unwrap_or(&bytes));
}

/// Appends an 8-byte float element.
pub fn float(out: &mut Vec<u8>, id: u32, value: f64) {
    element(out, id, &value.to_be_bytes());
}

/// Appends the header of an element of unknown size.
pub fn unknown_size(out: &mut Vec<u8>, id: u32) {
    put_id(out, id);
    out.extend_from_slice(&UNKNOWN_SIZE);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::webm::ebml;

    #[test]
    fn sizes_and_ids_read_back() {
        for size in [0u64, 1, 126, 127, 128, 16_382, 16_383, 1 << 40] {
            let mut out = Vec::new();
            put_size(&mut out, size);
            assert_eq!(ebml::read_size(&out), Ok(Some((Some(size), out.len()))));
        }
        let mut out = Vec::new();
        uint(&mut out, 0x2A_D7B1, 1_000_000);
        assert_eq!(out, [0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]);
        let mut out = Vec::new();
        uint(&mut out, 0xE7, 0);
        assert_eq!(out, [0xE7, 0x81, 0x00]);
    }
}
