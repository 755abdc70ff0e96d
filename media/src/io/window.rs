//! [`Window`]: the bytes a container reader holds between two `feed` calls.
//!
//! A reader walks the file with one cursor, the offset of the next byte it
//! will look at, and is fed pieces of the file wherever the caller got them:
//! the run it asked for, a duplicate after a retry, bytes past a gap. So every
//! reader needs the same three things: keep the bytes that continue what it
//! holds, move the cursor past what it does not need (skipping those bytes
//! if they arrive later), and say which offset it wants next. Like mp4box.js's
//! `appendBuffer`, which answers with the next offset it wants, a window
//! always knows where its bytes end ([`Window::end`], where a request for
//! more starts); like symphonia's buffered readers, it lets a reader look at
//! the bytes it was given in place and copies only what must outlive the call.
//!
//! The rules, the same for every reader:
//! - Bytes are held contiguously from the cursor, at most `max_held` of them
//!   (the reader sets it from its own size limits), and only bytes that
//!   actually arrived: no length read from a file ever sizes an allocation.
//! - A piece that starts past [`Window::end`] (a gap) is ignored; the part of
//!   a piece before it (an overlap, a duplicate) is skipped.
//! - Moving the cursor past the held bytes leaves the window empty at the new
//!   cursor; bytes before it that arrive later are skipped.
//!
//! How much a reader copies is its own choice, made explicit by the call it
//! uses: [`Window::view`] looks in place and holds only a cut-off remainder
//! (fMP4 boxes, a plain MP4's `moov`), [`Window::append`] copies a bounded
//! stretch ahead for a parser that reads from held bytes (WebM, MP3), and
//! [`Window::at_cursor`] never holds (a plain MP4's box headers, which are
//! asked for again whole when a feed cuts one).

use crate::index::{MediaError, Step};

/// Held capacity above this is given back when the window empties: one
/// large element must not pin its memory for the rest of the walk.
const KEEP_CAPACITY: usize = 64 << 10;

/// The bytes a reader holds from its cursor on; see the module docs.
#[derive(Debug, Clone)]
pub struct Window {
    /// File offset of the cursor: `held[head]`, once something is held.
    pos: u64,
    /// `held[head..]` are the bytes from the cursor on. `held[..head]` were
    /// passed by the cursor and are dropped on the next append, so moving
    /// the cursor through held bytes costs nothing.
    held: Vec<u8>,
    head: usize,
    /// Most bytes held from the cursor.
    max_held: usize,
}

/// What [`Window::append`] did with a piece.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Appended {
    /// Bytes at the front of the piece now behind [`Window::end`]: known
    /// before (an overlap) or just taken. 0 when the piece starts past the
    /// end (a gap), or is empty.
    pub used: usize,
    /// Bytes of the piece newly held.
    pub added: usize,
}

/// The held bytes already reach the end of the file: nothing more can come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtEnd {
    /// The file length.
    pub len: u64,
}

impl AtEnd {
    /// The file ends before the `what` the reader waits for.
    pub fn truncated(self, what: &'static str) -> MediaError {
        MediaError::Truncated {
            len: self.len,
            what,
        }
    }
}

impl Window {
    /// An empty window at offset 0 that never holds more than `max_held`
    /// bytes.
    pub fn new(max_held: usize) -> Self {
        Window {
            pos: 0,
            held: Vec::new(),
            head: 0,
            max_held,
        }
    }

    /// File offset of the cursor.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Bytes held from the cursor.
    pub fn len(&self) -> usize {
        self.held.len().saturating_sub(self.head)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// File offset just past the held bytes: where the next byte that
    /// counts must start, and where a request for more begins.
    pub fn end(&self) -> u64 {
        self.pos.saturating_add(self.len() as u64)
    }

    /// The held bytes, from the cursor on.
    pub fn held(&self) -> &[u8] {
        self.held.get(self.head..).unwrap_or(&[])
    }

    /// Holds the part of `data` (which starts at file offset `offset`) that
    /// continues the held bytes, up to file offset `until` and at most
    /// `max_held` bytes from the cursor.
    pub fn append(&mut self, offset: u64, data: &[u8], until: u64) -> Appended {
        let end = self.end();
        if offset > end {
            return Appended::default();
        }
        let data_end = offset.saturating_add(data.len() as u64);
        let cap = self.pos.saturating_add(self.max_held as u64);
        let take_end = data_end.min(until).min(cap);
        let mut added = 0;
        if take_end > end {
            // Both fit in usize: they are at most data.len().
            let from = usize::try_from(end - offset).unwrap_or(usize::MAX);
            let to = usize::try_from(take_end - offset).unwrap_or(usize::MAX);
            if let Some(piece) = data.get(from..to) {
                self.compact();
                self.held.extend_from_slice(piece);
                added = piece.len();
            }
        }
        let used = usize::try_from(self.end() - offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        Appended { used, added }
    }

    /// The part of `data` (at file offset `offset`) from the cursor on, in
    /// place; empty when `data` does not reach the cursor.
    pub fn at_cursor<'a>(&self, offset: u64, data: &'a [u8]) -> &'a [u8] {
        from_offset(offset, data, self.pos)
    }

    /// At least `need` bytes from the cursor, contiguous: in place in `data`
    /// (at file offset `offset`) when nothing is held, else the held bytes
    /// topped up from `data` to exactly `need`. `None` when fewer than `need`
    /// have arrived; what did arrive is then held, for the next call.
    /// Waiting for more than `max_held` bytes is refused.
    pub fn view<'a>(
        &'a mut self,
        offset: u64,
        data: &'a [u8],
        need: u64,
    ) -> Result<Option<&'a [u8]>, MediaError> {
        let need = need.max(1);
        if need > self.max_held as u64 {
            return Err(MediaError::TooLarge {
                what: "bytes a reader holds at once",
                limit: self.max_held as u64,
            });
        }
        if self.is_empty() {
            let here = from_offset(offset, data, self.pos);
            if here.len() as u64 >= need {
                return Ok(Some(here));
            }
        }
        self.append(offset, data, self.pos.saturating_add(need));
        Ok((self.len() as u64 >= need).then(|| self.held()))
    }

    /// Moves the cursor forward to `to`, dropping the held bytes before it.
    /// A `to` behind the cursor is a [`Window::jump`].
    pub fn skip_to(&mut self, to: u64) {
        let Some(ahead) = to.checked_sub(self.pos) else {
            return self.jump(to);
        };
        match usize::try_from(ahead) {
            Ok(ahead) if ahead < self.len() => {
                self.head += ahead;
                self.pos = to;
            }
            _ => self.jump(to),
        }
    }

    /// Moves the cursor anywhere (back to the first Cluster, on to Cues at
    /// the end), forgetting the held bytes.
    pub fn jump(&mut self, to: u64) {
        if self.held.capacity() > KEEP_CAPACITY {
            self.held = Vec::new();
        } else {
            self.held.clear();
        }
        self.head = 0;
        self.pos = to;
    }

    /// Forgets the held bytes and frees their memory (the walk is over, or
    /// failed); the cursor stays.
    pub fn release(&mut self) {
        self.held = Vec::new();
        self.head = 0;
    }

    /// Asks for the bytes from [`Window::end`] through `want_end`, at least
    /// `min_len` of them, cut at the end of the file when its length is
    /// known; never for 0 bytes. [`AtEnd`] when the held bytes already reach
    /// the end of the file.
    pub fn request(
        &self,
        want_end: u64,
        min_len: u64,
        file_len: Option<u64>,
    ) -> Result<Step, AtEnd> {
        let offset = self.end();
        let mut end = want_end.max(offset.saturating_add(min_len));
        if let Some(len) = file_len {
            if offset >= len {
                return Err(AtEnd { len });
            }
            end = end.min(len);
        }
        Ok(Step::NeedBytes {
            offset,
            len: end.saturating_sub(offset).max(1),
        })
    }

    /// Asks for `more` bytes from [`Window::end`] (at least 1), whatever the
    /// file length: for readers that check beforehand that what they wait
    /// for lies within the file.
    pub fn request_more(&self, more: u64) -> Step {
        Step::NeedBytes {
            offset: self.end(),
            len: more.max(1),
        }
    }

    /// Drops the bytes the cursor has passed.
    fn compact(&mut self) {
        if self.head > 0 {
            self.held.drain(..self.head);
            self.head = 0;
        }
    }
}

/// The part of `data` (at file offset `offset`) from file offset `at` on;
/// empty when `data` does not reach `at`, or starts after it.
fn from_offset(offset: u64, data: &[u8], at: u64) -> &[u8] {
    at.checked_sub(offset)
        .and_then(|skip| usize::try_from(skip).ok())
        .and_then(|skip| data.get(skip..))
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A file whose byte at offset `i` is `i % 251`, so any misplaced byte
    /// shows.
    fn file(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn contiguous_pieces_are_held_in_order() {
        let f = file(100);
        let mut w = Window::new(1000);
        assert_eq!(
            w.append(0, &f[..30], u64::MAX),
            Appended {
                used: 30,
                added: 30
            }
        );
        assert_eq!(
            w.append(30, &f[30..70], u64::MAX),
            Appended {
                used: 40,
                added: 40
            }
        );
        assert_eq!((w.pos(), w.end(), w.held()), (0, 70, &f[..70]));
    }

    #[test]
    fn a_piece_past_a_gap_is_ignored() {
        let f = file(100);
        let mut w = Window::new(1000);
        w.append(0, &f[..10], u64::MAX);
        assert_eq!(w.append(11, &f[11..50], u64::MAX), Appended::default());
        assert_eq!((w.end(), w.held()), (10, &f[..10]));
        // The gap filled, the next piece counts.
        w.append(10, &f[10..12], u64::MAX);
        assert_eq!(w.append(12, &f[12..50], u64::MAX).added, 38);
        assert_eq!(w.held(), &f[..50]);
    }

    #[test]
    fn overlaps_and_duplicates_add_only_what_is_new() {
        let f = file(100);
        let mut w = Window::new(1000);
        w.append(0, &f[..20], u64::MAX);
        // A duplicate: all of it is known.
        assert_eq!(
            w.append(0, &f[..20], u64::MAX),
            Appended { used: 20, added: 0 }
        );
        // Inside what is held.
        assert_eq!(
            w.append(5, &f[5..10], u64::MAX),
            Appended { used: 5, added: 0 }
        );
        // An overlap: the known front is skipped, the rest taken.
        assert_eq!(
            w.append(15, &f[15..40], u64::MAX),
            Appended {
                used: 25,
                added: 20
            }
        );
        assert_eq!(w.held(), &f[..40]);
    }

    #[test]
    fn append_stops_at_until_and_at_max_held() {
        let f = file(100);
        let mut w = Window::new(1000);
        assert_eq!(
            w.append(0, &f, 30),
            Appended {
                used: 30,
                added: 30
            }
        );
        assert_eq!(w.end(), 30);
        let mut small = Window::new(16);
        assert_eq!(small.append(0, &f, u64::MAX).added, 16);
        assert_eq!(small.append(16, &f[16..], u64::MAX), Appended::default());
        // Moving the cursor makes room again: the bound counts from it.
        small.skip_to(10);
        assert_eq!(small.append(16, &f[16..], u64::MAX).added, 10);
        assert_eq!((small.len(), small.held()), (16, &f[10..26]));
    }

    #[test]
    fn skipping_inside_the_held_bytes_keeps_the_rest() {
        let f = file(100);
        let mut w = Window::new(1000);
        w.append(0, &f[..50], u64::MAX);
        w.skip_to(20);
        assert_eq!((w.pos(), w.end(), w.held()), (20, 50, &f[20..50]));
        // Appending after a skip keeps the order (the passed bytes go).
        w.append(50, &f[50..60], u64::MAX);
        assert_eq!(w.held(), &f[20..60]);
        // Skipping to the end exactly empties the window there.
        w.skip_to(60);
        assert_eq!((w.pos(), w.end(), w.len()), (60, 60, 0));
    }

    #[test]
    fn skipping_past_the_held_bytes_skips_them_when_they_arrive() {
        let f = file(100);
        let mut w = Window::new(1000);
        w.append(0, &f[..10], u64::MAX);
        w.skip_to(40);
        assert_eq!((w.pos(), w.end(), w.len()), (40, 40, 0));
        // A piece from before the cursor: only its part from 40 on counts.
        assert_eq!(
            w.append(10, &f[10..50], u64::MAX),
            Appended {
                used: 40,
                added: 10
            }
        );
        assert_eq!(w.held(), &f[40..50]);
        // A piece wholly before the cursor adds nothing.
        assert_eq!(
            w.append(0, &f[..30], u64::MAX),
            Appended { used: 30, added: 0 }
        );
        assert_eq!(w.held(), &f[40..50]);
    }

    #[test]
    fn a_jump_forgets_what_is_held_even_backwards() {
        let f = file(100);
        let mut w = Window::new(1000);
        w.append(0, &f[..50], u64::MAX);
        w.skip_to(30);
        w.jump(5);
        assert_eq!((w.pos(), w.end(), w.len()), (5, 5, 0));
        w.append(0, &f[..20], u64::MAX);
        assert_eq!(w.held(), &f[5..20]);
        // skip_to behind the cursor is a jump too.
        w.skip_to(2);
        assert_eq!((w.pos(), w.len()), (2, 0));
    }

    #[test]
    fn at_cursor_is_the_piece_from_the_cursor_in_place() {
        let f = file(100);
        let mut w = Window::new(1000);
        w.skip_to(10);
        assert_eq!(w.at_cursor(0, &f[..30]), &f[10..30]);
        assert_eq!(w.at_cursor(10, &f[10..30]), &f[10..30]);
        assert!(w.at_cursor(11, &f[11..30]).is_empty(), "starts after it");
        assert!(w.at_cursor(0, &f[..10]).is_empty(), "ends before it");
        assert!(w.is_empty(), "nothing is held");
    }

    #[test]
    fn view_looks_in_place_when_the_piece_has_enough() {
        let f = file(100);
        let mut w = Window::new(1000);
        w.skip_to(10);
        let data = &f[..60];
        let got = w
            .view(0, data, 20)
            .expect("within the bound")
            .expect("enough");
        // The piece itself from the cursor, all of it, not a copy.
        assert_eq!(got, &f[10..60]);
        assert!(std::ptr::eq(got.as_ptr(), data[10..].as_ptr()));
        assert!(w.is_empty());
    }

    #[test]
    fn view_holds_a_cut_off_piece_and_tops_it_up_to_need() {
        let f = file(100);
        let mut w = Window::new(1000);
        assert_eq!(w.view(0, &f[..5], 20), Ok(None));
        assert_eq!(w.held(), &f[..5]);
        assert_eq!(
            w.request_more(20 - 5),
            Step::NeedBytes { offset: 5, len: 15 }
        );
        // More than needed arrives: only `need` bytes are held.
        let got = w.view(5, &f[5..90], 20).expect("bound").expect("enough");
        assert_eq!(got, &f[..20]);
        assert_eq!(w.end(), 20);
        // Already enough: nothing more is taken.
        assert_eq!(w.view(20, &f[20..], 10), Ok(Some(&f[..20])));
    }

    #[test]
    fn view_refuses_to_wait_for_more_than_the_bound() {
        let f = file(100);
        let mut w = Window::new(16);
        assert_eq!(w.view(0, &f, 16).map(|v| v.map(<[u8]>::len)), Ok(Some(100)));
        assert_eq!(
            w.view(0, &f, 17),
            Err(MediaError::TooLarge {
                what: "bytes a reader holds at once",
                limit: 16
            })
        );
        assert!(w.is_empty(), "nothing was held for the refused wait");
    }

    #[test]
    fn requests_start_where_the_held_bytes_end() {
        let f = file(100);
        let mut w = Window::new(1000);
        w.append(0, &f[..10], u64::MAX);
        w.skip_to(4);
        // Through an offset, at least `min_len`, never 0.
        assert_eq!(
            w.request(30, 0, None),
            Ok(Step::NeedBytes {
                offset: 10,
                len: 20
            })
        );
        assert_eq!(
            w.request(30, 100, None),
            Ok(Step::NeedBytes {
                offset: 10,
                len: 100
            })
        );
        assert_eq!(
            w.request(5, 0, None),
            Ok(Step::NeedBytes { offset: 10, len: 1 })
        );
        // Cut at the end of the file; nothing left to ask for at it.
        assert_eq!(
            w.request(30, 100, Some(25)),
            Ok(Step::NeedBytes {
                offset: 10,
                len: 15
            })
        );
        assert_eq!(w.request(30, 0, Some(10)), Err(AtEnd { len: 10 }));
        assert_eq!(
            AtEnd { len: 10 }.truncated("box"),
            MediaError::Truncated {
                len: 10,
                what: "box"
            }
        );
        assert_eq!(w.request_more(0), Step::NeedBytes { offset: 10, len: 1 });
    }

    #[test]
    fn offsets_near_two_to_the_64_saturate_instead_of_wrapping() {
        let mut w = Window::new(1000);
        w.skip_to(u64::MAX - 2);
        // A piece claiming to run past 2^64: only what fits is held.
        assert_eq!(w.append(u64::MAX - 2, &[1, 2, 3, 4, 5], u64::MAX).added, 2);
        assert_eq!(w.end(), u64::MAX);
        assert_eq!(
            w.request(u64::MAX, 1000, None),
            Ok(Step::NeedBytes {
                offset: u64::MAX,
                len: 1
            })
        );
        assert_eq!(w.append(u64::MAX, &[9], u64::MAX), Appended::default());
    }

    #[test]
    fn a_large_hold_gives_its_memory_back_when_the_window_empties() {
        let big = vec![7u8; 4 * KEEP_CAPACITY];
        let mut w = Window::new(big.len());
        w.append(0, &big, u64::MAX);
        w.skip_to(big.len() as u64);
        assert!(w.held.capacity() <= KEEP_CAPACITY);
        w.append(big.len() as u64, &[1, 2, 3], u64::MAX);
        w.release();
        assert_eq!((w.held.capacity(), w.pos()), (0, big.len() as u64));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append { offset: u64, len: usize, until: u64 },
        View { offset: u64, len: usize, need: u64 },
        SkipBy(u64),
        Jump(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..300, 0usize..80, 0u64..400)
                .prop_map(|(offset, len, until)| Op::Append { offset, len, until }),
            2 => (0u64..300, 0usize..80, 0u64..48)
                .prop_map(|(offset, len, need)| Op::View { offset, len, need }),
            2 => (0u64..40).prop_map(Op::SkipBy),
            1 => (0u64..300).prop_map(Op::Jump),
        ]
    }

    proptest! {
        /// Whatever the pieces and moves, the window holds exactly the file's
        /// bytes from its cursor, never more than its bound, and its end
        /// only moves forward unless the cursor jumps.
        #[test]
        fn holds_exactly_the_file_bytes_from_the_cursor(ops in prop::collection::vec(op(), 1..60)) {
            let f = file(400);
            let max_held = 32;
            let mut w = Window::new(max_held);
            for op in ops {
                let end_before = w.end();
                let mut jumped = false;
                match op {
                    Op::Append { offset, len, until } => {
                        let start = (offset as usize).min(f.len());
                        let data = &f[start..(start + len).min(f.len())];
                        let a = w.append(offset, data, until);
                        prop_assert!(a.used <= data.len() && a.added <= a.used);
                        if offset > end_before {
                            prop_assert_eq!(a, Appended::default());
                        }
                    }
                    Op::View { offset, len, need } => {
                        let start = (offset as usize).min(f.len());
                        let data = &f[start..(start + len).min(f.len())];
                        let pos = w.pos() as usize;
                        match w.view(offset, data, need) {
                            Ok(Some(bytes)) => {
                                prop_assert!(bytes.len() as u64 >= need.max(1));
                                prop_assert_eq!(bytes, &f[pos..pos + bytes.len()]);
                            }
                            Ok(None) => prop_assert!((w.len() as u64) < need.max(1)),
                            Err(_) => prop_assert!(need > max_held as u64),
                        }
                    }
                    Op::SkipBy(n) => w.skip_to(w.pos() + n),
                    Op::Jump(to) => {
                        w.jump(to);
                        jumped = true;
                    }
                }
                let (pos, end) = (w.pos() as usize, w.end() as usize);
                prop_assert!(w.len() <= max_held);
                prop_assert_eq!(w.held(), &f[pos.min(f.len())..end.min(f.len())]);
                prop_assert!(jumped || w.end() >= end_before);
            }
        }
    }
}
