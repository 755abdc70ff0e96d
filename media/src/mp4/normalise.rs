//! [`Fmp4Normaliser`]: a fragmented MP4 rewritten, fragment by fragment, into
//! the form every MSE implementation reads — each `moof` with a `tfdt` per
//! `traf`, data offsets counted from the `moof` (default-base-is-moof), and
//! only `moof` + `mdat` pairs in the output.
//!
//! Muxers write valid files MSE cannot take as they are (see
//! [`needs_rewrite`](super::boxes::moof::needs_rewrite)): ffmpeg's default
//! fragmenting gives every `tfhd` an absolute base data offset, a position
//! in the file that a SourceBuffer fed from a seek cannot resolve; GPAC's
//! `-frag` and Bento4's `--no-tfdt` leave out decode times, which MSE then
//! has none of. Every sample's place and timing is resolved from the boxes
//! ([`traf::samples`]) and written again ([`write_fragment`]), the same
//! writer the re-chunker uses. A file sent here for its init segment alone
//! (a little-endian Opus `dOps`, turned around by `boxes::dops`) keeps
//! its fragments as they are.
//!
//! A fragment is held whole (`moof` and `mdat`) before it is written; a
//! missing `tfdt` is the running decode time of its track, counted from the
//! fragments before it in this file — across a seek, from the last
//! fragment that started there, or from the index's time of the unit
//! when none did (see [`Repackager::reset_at`]).

use std::collections::BTreeMap;

use super::boxes::mvex::Trex;
use super::boxes::traf::{self, TrafSamples};
use super::boxes::{BoxHeader, Child, HeaderRead, be32, moof};
use super::rechunk::write_fragment;
use crate::index::{MediaError, Repackager};

/// Largest fragment held (its `moof` and `mdat`): bigger ones are refused.
const MAX_FRAGMENT: u64 = 64 << 20;

/// Where the walk over a run's boxes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a box boundary, reading a header into `held`.
    Boxes,
    /// Skipping a box that does not go out: this many bytes left.
    Skip(u64),
    /// Holding a `moof` of this size.
    Moof(u64),
    /// Holding a fragment: a `moof` this long, and with its `mdat` this
    /// long together.
    Fragment(u64, u64),
    /// A box ran to the end of the file: nothing more of this run goes out.
    Done,
}

/// Rewrites a fragmented MP4's fragments; see the module docs.
#[derive(Debug)]
pub struct Fmp4Normaliser {
    init: Vec<u8>,
    trex: Vec<Trex>,
    /// Each track's id and timescale, from the `moov`.
    tracks: Vec<(u32, u32)>,
    state: State,
    /// File offset of the next byte expected.
    pos: u64,
    /// Bytes held, starting at file offset `held_at`.
    held: Vec<u8>,
    held_at: u64,
    /// Decode time after the last fragment written, per track id.
    next_decode: BTreeMap<u32, u64>,
    /// The decode times each fragment seen started with (by its file
    /// offset), so that a run starting there again resumes them.
    seen: BTreeMap<u64, BTreeMap<u32, u64>>,
}

impl Fmp4Normaliser {
    /// `init` is the init segment (`ftyp` and `moov` as the file has them);
    /// `trex` and `tracks` (id, timescale) come from the `moov`.
    pub fn new(init: Vec<u8>, trex: Vec<Trex>, tracks: Vec<(u32, u32)>) -> Self {
        Fmp4Normaliser {
            init,
            trex,
            tracks,
            state: State::Boxes,
            pos: 0,
            held: Vec::new(),
            held_at: 0,
            next_decode: BTreeMap::new(),
            seen: BTreeMap::new(),
        }
    }

    /// A new run at `offset` whose unit starts at `seconds` in the index:
    /// tracks without a `tfdt` resume the decode times of the fragment seen
    /// there, else start at `seconds` (the nearest fragment seen before
    /// would be off by the fragments between).
    fn start_run(&mut self, offset: u64, seconds: Option<f64>) {
        self.state = State::Boxes;
        self.pos = offset;
        self.held.clear();
        self.held_at = offset;
        match self.seen.get(&offset) {
            Some(times) => self.next_decode = times.clone(),
            None => {
                self.next_decode = match seconds {
                    Some(s) if s.is_finite() && s > 0.0 => self
                        .tracks
                        .iter()
                        .map(|&(id, scale)| (id, (s * f64::from(scale)) as u64))
                        .collect(),
                    _ => BTreeMap::new(),
                };
            }
        }
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

    /// The header of the box at `from` in `held`, taking bytes from `rest`
    /// as far as it goes; `None` until it is whole.
    fn header(&mut self, rest: &mut &[u8], from: usize) -> Result<Option<BoxHeader>, MediaError> {
        let mut need = 8;
        loop {
            if !self.fill(rest, (from + need) as u64) {
                return Ok(None);
            }
            let at = self.held_at.saturating_add(from as u64);
            match BoxHeader::read(&self.held[from..], at)? {
                HeaderRead::Complete(h) => return Ok(Some(h)),
                HeaderRead::Need(n) if n as usize > need => need = n as usize,
                HeaderRead::Need(_) => return Err(bad(at, "box header")),
            }
        }
    }

    /// The fragment in `held` (a `moof` of `moof_len` bytes, then its
    /// `mdat`), written again.
    fn rewrite(&mut self, moof_len: u64) -> Result<Vec<u8>, MediaError> {
        let at = self.held_at;
        let header = match BoxHeader::read(&self.held, at)? {
            HeaderRead::Complete(h) => h,
            HeaderRead::Need(_) => return Err(bad(at, "'moof' header")),
        };
        let payload = self
            .held
            .get(usize::from(header.header_len)..moof_len as usize)
            .ok_or_else(|| bad(at, "'moof'"))?;
        let mdat = match BoxHeader::read(&self.held[moof_len as usize..], at + moof_len)? {
            HeaderRead::Complete(h) => h,
            HeaderRead::Need(_) => return Err(bad(at + moof_len, "'mdat' header")),
        };
        let moof = Child::top_level(header, payload);
        // A fragment MSE reads as it is (the file came here for its init
        // segment: a little-endian `dOps`) goes out unchanged, sample
        // groups and all.
        if moof::needs_rewrite(&moof)?.is_none() {
            return Ok(self.held.clone());
        }
        let data = moof_len + u64::from(mdat.header_len)..self.held.len() as u64;
        let mut trafs = traf::samples(&moof, at, &self.trex, data)
            .ok_or_else(|| unsupported("a fragment whose samples it cannot resolve"))?;
        for t in &mut trafs {
            self.decode_time(t);
        }
        self.seen
            .entry(at)
            .or_insert_with(|| trafs.iter().map(|t| (t.track_id, t.base_time)).collect());
        for t in &trafs {
            let length = t
                .samples
                .iter()
                .fold(0u64, |sum, s| sum.saturating_add(u64::from(s.duration)));
            self.next_decode
                .insert(t.track_id, t.base_time.saturating_add(length));
        }
        // `mfhd` comes first (ISO 14496-12 §8.8.4).
        let sequence = if payload.get(4..8) == Some(b"mfhd") {
            be32(payload, 12)
        } else {
            0
        };
        let piece: Vec<_> = trafs
            .iter()
            .map(|t| (t.samples.as_slice(), t.base_time))
            .collect();
        write_fragment(&trafs, &piece, &self.held, sequence)
            .ok_or_else(|| bad(at, "'mdat' shorter than its samples"))
    }

    /// A `traf` without a `tfdt` starts where its track's last one ended.
    fn decode_time(&self, t: &mut TrafSamples) {
        if !t.has_tfdt {
            t.base_time = self.next_decode.get(&t.track_id).copied().unwrap_or(0);
            t.has_tfdt = true;
        }
    }
}

impl Repackager for Fmp4Normaliser {
    fn init_segment(&self) -> Vec<u8> {
        self.init.clone()
    }

    fn reset(&mut self, offset: u64) {
        self.start_run(offset, None);
    }

    fn reset_at(&mut self, offset: u64, unit_start: Option<f64>) {
        self.start_run(offset, unit_start);
    }

    fn push(&mut self, offset: u64, data: &[u8]) -> Result<Vec<Vec<u8>>, MediaError> {
        let mut out = Vec::new();
        if offset != self.pos || self.state == State::Done {
            // Not the continuation of this run: the policy sends none.
            return Ok(out);
        }
        self.pos = offset.saturating_add(data.len() as u64);
        let mut rest = data;
        while !rest.is_empty() {
            match self.state {
                State::Done => break,
                State::Skip(left) => {
                    let n = left.min(rest.len() as u64);
                    rest = &rest[n as usize..];
                    self.held_at = self.held_at.saturating_add(n);
                    self.state = if left == n {
                        State::Boxes
                    } else {
                        State::Skip(left - n)
                    };
                }
                State::Boxes => {
                    let Some(h) = self.header(&mut rest, 0)? else {
                        break;
                    };
                    let len = u64::from(h.header_len);
                    self.state = match (h.size, &h.kind) {
                        (Some(size), b"moof") if size <= moof::MAX_SIZE => State::Moof(size),
                        (Some(_), b"moof") => {
                            return Err(MediaError::TooLarge {
                                what: "'moof' box",
                                limit: moof::MAX_SIZE,
                            });
                        }
                        (Some(size), _) => {
                            self.held.clear();
                            self.held_at = self.held_at.saturating_add(len);
                            State::Skip(size.saturating_sub(len))
                        }
                        (None, _) => State::Done,
                    };
                    if self.state == State::Skip(0) {
                        self.state = State::Boxes;
                    }
                }
                State::Moof(size) => {
                    if !self.fill(&mut rest, size) {
                        break;
                    }
                    let Some(mdat) = self.header(&mut rest, size as usize)? else {
                        break;
                    };
                    let end = mdat
                        .size
                        .and_then(|m| size.checked_add(m))
                        .filter(|_| &mdat.kind == b"mdat")
                        .ok_or_else(|| unsupported("a 'moof' not followed by its sized 'mdat'"))?;
                    if end > MAX_FRAGMENT {
                        return Err(MediaError::TooLarge {
                            what: "fragment",
                            limit: MAX_FRAGMENT,
                        });
                    }
                    self.state = State::Fragment(size, end);
                }
                State::Fragment(moof_len, end) => {
                    if !self.fill(&mut rest, end) {
                        break;
                    }
                    out.push(self.rewrite(moof_len)?);
                    self.held.clear();
                    self.held_at = self.held_at.saturating_add(end);
                    self.state = State::Boxes;
                }
            }
        }
        Ok(out)
    }
}

fn bad(offset: u64, what: &str) -> MediaError {
    MediaError::Malformed {
        container: super::CONTAINER,
        offset,
        reason: format!("{what} cannot be rewritten"),
    }
}

fn unsupported(what: &str) -> MediaError {
    MediaError::Unsupported {
        container: super::CONTAINER,
        what: what.to_owned(),
    }
}
