//! The requests in flight: each one's abort handle and the file offset its
//! next byte goes to. A short list, not a map: a player has a handful of
//! requests at once, and a hash table costs the wasm ~5 KB.

use web_sys::AbortController;

struct Request {
    id: u32,
    controller: AbortController,
    /// File offset of the request's next byte.
    next: u64,
    /// Whether its bytes go to the SourceBuffer (not only to the indexer).
    media: bool,
}

#[derive(Default)]
pub struct InFlight(Vec<Request>);

impl InFlight {
    pub fn insert(&mut self, id: u32, controller: AbortController, start: u64, media: bool) {
        self.remove(id);
        self.0.push(Request {
            id,
            controller,
            next: start,
            media,
        });
    }

    /// Forgets `id`; its abort handle, if it was in flight.
    pub fn remove(&mut self, id: u32) -> Option<AbortController> {
        let at = self.0.iter().position(|r| r.id == id)?;
        Some(self.0.swap_remove(at).controller)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.0.iter().any(|r| r.id == id)
    }

    /// Where `len` bytes just received for `id` go (offset, media), and moves
    /// its next offset past them.
    pub fn advance(&mut self, id: u32, len: u64) -> Option<(u64, bool)> {
        let request = self.0.iter_mut().find(|r| r.id == id)?;
        let at = request.next;
        request.next += len;
        Some((at, request.media))
    }

    /// Aborts and forgets every request.
    pub fn abort_all(&mut self) {
        for request in self.0.drain(..) {
            request.controller.abort();
        }
    }
}
