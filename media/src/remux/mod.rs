//! Plain MP4 → fragmented MP4, in the player.
//!
//! MSE only takes fragmented MP4, and most files on disk are plain: one
//! `moov` with sample tables and one `mdat`. This module turns the sample
//! tables ([`MovieSamples`]) into what MSE wants, without ever holding the
//! file: an init segment ([`Remux::init_segment`]: the original sample
//! entries in a `moov` with empty tables and `mvex`), a fragment plan
//! ([`Remux::plan`]: cuts at video keyframes, audio interleaved by time,
//! each fragment knowing the file bytes it needs) and fragments built from
//! those bytes ([`Remux::build_fragment`]: `moof` + `mdat`, the media bytes
//! copied unchanged). [`Mp4Remuxer`] finds and reads the `moov` the
//! sans-I/O way and answers with a [`MediaIndex`](crate::index::MediaIndex);
//! its [`RemuxStream`] builds the fragments from the player's run of bytes,
//! the first one of a run in small pieces ([`StreamOptions`]).
//!
//! # Edit lists and priming
//!
//! A browser playing the plain file applies each track's edit list: the
//! first non-empty edit's media_time is the media time shown at 0 (ffmpeg
//! writes the B-frame delay there for video and the 1024 priming samples of
//! AAC for audio), a leading empty edit delays the track. MSE implementations
//! differ in how they treat an `elst` in an init segment, so we write none
//! and move the times instead: the empty edit is added to the decode times
//! (`tfdt`), and media_time is subtracted from every composition offset
//! (`trun` version 1, signed offsets). A video frame then presents at
//! exactly the time the plain file shows it; AAC priming frames present
//! before 0, where MSE's append window trims them as native playback skips
//! them. Frames before a stream-copy cut (media_time past the keyframe)
//! would present before 0, where MSE drops them and every frame up to the
//! next keyframe: they get a lead-in instead ([`timing`]).

mod first_chunks;
mod fragment;
mod indexer;
mod init;
mod plan;
mod stream;
mod timing;

pub use first_chunks::StreamOptions;
pub use fragment::{Piece, SampleSource};
pub use indexer::Mp4Remuxer;
pub use plan::{Fragment, PlanOptions};
pub use stream::RemuxStream;

use crate::index::{Handover, MediaError, TrackKind};
use crate::mp4::samples::{MovieSamples, TrackSamples};
use timing::{Lead, OutTrack};

/// The plain-MP4 reader for [`Mp4Indexer`](crate::mp4::Mp4Indexer): this
/// remuxer with the default plan and outputs (small first chunks on).
///
/// It also takes the fragmented MP4s whose fragments the main reader found
/// MSE would misread ([`Handover::RewriteFragments`]): the fMP4 reader that
/// rewrites them ([`crate::mp4::normalise`]); and the WebM files MSE
/// refuses as they are ([`Handover::TidyWebm`]): the WebM tidy reader.
pub fn plain_mp4() -> crate::index::OnDemand {
    Box::new(|why| reader_for(why))
}

/// The reader for a file handed over for `why`: what each of the player's
/// on-demand modules makes.
pub fn reader_for(why: Handover) -> Box<dyn crate::index::ContainerIndexer> {
    match why {
        Handover::PlainMp4 => Box::new(Mp4Remuxer::new(PlanOptions::default())),
        Handover::FragmentedMp4 => Box::new(crate::mp4::Mp4Indexer::new()),
        Handover::RewriteFragments => Box::new(crate::mp4::Fmp4Indexer::rewriting()),
        Handover::TidyWebm => Box::new(crate::webm::tidy::TidyReader::new()),
    }
}

/// The `container` name in errors.
const CONTAINER: &str = "mp4";

/// A plain MP4 ready to be remuxed: the movie's sample tables and the
/// tracks chosen for the output (the first video and the first audio track
/// with samples — what one MSE SourceBuffer takes).
#[derive(Debug, Clone)]
pub struct Remux {
    movie: MovieSamples,
    /// Output tracks, video first.
    outs: Vec<OutTrack>,
}

impl Remux {
    /// Chooses the output tracks and checks that their shifted times fit
    /// the fragment fields.
    pub fn new(movie: MovieSamples) -> Result<Self, MediaError> {
        let mut outs = Vec::with_capacity(2);
        for kind in [TrackKind::Video, TrackKind::Audio] {
            let Some(track) = movie
                .tracks
                .iter()
                .position(|t| t.kind == kind && !t.samples.is_empty())
            else {
                continue;
            };
            // The video track (first) may take a lead-in; the audio
            // track moves by it too.
            let lead = outs.first().map_or(Lead::default(), |o: &OutTrack| {
                o.lead(movie.tracks.get(o.track).map_or(0, |t| t.timescale))
            });
            outs.push(OutTrack::new(&movie, track, lead)?);
        }
        if outs.is_empty() {
            return Err(MediaError::Unsupported {
                container: CONTAINER,
                what: "a file without audio or video samples".into(),
            });
        }
        Ok(Remux { movie, outs })
    }

    /// The sample tables.
    pub fn movie(&self) -> &MovieSamples {
        &self.movie
    }

    /// The output tracks, in fragment order (video first).
    pub fn tracks(&self) -> impl Iterator<Item = &TrackSamples> {
        self.outs
            .iter()
            .filter_map(|o| self.movie.tracks.get(o.track))
    }

    fn track(&self, out: &OutTrack) -> Option<&TrackSamples> {
        self.movie.tracks.get(out.track)
    }

    /// Where playback should begin, seconds: after the lead-in of hidden
    /// frames when an edit cuts into the first GOP (see [`timing`]), else 0.
    pub fn start(&self) -> f64 {
        self.outs.first().map_or(0.0, |o| {
            o.lead(self.track(o).map_or(0, |t| t.timescale)).seconds()
        })
    }
}
