//! The shell's timer.
//!
//! The policy says when it must be woken next ([`Policy::poll_timeout`]: a
//! retry, a request gone silent), and the shell samples playback on a
//! steady tick besides; one browser timer is kept armed for the nearer of
//! the two. [`Alarm`] decides, as plain data, when that timer must
//! be set again: after every event the shell asks it, and it re-arms only
//! when the deadline came nearer (a deadline that moved later — a request
//! that delivered — lets the armed timer ring early, and the policy is asked
//! again then), so a stream of chunks does not cost a timer call each.
//! [`JsTimer`] is the browser timer, which owns its callback.
//!
//! [`Policy::poll_timeout`]: caudal_media::policy::Policy::poll_timeout

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

/// What to do with the browser timer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change<T> {
    /// The armed timer (or none) is right as it is.
    Keep,
    /// Nothing to wake for: stop the armed timer.
    Cancel,
    /// Set the timer for this deadline, replacing any armed one.
    Arm(T),
}

/// The deadline the browser timer is armed for.
#[derive(Debug)]
pub struct Alarm<T> {
    armed: Option<T>,
}

impl<T> Default for Alarm<T> {
    fn default() -> Self {
        Alarm { armed: None }
    }
}

impl<T: PartialOrd + Copy> Alarm<T> {
    /// The policy wants to be woken at `wanted` (none: not at all).
    pub fn update(&mut self, wanted: Option<T>) -> Change<T> {
        match (self.armed, wanted) {
            (None, None) => Change::Keep,
            (Some(_), None) => {
                self.armed = None;
                Change::Cancel
            }
            (Some(armed), Some(wanted)) if armed <= wanted => Change::Keep,
            (_, Some(wanted)) => {
                self.armed = Some(wanted);
                Change::Arm(wanted)
            }
        }
    }

    /// The armed timer rang: nothing is armed any more.
    pub fn rang(&mut self) {
        self.armed = None;
    }
}

/// Milliseconds from `now` until `at`, for `setTimeout`: whole, and never
/// before `at` (a timer that rang early would only be armed again).
pub fn delay_ms(now: f64, at: f64) -> i32 {
    (at - now).ceil().clamp(0.0, f64::from(i32::MAX)) as i32
}

/// A browser timer (`setTimeout`) and the callback it runs.
pub struct JsTimer {
    callback: Closure<dyn FnMut()>,
    handle: Option<i32>,
}

impl JsTimer {
    pub fn new(callback: Closure<dyn FnMut()>) -> Self {
        JsTimer {
            callback,
            handle: None,
        }
    }

    /// Runs the callback once, `ms` from now (instead of any earlier start).
    pub fn start(&mut self, ms: i32) {
        self.stop();
        let Some(window) = web_sys::window() else {
            return;
        };
        let callback = self.callback.as_ref().unchecked_ref();
        self.handle = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback, ms)
            .ok();
    }

    pub fn stop(&mut self) {
        if let (Some(handle), Some(window)) = (self.handle.take(), web_sys::window()) {
            window.clear_timeout_with_handle(handle);
        }
    }
}

/// A timer must not ring once its callback is gone.
impl Drop for JsTimer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_deadline_arms_the_timer_and_no_deadline_cancels_it() {
        let mut alarm = Alarm::default();
        assert_eq!(alarm.update(None), Change::Keep);
        assert_eq!(alarm.update(Some(100.0)), Change::Arm(100.0));
        assert_eq!(alarm.update(None), Change::Cancel);
        assert_eq!(alarm.update(None), Change::Keep);
    }

    #[test]
    fn a_nearer_deadline_rearms_and_a_later_one_keeps_the_armed_timer() {
        let mut alarm = Alarm::default();
        alarm.update(Some(5000.0));
        assert_eq!(alarm.update(Some(5000.0)), Change::Keep);
        assert_eq!(alarm.update(Some(6000.0)), Change::Keep);
        assert_eq!(alarm.update(Some(400.0)), Change::Arm(400.0));
    }

    #[test]
    fn once_it_rang_the_next_deadline_arms_it_again() {
        let mut alarm = Alarm::default();
        alarm.update(Some(400.0));
        alarm.rang();
        // Rang early: the deadline had moved later meanwhile.
        assert_eq!(alarm.update(Some(6000.0)), Change::Arm(6000.0));
    }

    #[test]
    fn the_delay_is_whole_milliseconds_never_short_of_the_deadline() {
        assert_eq!(delay_ms(1000.0, 1250.2), 251);
        assert_eq!(delay_ms(1000.0, 1250.0), 250);
        assert_eq!(delay_ms(1000.0, 900.0), 0);
        assert_eq!(delay_ms(0.0, 1e300), i32::MAX);
    }
}
