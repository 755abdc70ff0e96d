//! Finding the index: a file too short for it, bytes that are not media,
//! and index bytes fetched from the end of the file.

use super::*;

#[test]
fn a_file_shorter_than_its_index_is_truncated() {
    let (mut p, id, _) = started(PolicyOptions::default());
    p.handle_response(at(10.0), id, 206, Some(FILE_LEN / 2));
    p.handle_data(at(20.0), id, &vec![0u8; 2000]);
    let actions = drain(&mut p);
    let fails: Vec<_> = actions
        .iter()
        .filter(|a| matches!(a, Action::Fail { .. }))
        .collect();
    assert_eq!(fails.len(), 1);
    assert!(matches!(
        fails[0],
        Action::Fail {
            code: ErrorCode::Truncated,
            ..
        }
    ));
}

#[test]
fn random_bytes_are_a_format_error() {
    let mut p = Policy::new(PolicyOptions::default());
    p.start(at(0.0));
    let (id, _) = fetches(&drain(&mut p))[0].clone();
    p.handle_response(at(10.0), id, 206, Some(100_000));
    p.handle_data(at(20.0), id, &[0x42; 4096]);
    let actions = drain(&mut p);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Fail {
            code: ErrorCode::Format,
            ..
        }
    )));
    assert_eq!(p.state(), State::Error);
}

/// Like [`FakeIndexer`], but its index is incomplete (no duration) until it
/// is fed the last 100 bytes of the file, which it asks for via `wants`.
struct TailIndexer {
    inner: FakeIndexer,
    tail_seen: bool,
}

impl ContainerIndexer for TailIndexer {
    fn feed(&mut self, offset: u64, data: &[u8], len: Option<u64>) -> Result<Step, MediaError> {
        if offset + data.len() as u64 == FILE_LEN && offset >= FILE_LEN - 100 {
            self.tail_seen = true;
            self.inner.index.complete = true;
            self.inner.index.duration = Some(60.0);
            return Ok(Step::Ready);
        }
        self.inner.feed(offset, data, len)
    }
    fn index(&self) -> Option<&MediaIndex> {
        self.inner.index()
    }
    fn wants(&self) -> Option<Range<u64>> {
        (!self.tail_seen && self.inner.ready).then_some(FILE_LEN - 100..FILE_LEN)
    }
}

#[test]
fn index_bytes_at_the_end_are_fetched_beside_the_media_run_and_set_the_duration() {
    let mut index = fake_index();
    index.complete = false;
    index.duration = None;
    let indexer = TailIndexer {
        inner: FakeIndexer {
            seen: 0,
            index,
            ready: false,
        },
        tail_seen: false,
    };
    let mut p = Policy::with_indexer(PolicyOptions::default(), Box::new(indexer));
    p.start(at(0.0));
    let (id, range) = fetches(&drain(&mut p))[0].clone();
    p.handle_response(at(10.0), id, 206, Some(FILE_LEN));
    p.handle_data(at(20.0), id, &vec![0u8; 2000]);
    let actions = drain(&mut p);
    let side: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Fetch {
                id,
                range,
                media: false,
                ..
            } => Some((*id, range.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        side.len(),
        1,
        "the tail is fetched while the first request runs: {actions:?}"
    );
    assert_eq!(side[0].1, FILE_LEN - 100..FILE_LEN);
    assert!(range.end > 2000, "the media request is still in flight");
    serve(&mut p, at(30.0), side[0].0, side[0].1.clone(), 8_000_000.0);
    let actions = drain(&mut p);
    assert!(actions.contains(&Action::SetDuration(60.0)), "{actions:?}");
}
