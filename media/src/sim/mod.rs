//! A deterministic, trace-driven playback simulator that runs the real
//! buffer policy ([`crate::policy::Policy`]) — the same code the wasm player
//! runs — against a bandwidth trace, an RTT, a synthetic media file and a
//! viewer script, in simulated time.
//!
//! Why: whether the policy starts fast, rides out a drop with one stall and
//! wastes little on an abandoned view are properties of its decisions over
//! minutes of playback. A browser needs those minutes in real time; the
//! simulator needs well under a millisecond per run (release build), so the
//! policy can be pinned by tests over fixed traces and tuned over many.
//!
//! The shape follows quinn-proto's `tests/util.rs`: the policy is sans-I/O,
//! so the simulator plays every part around it — the network, the
//! SourceBuffer, the `<video>` element, the viewer — and owns the only clock.
//! Time moves from event to event (the next chunk of a response, the next
//! playback tick, the policy's next timeout, the playhead reaching the end of
//! the buffer, a viewer step, a change in the trace); nothing reads a real
//! clock, so a run is a pure function of its [`Scenario`].
//!
//! The models, and what they leave out:
//! - *Network*: one bottleneck following the trace, shared equally by the
//!   requests that are transferring (the media run and a side request for
//!   index bytes may overlap). A request's response headers and first byte
//!   arrive one RTT after the `Fetch`; its body then flows at its share of
//!   the link and reaches the policy in chunks of [`ShellModel::chunk_bytes`].
//!   No TCP slow start, no loss, no server think time; a connection setup
//!   cost can be added for the first request ([`ShellModel::first_request_extra_rtts`]).
//! - *SourceBuffer*: bytes of media requests queue up; `Append{end}` turns
//!   them into buffered media time through the unit map, either as they come
//!   or whole units only ([`ShellModel::whole_units`]). `Evict` removes time,
//!   `ResetRun` drops the queue. Only raw containers (the synthetic fMP4) are
//!   modelled: `AppendData` (remuxed output) carries no time here.
//! - *`<video>`*: the playhead advances in real time while the viewer wants
//!   to play, the policy has released it (`Hold`/`Release`) and media is
//!   buffered at the playhead. At the end of the buffer it stops — the
//!   `waiting` event, reported at once with `starved`. `EndOfStream` lets it
//!   end at the duration; without it, it waits there like a browser does.
//! - *Shell*: like `player-wasm`, it reports playback every
//!   [`ShellModel::tick_ms`] and on play, pause, seek and `waiting`, checks
//!   the policy's timeout on every tick and when it falls due.
//!
//! What a run measures is in [`Report`]. Stalls, stall time and seek
//! latency are counted from the viewer's side (the playhead not moving while
//! wanted), independent of the policy's own counters, which are reported
//! beside them ([`Report::policy`]).

mod engine;
mod media;
mod ranges;
mod report;
mod trace;

pub use media::MediaProfile;
pub use report::{Report, SeekOutcome};
pub use trace::{BandwidthTrace, TraceError};

use crate::policy::PolicyOptions;

/// One thing the viewer does; the script runs the steps in order, then
/// watches to the end (unless it abandoned).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ViewerStep {
    /// Want to play for this many seconds of wall-clock time (startup and
    /// stalls included: the viewer's patience, not media time).
    Watch(f64),
    /// Pause for this many seconds of wall-clock time.
    Pause(f64),
    /// Move the playhead to this media time (seconds), at once.
    Seek(f64),
    /// Close the page: the run ends here.
    Abandon,
}

/// How the simulated shell and browser behave (defaults mirror `player-wasm`
/// in Chromium).
#[derive(Debug, Clone, PartialEq)]
pub struct ShellModel {
    /// Body bytes per `handle_data` call (a fetch stream's chunk).
    pub chunk_bytes: usize,
    /// Period of the shell's playback report and timeout check
    /// (`player-wasm`'s interval timer).
    pub tick_ms: f64,
    /// Also report playback right after every append that grew the buffer
    /// (`player-wasm` does, on `updateend`).
    pub report_on_append: bool,
    /// Appended media becomes playable only in whole units (`moof`+`mdat`),
    /// not sample by sample. The default: Chromium's MSE shows a fragment in
    /// `buffered` only once all of it is appended (measured with the QoE
    /// benchmark's 2 s fragments on a 2 Mbit/s link).
    pub whole_units: bool,
    /// Extra round trips before the first response (TCP and TLS setup).
    pub first_request_extra_rtts: f64,
    /// The run stops (`timed_out`) at this much simulated time, seconds;
    /// `None`: four times the media duration plus ten minutes.
    pub max_seconds: Option<f64>,
    /// Keep a human-readable event log in [`Report::log`] (slows runs down).
    pub log: bool,
}

impl Default for ShellModel {
    fn default() -> Self {
        ShellModel {
            chunk_bytes: 16 * 1024,
            tick_ms: 200.0,
            report_on_append: true,
            whole_units: true,
            first_request_extra_rtts: 0.0,
            max_seconds: None,
            log: false,
        }
    }
}

/// The server at the other end of the link.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ServerModel {
    /// Paces each response by its request's CMCD with this rule, as
    /// `caudal serve --pace cmcd` does (`crate::pace`); `None`: every
    /// response at the link's rate.
    pub pacing: Option<crate::pace::PaceSettings>,
    /// Says so with each response (CMSD-Dynamic: `mb` the cap, `etp` the
    /// link's rate), as `caudal serve` does; `false`: a server that paces
    /// silently, which the player can only take for a slow link.
    pub cmsd: bool,
}

impl ServerModel {
    /// `caudal serve --pace cmcd` with its defaults.
    pub fn caudal_pacing() -> Self {
        ServerModel {
            pacing: Some(crate::pace::PaceSettings::default()),
            cmsd: true,
        }
    }
}

/// Everything a run depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub trace: BandwidthTrace,
    /// Round-trip time, milliseconds: a request's first byte comes this long
    /// after its `Fetch`.
    pub rtt_ms: f64,
    pub media: MediaProfile,
    pub options: PolicyOptions,
    pub viewer: Vec<ViewerStep>,
    pub shell: ShellModel,
    pub server: ServerModel,
}

impl Scenario {
    /// `media` over `trace` with a 50 ms RTT, the default policy options, a
    /// viewer who watches to the end, and the default shell.
    pub fn new(media: MediaProfile, trace: BandwidthTrace) -> Self {
        Scenario {
            trace,
            rtt_ms: 50.0,
            media,
            options: PolicyOptions::default(),
            viewer: Vec::new(),
            shell: ShellModel::default(),
            server: ServerModel::default(),
        }
    }

    /// Runs the policy through the scenario.
    pub fn run(&self) -> Report {
        engine::Sim::new(self).run()
    }
}

/// Runs the policy through `scenario`.
pub fn run(scenario: &Scenario) -> Report {
    scenario.run()
}
