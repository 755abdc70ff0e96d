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

use super::frame::{self, FrameHeader, HEADER_LEN, HeaderError, MAX_FRAME_LEN};
use super::xing::{self, TOC_LEN};
use super::{id3, malformed, unsupported};
use crate::index::{
    Container, ContainerIndexer, FirstError, MediaError, MediaIndex, Presentation, Segment, Step,
    Track, TrackKind,
};

/// How far past the ID3v2 tags the first frame may start. Encoders and
/// taggers leave a little junk or padding there; 64 KiB is far more than
/// real files need while bounding what random bytes can make us read.
pub const SYNC_SEARCH: u64 = 64 << 10;

/// The least we ask for when we need more bytes: a first frame and the
/// header after it, with room to spare, so one round trip is enough.
const MIN_REQUEST: u64 = 4096;

/// ID3v2 tags we skip before giving up (some taggers stack a few).
const MAX_TAGS: u32 = 8;

/// Target unit duration: long enough for few requests, short enough that
/// a seek fetches little it does not need.
const UNIT_SECONDS: f64 = 2.0;

/// Most units an index holds; longer files get longer units, so hostile
/// frame counts cannot make the index large.
const MAX_UNITS: u64 = 1 << 16;

/// The shortest Layer III frame: 8 kbit/s at 24 kHz (MPEG-2).
const MIN_FRAME_LEN: u64 = 24;

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

/// How byte offsets follow time.
#[derive(Debug, Clone, PartialEq)]
enum Map {
    /// Proportionally across the audio bytes.
    Linear,
    /// Xing's table: entry *i* is where *i* % of the frames start, in
    /// 1/256ths of `bytes`, counted from `base` (the Xing frame).
    Xing {
        base: u64,
        bytes: Option<u64>,
        toc: [u8; TOC_LEN],
    },
    /// VBRI: `offsets[j]` is where frame `j × frames_per_entry` starts,
    /// counted from the first audio frame.
    Vbri {
        offsets: Vec<u64>,
        frames_per_entry: u64,
    },
}

/// How long the audio is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Timing {
    /// The header counted the frames.
    Frames(u64),
    /// Constant bitrate, bits per second: the length gives the duration.
    Bitrate(u64),
}

/// What the first frame told us; enough to compute units for any end.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    sample_rate: u64,
    samples_per_frame: u64,
    /// File offset of the first audio frame (after a header frame).
    audio_start: u64,
    /// File offset where the frames end, when the header says.
    audio_end: Option<u64>,
    timing: Timing,
    map: Map,
    /// Frames per unit before the [`MAX_UNITS`] cap.
    unit_frames: u64,
    /// The first frame's bitrate: the fallback when a header's counts do
    /// not check out.
    first_bitrate: u64,
    /// Encoder delay and padding in samples (LAME tag), with counted frames.
    gapless: Option<(u64, u64)>,
}

impl Plan {
    fn from_first_frame(at: u64, h: &FrameHeader, f: &[u8]) -> Plan {
        let sample_rate = u64::from(h.sample_rate);
        let samples_per_frame = u64::from(h.samples_per_frame());
        let after = at + f.len() as u64;
        // A stream length that does not reach past the header frame is
        // not one.
        let end_from = |bytes: u64| Some(at + bytes).filter(|&e| e > after);
        let mut plan = Plan {
            sample_rate,
            samples_per_frame,
            audio_start: at,
            audio_end: None,
            timing: Timing::Bitrate(u64::from(h.bitrate)),
            first_bitrate: u64::from(h.bitrate),
            gapless: None,
            map: Map::Linear,
            unit_frames: ((UNIT_SECONDS * sample_rate as f64 / samples_per_frame as f64).round()
                as u64)
                .max(1),
        };
        if let Some(x) = xing::parse_xing(f, h) {
            plan.audio_start = after;
            let bytes = x.bytes.map(u64::from).filter(|&b| end_from(b).is_some());
            plan.audio_end = bytes.and_then(end_from);
            if let Some(frames) = x.frames {
                plan.timing = Timing::Frames(u64::from(frames));
                plan.gapless = x.gapless.map(|(d, p)| (u64::from(d), u64::from(p)));
                if let (false, Some(toc)) = (x.cbr, x.toc) {
                    plan.map = Map::Xing {
                        base: at,
                        bytes,
                        toc,
                    };
                }
            }
        } else if let Some(v) = xing::parse_vbri(f) {
            plan.audio_start = after;
            plan.audio_end = end_from(u64::from(v.bytes));
            plan.timing = Timing::Frames(u64::from(v.frames));
            if !v.toc.is_empty() {
                let mut offsets = Vec::with_capacity(v.toc.len() + 1);
                let mut sum = 0u64;
                offsets.push(0);
                for size in v.toc {
                    sum += u64::from(size);
                    offsets.push(sum);
                }
                plan.map = Map::Vbri {
                    offsets,
                    frames_per_entry: u64::from(v.frames_per_entry),
                };
            }
        }
        plan
    }

    /// Whether a header's frame count fits the bytes it counts: every
    /// Layer III frame is 24 to 1441 bytes long, so an average outside that
    /// means a corrupt (or hostile) count, whose duration would be wrong.
    fn plausible(&self, end: u64) -> bool {
        let Timing::Frames(frames) = self.timing else {
            return true;
        };
        let bytes = self
            .audio_end
            .unwrap_or(end)
            .saturating_sub(self.audio_start);
        let avg = bytes / frames.max(1);
        frames > 0 && (MIN_FRAME_LEN..=MAX_FRAME_LEN as u64).contains(&avg)
    }

    /// Seconds from the start to the start of frame `n`.
    fn time_of(&self, n: u64) -> f64 {
        n as f64 * self.samples_per_frame as f64 / self.sample_rate as f64
    }

    /// Frames in the audio between `audio_start` and `end` (fractional for
    /// CBR arithmetic) and the duration in seconds.
    fn frames_and_duration(&self, end: u64) -> (f64, f64) {
        let bytes = end.saturating_sub(self.audio_start);
        match self.timing {
            Timing::Frames(n) => (n as f64, self.time_of(n)),
            Timing::Bitrate(bps) => {
                let seconds = bytes as f64 * 8.0 / bps as f64;
                let frames = seconds * self.sample_rate as f64 / self.samples_per_frame as f64;
                (frames, seconds)
            }
        }
    }

    /// File offset where frame `n` starts (or about, by the table), for an
    /// audio stream ending at `end`.
    fn byte_of(&self, n: u64, end: u64) -> u64 {
        let start = self.audio_start;
        let bytes = end.saturating_sub(start);
        let offset = match (&self.map, self.timing) {
            (Map::Linear, Timing::Bitrate(bps)) => {
                // n × samples/8 × bps / rate, rounded to the nearest byte as
                // LAME's padding keeps the real frame starts.
                let num = u128::from(n) * u128::from(self.samples_per_frame) * u128::from(bps);
                let den = 8 * u128::from(self.sample_rate);
                u64::try_from((num + den / 2) / den).unwrap_or(u64::MAX)
            }
            (Map::Linear, Timing::Frames(total)) => {
                let num = u128::from(n) * u128::from(bytes);
                let den = u128::from(total.max(1));
                u64::try_from((num + den / 2) / den).unwrap_or(u64::MAX)
            }
            (
                Map::Xing {
                    base,
                    bytes: b,
                    toc,
                },
                timing,
            ) => {
                let total = match timing {
                    Timing::Frames(total) => total.max(1),
                    Timing::Bitrate(_) => return start,
                };
                let span = b.unwrap_or_else(|| end.saturating_sub(*base)) as f64;
                let percent = n as f64 * 100.0 / total as f64;
                let i = (percent.floor() as usize).min(TOC_LEN - 1);
                let lo = f64::from(toc[i]);
                let hi = toc.get(i + 1).map_or(256.0, |&v| f64::from(v));
                let x = lo + (hi - lo) * (percent - i as f64).clamp(0.0, 1.0);
                let at = base.saturating_add((x / 256.0 * span) as u64);
                return at.clamp(start, end.max(start));
            }
            (
                Map::Vbri {
                    offsets,
                    frames_per_entry,
                },
                _,
            ) => {
                let fpe = (*frames_per_entry).max(1);
                let j = usize::try_from(n / fpe).unwrap_or(usize::MAX);
                match (offsets.get(j), offsets.get(j.saturating_add(1))) {
                    (Some(&lo), Some(&hi)) => {
                        let frac = (n % fpe) as f64 / fpe as f64;
                        lo + (hi.saturating_sub(lo) as f64 * frac) as u64
                    }
                    _ => bytes,
                }
            }
        };
        start.saturating_add(offset).min(end)
    }

    /// Frames per unit when the audio has `frames` frames: the 2-second
    /// target, longer when that would make too many units.
    fn frames_per_unit(&self, frames: f64) -> u64 {
        let cap = (frames / MAX_UNITS as f64).ceil();
        if cap.is_finite() && cap > self.unit_frames as f64 {
            cap as u64
        } else {
            self.unit_frames
        }
    }

    /// Every unit of audio ending at `end`: boundaries each unit's worth of
    /// frames, the last unit between half and one and a half units long,
    /// boundaries that would not move forward in bytes dropped (the two
    /// units merge).
    fn units(&self, end: u64) -> (Vec<Segment>, f64) {
        let (frames, duration) = self.frames_and_duration(end);
        if !self.plausible(end) {
            let fallback = Plan {
                timing: Timing::Bitrate(self.first_bitrate),
                map: Map::Linear,
                ..self.clone()
            };
            return fallback.units(end);
        }
        let per_unit = self.frames_per_unit(frames);
        let mut segments = Vec::new();
        let (mut from_t, mut from_b) = (0.0, self.audio_start);
        let mut n = per_unit;
        while (n.saturating_add(per_unit / 2) as f64) < frames {
            let b = self.byte_of(n, end);
            if b > from_b && b < end {
                let t = self.time_of(n);
                segments.push(Segment {
                    start: from_t,
                    end: t,
                    bytes: from_b..b,
                });
                (from_t, from_b) = (t, b);
            }
            n = n.saturating_add(per_unit);
        }
        segments.push(Segment {
            start: from_t,
            end: duration.max(from_t),
            bytes: from_b..end,
        });
        (segments, duration)
    }
}

/// Incremental MP3 reader; see the module docs.
#[derive(Debug)]
pub struct Mp3Indexer {
    state: State,
    /// Buffered bytes; `buf[0]` is at file offset `base`.
    buf: Vec<u8>,
    base: u64,
    /// The next offset to look at: a possible tag, or a frame candidate.
    pos: u64,
    /// Where the search for the first frame gives up.
    search_end: u64,
    /// Where the search for the first frame began (right after the tags).
    audio_search_start: u64,
    tags: u32,
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
            buf: Vec::new(),
            base: 0,
            pos: 0,
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

    /// File offset just past the buffered bytes.
    fn have_end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// The buffered bytes from file offset `at` on (empty when not here).
    fn bytes_at(&self, at: u64) -> &[u8] {
        let i = usize::try_from(at.saturating_sub(self.base)).unwrap_or(usize::MAX);
        if at < self.base {
            return &[];
        }
        self.buf.get(i..).unwrap_or(&[])
    }

    /// Whether the whole file is buffered (so waiting for more is futile).
    fn at_eof(&self) -> bool {
        self.file_len.is_some_and(|len| self.have_end() >= len)
    }

    /// The furthest byte the parser may still want: the end of the sync
    /// search window plus a frame and the next header.
    fn want_limit(&self) -> u64 {
        let window = match self.state {
            State::Tags => SYNC_SEARCH,
            _ => self.search_end.saturating_sub(self.pos),
        };
        self.pos
            .saturating_add(window)
            .saturating_add((MAX_FRAME_LEN + HEADER_LEN) as u64)
    }

    /// Takes the part of `data` (at file offset `offset`) that extends the
    /// buffer contiguously, up to what parsing could need; returns whether
    /// it took anything.
    fn offer(&mut self, offset: u64, data: &[u8]) -> bool {
        let have_end = self.have_end();
        let data_end = offset.saturating_add(data.len() as u64);
        if offset > have_end || data_end <= have_end {
            return false;
        }
        let take_end = data_end.min(self.want_limit());
        if take_end <= have_end {
            return false;
        }
        let from = usize::try_from(have_end - offset).unwrap_or(usize::MAX);
        let to = usize::try_from(take_end - offset).unwrap_or(usize::MAX);
        let Some(piece) = data.get(from..to) else {
            return false;
        };
        self.buf.extend_from_slice(piece);
        true
    }

    /// Moves the parse position to `to`, dropping buffered bytes before it
    /// (and all of them, when `to` is past the buffer).
    fn skip_to(&mut self, to: u64) {
        if to >= self.have_end() {
            self.buf.clear();
            self.base = to;
        } else if to > self.base {
            let drop = usize::try_from(to - self.base).unwrap_or(self.buf.len());
            self.buf.drain(..drop.min(self.buf.len()));
            self.base = to;
        }
        self.pos = to;
    }

    /// Asks for the bytes up to `want_end` (at least [`MIN_REQUEST`],
    /// within the file), or reports the file too short for `what`.
    fn need(&self, want_end: u64, what: &'static str) -> Result<Step, MediaError> {
        let have_end = self.have_end();
        let mut end = want_end.max(have_end.saturating_add(MIN_REQUEST));
        if let Some(len) = self.file_len {
            if have_end >= len {
                return Err(MediaError::Truncated { len, what });
            }
            end = end.min(len);
        }
        Ok(Step::NeedBytes {
            offset: have_end,
            len: end.saturating_sub(have_end).max(1),
        })
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
        let head = self.bytes_at(self.pos);
        if head.len() < id3::ID3V2_HEADER_LEN && !self.at_eof() {
            let want = self.pos + id3::ID3V2_HEADER_LEN as u64;
            return self.need(want, "ID3v2 tag").map(Some);
        }
        match id3::id3v2_len(head) {
            Err(reason) => Err(malformed(self.pos, reason)),
            Ok(None) => {
                self.state = State::Sync;
                self.audio_search_start = self.pos;
                self.search_end = self.pos.saturating_add(SYNC_SEARCH);
                Ok(None)
            }
            Ok(Some(len)) => {
                self.tags += 1;
                if self.tags > MAX_TAGS {
                    return Err(malformed(self.pos, "too many ID3v2 tags"));
                }
                let tag_end = self.pos.saturating_add(len);
                if let Some(file_len) = self.file_len.filter(|&l| tag_end > l) {
                    return Err(MediaError::Truncated {
                        len: file_len,
                        what: "ID3v2 tag",
                    });
                }
                self.skip_to(tag_end);
                Ok(None)
            }
        }
    }

    /// Scans for the first frame: a valid header whose frame is followed by
    /// another header of the same stream (or by the end of the file).
    fn find_first_frame(&mut self) -> Result<Step, MediaError> {
        while self.pos < self.search_end {
            let at = self.pos;
            let here = self.bytes_at(at);
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
                    self.pos += 1;
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
                self.pos += 1;
                continue;
            }
            let Some(first) = here.get(..len) else {
                self.pos += 1;
                continue;
            };
            self.plan = Some(Plan::from_first_frame(at, &header, first));
            self.buf = Vec::new();
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
        if matches!(plan.timing, Timing::Frames(_)) {
            return Ok(());
        }
        let per_unit = plan.unit_frames;
        let mut from_b = index
            .segments
            .last()
            .map_or(plan.audio_start, |s| s.bytes.end);
        let mut n = per_unit.saturating_mul(index.segments.len() as u64 + 1);
        while (index.segments.len() as u64) < MAX_UNITS {
            let b = plan.byte_of(n, u64::MAX);
            if b > self.seen_end || b <= from_b {
                break;
            }
            index.segments.push(Segment {
                start: plan.time_of(n - per_unit),
                end: plan.time_of(n),
                bytes: from_b..b,
            });
            from_b = b;
            n = n.saturating_add(per_unit);
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

/// Samples an MP3 decoder outputs before the first encoded one (the
/// MDCT/filterbank delay every decoder adds; LAME's delay field excludes it).
const DECODER_DELAY: u64 = 529;

impl Plan {
    /// What browsers trim when they play the file natively: the encoder
    /// delay (plus the decoder's) at the start, the padding at the end.
    fn presentation(&self) -> Option<Presentation> {
        let (delay, padding) = self.gapless?;
        let Timing::Frames(frames) = self.timing else {
            return None;
        };
        let samples = frames.checked_mul(self.samples_per_frame)?;
        let kept = samples.checked_sub(delay.checked_add(padding)?)?;
        let rate = self.sample_rate as f64;
        (kept > 0).then(|| Presentation {
            offset: -((delay + DECODER_DELAY) as f64) / rate,
            end: kept as f64 / rate,
        })
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
