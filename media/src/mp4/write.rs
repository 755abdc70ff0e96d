//! The one ISO BMFF box writer of the crate: boxes are opened, filled and
//! closed, and closing patches the size field. Big-endian fields, no
//! formatting code. The remuxer builds init segments and fragments with it,
//! the packager rewritten `moov`s, and [`Sidx::write`](super::boxes::sidx::Sidx::write)
//! its index.

/// Appends boxes to a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Opens a box; returns its start, for [`Writer::end`].
    pub fn begin(&mut self, kind: &[u8; 4]) -> usize {
        let at = self.buf.len();
        self.u32(0);
        self.bytes(kind);
        at
    }

    /// Opens a full box (version and flags after the header).
    pub fn begin_full(&mut self, kind: &[u8; 4], version: u8, flags: u32) -> usize {
        let at = self.begin(kind);
        self.u32(u32::from(version) << 24 | (flags & 0x00ff_ffff));
        at
    }

    /// Closes the box opened at `at`. The boxes we write (a `moov` of copied
    /// boxes from a `moov` of at most 64 MiB, a `moof` of a fragment of
    /// bounded size) always fit a 32-bit size; a caller that cannot promise
    /// it checks [`Writer::len`] of its outermost box.
    pub fn end(&mut self, at: usize) {
        let size = u32::try_from(self.buf.len().saturating_sub(at)).unwrap_or(u32::MAX);
        self.patch_u32(at, size);
    }

    /// Overwrites the 32-bit field at `at` (written earlier as a placeholder).
    pub fn patch_u32(&mut self, at: usize, value: u32) {
        if let Some(field) = at.checked_add(4).and_then(|end| self.buf.get_mut(at..end)) {
            field.copy_from_slice(&value.to_be_bytes());
        }
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_boxes_get_their_sizes() {
        let mut w = Writer::default();
        let outer = w.begin(b"moov");
        let inner = w.begin_full(b"mvex", 1, 0x20000);
        w.u32(7);
        w.end(inner);
        w.end(outer);
        assert_eq!(
            w.into_bytes(),
            b"\0\0\0\x18moov\0\0\0\x10mvex\x01\x02\0\0\0\0\0\x07".to_vec()
        );
    }
}
