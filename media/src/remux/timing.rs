//! Output times: how one output track's sample times are moved so that MSE
//! presents each frame when native playback of the plain file does.
//!
//! The edit list is applied by moving times (see the module docs of
//! [`remux`](super)): the leading empty edit is added to decode times and
//! the edit's media_time subtracted from presentation times.
//!
//! A stream-copy cut (`ffmpeg -ss 1.3 -c copy`) keeps the whole first GOP
//! and sets media_time past its keyframe: native playback decodes the
//! frames before the cut and never shows them. MSE cannot do that — a frame
//! presented before 0 is dropped by the append window, and every frame
//! after it up to the next keyframe with it, so the picture would start a
//! whole GOP late. Instead those hidden frames get a *lead-in*: one tick of
//! the track's timescale each, presented from 0 and decoded in order, and
//! every shown sample (of every track) moves later by as many ticks. The
//! player starts playback after the lead-in ([`Remux::start`](super::Remux::start)),
//! so the first frame shown is the one native playback shows first, a few
//! microseconds later than natively.

use super::CONTAINER;
use crate::index::{MediaError, TrackKind};
use crate::mp4::samples::{MovieSamples, Sample, TrackSamples};

/// How one output track's times are moved.
#[derive(Debug, Clone)]
pub(super) struct OutTrack {
    /// Index into `movie.tracks`.
    pub track: usize,
    /// Added to every decode time: the leading empty edit (and, for tracks
    /// other than the one with the lead-in, the lead-in), track timescale.
    decode_shift: u64,
    /// Subtracted from every composition offset: the edit's media_time.
    media_time: i64,
    lead_in: Option<LeadIn>,
}

/// Hidden frames before a stream-copy cut, retimed (see the module docs).
#[derive(Debug, Clone)]
struct LeadIn {
    /// Output times of the first GOP's samples, in decode order.
    first_gop: Vec<Timing>,
    /// Subtracted from the decode time of every later sample: what the
    /// hidden frames' one-tick durations gave up.
    squeeze: u64,
    /// Added to the presentation time of every later sample: one tick per
    /// hidden frame.
    ticks: u64,
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    decode: u64,
    presentation: i128,
    duration: u32,
}

/// The lead-in of the output, in seconds as a fraction (ticks, timescale).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Lead {
    pub ticks: u64,
    pub timescale: u32,
}

impl Lead {
    pub fn seconds(self) -> f64 {
        if self.timescale == 0 {
            return 0.0;
        }
        self.ticks as f64 / f64::from(self.timescale)
    }
}

fn too_far() -> MediaError {
    MediaError::Unsupported {
        container: CONTAINER,
        what: "an edit list that moves samples too far".into(),
    }
}

impl OutTrack {
    /// The times of `movie.tracks[track]`; `lead` is the lead-in another
    /// output track took (every track moves by it). Checks that the moved
    /// times fit the fragment fields.
    pub fn new(movie: &MovieSamples, track: usize, lead: Lead) -> Result<Self, MediaError> {
        let t = movie.tracks.get(track).ok_or_else(too_far)?;
        let empty_edit = u128::from(t.edit.empty_duration) * u128::from(t.timescale)
            / u128::from(movie.timescale.max(1));
        let lead_ticks = (u128::from(lead.ticks) * u128::from(t.timescale)
            + u128::from(lead.timescale) / 2)
            / u128::from(lead.timescale.max(1));
        let decode_shift = u64::try_from(empty_edit + lead_ticks).map_err(|_| too_far())?;
        let mut out = OutTrack {
            track,
            decode_shift,
            media_time: t.edit.media_time,
            lead_in: None,
        };
        if lead.ticks == 0 {
            out.lead_in = out.find_lead_in(t);
        }
        // Every composition offset must fit the signed 32-bit field, and
        // every decode time the 64-bit one.
        for (i, s) in t.samples.iter().enumerate() {
            s.decode_time
                .checked_add(decode_shift)
                .ok_or_else(too_far)?;
            let offset = out.presentation(i, s) - i128::from(out.decode(i, s));
            i32::try_from(offset).map_err(|_| too_far())?;
        }
        Ok(out)
    }

    /// The lead-in this track's edit needs, if it cuts into the first GOP
    /// of a video track and the lead-in stays well under a frame.
    fn find_lead_in(&self, t: &TrackSamples) -> Option<LeadIn> {
        if t.kind != TrackKind::Video || !t.samples.first()?.is_sync() {
            return None;
        }
        let gop_end = t
            .samples
            .iter()
            .skip(1)
            .position(Sample::is_sync)
            .map_or(t.samples.len(), |p| p + 1);
        let first_gop = t.samples.get(..gop_end)?;
        // The frame on screen at 0 is the last to start at or before 0
        // (a cut need not fall on a frame boundary); it is shown from 0.
        // The ones before it are hidden.
        let on_screen = first_gop
            .iter()
            .map(|s| self.edited(s))
            .filter(|&p| p <= 0)
            .max()?;
        let mut hidden: Vec<usize> = (0..gop_end)
            .filter(|&i| self.edited(&first_gop[i]) < on_screen)
            .collect();
        let ticks = hidden.len() as u64;
        // One tick per hidden frame must stay well under a frame, or the
        // picture would visibly shift (a coarse timescale): then the cut
        // starts at the next keyframe, as MSE does by itself.
        if ticks == 0 || ticks.saturating_mul(4) > u64::from(t.duration(0)) {
            return None;
        }
        hidden.sort_unstable_by_key(|&i| self.edited(&first_gop[i]));
        let mut rank = vec![None; gop_end];
        for (k, &i) in hidden.iter().enumerate() {
            rank[i] = Some(k as i128);
        }
        let mut decode = first_gop[0].decode_time.checked_add(self.decode_shift)?;
        let mut timings = Vec::with_capacity(gop_end);
        for (i, s) in first_gop.iter().enumerate() {
            let (presentation, duration) = match rank[i] {
                Some(k) => (k, 1),
                None => (self.edited(s).max(0) + i128::from(ticks), t.duration(i)),
            };
            timings.push(Timing {
                decode,
                presentation,
                duration,
            });
            decode = decode.checked_add(u64::from(duration))?;
        }
        let gop_end_decode = t
            .samples
            .get(gop_end)
            .map_or(t.end_time, |s| s.decode_time)
            .checked_add(self.decode_shift)?;
        Some(LeadIn {
            first_gop: timings,
            squeeze: gop_end_decode.saturating_sub(decode),
            ticks,
        })
    }

    /// The lead-in this track took (zero when none).
    pub fn lead(&self, timescale: u32) -> Lead {
        Lead {
            ticks: self.lead_in.as_ref().map_or(0, |l| l.ticks),
            timescale,
        }
    }

    /// Presentation time under the edit alone, track timescale.
    fn edited(&self, s: &Sample) -> i128 {
        i128::from(s.decode_time) + i128::from(self.decode_shift) + i128::from(s.composition_offset)
            - i128::from(self.media_time)
    }

    /// Output decode time of sample `i`, track timescale.
    pub fn decode(&self, i: usize, s: &Sample) -> u64 {
        let shifted = s.decode_time.saturating_add(self.decode_shift);
        match &self.lead_in {
            None => shifted,
            Some(l) => l
                .first_gop
                .get(i)
                .map_or(shifted.saturating_sub(l.squeeze), |t| t.decode),
        }
    }

    /// Output presentation time of sample `i`, track timescale.
    pub fn presentation(&self, i: usize, s: &Sample) -> i128 {
        match &self.lead_in {
            None => self.edited(s),
            Some(l) => l
                .first_gop
                .get(i)
                .map_or_else(|| self.edited(s) + i128::from(l.ticks), |t| t.presentation),
        }
    }

    /// Output duration of sample `i` of `track` (this track's samples).
    pub fn duration(&self, track: &TrackSamples, i: usize) -> u32 {
        self.lead_in
            .as_ref()
            .and_then(|l| l.first_gop.get(i))
            .map_or_else(|| track.duration(i), |t| t.duration)
    }
}
