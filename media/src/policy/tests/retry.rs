//! Failed requests: retried with backoff, until the policy gives up.

use super::*;

#[test]
fn a_cut_request_is_retried_from_the_first_missing_byte_with_backoff() {
    let (mut p, t, in_flight) = playing_policy(PolicyOptions::default());
    let (id, range) = in_flight[0].clone();
    p.handle_response(t, id, 206, Some(FILE_LEN));
    p.handle_data(t + 10.0, id, &[0u8; 5000]);
    p.handle_done(
        t + 20.0,
        id,
        Outcome::NetworkError("connection reset".into()),
    );
    assert!(fetches(&drain(&mut p)).is_empty(), "not at once");
    let retry_at = p.poll_timeout().expect("a retry timer");
    assert!(retry_at > t + 20.0);
    p.handle_timeout(retry_at);
    let retried = fetches(&drain(&mut p));
    assert_eq!(
        retried[0].1.start,
        range.start + 5000,
        "no byte lost, none twice"
    );
    assert_eq!(p.stats().retries, 1);
}

#[test]
fn repeated_failures_end_in_one_network_error() {
    let (mut p, mut t, in_flight) = playing_policy(PolicyOptions {
        max_retries: 3,
        ..Default::default()
    });
    p.handle_done(t, in_flight[0].0, Outcome::NetworkError("refused".into()));
    let mut fails = 0;
    for _ in 0..10 {
        for action in drain(&mut p) {
            match action {
                Action::Fetch { id, .. } => {
                    p.handle_done(t, id, Outcome::NetworkError("refused".into()))
                }
                Action::Fail { code, .. } => {
                    assert_eq!(code, ErrorCode::Network);
                    fails += 1;
                }
                _ => {}
            }
        }
        if let Some(at) = p.poll_timeout() {
            t = at;
            p.handle_timeout(t);
        }
    }
    assert_eq!(fails, 1);
    assert_eq!(p.state(), State::Error);
}

#[test]
fn http_errors_fail_at_once_and_server_errors_are_retried() {
    // A 503: the same range again after a backoff, and a longer one after
    // a second 503.
    let (mut p, id, range) = started(PolicyOptions::default());
    p.handle_response(at(10.0), id, 503, None);
    assert!(fetches(&drain(&mut p)).is_empty(), "not at once");
    let first_retry = p.poll_timeout().expect("a retry timer");
    let first_wait = first_retry - at(10.0);
    assert!(first_wait > 0.0);
    p.handle_timeout(first_retry + -1.0);
    assert!(
        fetches(&drain(&mut p)).is_empty(),
        "not before the deadline"
    );
    p.handle_timeout(first_retry);
    let retried = fetches(&drain(&mut p));
    assert_eq!(retried.len(), 1, "one request again");
    assert_eq!(retried[0].1, range, "the same range");
    let failed_again = first_retry + 10.0;
    p.handle_response(failed_again, retried[0].0, 503, None);
    let second_retry = p.poll_timeout().expect("a second retry timer");
    assert!(
        second_retry - failed_again > first_wait,
        "the backoff grows: {} ms after {first_wait} ms",
        second_retry - failed_again
    );
    p.handle_timeout(second_retry);
    assert_eq!(fetches(&drain(&mut p))[0].1, range);
    assert_eq!(p.stats().retries, 2);
    assert_ne!(p.state(), State::Error);

    // A 404: given up at once.
    let (mut p, id, _) = started(PolicyOptions::default());
    p.handle_response(at(10.0), id, 404, None);
    let actions = drain(&mut p);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Fail {
            code: ErrorCode::Http,
            ..
        }
    )));
}
