//! `mvex` (movie extends): its presence is what makes a file fragmented;
//! `mehd` gives the whole duration, `trex` the per-track sample defaults
//! that `moof`s may leave out (ISO 14496-12 §8.8.1–8.8.3).

use super::{Child, full_box};
use crate::index::MediaError;

/// At most this many `trex` are kept (one per track; see `moov::MAX_TRACKS`).
const MAX_TREX: usize = 64;

/// What `mvex` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mvex {
    /// `mehd` fragment_duration, in the `mvhd` timescale.
    pub fragment_duration: Option<u64>,
    pub trex: Vec<Trex>,
}

/// Track extends defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trex {
    pub track_id: u32,
    pub default_sample_duration: u32,
    /// Defaults a `trun` without per-sample sizes or flags relies on.
    pub default_sample_size: u32,
    pub default_sample_flags: u32,
}

impl Mvex {
    pub fn parse(mvex: &Child<'_>) -> Result<Self, MediaError> {
        let mut out = Mvex::default();
        for child in mvex.children()? {
            let child = child?;
            match &child.header.kind {
                b"mehd" => {
                    let mut c = child.cursor("'mehd' box too short");
                    let (version, _) = full_box(&mut c)?;
                    out.fragment_duration = Some(c.u32_or_u64(version)?);
                }
                b"trex" if out.trex.len() < MAX_TREX => {
                    let mut c = child.cursor("'trex' box too short");
                    full_box(&mut c)?;
                    let track_id = c.u32()?;
                    let _sample_description_index = c.u32()?;
                    let default_sample_duration = c.u32()?;
                    // Older readers stopped at the duration: a short `trex`
                    // still gives it, with zero size and flags.
                    let default_sample_size = c.u32().unwrap_or(0);
                    let default_sample_flags = c.u32().unwrap_or(0);
                    out.trex.push(Trex {
                        track_id,
                        default_sample_duration,
                        default_sample_size,
                        default_sample_flags,
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The default sample duration for `track_id` (0 if none is given).
    pub fn default_duration(&self, track_id: u32) -> u32 {
        self.trex
            .iter()
            .find(|t| t.track_id == track_id)
            .map_or(0, |t| t.default_sample_duration)
    }
}
