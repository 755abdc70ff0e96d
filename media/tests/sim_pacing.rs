//! The control loop in the simulator: a server that paces each response by
//! the request's CMCD (Sammy's rule, `caudal_media::pace`) and says so in
//! CMSD. The player must not take the pace for a slow link — its estimate,
//! its request sizes and its startup stay those of an unpaced server — and
//! must not stall more. A server that paces silently shows what the loop
//! prevents: the estimate falls to the pace.

use caudal_media::sim::{BandwidthTrace, MediaProfile, Report, Scenario, ServerModel};

const MBIT: f64 = 1_000_000.0;

/// 3 Mbit/s media, 2 s units, 120 s, with a 40 ms RTT.
fn scenario(server: ServerModel, trace: BandwidthTrace) -> Scenario {
    Scenario {
        rtt_ms: 40.0,
        server,
        ..Scenario::new(
            MediaProfile::constant(120.0, 3.0 * MBIT, 2.0, 40_000),
            trace,
        )
    }
}

fn run(name: &str, s: &Scenario) -> Report {
    let report = s.run();
    println!(
        "{name}: {report}; paced {} of {} requests",
        report.paced_requests, report.requests
    );
    assert!(
        report.error.is_none() && report.anomalies.is_empty(),
        "{name}: {report:?}"
    );
    assert!(report.reached_end, "{name}: did not play to the end");
    report
}

#[test]
fn a_paced_response_is_not_taken_for_a_slow_link() {
    // 20 Mbit/s: the player's goal is about 7 s (its headroom is 6.7x),
    // so its requests carry a buffer the rule paces (at least 4 s).
    let link = BandwidthTrace::constant(20.0 * MBIT);
    let unpaced = run("unpaced", &scenario(ServerModel::default(), link.clone()));
    let paced = run(
        "paced, CMSD",
        &scenario(ServerModel::caudal_pacing(), link.clone()),
    );
    let silent = run(
        "paced, silent",
        &scenario(
            ServerModel {
                cmsd: false,
                ..ServerModel::caudal_pacing()
            },
            link,
        ),
    );
    assert_eq!(unpaced.paced_requests, 0);
    assert!(
        paced.paced_requests >= 3,
        "the server paced the healthy requests"
    );
    let estimate = |r: &Report| r.policy.throughput.expect("an estimate");
    assert!(
        estimate(&paced) >= 0.8 * estimate(&unpaced),
        "the estimate fell to the pace: {:.1} against {:.1} Mbit/s",
        estimate(&paced) / MBIT,
        estimate(&unpaced) / MBIT
    );
    assert!(
        paced.requests <= unpaced.requests + unpaced.requests / 5 + 1,
        "requests shrank: {} against {}",
        paced.requests,
        unpaced.requests
    );
    assert_eq!(paced.stalls, 0);
    let ttff = |r: &Report| r.ttff_ms.expect("started");
    assert!(
        ttff(&paced) <= ttff(&unpaced) + 1.0,
        "startup is never paced"
    );
    // Without CMSD the player believes the pace is the link.
    assert!(
        estimate(&silent) < 0.5 * estimate(&unpaced),
        "a silent pacer should have looked like a slow link: {:.1} Mbit/s",
        estimate(&silent) / MBIT
    );
}

#[test]
fn a_paced_viewer_rides_out_a_drop_to_half_the_media_rate() {
    // 10 Mbit/s, then 1.5 Mbit/s (half the media's rate) for 15 s at 40 s.
    let drop = BandwidthTrace::new(vec![
        (0.0, 10.0 * MBIT),
        (40.0, 1.5 * MBIT),
        (55.0, 10.0 * MBIT),
    ])
    .expect("a valid trace");
    let unpaced = run(
        "drop, unpaced",
        &scenario(ServerModel::default(), drop.clone()),
    );
    let paced = run("drop, paced", &scenario(ServerModel::caudal_pacing(), drop));
    assert!(paced.paced_requests > 0);
    assert!(
        paced.stalls <= unpaced.stalls,
        "pacing cost a stall: {} against {}",
        paced.stalls,
        unpaced.stalls
    );
}
