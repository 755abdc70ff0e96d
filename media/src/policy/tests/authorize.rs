//! Signed URLs: a refused request ends in one error, or — with the page's
//! `authorize` — in one new URL and the same bytes fetched again; a token
//! about to expire is replaced before it does.

use super::*;

fn with_authorize() -> PolicyOptions {
    PolicyOptions {
        authorize: true,
        ..Default::default()
    }
}

fn fails(actions: &[Action]) -> Vec<ErrorCode> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Fail { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}

fn authorizations(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Authorize))
        .count()
}

#[test]
fn a_bad_token_without_authorize_ends_in_one_forbidden_error_and_no_retry() {
    let (mut p, id, _) = started(PolicyOptions::default());
    p.handle_refused(at(10.0), id, "forbidden\n");
    let actions = drain(&mut p);
    assert_eq!(fails(&actions), vec![ErrorCode::Forbidden]);
    assert!(fetches(&actions).is_empty());
    assert_eq!(p.poll_timeout(), None, "no retry timer");
    assert_eq!(p.state(), State::Error);
}

#[test]
fn an_expired_token_without_authorize_ends_in_one_expired_error() {
    let (mut p, t, in_flight) = playing_policy(PolicyOptions::default());
    // Mid-playback (the shell's next request, refused as this one).
    p.handle_refused(t + 5.0, in_flight[0].0, "forbidden: token expired\n");
    let actions = drain(&mut p);
    assert_eq!(fails(&actions), vec![ErrorCode::Expired]);
    assert_eq!(authorizations(&actions), 0);
}

#[test]
fn an_expired_token_with_authorize_asks_once_then_fetches_the_same_bytes_again() {
    let (mut p, id, range) = started(with_authorize());
    p.handle_refused(at(10.0), id, "forbidden: token expired");
    let actions = drain(&mut p);
    assert_eq!(authorizations(&actions), 1);
    assert!(fails(&actions).is_empty());
    assert!(
        fetches(&actions).is_empty(),
        "nothing fetched before the new URL"
    );
    p.handle_timeout(at(5000.0));
    assert!(
        fetches(&drain(&mut p)).is_empty(),
        "still waiting on the page"
    );
    p.handle_authorized(at(20.0), Ok(None));
    let again = fetches(&drain(&mut p));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1, range, "the same bytes, from the new URL");
    serve(&mut p, at(30.0), again[0].0, again[0].1.clone(), LINK);
    assert_ne!(p.state(), State::Error);
}

#[test]
fn a_new_url_refused_again_ends_in_one_error_not_a_loop() {
    let (mut p, id, _) = started(with_authorize());
    p.handle_refused(at(10.0), id, "forbidden: token expired");
    assert_eq!(authorizations(&drain(&mut p)), 1);
    p.handle_authorized(at(20.0), Ok(None));
    let (id, _) = fetches(&drain(&mut p))[0].clone();
    p.handle_refused(at(30.0), id, "forbidden: token expired");
    let actions = drain(&mut p);
    assert_eq!(fails(&actions), vec![ErrorCode::Expired]);
    assert_eq!(authorizations(&actions), 0);
    let mut t = at(30.0);
    for _ in 0..5 {
        t += 10_000.0;
        p.handle_timeout(t);
        assert!(drain(&mut p).is_empty(), "nothing more after the error");
    }
}

#[test]
fn a_bad_token_with_authorize_is_final_unless_the_url_came_from_authorize() {
    let (mut p, id, _) = started(with_authorize());
    p.handle_refused(at(10.0), id, "forbidden");
    let actions = drain(&mut p);
    assert_eq!(fails(&actions), vec![ErrorCode::Forbidden]);
    assert_eq!(authorizations(&actions), 0);
}

#[test]
fn authorize_that_fails_after_a_refusal_ends_in_one_error() {
    let (mut p, id, _) = started(with_authorize());
    p.handle_refused(at(10.0), id, "forbidden: token not yet valid");
    drain(&mut p);
    p.handle_authorized(at(20.0), Err("the page threw".into()));
    let actions = drain(&mut p);
    assert_eq!(fails(&actions), vec![ErrorCode::Expired]);
}

#[test]
fn a_token_is_refreshed_ahead_of_its_expiry_while_fetching_goes_on() {
    let (mut p, t, in_flight) = playing_policy(with_authorize());
    p.set_token_expiry(t, Some(t + 8000.0));
    assert_eq!(p.poll_timeout(), Some(t + 4000.0));
    p.handle_timeout(t + 4000.0);
    let actions = drain(&mut p);
    assert_eq!(authorizations(&actions), 1);
    assert!(p.is_live(in_flight[0].0), "the request in flight goes on");
    p.handle_timeout(t + 4500.0);
    assert_eq!(authorizations(&drain(&mut p)), 0, "asked once");
    p.handle_authorized(t + 4100.0, Ok(Some(t + 12_100.0)));
    assert_eq!(
        p.poll_timeout(),
        Some(t + 8100.0),
        "the next one, ahead again"
    );
    assert!(fails(&drain(&mut p)).is_empty());
}

#[test]
fn a_refusal_while_a_refresh_is_on_its_way_waits_for_it() {
    let (mut p, t, in_flight) = playing_policy(with_authorize());
    p.set_token_expiry(t, Some(t + 8000.0));
    p.handle_timeout(t + 4000.0);
    assert_eq!(authorizations(&drain(&mut p)), 1);
    p.handle_refused(t + 4100.0, in_flight[0].0, "forbidden: token expired");
    let actions = drain(&mut p);
    assert_eq!(authorizations(&actions), 0, "the answer on its way will do");
    assert!(fails(&actions).is_empty());
    p.handle_authorized(t + 4200.0, Ok(Some(t + 12_200.0)));
    assert_eq!(
        fetches(&drain(&mut p)).len(),
        1,
        "fetched again from the new URL"
    );
}

#[test]
fn a_plain_403_to_a_shell_that_reads_no_body_is_forbidden() {
    let (mut p, id, _) = started(PolicyOptions::default());
    p.handle_response(at(10.0), id, 403, None);
    assert_eq!(fails(&drain(&mut p)), vec![ErrorCode::Forbidden]);
}

#[test]
fn authorize_that_never_answers_after_a_refusal_ends_in_one_error() {
    let (mut p, id, _) = started(with_authorize());
    p.handle_refused(at(10.0), id, "forbidden: token expired");
    drain(&mut p);
    let deadline = p.poll_timeout().expect("a deadline for the answer");
    assert!(deadline > at(5000.0), "the page has time to answer");
    p.handle_timeout(at(5000.0));
    assert_ne!(
        p.state(),
        State::Error,
        "no error while the page may answer"
    );
    p.handle_timeout(deadline);
    assert_eq!(fails(&drain(&mut p)), vec![ErrorCode::Expired]);
    p.handle_authorized(deadline + 5.0, Ok(None));
    assert!(drain(&mut p).is_empty(), "a late answer changes nothing");
}
