//! [`Rechunker`]: the first fragment of a fragmented-MP4 run, cut into
//! small fragments as its bytes arrive.
//!
//! MSE shows nothing of a fragment before its `moof` and the samples'
//! bytes are in, and an encoder's fragment is a GOP (2 s in a common
//! encode): at 6 Mbit/s that is half a second of bytes before the first
//! frame. The player passes the run's bytes through this state machine,
//! which lets every box through as it is except the first `moof` + `mdat`:
//! that one it re-emits as pieces (each a complete `moof` + `mdat`) once
//! their samples' bytes are in — the first ~[`FIRST_MS`] of the lead
//! (video) track, then one per ~[`CHUNK_MS`]. Cutting a `trun` is well
//! defined: a piece lists a time range of every track's samples, with
//! their own sizes, durations, flags and composition offsets, a `tfdt` at
//! its first sample and data offsets into its own `mdat`.
//!
//! The piece boundaries depend only on the `moof`, never on how the bytes
//! arrive, so a byte-at-a-time feed gives the pieces of a whole one. A
//! fragment it cannot cut exactly (see [`traf`](super::boxes::traf); a
//! track whose timescale the `moov` did not give; a `tfhd` with an absolute
//! base data offset, which pieces of another length would make wrong for
//! every later fragment) goes out unchanged. Pieces are written with
//! default-base-is-moof, so they are valid wherever they land.
//!
//! The `moov` is read as it passes (the player's first run starts at the
//! file's start), for the timescales, kinds and `trex` defaults; a new run
//! ([`Rechunker::restart`]) keeps them.

use std::ops::Range;

use super::boxes::moov::Movie;
use super::boxes::mvex::Trex;
use super::boxes::traf::{self, Sample, TrafSamples};
use super::boxes::{BoxHeader, Child, HeaderRead, be32, moof};
use super::write::Writer;
use crate::index::TrackKind;

/// The first piece: the lead track's samples from the cut until this much
/// of it plays, milliseconds (MSE shows the first frame once it is in).
pub const FIRST_MS: u64 = 200;
/// Each later piece of the fragment, milliseconds.
pub const CHUNK_MS: u64 = 250;
/// Largest `moov` read for its tracks, and largest fragment cut (held in
/// memory until its last piece): bigger ones pass unchanged.
const MAX_MOOV: u64 = 1 << 20;
const MAX_FRAGMENT: u64 = 64 << 20;

/// What to append, in order, for what was pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// These file bytes (of the last push) as they are.
    Bytes(Range<u64>),
    /// Built bytes standing for the file bytes `covers` (a piece, or bytes
    /// held while a box header or `moof` was incomplete).
    Piece { bytes: Vec<u8>, covers: Range<u64> },
}

#[derive(Debug, Default)]
enum State {
    /// At a box boundary (reading a header into `held`).
    #[default]
    Boxes,
    /// Inside a box passed as it is: this many bytes left.
    Skip(u64),
    /// Holding the `moov`, this long.
    Moov(u64),
    /// Holding a `moof` this long (its header this long), then the header
    /// after it.
    Moof(u64, u8),
    /// Holding the fragment: its pieces, how many went out, and how far
    /// (from its start) what went out stands for.
    Fragment(Plan, usize, u64),
    /// Everything passes as it is until the next run.
    Pass,
}

/// Passes a run's bytes, cutting its first fragment into pieces.
#[derive(Debug, Default)]
pub struct Rechunker {
    /// From the `moov`: each track's id, timescale and whether it is
    /// video, and the `trex` defaults.
    tracks: Vec<(u32, u32, bool)>,
    trex: Vec<Trex>,
    state: State,
    /// File offset of the next byte expected, once the run's first came.
    pos: Option<u64>,
    /// Bytes held: they start at `held_at`.
    held: Vec<u8>,
    held_at: u64,
}

/// The pieces of one fragment.
#[derive(Debug)]
struct Plan {
    trafs: Vec<TrafSamples>,
    /// Each traf's timescale.
    scales: Vec<f64>,
    /// Where each piece ends, seconds (see [`cut`]).
    ends: Vec<f64>,
    /// The end of the `mdat` (counted from the `moof`'s start).
    end: u64,
    sequence: u32,
}

impl Rechunker {
    /// A new run starts: its first fragment will be cut.
    pub fn restart(&mut self) {
        self.state = State::Boxes;
        self.pos = None;
        self.held.clear();
    }

    /// The run's bytes at file `offset`; what to append instead.
    /// Bytes that do not continue the run pass (the player's queue keeps
    /// only contiguous ones).
    pub fn push(&mut self, offset: u64, data: &[u8]) -> Vec<Output> {
        let mut out = Vec::new();
        let end = offset.saturating_add(data.len() as u64);
        if *self.pos.get_or_insert(offset) != offset {
            out.push(Output::Bytes(offset..end));
            return out;
        }
        if self.held.is_empty() {
            self.held_at = offset;
        }
        let mut rest = data;
        while !rest.is_empty() {
            let at = end - rest.len() as u64;
            match &mut self.state {
                State::Pass => {
                    out.push(Output::Bytes(at..end));
                    rest = &[];
                }
                State::Skip(left) => {
                    let n = (*left).min(rest.len() as u64);
                    out.push(Output::Bytes(at..at + n));
                    *left -= n;
                    rest = &rest[n as usize..];
                    if *left == 0 {
                        self.state = State::Boxes;
                        self.held_at = at + n;
                    }
                }
                State::Boxes => {
                    if let Some(header) = self.take_header(&mut rest, 0, &mut out) {
                        self.at_box(header, &mut out);
                    }
                }
                State::Moov(size) => {
                    let size = *size;
                    if self.fill(&mut rest, size) {
                        self.read_moov();
                        self.flush(&mut out);
                        self.state = State::Boxes;
                    }
                }
                State::Moof(size, header_len) => {
                    let (size, header_len) = (*size, *header_len);
                    if self.fill(&mut rest, size)
                        && let Some(mdat) = self.take_header(&mut rest, size as usize, &mut out)
                    {
                        match self.plan(size, header_len, mdat) {
                            Some(plan) => self.state = State::Fragment(plan, 0, 0),
                            None => {
                                self.flush(&mut out);
                                self.state = State::Pass;
                            }
                        }
                    }
                }
                State::Fragment(plan, ..) => {
                    let end = plan.end;
                    self.fill(&mut rest, end);
                }
            }
            self.emit_due(&mut out);
        }
        self.pos = Some(end);
        out
    }

    /// Takes bytes from `rest` into `held` until it is `len` long; whether
    /// it is.
    fn fill(&mut self, rest: &mut &[u8], len: u64) -> bool {
        let want = usize::try_from(len).unwrap_or(usize::MAX);
        let n = want.saturating_sub(self.held.len()).min(rest.len());
        self.held.extend_from_slice(&rest[..n]);
        *rest = &rest[n..];
        self.held.len() >= want
    }

    /// Reads a box header at `from` in `held`, taking bytes from `rest`
    /// only as far as the header goes. `None` until it is whole; a bad
    /// header lets everything pass.
    fn take_header(
        &mut self,
        rest: &mut &[u8],
        from: usize,
        out: &mut Vec<Output>,
    ) -> Option<BoxHeader> {
        let mut need = 8;
        loop {
            if !self.fill(rest, (from + need) as u64) {
                return None;
            }
            let at = self.held_at.saturating_add(from as u64);
            match BoxHeader::read(&self.held[from..], at) {
                Ok(HeaderRead::Complete(h)) => return Some(h),
                Ok(HeaderRead::Need(n)) if n as usize > need => need = n as usize,
                _ => {
                    self.flush(out);
                    self.state = State::Pass;
                    return None;
                }
            }
        }
    }

    /// A top-level box header is in `held`.
    fn at_box(&mut self, h: BoxHeader, out: &mut Vec<Output>) {
        let len = u64::from(h.header_len);
        self.state = match (h.size, &h.kind) {
            (Some(s), b"moov") if s <= MAX_MOOV => State::Moov(s),
            (Some(s), b"moof") if s <= moof::MAX_SIZE => State::Moof(s, h.header_len),
            (Some(s), _) => State::Skip(s - len),
            (None, _) => State::Pass,
        };
        if matches!(self.state, State::Skip(_) | State::Pass) {
            self.flush(out);
        }
        if matches!(self.state, State::Skip(0)) {
            self.state = State::Boxes;
        }
    }

    /// Lets the held bytes go as they are.
    fn flush(&mut self, out: &mut Vec<Output>) {
        let bytes = std::mem::take(&mut self.held);
        let start = self.held_at;
        self.held_at = start + bytes.len() as u64;
        out.push(Output::Piece {
            covers: start..self.held_at,
            bytes,
        });
    }

    fn read_moov(&mut self) {
        let Ok(HeaderRead::Complete(h)) = BoxHeader::read(&self.held, self.held_at) else {
            return;
        };
        let payload = self.held.get(usize::from(h.header_len)..).unwrap_or(&[]);
        let Ok(movie) = Movie::parse(&Child::top_level(h, payload)) else {
            return;
        };
        self.trex = movie.mvex.map(|m| m.trex).unwrap_or_default();
        self.tracks = movie
            .tracks
            .iter()
            .filter(|t| t.timescale > 0)
            .map(|t| (t.id, t.timescale, t.kind == TrackKind::Video))
            .collect();
    }

    /// The `moof` (`size` bytes) and the header after it are held: the
    /// pieces, or `None` to let the fragment pass.
    fn plan(&self, size: u64, header_len: u8, mdat: BoxHeader) -> Option<Plan> {
        let end = size.checked_add(mdat.size?)?;
        if &mdat.kind != b"mdat" || end > MAX_FRAGMENT {
            return None;
        }
        let header = BoxHeader {
            kind: *b"moof",
            offset: self.held_at,
            header_len,
            size: Some(size),
        };
        let payload = self.held.get(usize::from(header_len)..size as usize)?;
        let moof = Child::top_level(header, payload);
        // Every sample within the `mdat`: it is cut from there.
        let data = size + u64::from(mdat.header_len)..end;
        let trafs = traf::samples(&moof, self.held_at, &self.trex, data)?;
        // `mfhd` comes first (ISO 14496-12 §8.8.4); else any number will do.
        let sequence = if payload.get(4..8) == Some(b"mfhd") {
            be32(payload, 12)
        } else {
            0
        };
        let mut scales = Vec::with_capacity(trafs.len());
        let mut lead = None;
        for (k, t) in trafs.iter().enumerate() {
            let &(_, timescale, video) = self.tracks.iter().find(|x| x.0 == t.track_id)?;
            if video && lead.is_none() {
                lead = Some(k);
            }
            // An absolute base offset is a position in the file: pieces
            // would shift every later fragment's data away from it. Times
            // past 2^48 ticks (a century at 90 kHz) could round together
            // as seconds in `f64` and leave a piece without its samples.
            if t.absolute_base || !t.has_tfdt || t.base_time > 1 << 48 {
                return None;
            }
            scales.push(f64::from(timescale));
        }
        let lead = lead.unwrap_or(0);
        let ends = cut(trafs.get(lead)?, *scales.get(lead)?);
        (ends.len() > 1).then_some(Plan {
            trafs,
            scales,
            ends,
            end,
            sequence,
        })
    }

    /// Writes the pieces whose samples are all held.
    fn emit_due(&mut self, out: &mut Vec<Output>) {
        let State::Fragment(plan, done, covered) = &mut self.state else {
            return;
        };
        let have = self.held.len() as u64;
        while *done < plan.ends.len() {
            let last = *done + 1 == plan.ends.len();
            let upto = if last { plan.end } else { have };
            let sequence = plan.sequence.wrapping_add(*done as u32);
            let piece = piece(plan, *done);
            let bytes = write_fragment(&plan.trafs, &piece, &self.held, sequence);
            let (Some(bytes), true) = (bytes, upto <= have) else {
                return;
            };
            out.push(Output::Piece {
                bytes,
                covers: self.held_at + *covered..self.held_at + upto,
            });
            *covered = upto;
            *done += 1;
        }
        self.held_at += plan.end;
        self.held.clear();
        self.state = State::Pass;
    }
}

/// Where the pieces end, in seconds: the lead track's first piece once
/// ~[`FIRST_MS`] of it, then every ~[`CHUNK_MS`]; the last piece takes the
/// rest. Every track's samples that start in a piece's time range go in it
/// (times in seconds, so across timescales; monotone, so each track's
/// samples split into runs in decode order, each sample in one piece).
fn cut(l: &TrafSamples, scale: f64) -> Vec<f64> {
    let mut ends = Vec::new();
    let mut next = FIRST_MS as f64 / 1000.0;
    let mut at = l.base_time;
    for s in &l.samples {
        let span = (at - l.base_time) as f64 / scale;
        if span >= next {
            ends.push(at as f64 / scale);
            while span >= next {
                next += CHUNK_MS as f64 / 1000.0;
            }
        }
        at = at.saturating_add(u64::from(s.duration));
    }
    ends.push(f64::INFINITY);
    ends
}

/// The samples of `t` (timescale `scale`) that start in `from..to`
/// seconds, and the decode time of the first of them.
fn span(t: &TrafSamples, scale: f64, from: f64, to: f64) -> (&[Sample], u64) {
    let (mut start, mut end, mut first) = (t.samples.len(), t.samples.len(), 0);
    let mut at = t.base_time;
    for (i, s) in t.samples.iter().enumerate() {
        let secs = at as f64 / scale;
        if secs >= from && start == t.samples.len() {
            start = i;
            first = at;
        }
        if secs >= to {
            end = i;
            break;
        }
        at = at.saturating_add(u64::from(s.duration));
    }
    (t.samples.get(start..end.max(start)).unwrap_or(&[]), first)
}

/// Piece `p` of `plan`: per traf, its samples and their first decode time.
fn piece(plan: &Plan, p: usize) -> Vec<(&[Sample], u64)> {
    let from = p.checked_sub(1).map_or(f64::NEG_INFINITY, |q| plan.ends[q]);
    let to = plan.ends.get(p).copied().unwrap_or(f64::INFINITY);
    plan.trafs
        .iter()
        .zip(&plan.scales)
        .map(|(t, &scale)| span(t, scale, from, to))
        .collect()
}

/// One piece (or a whole fragment, written again: `mp4::normalise`): a `moof` listing each `traf`'s samples of `piece` (all
/// fields per sample, data offsets from the `moof`) and an `mdat` of their
/// bytes, taken from `held` (the fragment from its `moof`); `None` until
/// `held` has them all.
pub(super) fn write_fragment(
    trafs: &[TrafSamples],
    piece: &[(&[Sample], u64)],
    held: &[u8],
    sequence: u32,
) -> Option<Vec<u8>> {
    use moof::trun_flags::*;
    let mut w = Writer::with_capacity(4096);
    let moof = w.begin(b"moof");
    let h = w.begin_full(b"mfhd", 0, 0);
    w.u32(sequence);
    w.end(h);
    let mut patches = Vec::with_capacity(trafs.len());
    let mut data_len = 0u64;
    for (t, &(samples, first)) in trafs.iter().zip(piece) {
        if samples.is_empty() {
            continue;
        }
        let traf = w.begin(b"traf");
        let description = if t.description.is_some() { 0x02 } else { 0 };
        let h = w.begin_full(b"tfhd", 0, 0x02_0000 | description);
        w.u32(t.track_id);
        if let Some(d) = t.description {
            w.u32(d);
        }
        w.end(h);
        let h = w.begin_full(b"tfdt", 1, 0);
        w.u64(first);
        w.end(h);
        let cto = if t.has_cto {
            SAMPLE_COMPOSITION_TIME_OFFSET
        } else {
            0
        };
        let flags = DATA_OFFSET | SAMPLE_DURATION | SAMPLE_SIZE | SAMPLE_FLAGS | cto;
        let h = w.begin_full(b"trun", t.version, flags);
        w.u32(samples.len() as u32);
        patches.push((w.len(), data_len));
        w.u32(0);
        for s in samples {
            w.u32(s.duration);
            w.u32(s.size);
            w.u32(s.flags);
            if t.has_cto {
                w.u32(s.cto);
            }
            data_len += u64::from(s.size);
        }
        w.end(h);
        w.end(traf);
    }
    w.end(moof);
    let moof_len = w.len() as u64;
    for (at, offset) in patches {
        w.patch_u32(at, (moof_len + 8 + offset) as u32);
    }
    let mdat = w.begin(b"mdat");
    for s in piece.iter().flat_map(|p| p.0) {
        let start = s.offset as usize;
        w.bytes(held.get(start..start + s.size as usize)?);
    }
    w.end(mdat);
    Some(w.into_bytes())
}
