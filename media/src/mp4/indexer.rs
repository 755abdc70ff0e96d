//! [`Fmp4Indexer`]: walks the top-level boxes of a fragmented MP4 as bytes
//! arrive and builds its [`MediaIndex`].
//!
//! The walk keeps one cursor, the file offset of the next top-level box, in
//! an [`io::Window`](crate::io::Window). Boxes whose contents matter
//! (`ftyp`, `moov`, `sidx`, `moof`) are parsed once whole — in place when a
//! feed holds one whole, else held across `feed` calls, up to a per-kind
//! size limit; everything else (`mdat` above all) is skipped by moving the
//! cursor past it, without holding its bytes. What the boxes after `moov`
//! say about the units is [`fragments`](super::fragments)' business; the
//! `mfra` at the end of the file is [`tail`](super::tail)'s.

use super::CONTAINER;
use super::boxes::moov::{self, Movie};
use super::boxes::sidx::{self, Sidx};
use super::boxes::{BoxHeader, Child, HeaderRead, ftyp, malformed, moof};
use super::fragments::{Fragments, SidxRead, Timing};
use super::tail::Tail;
use crate::index::{
    Container, ContainerIndexer, FirstError, MediaError, MediaIndex, Step, Track, TrackKind,
};
use crate::io::Window;

/// Shortest box header.
const MIN_HEADER: u64 = 8;

/// Bytes asked for at a time by the walk over the fragments of a file with
/// no index (see `wants`): a typical `moof` and the `mdat` header after it.
const WALK_READ: u64 = 4 << 10;

/// Most bytes held: the largest box read whole, a `moov`. The other kinds
/// read whole have smaller limits, each checked before the walk waits.
const MAX_HELD: u64 = moov::MAX_SIZE;
const _: () =
    assert!(moof::MAX_SIZE <= MAX_HELD && sidx::MAX_SIZE <= MAX_HELD && ftyp::MAX_SIZE <= MAX_HELD);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing read yet: the first box decides whether this is ISO BMFF.
    First,
    /// Looking for `moov`.
    Header,
    /// `moov` read, index available; scanning fragments.
    Media,
}

/// What one look at the bytes at the cursor achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// The box at the cursor is dealt with; the next one starts this many
    /// bytes on.
    Advance(u64),
    /// This many bytes from the cursor are needed to go on.
    Need(u64),
    /// A size-0 `mdat` closes the current unit at the end of the file, whose
    /// length is not known yet. Holds the header length.
    NeedFileLen(u8),
    /// The rest of the file is one box: no unit can follow.
    Finished,
}

/// Incremental index of a fragmented MP4 (see [`ContainerIndexer`]).
///
/// Feed bytes from offset 0 and follow [`Step::NeedBytes`] until
/// [`Step::Ready`]. If the file has a whole-file `sidx` the index is then
/// complete; otherwise keep feeding the media bytes contiguously from
/// [`Fmp4Indexer::position`] and each `moof`+`mdat` pair becomes a
/// [`Segment`](crate::index::Segment) as it goes by (only `moof`s are held,
/// `mdat` payloads are skipped). Data that does not reach the position
/// wanted is ignored.
///
/// After an error every later `feed` returns the same error.
#[derive(Debug)]
pub struct Fmp4Indexer {
    /// The cursor (file offset of the next top-level box) and the bytes
    /// held from it when the box there came in pieces.
    window: Window,
    /// Bytes from the cursor needed before the box there can be dealt with.
    need: u64,
    /// Stopped at a size-0 `mdat` until the file length is known.
    waiting_len: bool,
    error: FirstError,
    walk: Walk,
}

/// What the walk learned from the boxes: everything but the bytes held.
#[derive(Debug)]
struct Walk {
    /// The first length a caller gave.
    file_len: Option<u64>,
    phase: Phase,
    index: Option<MediaIndex>,
    fragments: Fragments,
    tail: Tail,
    /// The first `moof` was looked at ([`moof::needs_rewrite`]), or the
    /// file ended without one: the index is not ready before.
    first_moof_checked: bool,
    /// What a rewrite of the fragments needs, when this reader does one
    /// (see [`Fmp4Indexer::rewriting`]).
    rewrite: Option<Rewrite>,
    /// The video track's edit list media_time (ticks) and whether it is
    /// video: see [`Walk::check_first_moof`].
    edit: (i64, bool),
    /// Seconds the presentation is moved later so that the first video
    /// frame is not before 0 (see [`Walk::check_first_moof`]).
    shift: f64,
}

/// The bytes and `moov` facts the normaliser (`mp4::normalise`) works from.
#[derive(Debug, Default)]
struct Rewrite {
    /// `ftyp` and `moov` as the file has them: the init segment.
    init: Vec<u8>,
    trex: Vec<super::boxes::mvex::Trex>,
    /// Each track's id and timescale.
    tracks: Vec<(u32, u32)>,
}

impl Default for Fmp4Indexer {
    fn default() -> Self {
        Self::new()
    }
}

impl Fmp4Indexer {
    pub fn new() -> Self {
        Fmp4Indexer {
            window: Window::new(MAX_HELD as usize),
            need: MIN_HEADER,
            waiting_len: false,
            error: FirstError::default(),
            walk: Walk {
                file_len: None,
                phase: Phase::First,
                index: None,
                fragments: Fragments::default(),
                tail: Tail::default(),
                first_moof_checked: false,
                rewrite: None,
                edit: (0, false),
                shift: 0.0,
            },
        }
    }

    /// A reader whose fragments go through the normaliser
    /// ([`take_repackager`](ContainerIndexer::take_repackager)), for files
    /// whose fragments MSE would misread ([`MediaError::NeedsRewrite`]
    /// from the plain reader): it lives in the player's remuxer module.
    #[cfg(feature = "remux")]
    pub fn rewriting() -> Self {
        let mut reader = Self::new();
        reader.walk.rewrite = Some(Rewrite::default());
        reader
    }

    /// The file offset of the next byte the indexer wants: where to go on
    /// feeding from.
    pub fn position(&self) -> u64 {
        self.window.end()
    }

    fn run(&mut self, offset: u64, data: &[u8], file_len: Option<u64>) -> Result<Step, MediaError> {
        if self.walk.file_len.is_none() {
            self.walk.file_len = file_len;
        }
        loop {
            if self.walk.is_complete() && self.walk.first_moof_checked {
                break;
            }
            let pos = self.window.pos();
            if let Some(len) = self.walk.file_len {
                if pos == len {
                    self.walk.finish(len)?;
                    self.window.release();
                    break;
                }
                if pos > len {
                    return Err(MediaError::Truncated { len, what: "box" });
                }
            }
            self.check_reachable()?;
            if self.waiting_len {
                if self.walk.file_len.is_none() {
                    break;
                }
                self.waiting_len = false;
            }
            // In place from the caller's bytes, unless the box at the cursor
            // is cut off: then held, up to `need`, and parsed once whole.
            let Some(bytes) = self.window.view(offset, data, self.need)? else {
                break;
            };
            // How many bytes from the cursor the parser was shown.
            let available = bytes.len();
            let progress = self.walk.parse_at(pos, bytes)?;
            if let Progress::NeedFileLen(header_len) = progress {
                // Keep the header to read again once the length is known
                // (a held header is kept already).
                self.window
                    .append(offset, data, pos.saturating_add(u64::from(header_len)));
            }
            match progress {
                Progress::Advance(n) => self.advance(n)?,
                Progress::Need(n) => {
                    if n <= available as u64 {
                        // Cannot happen: parse_at only asks for more than it
                        // had. Refuse rather than spin.
                        return Err(malformed(pos, "indexer made no progress"));
                    }
                    self.need = n;
                    self.check_reachable()?;
                }
                Progress::NeedFileLen(header_len) => {
                    self.need = u64::from(header_len);
                    self.waiting_len = true;
                    break;
                }
                Progress::Finished => {
                    self.walk.first_moof_checked = true;
                    self.walk.complete();
                    self.window.release();
                    break;
                }
            }
        }
        Ok(self.step())
    }

    /// What to tell the caller after a feed.
    fn step(&self) -> Step {
        if self.walk.ready() {
            return Step::Ready;
        }
        self.window
            .request_more(self.need.saturating_sub(self.window.len() as u64))
    }

    /// Moves the cursor to the next box, `n` bytes on.
    fn advance(&mut self, n: u64) -> Result<(), MediaError> {
        let pos = self.window.pos();
        if n < MIN_HEADER {
            return Err(malformed(pos, "indexer made no progress"));
        }
        let next = pos
            .checked_add(n)
            .ok_or_else(|| malformed(pos, "box extends past 2^64 bytes"))?;
        self.window.skip_to(next);
        self.need = MIN_HEADER;
        self.check_reachable()
    }

    /// The bytes we wait for must exist: with the file length known, a box
    /// (or header) reaching past the end is a truncated file, not a wait.
    fn check_reachable(&self) -> Result<(), MediaError> {
        let pos = self.window.pos();
        match self.walk.file_len {
            Some(len) if pos < len && pos.saturating_add(self.need) > len => {
                Err(if self.walk.phase == Phase::First {
                    MediaError::UnknownFormat
                } else {
                    MediaError::Truncated {
                        len,
                        what: "box header",
                    }
                })
            }
            _ => Ok(()),
        }
    }
}

impl Walk {
    fn is_complete(&self) -> bool {
        self.index.as_ref().is_some_and(|i| i.complete)
    }

    /// The index can be handed out: the `moov` is read and the first
    /// `moof` said whether the fragments need a rewrite.
    fn ready(&self) -> bool {
        self.phase == Phase::Media && self.first_moof_checked
    }

    /// The walk reached the end of the file.
    fn finish(&mut self, len: u64) -> Result<(), MediaError> {
        match self.phase {
            Phase::First => Err(MediaError::UnknownFormat),
            Phase::Header => Err(MediaError::Truncated {
                len,
                what: "'moov' box",
            }),
            Phase::Media => {
                self.first_moof_checked = true;
                self.complete();
                Ok(())
            }
        }
    }

    /// Marks the index complete and fills in the duration if nothing said
    /// it: the end of the units, or of the longest track's `sidx`.
    fn complete(&mut self) {
        if let Some(index) = self.index.as_mut() {
            index.complete = true;
            if index.duration.is_none() {
                let units = index.segments.last().map(|s| s.end);
                index.duration = match (units, self.fragments.longest) {
                    (Some(u), Some(l)) => Some(u.max(l)),
                    (u, l) => u.or(l),
                };
            }
        }
    }

    /// Deals with the box at file offset `pos`, whose bytes (as far as they
    /// are here) are `bytes`.
    fn parse_at(&mut self, pos: u64, bytes: &[u8]) -> Result<Progress, MediaError> {
        let header = match BoxHeader::read(bytes, pos)? {
            HeaderRead::Complete(h) => h,
            HeaderRead::Need(n) => return Ok(Progress::Need(n)),
        };
        let kind = &header.kind;
        if self.phase == Phase::First {
            // The first box must look like ISO BMFF; anything else (WebM's
            // EBML magic, an MP3 frame) is another format.
            if !matches!(
                kind,
                b"ftyp" | b"styp" | b"free" | b"skip" | b"wide" | b"pdin" | b"moov" | b"sidx"
            ) {
                return Err(MediaError::UnknownFormat);
            }
            self.phase = Phase::Header;
        }
        let size = match (header.size, self.file_len) {
            (Some(size), _) => size,
            (None, Some(len)) => len.saturating_sub(pos),
            (None, None) => return self.open_ended(pos, &header),
        };
        match self.file_len {
            Some(len) if pos.saturating_add(size) > len || size < u64::from(header.header_len) => {
                return Err(MediaError::Truncated {
                    len,
                    what: box_name(kind),
                });
            }
            _ => {}
        }
        // Saturating: an end past 2^64 is refused by a size limit below or
        // when `advance` moves past it.
        let end = pos.saturating_add(size);
        let media = self.phase == Phase::Media;
        if media && kind == b"moof" && !self.first_moof_checked {
            let Some(payload) = whole(bytes, &header, size, moof::MAX_SIZE, "'moof' box")? else {
                return Ok(Progress::Need(size));
            };
            self.first_moof_checked = true;
            self.check_first_moof(&Child::top_level(header, payload))?;
        }
        if self.fragments.complete_after_sidxs && kind != b"sidx" {
            return Ok(Progress::Finished);
        }
        let incomplete = media && self.index.as_ref().is_some_and(|i| !i.complete);
        // Boxes a `sidx` covers are not scanned again.
        let scanning = incomplete && pos >= self.fragments.covered_end;
        match kind {
            b"ftyp" if !media => {
                let Some(payload) = whole(bytes, &header, size, ftyp::MAX_SIZE, "'ftyp' box")?
                else {
                    return Ok(Progress::Need(size));
                };
                ftyp::Ftyp::parse(payload, header.payload_offset())?;
                if let Some(rewrite) = self.rewrite.as_mut() {
                    rewrite.init.extend_from_slice(&bytes[..size as usize]);
                }
            }
            b"moov" if !media => {
                let Some(payload) = whole(bytes, &header, size, moov::MAX_SIZE, "'moov' box")?
                else {
                    return Ok(Progress::Need(size));
                };
                self.read_moov(&Child::top_level(header, payload), end)?;
                match self.rewrite.as_mut() {
                    Some(rewrite) => rewrite.init.extend_from_slice(&bytes[..size as usize]),
                    // GStreamer's and Shaka's Opus: a `dOps` MSE refuses.
                    None if super::boxes::dops::has_little_endian(payload) => {
                        return Err(MediaError::NeedsRewrite {
                            why: "an Opus 'dOps' written little-endian",
                        });
                    }
                    None => {}
                }
            }
            b"moof" if !media => return Err(malformed(pos, "'moof' before 'moov'")),
            b"moof" if scanning => {
                let Some(payload) = whole(bytes, &header, size, moof::MAX_SIZE, "'moof' box")?
                else {
                    return Ok(Progress::Need(size));
                };
                self.fragments
                    .read_moof(&Child::top_level(header, payload))?;
            }
            b"mdat" if scanning => self.fragments.end_unit(&mut self.index, end)?,
            b"sidx" if incomplete && !self.fragments.scanned_moof => {
                let Some(payload) = whole(bytes, &header, size, sidx::MAX_SIZE, "'sidx' box")?
                else {
                    return Ok(Progress::Need(size));
                };
                let sidx = Sidx::parse(payload, header.payload_offset())?;
                let read = self
                    .fragments
                    .read_sidx(&mut self.index, &sidx, end, self.file_len)?;
                if read == SidxRead::Complete {
                    // Other tracks' `sidx`s may follow, with their lengths:
                    // complete at the first box that is not one.
                    self.fragments.complete_after_sidxs = true;
                }
            }
            _ => {}
        }
        Ok(Progress::Advance(size))
    }

    /// A box of size 0 ("to the end of the file") at `pos` while the file
    /// length is unknown.
    fn open_ended(&mut self, pos: u64, header: &BoxHeader) -> Result<Progress, MediaError> {
        match (self.phase, &header.kind) {
            (Phase::Media, b"mdat")
                if self.fragments.timed_moof_pending() && pos >= self.fragments.covered_end =>
            {
                Ok(Progress::NeedFileLen(header.header_len))
            }
            (Phase::Media, _) => Ok(Progress::Finished),
            (_, b"moov") => Err(MediaError::Unsupported {
                container: CONTAINER,
                what: "a 'moov' of size 0 (to the end of a file of unknown length)".into(),
            }),
            _ => Err(malformed(
                pos,
                "box runs to the end of the file before 'moov'",
            )),
        }
    }

    /// What the first `moof` tells before any unit is used: whether the
    /// fragments need a rewrite ([`MediaError::NeedsRewrite`]), and where
    /// the first video frame lands. MSE applies the edit list, and a
    /// media_time past the first frame's composition time (Shaka Packager
    /// writes such) puts that keyframe before 0, where the SourceBuffer
    /// drops it and every frame up to the next keyframe; native playback
    /// decodes them and starts at once. The presentation is moved later by
    /// that much instead (`Fmp4Indexer::presentation`).
    fn check_first_moof(&mut self, first: &Child<'_>) -> Result<(), MediaError> {
        if self.rewrite.is_none()
            && let Some(why) = moof::needs_rewrite(first)?
        {
            return Err(MediaError::NeedsRewrite { why });
        }
        let (media_time, video) = self.edit;
        let timing = self.fragments.timing;
        if video
            && media_time > 0
            && timing.timescale > 0
            && let Some(at) = moof::first_presentation(first, timing.track_id)?
        {
            let early = media_time.saturating_sub(at);
            if early > 0 {
                self.shift = early as f64 / f64::from(timing.timescale);
            }
        }
        Ok(())
    }

    fn read_moov(&mut self, moov: &Child<'_>, end: u64) -> Result<(), MediaError> {
        let movie = Movie::parse(moov)?;
        let Some(mvex) = movie.mvex.as_ref() else {
            return Err(MediaError::NotFragmented);
        };
        let timing = movie
            .tracks
            .iter()
            .find(|t| t.kind == TrackKind::Video)
            .or(movie.tracks.first())
            .ok_or_else(|| malformed(moov.header.offset, "'moov' without tracks"))?;
        if timing.timescale == 0 {
            return Err(malformed(moov.header.offset, "track timescale is 0"));
        }
        self.edit = (timing.media_time, timing.kind == TrackKind::Video);
        let timing = Timing {
            track_id: timing.id,
            timescale: timing.timescale,
            default_duration: mvex.default_duration(timing.id),
        };
        if let Some(rewrite) = self.rewrite.as_mut() {
            rewrite.trex = mvex.trex.clone();
            rewrite.tracks = movie.tracks.iter().map(|t| (t.id, t.timescale)).collect();
        }
        let duration = movie.duration_secs();
        let tracks = movie
            .tracks
            .into_iter()
            .map(|t| Track {
                id: u64::from(t.id),
                kind: t.kind,
                codec: t.codec,
            })
            .collect();
        self.index = Some(MediaIndex {
            container: Container::FragmentedMp4,
            tracks,
            duration,
            init: 0..end,
            segments: Vec::new(),
            complete: false,
        });
        self.phase = Phase::Media;
        self.fragments = Fragments::after_moov(timing, end);
        Ok(())
    }
}

impl ContainerIndexer for Fmp4Indexer {
    fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        file_len: Option<u64>,
    ) -> Result<Step, MediaError> {
        self.error.check()?;
        if self.walk.file_len.is_none() {
            self.walk.file_len = file_len;
        }
        // Scanning first: bytes it can use give exact times; only what it
        // cannot reach (the end of the file) goes to the `mfra` reader.
        let result = self
            .run(offset, data, file_len)
            .and_then(|step| {
                let walk = &mut self.walk;
                walk.tail.read(
                    offset,
                    data,
                    walk.file_len,
                    walk.phase == Phase::Media,
                    &mut walk.index,
                    walk.fragments.timing,
                )?;
                // Once the `mfra` completed the index, there is nothing more
                // to ask.
                Ok(if walk.is_complete() && walk.ready() {
                    Step::Ready
                } else {
                    step
                })
            })
            .inspect_err(|_| self.window.release());
        self.error.record(result)
    }

    fn index(&self) -> Option<&MediaIndex> {
        self.walk.index.as_ref()
    }

    /// The presentation moved later so that the first video frame is not
    /// before 0 (see `Walk::check_first_moof`), to the end of the media.
    fn presentation(&self) -> Option<crate::index::Presentation> {
        let walk = &self.walk;
        if walk.shift <= 0.0 || !walk.ready() {
            return None;
        }
        let index = walk.index.as_ref()?;
        let duration = index.known_duration();
        Some(crate::index::Presentation {
            offset: walk.shift,
            end: duration.map_or(f64::INFINITY, |d| d + walk.shift),
        })
    }

    /// Where the media starts: its first unit (a `sidx`'s earliest
    /// presentation time, the first `moof`'s `tfdt`). Muxers that keep a
    /// source's timestamps start later than 0, and native playback starts
    /// there.
    fn start(&self) -> f64 {
        let walk = &self.walk;
        let first = walk.index.as_ref().and_then(|i| i.segments.first());
        first
            .map(|s| s.start)
            .or_else(|| walk.fragments.pending_start())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(0.0)
    }

    #[cfg(feature = "remux")]
    fn take_repackager(&mut self) -> Option<Box<dyn crate::index::Repackager>> {
        if !self.walk.ready() {
            return None;
        }
        let mut r = self.walk.rewrite.take()?;
        super::boxes::dops::make_big_endian(&mut r.init);
        Some(Box::new(super::normalise::Fmp4Normaliser::new(
            r.init, r.trex, r.tracks,
        )))
    }

    /// The `mfra` at the end of the file, while it may complete the index;
    /// without one, the next `moof` (and the `mdat` header after it): the
    /// walk goes on ahead of the media run, a few KB a fragment, so the
    /// duration and every unit are known long before playback gets there,
    /// as native playback knows them.
    fn wants(&self) -> Option<std::ops::Range<u64>> {
        let walk = &self.walk;
        let media = walk.phase == Phase::Media;
        if let Some(tail) = walk.tail.wants(walk.file_len, media, walk.index.as_ref()) {
            return Some(tail);
        }
        let len = walk.file_len?;
        if !walk.ready() || walk.is_complete() || self.waiting_len || !walk.tail.looked() {
            return None;
        }
        let Step::NeedBytes { offset, len: need } = self
            .window
            .request_more(self.need.saturating_sub(self.window.len() as u64))
        else {
            return None;
        };
        let end = offset.saturating_add(need.max(WALK_READ)).min(len);
        (offset < end).then_some(offset..end)
    }
}

/// The payload of the box at the start of `bytes` if all `size` bytes of it
/// are here; `None` if more must come. Sizes over `limit` are refused before
/// anything is held.
fn whole<'a>(
    bytes: &'a [u8],
    header: &BoxHeader,
    size: u64,
    limit: u64,
    what: &'static str,
) -> Result<Option<&'a [u8]>, MediaError> {
    if size > limit {
        return Err(MediaError::TooLarge { what, limit });
    }
    let size = usize::try_from(size).map_err(|_| MediaError::TooLarge { what, limit })?;
    Ok(bytes.get(usize::from(header.header_len)..size))
}

/// A name for a box in a [`MediaError::Truncated`].
fn box_name(kind: &[u8; 4]) -> &'static str {
    match kind {
        b"ftyp" => "'ftyp' box",
        b"moov" => "'moov' box",
        b"sidx" => "'sidx' box",
        b"moof" => "'moof' box",
        b"mdat" => "'mdat' box",
        _ => "box",
    }
}

#[cfg(test)]
#[path = "indexer_tests.rs"]
mod tests;
