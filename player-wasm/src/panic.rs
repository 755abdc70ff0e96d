//! A panic must not leave a dead page. The wasm is built with
//! `panic = "abort"`: after a panic the module traps and its state (borrowed
//! cells, half-done work) cannot be trusted again. So the hook does, once,
//! what the viewer needs from every player of the page: one `caudal:error`
//! (code `internal`) and the file handed to the browser, keeping the
//! viewer's intent — then the trap happens as before.
//!
//! The hook reads only this registry of plain handles, never a player's
//! `RefCell`, which may be the one borrowed where the panic happened.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use caudal_media::policy::ErrorCode;
use wasm_bindgen::JsValue;
use web_sys::HtmlVideoElement;

use crate::{events, fallback, js};

/// What a player's element needs if the player dies: the element, the file,
/// and whether the viewer wants it playing.
pub struct Rescue {
    pub video: HtmlVideoElement,
    pub url: String,
    /// Kept current by the player (play / pause events, autoplay).
    pub wants_play: Cell<bool>,
    /// False once the player is destroyed or plays natively already.
    pub live: Cell<bool>,
}

impl Rescue {
    pub fn new(video: HtmlVideoElement, url: String, wants_play: bool) -> Rc<Self> {
        let rescue = Rc::new(Rescue {
            video,
            url,
            wants_play: Cell::new(wants_play),
            live: Cell::new(true),
        });
        register(&rescue);
        rescue
    }
}

thread_local! {
    static PLAYERS: RefCell<Vec<Weak<Rescue>>> = const { RefCell::new(Vec::new()) };
    static PANICKED: Cell<bool> = const { Cell::new(false) };
}

/// Registers a player's element (and installs the hook, the first time).
/// Dropping every `Rc` of it (destroy) unregisters it.
fn register(rescue: &Rc<Rescue>) {
    PLAYERS.with(|players| {
        if let Ok(mut players) = players.try_borrow_mut() {
            if players.is_empty() {
                std::panic::set_hook(Box::new(on_panic));
            }
            players.retain(|p| p.strong_count() > 0);
            players.push(Rc::downgrade(rescue));
        }
    });
}

fn on_panic(info: &std::panic::PanicHookInfo<'_>) {
    if PANICKED.with(|done| done.replace(true)) {
        return;
    }
    let mut message = String::from("the player failed (an internal error");
    if let Some(at) = info.location() {
        message.push_str(" at ");
        message.push_str(at.file());
        message.push(':');
        message.push_str(&at.line().to_string());
    }
    message.push_str("); the browser plays the file itself");
    let rescues: Vec<Rc<Rescue>> = PLAYERS
        .with(|players| {
            players
                .try_borrow()
                .map(|p| p.iter().filter_map(Weak::upgrade).collect())
        })
        .unwrap_or_default();
    for rescue in rescues.iter().filter(|r| r.live.get()) {
        let rate = rescue.video.default_playback_rate();
        fallback::play_natively(
            &rescue.video,
            None,
            &rescue.url,
            rescue.wants_play.get(),
            rate,
        );
        let (name, detail) = events::error(ErrorCode::Internal, &message);
        js::dispatch(&rescue.video, name, &detail);
    }
    web_sys::console::error_1(&JsValue::from_str(&message));
}
