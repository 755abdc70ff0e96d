//! `--max-egress`: one budget, bytes per second, for every media response
//! the server sends at once, shared by urgency — starved viewers first.
//!
//! [`allocate`] is the rule, a pure function: each response is first given
//! its media's bit rate (its floor: what keeps its viewer from falling
//! behind), most urgent first — a buffer that is empty, at startup or after
//! a stall, before one that holds 30 s; what is left is shared equally
//! (water-filling) among the urgent ones (buffer under `--pace-min-buffer`),
//! up to what each wants, then among the others. A response never gets
//! more than it wants (the pacing rule's cap; an unpaced one wants all it
//! can get).
//!
//! [`Egress`] keeps the responses in flight and their shares, computed
//! again whenever one starts, ends or wants something else; each response's
//! pace ([`super::response`]) reads its share as it sends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one response asks of the budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// Its viewer's buffer: zero at startup, after a stall, or unknown and
    /// starting; smaller is more urgent.
    pub buffer: Duration,
    /// The media's bytes per second (0 when unknown).
    pub floor: u64,
    /// Bytes per second it would take: the rule's cap, `None` uncapped.
    pub want: Option<u64>,
}

/// Each demand's share of `budget` bytes per second, in `demands`' order.
/// `urgent_below`: a buffer under this is served before the others.
pub fn allocate(budget: u64, urgent_below: Duration, demands: &[Demand]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| demands[i].buffer);
    let want = |i: usize| demands[i].want.unwrap_or(u64::MAX);
    let mut share = vec![0u64; demands.len()];
    let mut left = budget;
    // Floors, most urgent first.
    for &i in &order {
        let give = demands[i].floor.min(want(i)).min(left);
        share[i] = give;
        left -= give;
    }
    // The rest: the urgent, then the others, each group by water-filling.
    let (urgent, calm): (Vec<usize>, Vec<usize>) = order
        .iter()
        .partition(|&&i| demands[i].buffer < urgent_below);
    for group in [urgent, calm] {
        left = fill(left, &group, &mut share, &want);
    }
    share
}

/// Shares `left` equally among `group`, none above its want; what is left.
/// The smallest gaps (want less share) are filled first: one pass.
fn fill(mut left: u64, group: &[usize], share: &mut [u64], want: &impl Fn(usize) -> u64) -> u64 {
    let mut open: Vec<(u64, usize)> = group
        .iter()
        .map(|&i| (want(i) - share[i], i))
        .filter(|&(gap, _)| gap > 0)
        .collect();
    open.sort_unstable();
    let mut remaining = open.len() as u64;
    for (gap, i) in open {
        let each = left / remaining;
        let give = gap.min(each);
        share[i] += give;
        left -= give;
        remaining -= 1;
    }
    left
}

/// Whether a share slows its response below what the rule gives it: under
/// its cap, or, uncapped, under `refill` times its media's rate (what the
/// rule gives an empty buffer) — the `du` of its `CMSD-Dynamic`.
pub fn slowed(demand: &Demand, share: u64, refill: f64) -> bool {
    match demand.want {
        Some(want) => share < want,
        None => (share as f64) < demand.floor as f64 * refill,
    }
}

/// The responses in flight under one budget, and their shares.
#[derive(Debug)]
pub struct Egress {
    budget: u64,
    /// `/metrics`: the sum of the shares.
    allotted_gauge: prometheus_client::metrics::gauge::Gauge,
    urgent_below: Duration,
    inner: Mutex<Registry>,
    /// Moves whenever the shares do: a response whose last look saw this
    /// value need not look again.
    generation: AtomicU64,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    entries: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    demand: Demand,
    share: u64,
}

impl Egress {
    pub fn new(
        bytes_per_second: u64,
        urgent_below: Duration,
        allotted_gauge: prometheus_client::metrics::gauge::Gauge,
    ) -> Arc<Egress> {
        Arc::new(Egress {
            budget: bytes_per_second,
            allotted_gauge,
            urgent_below,
            inner: Mutex::default(),
            generation: AtomicU64::new(0),
        })
    }

    /// A response starts: its ticket and its share.
    pub fn join(self: &Arc<Self>, demand: Demand) -> (Ticket, u64) {
        let mut registry = self.lock();
        let id = registry.next_id;
        registry.next_id += 1;
        registry.entries.insert(id, Entry { demand, share: 0 });
        self.reallocate(&mut registry);
        let share = registry.entries.get(&id).map_or(0, |e| e.share);
        let ticket = Ticket {
            egress: self.clone(),
            id,
            seen: self.generation.load(Ordering::Acquire),
        };
        (ticket, share)
    }

    /// Bytes per second shared out now (the sum of the shares).
    pub fn allotted(&self) -> u64 {
        self.lock().entries.values().map(|e| e.share).sum()
    }

    fn reallocate(&self, registry: &mut Registry) {
        let ids: Vec<u64> = registry.entries.keys().copied().collect();
        let demands: Vec<Demand> = ids.iter().map(|id| registry.entries[id].demand).collect();
        let shares = allocate(self.budget, self.urgent_below, &demands);
        let total: u64 = shares.iter().sum();
        for (id, share) in ids.iter().zip(shares) {
            if let Some(entry) = registry.entries.get_mut(id) {
                entry.share = share;
            }
        }
        self.allotted_gauge
            .set(i64::try_from(total).unwrap_or(i64::MAX));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// One response's place under the budget; it leaves when dropped.
#[derive(Debug)]
pub struct Ticket {
    egress: Arc<Egress>,
    id: u64,
    seen: u64,
}

impl Ticket {
    /// Its share, if the shares moved since the last look.
    pub fn moved(&mut self) -> Option<u64> {
        let now = self.egress.generation.load(Ordering::Acquire);
        if now == self.seen {
            return None;
        }
        self.seen = now;
        self.egress.lock().entries.get(&self.id).map(|e| e.share)
    }

    /// It wants something else now: its new share.
    pub fn update(&mut self, demand: Demand) -> u64 {
        let mut registry = self.egress.lock();
        if let Some(entry) = registry.entries.get_mut(&self.id) {
            if entry.demand == demand {
                return entry.share;
            }
            entry.demand = demand;
        }
        self.egress.reallocate(&mut registry);
        self.seen = self.egress.generation.load(Ordering::Acquire);
        registry.entries.get(&self.id).map_or(0, |e| e.share)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut registry = self.egress.lock();
        if registry.entries.remove(&self.id).is_some() {
            self.egress.reallocate(&mut registry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(4);
    const MEDIA: u64 = 375_000; // 3 Mbit/s

    fn viewer(buffer_secs: u64, want: Option<u64>) -> Demand {
        Demand {
            buffer: Duration::from_secs(buffer_secs),
            floor: MEDIA,
            want,
        }
    }

    #[test]
    fn under_the_budget_everyone_gets_what_it_wants() {
        let demands = [viewer(20, Some(1_100_000)), viewer(25, Some(1_050_000))];
        assert_eq!(
            allocate(10_000_000, MIN, &demands),
            vec![1_100_000, 1_050_000]
        );
    }

    #[test]
    fn a_starved_viewer_gets_what_is_left_after_every_floor() {
        // 2 MB/s for a startup (wants all) and a healthy viewer (wants 1.1 MB/s).
        let demands = [viewer(20, Some(1_100_000)), viewer(0, None)];
        let shares = allocate(2_000_000, MIN, &demands);
        assert_eq!(shares, vec![MEDIA, 2_000_000 - MEDIA]);
    }

    #[test]
    fn when_floors_exceed_the_budget_the_fullest_buffers_go_short() {
        let demands = [
            viewer(30, Some(1_000_000)),
            viewer(0, None),
            viewer(2, None),
        ];
        let shares = allocate(800_000, MIN, &demands);
        assert_eq!(shares, vec![800_000 - 2 * MEDIA, MEDIA, MEDIA]);
    }

    #[test]
    fn the_urgent_share_equally_up_to_their_wants_and_the_rest_goes_on() {
        let demands = [
            viewer(0, None),
            viewer(1, Some(500_000)),
            viewer(10, Some(2_000_000)),
        ];
        // Floors 3 x 375k; 1.875M left: the urgent two fill (the second to
        // its 500k), then the calm one gets the rest.
        let shares = allocate(3_000_000, MIN, &demands);
        assert_eq!(shares[1], 500_000);
        assert_eq!(shares[0] + shares[2], 3_000_000 - 500_000);
        assert_eq!(shares[2], MEDIA, "the calm viewer waits for the urgent one");
        let total: u64 = shares.iter().sum();
        assert!(total <= 3_000_000);
    }

    #[test]
    fn a_thousand_viewers_never_get_more_than_the_budget_or_their_want() {
        let mut seed = 0x2545_f491_u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for round in 0..20 {
            let demands: Vec<Demand> = (0..1000)
                .map(|_| Demand {
                    buffer: Duration::from_millis(next(40_000)),
                    floor: next(2) * (100_000 + next(500_000)),
                    want: (next(3) > 0).then(|| 100_000 + next(2_000_000)),
                })
                .collect();
            let budget = 50_000_000 + next(500_000_000);
            let shares = allocate(budget, MIN, &demands);
            assert!(shares.iter().sum::<u64>() <= budget, "round {round}");
            for (demand, share) in demands.iter().zip(&shares) {
                assert!(*share <= demand.want.unwrap_or(u64::MAX), "round {round}");
            }
        }
        let all_fit = [viewer(5, Some(1_000)), viewer(9, Some(2_000))];
        assert_eq!(allocate(3_000, MIN, &all_fit), vec![1_000, 2_000]);
    }

    #[test]
    fn slowed_is_below_the_cap_or_below_an_empty_buffers_pace() {
        assert!(slowed(&viewer(20, Some(1_100_000)), MEDIA, 3.2));
        assert!(!slowed(&viewer(20, Some(1_100_000)), 1_100_000, 3.2));
        assert!(slowed(&viewer(0, None), 1_000_000, 3.2));
        assert!(!slowed(&viewer(0, None), 1_200_000, 3.2));
    }

    #[test]
    fn the_shares_follow_responses_as_they_come_and_go() {
        let egress = Egress::new(2_000_000, MIN, Default::default());
        let (mut calm, share) = egress.join(viewer(20, Some(1_100_000)));
        assert_eq!(share, 1_100_000);
        let (starting, share) = egress.join(viewer(0, None));
        assert_eq!(share, 2_000_000 - MEDIA);
        assert_eq!(calm.moved(), Some(MEDIA));
        assert_eq!(calm.moved(), None, "seen once");
        assert_eq!(egress.allotted(), 2_000_000);
        drop(starting);
        assert_eq!(calm.moved(), Some(1_100_000));
        assert_eq!(calm.update(viewer(28, Some(1_000_000))), 1_000_000);
    }
}
