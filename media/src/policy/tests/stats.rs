//! `stats()`: what it reports is what the policy decides on.

use super::*;

/// On loopback a 512 KiB response arrives in well under a millisecond, in
/// pieces a few microseconds apart: the link must still be known, and the
/// figure `stats()` shows must be the one each request was sized by
/// (`request_seconds` of it, within the request bounds).
#[test]
fn on_a_fast_link_stats_report_the_throughput_requests_are_sized_by() {
    let options = PolicyOptions {
        goal: 1000.0,
        // Requests small enough that the sizing rule, not the file's end or
        // the bounds, decides their length.
        request_seconds: 0.02,
        ..Default::default()
    };
    let mut p = policy(options.clone());
    p.start(at(0.0));
    // The open-ended first request breaks after 600 kB: from then on every
    // request is sized.
    let (first, _) = fetches(&drain(&mut p))[0].clone();
    p.handle_response(Millis::ZERO, first, 206, Some(FILE_LEN));
    let mut t = deliver(&mut p, Millis::ZERO, first, 0..600_000, 10_000_000_000.0);
    p.handle_done(t, first, Outcome::NetworkError("reset".into()));
    t = p.poll_timeout().expect("a retry");
    p.handle_timeout(t);
    let mut pending = fetches(&drain(&mut p));
    let mut sized = 0;
    while let Some((id, range)) = pending.pop() {
        // Playback keeps just behind the cursor: the goal never binds.
        let position = (seconds_fetched(range.start) - 2.0).max(0.0);
        p.handle_playback(t, position, &[0.0..60.0], false, false);
        t = serve(&mut p, t, id, range, 10_000_000_000.0);
        let throughput = p.stats().throughput;
        for (id, range) in fetches(&drain(&mut p)) {
            let bps = throughput.expect("stats().throughput once a response has ended");
            let rule = ((bps / 8.0 * options.request_seconds) as u64)
                .clamp(options.min_request, options.max_request);
            if range.end < FILE_LEN {
                assert_eq!(range.end - range.start, rule, "{range:?} at {bps} bit/s");
                sized += 1;
            }
            pending.push((id, range));
        }
    }
    assert!(sized >= 5, "only {sized} requests were sized by the link");
    // The whole file came over a fast link: the figure says so (it is a
    // lower bound, the first response's bytes over 50 ms).
    let bps = p.stats().throughput.expect("throughput");
    assert!(bps > 50_000_000.0, "{bps} bit/s");
}
