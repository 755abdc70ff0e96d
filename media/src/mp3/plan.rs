//! [`Plan`]: what the first frame of an MP3 says (the frame size and rate,
//! and the Xing/Info or VBRI table it may carry), and the time ↔ byte map
//! it gives for a stream that ends at a given byte: the units of the index.
//!
//! Pure arithmetic on what [`indexer`](super::indexer) found; nothing here
//! reads bytes beyond the first frame.

use super::frame::{FrameHeader, MAX_FRAME_LEN};
use super::xing::{self, TOC_LEN};
use crate::index::{Presentation, Segment};

/// Target unit duration: long enough for few requests, short enough that
/// a seek fetches little it does not need.
const UNIT_SECONDS: f64 = 2.0;

/// Most units an index holds; longer files get longer units, so hostile
/// frame counts cannot make the index large.
const MAX_UNITS: u64 = 1 << 16;

/// Samples an MP3 decoder outputs before the first encoded one (the
/// MDCT/filterbank delay every decoder adds; LAME's delay field excludes it).
const DECODER_DELAY: u64 = 529;

/// The shortest Layer III frame: 8 kbit/s at 24 kHz (MPEG-2).
const MIN_FRAME_LEN: u64 = 24;

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
pub(super) struct Plan {
    sample_rate: u64,
    samples_per_frame: u64,
    /// File offset of the first audio frame (after a header frame).
    pub(super) audio_start: u64,
    /// File offset where the frames end, when the header says.
    pub(super) audio_end: Option<u64>,
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
    pub(super) fn from_first_frame(at: u64, h: &FrameHeader, f: &[u8]) -> Plan {
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
    pub(super) fn units(&self, end: u64) -> (Vec<Segment>, f64) {
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

    /// Whether the frames are counted (Xing/Info, VBRI): then the units
    /// depend on where the stream ends, and wait for it.
    pub(super) fn counts_frames(&self) -> bool {
        matches!(self.timing, Timing::Frames(_))
    }

    /// Extends `segments` (the units so far, of a constant-bitrate stream
    /// whose end is not known yet) with every whole unit before `seen_end`,
    /// the furthest byte the caller has fed.
    pub(super) fn grow_units(&self, segments: &mut Vec<Segment>, seen_end: u64) {
        let per_unit = self.unit_frames;
        let mut from_b = segments.last().map_or(self.audio_start, |s| s.bytes.end);
        let mut n = per_unit.saturating_mul(segments.len() as u64 + 1);
        while (segments.len() as u64) < MAX_UNITS {
            let b = self.byte_of(n, u64::MAX);
            if b > seen_end || b <= from_b {
                break;
            }
            segments.push(Segment {
                start: self.time_of(n - per_unit),
                end: self.time_of(n),
                bytes: from_b..b,
            });
            from_b = b;
            n = n.saturating_add(per_unit);
        }
    }

    /// What browsers trim when they play the file natively: the encoder
    /// delay (plus the decoder's) at the start, the padding at the end.
    pub(super) fn presentation(&self) -> Option<Presentation> {
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
