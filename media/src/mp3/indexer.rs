//! The MP3 indexer: a sans-I/O state machine from the first byte of the
//! file to a [`MediaIndex`] of ~2-second units.
//!
//! It skips the ID3v2 tags in front (asking for the bytes after a tag that
//! is larger than what it was given, so that cover art is never
//! downloaded), finds the first frame (a valid header followed by another
//! one, within [`SYNC_SEARCH`] bytes), and reads the Xing/Info or VBRI
//! header that frame may carry. Then the units are computed, not scanned:
//!
//! - **Xing with a TOC** (VBR): unit boundaries every ~2 s, at byte
//!   positions interpolated in the 100-entry table, as the Xing seek
//!   algorithm does; the duration is frames × samples per frame / rate.
//! - **VBRI**: the same from its table of span sizes.
//! - **Info** (LAME's CBR header), or Xing without a TOC: the frame and
//!   byte counts give the average frame length; boundaries fall on frames.
//! - **No header** (CBR): the bitrate gives bytes per second, and the file
//!   length the duration. Without a file length the index is incomplete:
//!   units are added as the caller feeds bytes past them, and completed
//!   once a call brings the length.
//!
//! There is no init segment (`init` is `0..0`): MSE's MPEG audio parser
//! needs none. The header frame (Xing/Info/VBRI) is silence to a decoder
//! that does not know it, so the first unit starts after it; the first
//! unit starts at the first frame after the ID3v2 tags otherwise. Unit
//! boundaries from a table are only as exact as the table (1% of the
//! duration for Xing) and need not be frame-aligned: the browser's parser
//! resynchronizes on the next frame header. Trailing ID3v1/APEv2 tags are
//! left in the last unit (the browser skips them); seeing them would cost
//! another request before playback could start.

use super::frame::{self, HEADER_LEN, HeaderError, MAX_FRAME_LEN};
use super::plan::Plan;
use super::{id3, malformed, unsupported};
use crate::index::{
    Container, ContainerIndexer, FirstError, MediaError, MediaIndex, Presentation, Step, Track,
    TrackKind,
};
use crate::io::Window;

/// How far past the ID3v2 tags the first frame may start. Encoders and
/// taggers leave a little junk or padding there; 64 KiB is far more than
/// real files need while bounding what random bytes can make us read.
pub const SYNC_SEARCH: u64 = 64 << 10;

/// The least we ask for when we need more bytes: a first frame and the
/// header after it, with room to spare, so one round trip is enough.
const MIN_REQUEST: u64 = 4096;

/// ID3v2 tags we skip before giving up (some taggers stack a few).
const MAX_TAGS: u32 = 8;

/// Where the indexer is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At `pos`, which may be the start of an ID3v2 tag.
    Tags,
    /// Looking for the first frame, at `pos` and on.
    Sync,
    /// Index ready but incomplete: waiting for the file length.
    Growing,
    /// Index complete.
    Done,
}

/// Most bytes held while looking for the first frame: the search window
/// past the tags, one frame and the header after it (what
/// [`Mp3Indexer::want_limit`] lets in).
const MAX_HELD: u64 = SYNC_SEARCH + (MAX_FRAME_LEN + HEADER_LEN) as u64;

/// Incremental MP3 reader; see the module docs.
#[derive(Debug)]
pub struct Mp3Indexer {
    state: State,
    /// The bytes from the cursor, the next offset to look at: a possible
    /// tag, or a frame candidate. Copied in up to [`Mp3Indexer::want_limit`]
    /// (the search reads them byte by byte), released once the first frame
    /// is found.
    window: Window,
    /// Where the search for the first frame gives up.
    search_end: u64,
    /// Where the search for the first frame began (right after the tags).
    audio_search_start: u64,
    tags: u32,
    /// The latest length a caller gave.
    file_len: Option<u64>,
    /// The first error, repeated on every later call: the input is bad.
    failed: FirstError,
    plan: Option<Plan>,
    /// Furthest byte the caller has shown us, for incomplete CBR indexes.
    seen_end: u64,
    index: Option<MediaIndex>,
}

impl Default for Mp3Indexer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mp3Indexer {
    pub fn new() -> Self {
        Mp3Indexer {
            state: State::Tags,
            window: Window::new(MAX_HELD as usize),
            search_end: 0,
            audio_search_start: 0,
            tags: 0,
            file_len: None,
            failed: FirstError::default(),
            plan: None,
            seen_end: 0,
            index: None,
        }
    }

    /// The next offset to look at.
    fn pos(&self) -> u64 {
        self.window.pos()
    }

    /// Whether the whole file is held (so waiting for more is futile).
    fn at_eof(&self) -> bool {
        self.file_len.is_some_and(|len| self.window.end() >= len)
    }

    /// The furthest byte the parser may still want: the end of the sync
    /// search window plus a frame and the next header.
    fn want_limit(&self) -> u64 {
        let window = match self.state {
            State::Tags => SYNC_SEARCH,
            _ => self.search_end.saturating_sub(self.pos()),
        };
        self.pos()
            .saturating_add(window)
            .saturating_add((MAX_FRAME_LEN + HEADER_LEN) as u64)
    }

    /// Takes the part of `data` (at file offset `offset`) that extends the
    /// held bytes contiguously, up to what parsing could need; returns
    /// whether it took anything.
    fn offer(&mut self, offset: u64, data: &[u8]) -> bool {
        let until = self.want_limit();
        self.window.append(offset, data, until).added > 0
    }

    /// Asks for the bytes up to `want_end` (at least [`MIN_REQUEST`],
    /// within the file), or reports the file too short for `what`.
    fn need(&self, want_end: u64, what: &'static str) -> Result<Step, MediaError> {
        self.window
            .request(want_end, MIN_REQUEST, self.file_len)
            .map_err(|end| end.truncated(what))
    }

    /// Reads tags and looks for the first frame with what is buffered.
    fn run(&mut self) -> Result<Step, MediaError> {
        loop {
            match self.state {
                State::Tags => {
                    if let Some(step) = self.read_tag()? {
                        return Ok(step);
                    }
                }
                State::Sync => return self.find_first_frame(),
                State::Growing | State::Done => return Ok(Step::Ready),
            }
        }
    }

    /// Skips the ID3v2 tag at `pos`, or moves on to the frame search when
    /// there is none. `Some` when it needs bytes.
    fn read_tag(&mut self) -> Result<Option<Step>, MediaError> {
        let pos = self.pos();
        let head = self.window.held();
        if head.len() < id3::ID3V2_HEADER_LEN && !self.at_eof() {
            let want = pos + id3::ID3V2_HEADER_LEN as u64;
            return self.need(want, "ID3v2 tag").map(Some);
        }
        match id3::id3v2_len(head) {
            Err(reason) => Err(malformed(pos, reason)),
            Ok(None) => {
                self.state = State::Sync;
                self.audio_search_start = pos;
                self.search_end = pos.saturating_add(SYNC_SEARCH);
                Ok(None)
            }
            Ok(Some(len)) => {
                self.tags += 1;
                if self.tags > MAX_TAGS {
                    return Err(malformed(pos, "too many ID3v2 tags"));
                }
                let tag_end = pos.saturating_add(len);
                if let Some(file_len) = self.file_len.filter(|&l| tag_end > l) {
                    return Err(MediaError::Truncated {
                        len: file_len,
                        what: "ID3v2 tag",
                    });
                }
                self.window.skip_to(tag_end);
                Ok(None)
            }
        }
    }

    /// Scans for the first frame: a valid header whose frame is followed by
    /// another header of the same stream (or by the end of the file).
    fn find_first_frame(&mut self) -> Result<Step, MediaError> {
        while self.pos() < self.search_end {
            let at = self.pos();
            let here = self.window.held();
            if here.len() < HEADER_LEN {
                if self.at_eof() {
                    break;
                }
                return self.need(at + MIN_REQUEST, "first MPEG audio frame");
            }
            let header = match frame::parse_slice(here) {
                Ok(h) => h,
                Err(HeaderError::NotLayer3) if at == self.audio_search_start => {
                    return Err(unsupported(
                        "MPEG audio Layer I or II (only Layer III plays)",
                    ));
                }
                Err(HeaderError::FreeFormat) if at == self.audio_search_start => {
                    return Err(unsupported("free-format bitrate"));
                }
                Err(_) => {
                    self.window.skip_to(at + 1);
                    continue;
                }
            };
            let len = header.frame_len();
            let frame_end = at + len as u64;
            let fits = self.file_len.is_none_or(|l| frame_end <= l);
            let next = here.get(len..);
            let follows = match next {
                Some(n) if n.len() >= HEADER_LEN => {
                    frame::parse_slice(n).is_ok_and(|next| header.same_stream(&next))
                }
                // The file ends right after this frame (give or take a
                // few bytes of junk).
                _ if self.at_eof() => fits,
                _ => return self.need(frame_end + HEADER_LEN as u64, "first MPEG audio frame"),
            };
            if !(fits && follows) {
                self.window.skip_to(at + 1);
                continue;
            }
            let Some(first) = here.get(..len) else {
                self.window.skip_to(at + 1);
                continue;
            };
            self.plan = Some(Plan::from_first_frame(at, &header, first));
            self.window.release();
            self.state = State::Growing;
            self.grow()?;
            return Ok(Step::Ready);
        }
        match self.file_len {
            Some(len) if self.at_eof() => Err(MediaError::Truncated {
                len,
                what: "first MPEG audio frame",
            }),
            _ => Err(malformed(
                self.audio_search_start,
                "no MPEG audio frame within 64 KiB after the tags",
            )),
        }
    }

    /// Builds (or extends) the index from the plan, with what is now known
    /// of where the audio ends.
    fn grow(&mut self) -> Result<(), MediaError> {
        let Some(plan) = &self.plan else {
            return Ok(());
        };
        let end = match (plan.audio_end, self.file_len) {
            (Some(end), Some(len)) => Some(end.min(len)),
            (end, len) => end.or(len),
        };
        let index = self.index.get_or_insert_with(|| MediaIndex {
            container: Container::Mp3,
            tracks: vec![Track {
                id: 1,
                kind: TrackKind::Audio,
                codec: "mp3".to_owned(),
            }],
            duration: None,
            init: 0..0,
            segments: Vec::new(),
            complete: false,
        });
        if let Some(end) = end {
            if end <= plan.audio_start {
                return Err(MediaError::Truncated {
                    len: end,
                    what: "MPEG audio frames",
                });
            }
            let (segments, duration) = plan.units(end);
            index.segments = segments;
            index.duration = Some(duration);
            index.complete = true;
            self.state = State::Done;
            return Ok(());
        }
        // CBR without a length: add the units the caller has fed past.
        // (With counted frames the units depend on the end: wait for it.)
        if !plan.counts_frames() {
            plan.grow_units(&mut index.segments, self.seen_end);
        }
        Ok(())
    }

    fn feed_inner(&mut self, offset: u64, data: &[u8]) -> Result<Step, MediaError> {
        if matches!(self.state, State::Growing | State::Done) {
            self.seen_end = self.seen_end.max(offset.saturating_add(data.len() as u64));
            if self.state == State::Growing {
                self.grow()?;
            }
            return Ok(Step::Ready);
        }
        let mut step = self.run()?;
        while matches!(self.state, State::Tags | State::Sync) && self.offer(offset, data) {
            step = self.run()?;
        }
        if matches!(self.state, State::Growing | State::Done) {
            self.seen_end = self.seen_end.max(offset.saturating_add(data.len() as u64));
            if self.state == State::Growing {
                self.grow()?;
            }
        }
        Ok(step)
    }
}

impl ContainerIndexer for Mp3Indexer {
    fn presentation(&self) -> Option<Presentation> {
        self.plan.as_ref()?.presentation()
    }

    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        self.failed.check()?;
        if file_len.is_some() {
            self.file_len = file_len;
        }
        let result = self.feed_inner(offset, data);
        self.failed.record(result)
    }

    fn index(&self) -> Option<&MediaIndex> {
        self.index.as_ref()
    }
}
