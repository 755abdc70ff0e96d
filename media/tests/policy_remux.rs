//! The policy plays plain MP4s by remuxing: driven over whole fixture files
//! with a simulated shell, what it asks to append must be an init segment
//! and fragments that an fMP4 reader accepts, covering the whole movie.

use std::cell::Cell;
use std::rc::Rc;

use caudal_media::index::{ContainerIndexer, MediaError, MediaIndex, PlainMp4, Repackager, Step};
use caudal_media::mp4::Fmp4Indexer;
use caudal_media::policy::{Action, Millis, OPEN_END, Outcome, Policy, PolicyOptions};
use caudal_media::remux::{Mp4Remuxer, PlanOptions, StreamOptions};

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
                Action::AppendInit(bytes) | Action::AppendData(bytes) => {
                    appended.push(bytes.clone())
                }
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
/// pieces: the fetches it made, in order, and what it appended. The
/// remuxer outputs whole fragments only (as before small first chunks).
fn play_in_pieces(
    file: &[u8],
    first_request: u64,
    chunk: usize,
) -> (Vec<std::ops::Range<u64>>, Vec<Vec<u8>>) {
    let mut p = in_pieces(first_request);
    p.set_plain_mp4(Some(whole_fragments()));
    p.start(Millis::ZERO);
    serve(&mut p, Millis::ZERO, file, chunk)
}

/// A policy that asks for `request` bytes at a time.
fn in_pieces(request: u64) -> Policy {
    Policy::new(PolicyOptions {
        goal: 1000.0,
        first_request: request,
        min_request: request,
        max_request: request,
        ..Default::default()
    })
}

/// The plain-MP4 reader with one output per planned fragment.
fn whole_fragments() -> PlainMp4 {
    Box::new(|_| {
        Box::new(Mp4Remuxer::with_stream_options(
            PlanOptions::default(),
            StreamOptions::WHOLE_FRAGMENTS,
        ))
    })
}

/// Serves what `p` asks until it asks nothing more, each body in
/// `chunk`-byte pieces: the fetches, in order, and what was appended.
fn serve(
    p: &mut Policy,
    now: Millis,
    file: &[u8],
    chunk: usize,
) -> (Vec<std::ops::Range<u64>>, Vec<Vec<u8>>) {
    let (fetches, appended) = serve_noting(p, now, file, chunk);
    (fetches, appended.into_iter().map(|(_, a)| a).collect())
}

/// An append, and the end of the file bytes delivered when it was asked for.
type Noted = (u64, Vec<u8>);

/// [`serve`], noting with each append the end of the file bytes delivered
/// when it was asked for.
fn serve_noting(
    p: &mut Policy,
    mut now: Millis,
    file: &[u8],
    chunk: usize,
) -> (Vec<std::ops::Range<u64>>, Vec<Noted>) {
    let (mut fetches, mut appended) = (Vec::new(), Vec::new());
    let mut delivered = 0;
    let mut todo = std::collections::VecDeque::new();
    for _ in 0..5000 {
        todo.extend(std::iter::from_fn(|| p.poll_action()));
        let Some(action) = todo.pop_front() else {
            // Idle: the shell reports playback, which may start more.
            p.handle_playback(now, 0.0, &[], true, false);
            todo.extend(std::iter::from_fn(|| p.poll_action()));
            if todo.is_empty() {
                break;
            }
            continue;
        };
        match action {
            Action::Fetch { id, range, .. } => {
                fetches.push(range.clone());
                now += 10.0;
                let end = (range.end as usize).min(file.len());
                p.handle_response(now, id, 206, Some(file.len() as u64));
                delivered = range.start;
                for piece in file[range.start as usize..end].chunks(chunk) {
                    now += 1.0;
                    p.handle_data(now, id, piece);
                    delivered += piece.len() as u64;
                    // What these bytes asked for, before the next ones.
                    todo.extend(std::iter::from_fn(|| p.poll_action()));
                    for a in std::mem::take(&mut todo) {
                        match a {
                            Action::AppendInit(bytes) | Action::AppendData(bytes) => {
                                appended.push((delivered, bytes))
                            }
                            other => todo.push_back(other),
                        }
                    }
                }
                p.handle_done(now, id, Outcome::Complete);
            }
            Action::AppendInit(bytes) | Action::AppendData(bytes) => {
                appended.push((delivered, bytes))
            }
            Action::Fail { message, .. } => panic!("failed: {message}"),
            _ => {}
        }
    }
    (fetches, appended)
}

/// What a run makes of `name` in pieces: its fetches and a digest of what
/// it appended (count, bytes, byte sum).
fn digest(name: &str, first_request: u64, chunk: usize) -> (Vec<std::ops::Range<u64>>, [u64; 3]) {
    let (fetches, appended) = play_in_pieces(&fixture(name), first_request, chunk);
    (fetches, bytes_digest(&appended))
}

/// Recorded before the early bytes were held once (by the policy alone)
/// and before small first chunks: with them off, the very same appends.
/// The fetches changed once, when the first request became open-ended:
/// a `moov` at the end is fetched beside the run, which is ended once it
/// brought `first_request` bytes that cannot be appended yet and goes on
/// from there (no byte twice); a faststart file comes in the one request.
#[test]
fn a_moov_at_the_end_makes_the_same_appends_as_before() {
    assert_eq!(
        digest("moov-end.mp4", 4096, 1000),
        (
            vec![
                0..OPEN_END,
                25829..25837,
                25837..28869,
                5000..9096,
                9096..13192,
                13192..17288,
                17288..21384,
                21384..25480,
                25480..25829
            ],
            [4, 30638, 3503744]
        )
    );
    let (fetches, appended) = digest("moov-end.mp4", 8192, 333);
    assert_eq!(appended, [4, 30638, 3503744]);
    assert_eq!(fetches[0], 0..OPEN_END);
    assert_eq!(fetches[1..3], [25829..25837, 25837..28869]);
    // The run goes on from where its first request was ended.
    assert!(
        (8192..8192 + 333).contains(&fetches[3].start),
        "{fetches:?}"
    );
}

#[test]
fn a_faststart_mp4_makes_the_same_appends_as_before() {
    let one_request = std::iter::once(0..OPEN_END);
    assert_eq!(
        digest("bframes.mp4", 8192, 333),
        (one_request.clone().collect(), [4, 31247, 3557785])
    );
    assert_eq!(
        digest("audio.m4a", 4096, 1000),
        (one_request.collect(), [4, 12241, 1346676])
    );
}

/// The plain-MP4 reader as the player has it (the remux bridge): its code
/// loads later. Until then it keeps nothing of what it is fed; once loaded
/// it asks to be fed everything again, and reads with this crate's remuxer.
struct LoadsLater {
    loaded: Rc<Cell<bool>>,
    replayed: bool,
    remuxer: Box<dyn ContainerIndexer>,
}

impl ContainerIndexer for LoadsLater {
    fn feed(&mut self, offset: u64, data: &[u8], len: Option<u64>) -> Result<Step, MediaError> {
        if !self.loaded.get() {
            return Ok(Step::Pending);
        }
        if !self.replayed {
            self.replayed = true;
            return Ok(Step::Replay { from: 0 });
        }
        self.remuxer.feed(offset, data, len)
    }
    fn index(&self) -> Option<&MediaIndex> {
        self.remuxer.index()
    }
    fn start(&self) -> f64 {
        self.remuxer.start()
    }
    fn take_repackager(&mut self) -> Option<Box<dyn Repackager>> {
        self.remuxer.take_repackager()
    }
}

fn bytes_digest(appended: &[Vec<u8>]) -> [u64; 3] {
    let len = appended.iter().map(|a| a.len() as u64).sum();
    let sum = appended.iter().flatten().map(|&b| u64::from(b)).sum();
    [appended.len() as u64, len, sum]
}

#[test]
fn bytes_fetched_before_the_index_are_held_once_by_the_policy_while_the_remuxer_loads() {
    let file = fixture("moov-end.mp4");
    let loaded = Rc::new(Cell::new(false));
    let mut p = in_pieces(4096);
    let flag = loaded.clone();
    p.set_plain_mp4(Some(Box::new(move |_| {
        Box::new(LoadsLater {
            loaded: flag,
            replayed: false,
            remuxer: whole_fragments()(caudal_media::index::Reader::PlainMp4),
        })
    })));
    p.start(Millis::ZERO);
    let (_, appended) = serve(&mut p, Millis::ZERO, &file, 1000);
    assert!(appended.is_empty(), "nothing to append before the remuxer");
    let stats = p.stats();
    assert!(stats.bytes_fetched > 25_000, "the run and the moov came");
    // The reader kept nothing: every byte fetched is held, once, here.
    assert_eq!(stats.bytes_held, stats.bytes_fetched);

    loaded.set(true);
    p.handle_indexer_progress(Millis::ZERO + 1000.0);
    let (_, appended) = serve(&mut p, Millis::ZERO + 1000.0, &file, 1000);
    assert_eq!(
        bytes_digest(&appended),
        digest("moov-end.mp4", 4096, 1000).1,
        "the same appends as with a reader linked in"
    );
    assert_eq!(p.stats().bytes_held, 0, "let go once the index is known");
}

/// The default reader cuts the first fragment into pieces: the policy
/// hands each on as it comes, the first well before the first fragment's
/// bytes are all in; the fetches are those of whole fragments.
#[test]
fn the_policy_appends_the_first_piece_before_the_first_fragment_is_in() {
    let file = fixture("bframes.mp4");
    let first_span = {
        let mut r = Mp4Remuxer::new(PlanOptions::default());
        r.feed(0, &file, Some(file.len() as u64)).expect("indexes");
        r.index().expect("index").segments[0].bytes.clone()
    };
    let mut p = in_pieces(4096);
    p.start(Millis::ZERO);
    let (fetches, appended) = serve_noting(&mut p, Millis::ZERO, &file, 333);
    // init, four pieces of the first fragment (200 ms, then 250 ms at a
    // time, then the rest), two whole fragments
    let at: Vec<u64> = appended.iter().map(|(at, _)| *at).collect();
    assert_eq!(appended.len(), 1 + 4 + 2, "{at:?}");
    let half = first_span.start + (first_span.end - first_span.start) / 2;
    assert!(
        at[1] < half,
        "first piece at {at:?}, fragment {first_span:?}"
    );
    assert_eq!(fetches, digest("bframes.mp4", 4096, 333).0);
    let stream: Vec<u8> = appended.into_iter().flat_map(|(_, a)| a).collect();
    let mut reader = Fmp4Indexer::new();
    assert_eq!(
        reader.feed(0, &stream, Some(stream.len() as u64)),
        Ok(Step::Ready)
    );
    let index = reader.index().expect("index of the remuxed stream");
    assert_eq!(index.segments.len(), 6, "a unit per moof");
    assert_eq!(index.duration, Some(3.0));
}
