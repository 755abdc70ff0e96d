//! The two request slots: the media run, and beside it a request for index
//! bytes elsewhere in the file (WebM Cues or an fMP4 `mfra` at the end), so
//! the index never waits behind a media request.
//!
//! Each live request has an idle timer in the [`TimerTable`]; every change
//! to a slot goes through [`Requests`], which keeps the two in step.

use std::ops::Range;

use super::action::RequestId;
use super::delivery::{PacedSamples, ServerDelivery};
use super::millis::Millis;
use super::timer::{Timer, TimerTable};

/// One live request.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub(super) id: RequestId,
    pub(super) range: Range<u64>,
    /// Body bytes received so far.
    pub(super) received: u64,
    pub(super) media: bool,
    /// Open-ended (a run's first request): it streams until the policy
    /// ends it.
    pub(super) open: bool,
    /// When it was issued or last delivered bytes.
    last_data: Millis,
    /// What the server said of its delivery (CMSD-Dynamic), if anything.
    pub(super) delivery: Option<ServerDelivery>,
    /// Samples of a paced response waiting to be judged.
    pub(super) paced: PacedSamples,
}

/// Bytes that arrived for a live request, as the policy accounts them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    /// Where in the file they start.
    pub(super) offset: u64,
    /// The first bytes of the response.
    pub(super) first: bool,
    /// Milliseconds since the request's previous event.
    pub(super) elapsed_ms: f64,
    pub(super) media: bool,
    pub(super) delivery: Option<ServerDelivery>,
}

#[derive(Debug, Default)]
pub(super) struct Requests {
    media: Option<Request>,
    side: Option<Request>,
    next_id: u32,
}

impl Requests {
    pub(super) fn media(&self) -> Option<&Request> {
        self.media.as_ref()
    }

    pub(super) fn media_busy(&self) -> bool {
        self.media.is_some()
    }

    pub(super) fn side_busy(&self) -> bool {
        self.side.is_some()
    }

    /// A new request for `range` in its slot; silent for `idle_ms`, it is
    /// given up.
    pub(super) fn issue(
        &mut self,
        now: Millis,
        range: Range<u64>,
        media: bool,
        open: bool,
        idle_ms: f64,
        timers: &mut TimerTable,
    ) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let request = Some(Request {
            id,
            range,
            received: 0,
            media,
            open,
            last_data: now,
            delivery: None,
            paced: PacedSamples::default(),
        });
        if media {
            self.media = request;
        } else {
            self.side = request;
        }
        timers.set(Timer::idle(media), now + idle_ms);
        id
    }

    /// The live request `id`, media or side.
    pub(super) fn get(&self, id: RequestId) -> Option<&Request> {
        [&self.media, &self.side]
            .into_iter()
            .flatten()
            .find(|r| r.id == id)
    }

    pub(super) fn get_mut(&mut self, id: RequestId) -> Option<&mut Request> {
        [&mut self.media, &mut self.side]
            .into_iter()
            .flatten()
            .find(|r| r.id == id)
    }

    /// Counts `len` bytes that came for `id` at `now` (if it is live) and
    /// restarts its idle timer.
    pub(super) fn on_data(
        &mut self,
        id: RequestId,
        now: Millis,
        len: u64,
        idle_ms: f64,
        timers: &mut TimerTable,
    ) -> Option<Arrival> {
        let request = self.get_mut(id)?;
        let offset = request.range.start + request.received;
        request.received += len;
        let first = request.received == len;
        let elapsed_ms = now - request.last_data;
        request.last_data = now;
        let media = request.media;
        timers.set(Timer::idle(media), now + idle_ms);
        Some(Arrival {
            offset,
            first,
            elapsed_ms,
            media,
            delivery: request.delivery,
        })
    }

    /// Removes the live request `id` from its slot.
    pub(super) fn take(&mut self, id: RequestId, timers: &mut TimerTable) -> Option<Request> {
        if self.media.as_ref().is_some_and(|r| r.id == id) {
            return self.take_media(timers);
        }
        if self.side.as_ref().is_some_and(|r| r.id == id) {
            timers.stop(Timer::SideIdle);
            return self.side.take();
        }
        None
    }

    pub(super) fn take_media(&mut self, timers: &mut TimerTable) -> Option<Request> {
        timers.stop(Timer::MediaIdle);
        self.media.take()
    }

    /// Empties both slots (the media request first).
    pub(super) fn take_all(&mut self, timers: &mut TimerTable) -> [Option<Request>; 2] {
        timers.stop(Timer::MediaIdle);
        timers.stop(Timer::SideIdle);
        [self.media.take(), self.side.take()]
    }

    /// The live requests whose idle timer has run out at `now`.
    pub(super) fn silent(&self, timers: &TimerTable, now: Millis) -> Vec<RequestId> {
        [&self.media, &self.side]
            .into_iter()
            .flatten()
            .filter(|r| timers.is_expired(Timer::idle(r.media), now))
            .map(|r| r.id)
            .collect()
    }
}
