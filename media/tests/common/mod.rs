//! Helpers shared by the container readers' tests.

use caudal_media::index::{ContainerIndexer, MediaIndex, Step};

/// What a player does: feed `chunk` bytes at a time from 0, jump where the
/// indexer asks, keep feeding after an incomplete `Ready`. Returns the index
/// and the offsets of the jumps (NeedBytes that were not contiguous).
pub fn drive(
    mut ix: impl ContainerIndexer,
    file: &[u8],
    chunk: usize,
    file_len: Option<u64>,
) -> (MediaIndex, Vec<u64>) {
    let len = file.len() as u64;
    let mut pos = 0u64;
    let mut jumps = Vec::new();
    for _ in 0..10_000_000 {
        let end = (pos + chunk as u64).min(len);
        let step = ix
            .feed(pos, &file[pos as usize..end as usize], file_len)
            .expect("valid file");
        match step {
            Step::NeedBytes { offset, len } => {
                assert!(len > 0);
                if offset != end {
                    jumps.push(offset);
                }
                pos = offset;
            }
            Step::Pending => panic!("the readers of this crate never wait on code"),
            // A reader that took over (plain MP4): it reads from there again.
            Step::Replay { from } => pos = from,
            Step::Ready => {
                let index = ix.index().expect("index after Ready");
                if index.complete || end == len {
                    return (index.clone(), jumps);
                }
                pos = end;
            }
        }
    }
    panic!("indexer did not finish");
}
