//! The player's side of the remux: file bytes in, fragments out.
//!
//! The media run delivers the file's bytes in order from a unit boundary;
//! [`RemuxStream`] keeps them only from the start of the next fragment's
//! span, builds each fragment as soon as its span is in, and drops what no
//! later fragment needs. Memory: about one fragment plus one request, never
//! the file.

use super::{Fragment, Piece, Remux};
use crate::index::{MediaError, Repackager};

/// Builds fragments from a run of file bytes.
#[derive(Debug)]
pub struct RemuxStream {
    remux: Remux,
    fragments: Vec<Fragment>,
    /// The next fragment to build.
    next: usize,
    /// File offset of `window[0]`.
    window_start: u64,
    window: Vec<u8>,
}

impl RemuxStream {
    pub fn new(remux: Remux, fragments: Vec<Fragment>) -> Self {
        RemuxStream {
            remux,
            fragments,
            next: 0,
            window_start: 0,
            window: Vec::new(),
        }
    }

    fn window_end(&self) -> u64 {
        self.window_start + self.window.len() as u64
    }

    /// Drops bytes before the next fragment's span.
    fn trim(&mut self) {
        let keep_from = self
            .fragments
            .get(self.next)
            .map_or(self.window_end(), |f| f.span.start);
        if keep_from > self.window_start {
            let drop = usize::try_from(keep_from - self.window_start)
                .unwrap_or(usize::MAX)
                .min(self.window.len());
            self.window.drain(..drop);
            self.window_start += drop as u64;
        }
    }
}

impl Repackager for RemuxStream {
    fn init_segment(&self) -> Vec<u8> {
        self.remux.init_segment()
    }

    fn reset(&mut self, offset: u64) {
        self.window.clear();
        self.window_start = offset;
        // The first fragment whose samples all lie at or after `offset`.
        self.next = self.fragments.partition_point(|f| f.span.start < offset);
    }

    fn push(&mut self, offset: u64, data: &[u8]) -> Result<Vec<Vec<u8>>, MediaError> {
        if offset != self.window_end() {
            // Not the continuation of the run: ignore (a stale request).
            return Ok(Vec::new());
        }
        self.window.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some(fragment) = self.fragments.get(self.next) {
            if fragment.span.end > self.window_end() {
                break;
            }
            let piece = Piece {
                offset: self.window_start,
                data: &self.window,
            };
            out.push(self.remux.build_fragment(fragment, &piece)?);
            self.next += 1;
        }
        self.trim();
        Ok(out)
    }
}
