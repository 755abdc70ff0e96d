//! The policy plays plain MP4s by remuxing: driven over whole fixture files
//! with a simulated shell, what it asks to append must be an init segment
//! and fragments that an fMP4 reader accepts, covering the whole movie.

use caudal_media::index::{ContainerIndexer, Step};
use caudal_media::mp4::Fmp4Indexer;
use caudal_media::policy::{Action, Millis, Outcome, Policy, PolicyOptions};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/remux/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Serves every request from `file` at once, as a shell over a fast link;
/// returns what was appended (file bytes for raw appends are not expected).
fn play(file: &[u8]) -> (Vec<Vec<u8>>, Vec<Action>) {
    let mut p = Policy::new(PolicyOptions {
        goal: 1000.0,
        ..Default::default()
    });
    let mut now = Millis::ZERO;
    p.start(now);
    let mut appended = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..200 {
        let actions: Vec<Action> = std::iter::from_fn(|| p.poll_action()).collect();
        if actions.is_empty() {
            break;
        }
        for action in actions {
            match &action {
                Action::Fetch { id, range, .. } => {
                    now += 10.0;
                    let end = (range.end as usize).min(file.len());
                    p.handle_response(now, *id, 206, Some(file.len() as u64));
                    p.handle_data(now + 5.0, *id, &file[range.start as usize..end]);
                    p.handle_done(now + 5.0, *id, Outcome::Complete);
                }
                Action::AppendData(bytes) => appended.push(bytes.clone()),
                Action::Append { .. } => panic!("file bytes appended as they are"),
                Action::Fail { message, .. } => panic!("failed: {message}"),
                _ => {}
            }
            seen.push(action);
        }
        p.handle_playback(now, 0.0, &[], true, false);
    }
    (appended, seen)
}

fn check(name: &str, fragments: usize) {
    let file = fixture(name);
    let (appended, actions) = play(&file);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Configure { raw: false, .. })),
        "{name}: configured for repackaged appends"
    );
    assert!(
        actions.contains(&Action::EndOfStream),
        "{name}: reaches the end"
    );
    assert_eq!(
        appended.len(),
        1 + fragments,
        "{name}: init + every fragment"
    );
    let stream: Vec<u8> = appended.concat();
    let mut reader = Fmp4Indexer::new();
    assert_eq!(
        reader.feed(0, &stream, Some(stream.len() as u64)),
        Ok(Step::Ready)
    );
    let index = reader.index().expect("index of the remuxed stream");
    assert!(index.complete);
    assert_eq!(index.segments.len(), fragments, "{name}");
}

#[test]
fn a_faststart_mp4_with_b_frames_is_appended_as_init_and_fragments() {
    check("bframes.mp4", 3);
}

#[test]
fn an_mp4_with_moov_at_the_end_is_remuxed_after_fetching_its_tail() {
    check("moov-end.mp4", 3);
}

#[test]
fn audio_only_m4a_is_remuxed() {
    check("audio.m4a", 3);
}

/// Like [`play`], with small requests (the run and the tail's side request
/// both come in pieces) and the body of each response cut into `chunk`-byte
/// pieces: the fetches it made, in order, and what it appended.
fn play_in_pieces(
    file: &[u8],
    first_request: u64,
    chunk: usize,
) -> (Vec<std::ops::Range<u64>>, Vec<Vec<u8>>) {
    let mut p = Policy::new(PolicyOptions {
        goal: 1000.0,
        first_request,
        min_request: first_request,
        max_request: first_request,
        ..Default::default()
    });
    let mut now = Millis::ZERO;
    p.start(now);
    let (mut fetches, mut appended) = (Vec::new(), Vec::new());
    for _ in 0..500 {
        let actions: Vec<Action> = std::iter::from_fn(|| p.poll_action()).collect();
        if actions.is_empty() {
            break;
        }
        for action in actions {
            match &action {
                Action::Fetch { id, range, .. } => {
                    fetches.push(range.clone());
                    now += 10.0;
                    let end = (range.end as usize).min(file.len());
                    p.handle_response(now, *id, 206, Some(file.len() as u64));
                    for piece in file[range.start as usize..end].chunks(chunk) {
                        now += 1.0;
                        p.handle_data(now, *id, piece);
                    }
                    p.handle_done(now, *id, Outcome::Complete);
                }
                Action::AppendData(bytes) => appended.push(bytes.clone()),
                Action::Fail { message, .. } => panic!("failed: {message}"),
                _ => {}
            }
        }
        p.handle_playback(now, 0.0, &[], true, false);
    }
    (fetches, appended)
}

/// What a run makes of `name` in pieces: its fetches and a digest of what
/// it appended (count, bytes, byte sum).
fn digest(name: &str, first_request: u64, chunk: usize) -> (Vec<std::ops::Range<u64>>, [u64; 3]) {
    let (fetches, appended) = play_in_pieces(&fixture(name), first_request, chunk);
    let len = appended.iter().map(|a| a.len() as u64).sum();
    let sum = appended.iter().flatten().map(|&b| u64::from(b)).sum();
    (fetches, [appended.len() as u64, len, sum])
}

/// Recorded before the early bytes were held once (by the policy alone):
/// the `moov` at the end is fetched once, beside the run, then the run
/// goes on, exactly as when three owners held a copy each.
#[test]
fn a_moov_at_the_end_makes_the_same_fetches_and_appends_as_before() {
    assert_eq!(
        digest("moov-end.mp4", 4096, 1000),
        (
            vec![
                0..4096,
                25829..25837,
                25837..28869,
                4096..8192,
                8192..12288,
                12288..16384,
                16384..20480,
                20480..24576,
                24576..25829
            ],
            [4, 30638, 3503744]
        )
    );
    assert_eq!(
        digest("moov-end.mp4", 8192, 333),
        (
            vec![
                0..8192,
                25829..25837,
                25837..28869,
                8192..16384,
                16384..24576,
                24576..25829
            ],
            [4, 30638, 3503744]
        )
    );
}

#[test]
fn a_faststart_mp4_makes_the_same_fetches_and_appends_as_before() {
    assert_eq!(
        digest("bframes.mp4", 8192, 333),
        (
            vec![0..8192, 8192..16384, 16384..24576, 24576..29610],
            [4, 31247, 3557785]
        )
    );
    assert_eq!(
        digest("audio.m4a", 4096, 1000),
        (vec![0..4096, 4096..8192, 8192..10380], [4, 12241, 1346676])
    );
}
