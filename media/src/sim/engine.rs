//! The discrete-event loop: the network, the SourceBuffer, the `<video>`
//! element and the viewer around one real [`Policy`].

use std::ops::Range;

use super::ranges::RangeSet;
use super::report::{Report, SeekOutcome};
use super::{Scenario, ViewerStep};
use crate::cmcd::Cmcd;
use crate::pace::{Pace, PaceInput};
use crate::policy::{Action, ErrorCode, Millis, Outcome, Policy, RequestId, ServerDelivery};

/// Below this many bytes short of a chunk boundary, the chunk is complete
/// (floating-point progress never lands exactly).
const BYTE_EPSILON: f64 = 1e-3;
/// Seconds: the playhead this close to the end of the buffer has reached it.
const TIME_EPSILON: f64 = 1e-7;
/// Seconds ahead below which the element reports less than
/// `HAVE_FUTURE_DATA` (about a frame).
const FUTURE_DATA_SECONDS: f64 = 0.04;
/// A run that takes more events than this is stuck: it stops with an anomaly.
const MAX_EVENTS: u64 = 5_000_000;
/// Events at one instant beyond this: the clock is stuck (a bug in the
/// simulator, or a policy asking for something at once, forever).
const MAX_EVENTS_AT_ONCE: u32 = 10_000;

/// One HTTP request on the simulated link.
#[derive(Debug)]
struct Flow {
    id: RequestId,
    /// First byte of the body in the file.
    start: u64,
    /// Body length (the range clipped at the end of the file).
    len: u64,
    media: bool,
    /// When the response headers and the first byte arrive.
    first_byte_at: Millis,
    /// 416: the range starts past the end of the file.
    unsatisfiable: bool,
    responded: bool,
    /// Body bytes across the link so far (fractional: the link is fluid).
    progress: f64,
    /// Body bytes handed to the policy.
    delivered: u64,
    /// The server's pacing cap, bytes per millisecond.
    cap_per_ms: Option<f64>,
}

impl Flow {
    /// Transferring: headers in, body not all across yet.
    fn active(&self) -> bool {
        self.responded && self.progress < self.len as f64
    }

    /// The end of the chunk being transferred.
    fn boundary(&self, chunk: u64) -> u64 {
        (self.delivered + chunk).min(self.len)
    }
}

/// Which event set the next time (so it lands exactly).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Due {
    Chunk(usize),
    Other,
}

pub(super) struct Sim<'a> {
    scenario: &'a Scenario,
    policy: Policy,
    now: Millis,
    events: u64,
    zeros: Vec<u8>,
    chunk: u64,
    file_len: u64,
    duration: f64,

    // The link: the trace in milliseconds and bytes per millisecond (one
    // conversion, so a change lands exactly on the time it is scheduled
    // for), and the index of its next change.
    link: Vec<(Millis, f64)>,
    link_next: usize,
    flows: Vec<Flow>,
    fetches: u32,
    paced_fetches: u32,

    // The SourceBuffer: the current run's bytes received and appended.
    run_received: u64,
    run_appended: u64,
    buffered: RangeSet<f64>,
    end_of_stream: bool,

    // The element.
    position: f64,
    released: bool,
    advancing: bool,
    /// The playhead ran into the end of the buffer (the `waiting` event).
    hit_end: bool,
    /// Report playback at once (after an append, with `report_on_append`).
    report_due: bool,
    ended: bool,
    next_tick: Millis,
    last_timeout_call: Millis,

    // The viewer.
    wants_play: bool,
    step: usize,
    step_until: Option<Millis>,
    abandoned: bool,
    seek_pending: Option<usize>,

    // Measurements.
    first_frame: Option<Millis>,
    stall_since: Option<Millis>,
    stalls: u32,
    stall_ms: f64,
    seeks: Vec<SeekOutcome>,
    played: RangeSet<f64>,
    fetched: RangeSet<u64>,
    bytes_fetched: u64,
    error: Option<(ErrorCode, String)>,
    anomalies: Vec<String>,
    log: Vec<String>,
    timed_out: bool,
}

impl<'a> Sim<'a> {
    pub(super) fn new(scenario: &'a Scenario) -> Self {
        let chunk = scenario.shell.chunk_bytes.max(1);
        Sim {
            scenario,
            policy: Policy::with_indexer(scenario.options.clone(), scenario.media.indexer()),
            now: Millis::ZERO,
            events: 0,
            zeros: vec![0; chunk],
            chunk: chunk as u64,
            file_len: scenario.media.file_len(),
            duration: scenario.media.duration(),
            link: scenario
                .trace
                .points()
                .iter()
                .map(|&(t, bps)| (Millis::from(t * 1000.0), bps / 8000.0))
                .collect(),
            link_next: 0,
            flows: Vec::with_capacity(2),
            fetches: 0,
            paced_fetches: 0,
            run_received: 0,
            run_appended: 0,
            buffered: RangeSet::default(),
            end_of_stream: false,
            position: 0.0,
            released: false,
            advancing: false,
            hit_end: false,
            report_due: false,
            ended: false,
            next_tick: Millis::from(scenario.shell.tick_ms.max(1.0)),
            last_timeout_call: Millis::from(f64::NEG_INFINITY),
            wants_play: true,
            step: 0,
            step_until: None,
            abandoned: false,
            seek_pending: None,
            first_frame: None,
            stall_since: None,
            stalls: 0,
            stall_ms: 0.0,
            seeks: Vec::new(),
            played: RangeSet::default(),
            fetched: RangeSet::default(),
            bytes_fetched: 0,
            error: None,
            anomalies: Vec::new(),
            log: Vec::new(),
            timed_out: false,
        }
    }

    pub(super) fn run(mut self) -> Report {
        let shell = &self.scenario.shell;
        let limit = Millis::from(
            1000.0
                * shell
                    .max_seconds
                    .unwrap_or(4.0 * self.duration + 600.0)
                    .max(0.0),
        );
        // Enter the trace at time zero.
        self.advance_to(self.now, Due::Other);
        self.policy.start(self.now);
        self.drain();
        self.run_script();
        // Autoplay: the `play` event.
        self.report_playback();
        self.update_viewer();
        let mut same_instant = 0u32;
        while !self.finished() {
            let (next, due) = self.next_event();
            if next > limit {
                self.advance_to(limit, Due::Other);
                self.timed_out = true;
                break;
            }
            self.events += 1;
            if self.events > MAX_EVENTS {
                self.anomaly(format!("stuck: more than {MAX_EVENTS} events"));
                break;
            }
            same_instant = if next > self.now { 0 } else { same_instant + 1 };
            if same_instant > MAX_EVENTS_AT_ONCE {
                self.anomaly(format!("stuck: {same_instant} events without time passing"));
                break;
            }
            self.advance_to(next, due);
            self.process_due();
            self.update_viewer();
        }
        self.finish()
    }

    fn finished(&self) -> bool {
        self.ended || self.abandoned || self.error.is_some()
    }

    // ------------------------------------------------------------ the clock

    /// The time of the next event, and which one if it was a chunk.
    fn next_event(&self) -> (Millis, Due) {
        let mut next = self.next_tick;
        let mut due = Due::Other;
        let mut consider = |at: Millis, what: Due| {
            if at < next {
                next = at;
                due = what;
            }
        };
        let shares = self.shares_per_ms();
        for (i, flow) in self.flows.iter().enumerate() {
            let share = shares[i];
            if !flow.responded {
                consider(flow.first_byte_at, Due::Other);
            } else if flow.active() && share > 0.0 {
                let left = (flow.boundary(self.chunk) as f64 - flow.progress).max(0.0);
                consider(self.now + left / share, Due::Chunk(i));
            }
        }
        if let Some(&(change, _)) = self.link.get(self.link_next) {
            consider(change, Due::Other);
        }
        if self.advancing
            && let Some(range) = self.buffered.containing(self.position)
        {
            consider(self.now + (range.end - self.position) * 1000.0, Due::Other);
        }
        if let Some(at) = self.policy.poll_timeout() {
            // A timeout already handled at this instant waits a millisecond,
            // so a policy that keeps asking cannot freeze the clock.
            let at = if at <= self.last_timeout_call {
                self.last_timeout_call + 1.0
            } else {
                at
            };
            consider(at, Due::Other);
        }
        if let Some(until) = self.step_until {
            consider(until, Due::Other);
        }
        if self.report_due || self.hit_end {
            consider(self.now, Due::Other);
        }
        (next.max(self.now), due)
    }

    /// Bytes per millisecond each request gets now (0 when not
    /// transferring): the link shared fairly, a paced one taking no more
    /// than its cap and leaving the rest to the others.
    fn shares_per_ms(&self) -> Vec<f64> {
        let mut shares = vec![0.0; self.flows.len()];
        let mut open: Vec<usize> = (0..self.flows.len())
            .filter(|&i| self.flows[i].active())
            .collect();
        let mut left = self.link_rate();
        while !open.is_empty() {
            let fair = left / open.len() as f64;
            let capped: Vec<usize> = open
                .iter()
                .copied()
                .filter(|&i| self.flows[i].cap_per_ms.is_some_and(|cap| cap < fair))
                .collect();
            if capped.is_empty() {
                for &i in &open {
                    shares[i] = fair;
                }
                break;
            }
            for &i in &capped {
                let cap = self.flows[i].cap_per_ms.unwrap_or(fair);
                shares[i] = cap;
                left -= cap;
            }
            open.retain(|i| !capped.contains(i));
        }
        shares
    }

    /// Moves the link and the playhead on to `to`.
    fn advance_to(&mut self, to: Millis, due: Due) {
        let dt = to - self.now;
        if dt > 0.0 {
            let shares = self.shares_per_ms();
            for (flow, share) in self.flows.iter_mut().zip(shares) {
                if flow.active() {
                    flow.progress = (flow.progress + share * dt).min(flow.len as f64);
                }
            }
        }
        if self.advancing
            && let Some(end) = self.buffered.containing(self.position).map(|r| r.end)
        {
            let from = self.position;
            let reached = (from + dt.max(0.0) / 1000.0).min(end);
            self.position = if end - reached < TIME_EPSILON {
                self.hit_end = true;
                end
            } else {
                reached
            };
            self.played.insert(from..self.position);
        }
        if let Due::Chunk(i) = due
            && let Some(flow) = self.flows.get_mut(i)
        {
            flow.progress = flow.progress.max(flow.boundary(self.chunk) as f64);
        }
        self.now = self.now.max(to);
        while self
            .link
            .get(self.link_next)
            .is_some_and(|&(change, _)| change <= self.now)
        {
            self.link_next += 1;
        }
    }

    // ------------------------------------------------------------ events

    fn process_due(&mut self) {
        self.deliver_headers();
        self.deliver_chunks();
        if self.finished() {
            return;
        }
        if self.hit_end {
            // The `waiting` event.
            self.hit_end = false;
            self.report_playback();
        }
        if self
            .policy
            .poll_timeout()
            .is_some_and(|at| at <= self.now && self.last_timeout_call < self.now)
        {
            self.last_timeout_call = self.now;
            self.policy.handle_timeout(self.now);
            self.drain();
        }
        if self.next_tick <= self.now {
            self.next_tick += self.scenario.shell.tick_ms.max(1.0);
            self.report_playback();
        } else if self.report_due {
            self.report_playback();
        }
        self.run_script();
    }

    fn deliver_headers(&mut self) {
        while let Some(i) = self
            .flows
            .iter()
            .position(|f| !f.responded && f.first_byte_at <= self.now)
        {
            let flow = &mut self.flows[i];
            flow.responded = true;
            let (id, len, unsatisfiable) = (flow.id, flow.len, flow.unsatisfiable);
            if unsatisfiable {
                self.flows.remove(i);
                self.policy
                    .handle_response(self.now, id, 416, Some(self.file_len));
                self.drain();
                continue;
            }
            self.policy
                .handle_response(self.now, id, 206, Some(self.file_len));
            let cap = self.flows[i].cap_per_ms;
            if self.scenario.server.cmsd
                && let Some(cap) = cap
            {
                let bits = |per_ms: f64| per_ms * 8.0 * 1000.0;
                self.policy.handle_delivery(
                    id,
                    ServerDelivery {
                        paced_bps: Some(bits(cap)),
                        etp_bps: Some(bits(self.link_rate())),
                        duress: false,
                    },
                );
            }
            self.drain();
            if len == 0 {
                self.complete(id);
            }
        }
    }

    fn deliver_chunks(&mut self) {
        let chunk = self.chunk;
        while let Some(i) = self.flows.iter().position(|f| {
            f.responded
                && f.delivered < f.len
                && f.progress + BYTE_EPSILON >= f.boundary(chunk) as f64
        }) {
            let flow = &mut self.flows[i];
            let to = flow.boundary(chunk);
            let offset = flow.start + flow.delivered;
            let n = to - flow.delivered;
            flow.delivered = to;
            flow.progress = flow.progress.max(to as f64);
            let (id, media, done) = (flow.id, flow.media, to == flow.len);
            self.bytes_fetched += n;
            self.fetched.insert(offset..offset + n);
            if media {
                self.queue(offset, n);
            }
            let len = n as usize;
            self.policy.handle_data(self.now, id, &self.zeros[..len]);
            self.drain();
            if done {
                self.complete(id);
            }
            if self.finished() {
                return;
            }
        }
    }

    /// The body of `id` ended (if it is still live).
    fn complete(&mut self, id: RequestId) {
        let Some(i) = self.flows.iter().position(|f| f.id == id) else {
            return;
        };
        self.flows.remove(i);
        self.policy.handle_done(self.now, id, Outcome::Complete);
        self.drain();
    }

    // ------------------------------------------------------------ the shell

    /// Performs every action the policy has queued.
    fn drain(&mut self) {
        while let Some(action) = self.policy.poll_action() {
            if self.scenario.shell.log {
                let line = format!("{:9.1} ms  {action:?}", self.now);
                self.log.push(line);
            }
            match action {
                Action::Fetch {
                    id,
                    range,
                    media,
                    cmcd,
                } => self.fetch(id, range, media, &cmcd),
                Action::Abort { id } => self.flows.retain(|f| f.id != id),
                Action::Configure { raw, .. } => {
                    if !raw {
                        self.anomaly(
                            "Configure asked for repackaging; the simulator appends raw bytes only"
                                .into(),
                        );
                    }
                }
                Action::Append { end } => self.append(end),
                // Init segments and remuxed fragments: no media time here.
                Action::AppendInit(_) | Action::AppendData(_) => {}
                Action::ResetRun { offset, .. } => {
                    self.run_received = offset;
                    self.run_appended = offset;
                }
                Action::Evict { range } => self.buffered.remove(range),
                Action::Hold => self.released = false,
                Action::Release => self.released = true,
                Action::EndOfStream => self.end_of_stream = true,
                Action::Fail { code, message } => {
                    self.flows.clear();
                    self.error = Some((code, message));
                }
                // The simulator's URLs carry no token to refresh.
                Action::Stall { .. }
                | Action::State { .. }
                | Action::SetDuration(_)
                | Action::Authorize => {}
            }
        }
    }

    /// The cap a pacing server puts on a response to a request with `cmcd`,
    /// bytes per millisecond.
    fn server_cap(&self, cmcd: &Cmcd) -> Option<f64> {
        let settings = self.scenario.server.pacing?;
        let input = PaceInput {
            buffer: cmcd.bl.map(std::time::Duration::from_millis),
            startup: cmcd.su,
            starved: cmcd.bs,
            bitrate: cmcd.br.map(|kbps| kbps as f64 * 1000.0),
            requested: cmcd.rtp.map(|kbps| kbps as f64 * 1000.0),
        };
        match crate::pace::decide(&input, &settings) {
            Pace::Paced {
                bits_per_second, ..
            } => Some(bits_per_second / 8.0 / 1000.0),
            Pace::Unpaced(_) => None,
        }
    }

    /// The link's rate now, bytes per millisecond.
    fn link_rate(&self) -> f64 {
        match self.link_next.checked_sub(1) {
            Some(n) => self.link[n].1,
            // Before the first point, its rate holds.
            None => self.link.first().map_or(0.0, |&(_, rate)| rate),
        }
    }

    fn fetch(&mut self, id: RequestId, range: Range<u64>, media: bool, cmcd: &Cmcd) {
        let cap_per_ms = self.server_cap(cmcd);
        self.paced_fetches += u32::from(cap_per_ms.is_some());
        self.fetches += 1;
        let mut rtts = 1.0;
        if self.fetches == 1 {
            rtts += self.scenario.shell.first_request_extra_rtts.max(0.0);
        }
        let end = range.end.min(self.file_len);
        self.flows.push(Flow {
            id,
            start: range.start,
            len: end.saturating_sub(range.start),
            media,
            first_byte_at: self.now + rtts * self.scenario.rtt_ms.max(0.0),
            unsatisfiable: range.start >= self.file_len,
            responded: false,
            progress: 0.0,
            delivered: 0,
            cap_per_ms,
        });
    }

    /// Media bytes arrived for the current run: they wait in the queue.
    fn queue(&mut self, offset: u64, len: u64) {
        if offset != self.run_received {
            self.anomaly(format!(
                "media bytes at {offset} do not continue the run queued up to {}",
                self.run_received
            ));
            self.run_appended = offset;
        }
        self.run_received = offset + len;
    }

    /// `Append{end}`: queued bytes up to `end` become buffered media.
    fn append(&mut self, end: u64) {
        let end = if end > self.run_received {
            self.anomaly(format!(
                "Append up to {end}, but the run's bytes end at {}",
                self.run_received
            ));
            self.run_received
        } else {
            end
        };
        if end <= self.run_appended {
            return;
        }
        let whole = self.scenario.shell.whole_units;
        let media = &self.scenario.media;
        let from = media.time_at(self.run_appended, whole);
        let to = media.time_at(end, whole);
        self.run_appended = end;
        if to > from {
            self.buffered.insert(from..to);
            self.report_due |= self.scenario.shell.report_on_append;
        }
    }

    /// Seconds buffered contiguously from the playhead.
    fn ahead(&self) -> f64 {
        self.buffered
            .containing(self.position)
            .map_or(0.0, |r| r.end - self.position)
    }

    /// Tells the policy what the element shows, as `player-wasm` does.
    fn report_playback(&mut self) {
        self.report_due = false;
        let ahead = self.ahead();
        let at_buffer = self.buffered.containing(self.position).is_some();
        // `seeking` stays true until media at the target arrives.
        let seeking = self.seek_pending.is_some() && !at_buffer;
        let at_the_end = self.end_of_stream && self.position >= self.duration - TIME_EPSILON;
        let starved =
            !seeking && ahead < FUTURE_DATA_SECONDS && !self.buffered.is_empty() && !at_the_end;
        self.policy.handle_playback(
            self.now,
            self.position,
            self.buffered.as_slice(),
            !self.wants_play,
            starved,
        );
        self.drain();
    }

    // ------------------------------------------------------------ the viewer

    fn run_script(&mut self) {
        while !self.finished() {
            match self.step_until {
                Some(until) if self.now < until => return,
                Some(_) => self.step_until = None,
                None => {}
            }
            let Some(&step) = self.scenario.viewer.get(self.step) else {
                self.set_wants_play(true);
                return;
            };
            self.step += 1;
            if self.scenario.shell.log {
                let line = format!("{:9.1} ms  viewer: {step:?}", self.now);
                self.log.push(line);
            }
            match step {
                ViewerStep::Watch(seconds) => {
                    self.set_wants_play(true);
                    self.step_until = Some(self.now + seconds.max(0.0) * 1000.0);
                }
                ViewerStep::Pause(seconds) => {
                    self.set_wants_play(false);
                    self.step_until = Some(self.now + seconds.max(0.0) * 1000.0);
                }
                ViewerStep::Seek(to) => self.seek(to),
                ViewerStep::Abandon => self.abandoned = true,
            }
        }
    }

    fn set_wants_play(&mut self, wants: bool) {
        if self.wants_play != wants {
            self.wants_play = wants;
            self.update_viewer();
            self.report_playback();
        }
    }

    fn seek(&mut self, to: f64) {
        let to = to.clamp(0.0, self.duration);
        // Close a stall at the old position before the wait turns into a seek.
        self.update_viewer();
        self.position = to;
        self.ended = false;
        self.seeks.push(SeekOutcome {
            at_ms: self.now.as_f64(),
            to,
            latency_ms: None,
        });
        self.seek_pending = Some(self.seeks.len() - 1);
        self.policy.seek(self.now, to);
        self.drain();
        self.report_playback();
        self.update_viewer();
    }

    /// Works out whether the playhead moves, and counts first frame, seek
    /// waits and stalls on the changes.
    fn update_viewer(&mut self) {
        let ahead = self.ahead();
        if self.end_of_stream && self.position >= self.duration - TIME_EPSILON && ahead <= 0.0 {
            self.ended = true;
        }
        let ready = self.released && ahead > 0.0 && !self.ended;
        self.advancing = ready && self.wants_play;
        if self.advancing && self.first_frame.is_none() {
            self.first_frame = Some(self.now);
        }
        if ready
            && let Some(n) = self.seek_pending.take()
            && let Some(seek) = self.seeks.get_mut(n)
        {
            seek.latency_ms = Some(self.now - Millis::from(seek.at_ms));
        }
        let stalled = self.wants_play
            && self.first_frame.is_some()
            && self.seek_pending.is_none()
            && !self.advancing
            && !self.ended
            && !self.abandoned;
        match (self.stall_since, stalled) {
            (None, true) => {
                self.stalls += 1;
                self.stall_since = Some(self.now);
            }
            (Some(since), false) => {
                self.stall_ms += self.now - since;
                self.stall_since = None;
            }
            _ => {}
        }
    }

    fn anomaly(&mut self, what: String) {
        if self.scenario.shell.log {
            let line = format!("{:9.1} ms  ANOMALY {what}", self.now);
            self.log.push(line);
        }
        // A handful says it; thousands would only cost memory.
        if self.anomalies.len() < 32 {
            self.anomalies
                .push(format!("at {:.1} ms: {what}", self.now));
        }
    }

    fn finish(mut self) -> Report {
        if let Some(since) = self.stall_since.take() {
            self.stall_ms += self.now - since;
        }
        let media = &self.scenario.media;
        let mut useful = RangeSet::default();
        useful.insert(0..media.init_bytes());
        for range in self.played.as_slice() {
            useful.insert(media.bytes_of(range.clone()));
        }
        let used = self.fetched.overlap(&useful);
        Report {
            ttff_ms: self.first_frame.map(Millis::as_f64),
            stalls: self.stalls,
            stall_seconds: self.stall_ms / 1000.0,
            seeks: self.seeks,
            bytes_fetched: self.bytes_fetched,
            bytes_wasted: self.bytes_fetched.saturating_sub(used),
            played_seconds: self.played.measure(),
            reached_end: self.ended,
            abandoned: self.abandoned,
            timed_out: self.timed_out,
            end_ms: self.now.as_f64(),
            requests: self.fetches,
            paced_requests: self.paced_fetches,
            policy: self.policy.stats(),
            error: self.error,
            anomalies: self.anomalies,
            log: self.log,
        }
    }
}
