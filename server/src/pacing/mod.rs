//! The control loop's server half: CMCD in, pacing by the player's buffer,
//! CMSD out.
//!
//! - [`rule`] (`caudal_media::pace`): the pacing rule (Sammy's), a pure
//!   function the simulator runs too;
//! - [`sessions`]: playback sessions and, for players without CMCD, their
//!   buffer estimated from what was handed out;
//! - [`media_facts`]: a file's bit rate and object type, read once;
//! - [`repace`]: a long response without CMCD decided again as it goes;
//! - [`response`]: one response's cap while it is sent — on the socket
//!   ([`socket`], `SO_MAX_PACING_RATE`) or by the application's
//!   [`token_bucket`] — taken off when it ends;
//! - [`cmsd`]: the `CMSD-Static` / `CMSD-Dynamic` values from the file and
//!   the connection's `TCP_INFO`;
//! - [`metrics`]: what `/metrics` shows of it.
//!
//! The pipeline stages are [`crate::pipeline::cmcd`] (reads and strips
//! CMCD before anything keyed on the URL) and [`crate::pipeline::pace`]
//! (applies all of the above to each media response).

pub mod cmsd;
pub mod egress;
pub mod media_facts;
pub mod metrics;
pub mod repace;
pub mod response;
pub mod sessions;
pub mod socket;
pub mod token_bucket;

use std::sync::Mutex;

pub use caudal_media::pace::{self as rule, Pace, PaceInput, PaceSettings, Unpaced};
pub use metrics::DeliveryMetrics;
pub use response::{Enforcer, PaceBy, ResponsePace};

/// `--pace`: which responses are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaceMode {
    /// Never: every response at the link's speed.
    Off,
    /// Responses to requests that carry CMCD with a buffer length.
    #[default]
    Cmcd,
    /// Also players without CMCD, by the buffer estimated per client and
    /// file from the media handed out.
    Always,
}

impl PaceMode {
    pub fn parse(value: &str) -> Result<PaceMode, String> {
        match value {
            "off" => Ok(PaceMode::Off),
            "cmcd" => Ok(PaceMode::Cmcd),
            "always" => Ok(PaceMode::Always),
            _ => Err(format!("expected off, cmcd or always, not {value:?}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PaceMode::Off => "off",
            PaceMode::Cmcd => "cmcd",
            PaceMode::Always => "always",
        }
    }
}

/// The pacing configuration (`--pace`, `--pace-*`, `[pace]`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PaceConfig {
    pub mode: PaceMode,
    pub settings: PaceSettings,
    /// Who enforces a cap (`--pace-by`).
    pub by: PaceBy,
    /// `--max-egress`: bytes per second for all media responses at once.
    pub max_egress: Option<u64>,
}

/// Why a response was not paced, beyond the rule's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Capped on the socket: the kernel paces it.
    Paced,
    /// Capped by the application's token bucket (no `SO_MAX_PACING_RATE`
    /// here, or `--pace-by app`).
    PacedByApp,
    Rule(Unpaced),
    /// `--pace off`.
    Off,
    /// `--pace cmcd` and the request carried none.
    NoCmcd,
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Decision::Paced => "paced",
            Decision::PacedByApp => "paced_app",
            Decision::Rule(Unpaced::Startup) => "startup",
            Decision::Rule(Unpaced::Starved) => "stall",
            Decision::Rule(Unpaced::LowBuffer) => "low_buffer",
            Decision::Rule(Unpaced::UnknownBuffer) => "unknown_buffer",
            Decision::Rule(Unpaced::UnknownBitrate) => "unknown_bitrate",
            Decision::Off => "off",
            Decision::NoCmcd => "no_cmcd",
        }
    }
}

/// What the pace stage shares across requests.
#[derive(Debug)]
pub struct Pacer {
    pub config: PaceConfig,
    pub sessions: Mutex<sessions::Sessions>,
    pub facts: media_facts::MediaFacts,
    pub metrics: DeliveryMetrics,
    /// The shared budget, under `--max-egress`.
    pub egress: Option<std::sync::Arc<egress::Egress>>,
}

impl Pacer {
    pub fn new(config: PaceConfig, metrics: DeliveryMetrics) -> Self {
        Pacer {
            config,
            sessions: Mutex::new(sessions::Sessions::default()),
            facts: media_facts::MediaFacts::default(),
            egress: config.max_egress.map(|bytes| {
                egress::Egress::new(
                    bytes,
                    config.settings.min_buffer,
                    metrics.egress_allotted.clone(),
                )
            }),
            metrics,
        }
    }
}
