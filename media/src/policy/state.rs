//! The player's state as the viewer sees it (the `caudal:state` event).

/// The player's state as the viewer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Loading,
    Buffering,
    Playing,
    Paused,
    Stalled,
    Seeking,
    Ended,
    Error,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Loading => "loading",
            State::Buffering => "buffering",
            State::Playing => "playing",
            State::Paused => "paused",
            State::Stalled => "stalled",
            State::Seeking => "seeking",
            State::Ended => "ended",
            State::Error => "error",
        }
    }
}
