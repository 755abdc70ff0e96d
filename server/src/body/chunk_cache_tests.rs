//! Tests of [`super::ChunkCache`] and [`super::CachedFile`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use bytes::BytesMut;
use futures_util::StreamExt;

use super::*;
use crate::body::stream::{BodyStream, read_all};
use crate::body::{CHUNK, Segment};

const MIB: u64 = CACHE_CHUNK;

/// Deterministic bytes, different per seed.
fn content(len: u64, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn temp_file(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.bin");
    std::fs::write(&path, content).expect("write");
    (dir, path)
}

fn cached(path: &Path, cache: &Arc<ChunkCache>) -> CachedFile {
    CachedFile {
        file: OpenFile::open(path).expect("open"),
        cache: cache.clone(),
    }
}

fn new_cache(bound: u64) -> (Arc<ChunkCache>, ChunkCacheCounters) {
    let counters = ChunkCacheCounters::default();
    (Arc::new(ChunkCache::new(bound, counters.clone())), counters)
}

fn read(source: &CachedFile, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = BytesMut::new();
    source
        .read_into(offset, len, &mut buf)
        .map(|()| buf.to_vec())
}

#[test]
fn ranges_across_chunk_boundaries_are_exactly_the_files_bytes() {
    let data = content(3 * MIB + MIB / 2 + 7, 1);
    let (_dir, path) = temp_file(&data);
    let (cache, _) = new_cache(64 * MIB);
    let source = cached(&path, &cache);
    let len = data.len() as u64;
    for (offset, n) in [
        (0, 1),
        (MIB - 1, 2),
        (MIB - 100, 2 * MIB as usize + 200),
        (0, len as usize),
        (len - 1, 1),
        (3 * MIB, (len - 3 * MIB) as usize),
        (12345, CHUNK),
    ] {
        let want = &data[offset as usize..offset as usize + n];
        assert!(
            read(&source, offset, n).expect("read_into") == want,
            "{offset}+{n}"
        );
        let mut scratch = BytesMut::new();
        let piece = source
            .read_chunk(offset, n, &mut scratch)
            .expect("read_chunk");
        assert!(&piece[..] == want, "read_chunk {offset}+{n}");
        let segments = [Segment::Source(offset..=offset + n as u64 - 1)];
        assert!(&read_all(&source, &segments).expect("read_all")[..] == want);
    }
    let past = read(&source, len - 10, 11);
    assert!(past.is_err(), "a range past the end fails");

    // Streamed from an unaligned start: pieces end at chunk boundaries.
    let start = MIB / 3;
    let stream = BodyStream::new(source.clone(), vec![Segment::Source(start..=len - 1)]);
    let pieces = futures::executor::block_on(stream.collect::<Vec<_>>());
    let mut at = start;
    for piece in pieces {
        let piece = piece.expect("piece");
        let end = at + piece.len() as u64;
        assert!(piece.len() <= CHUNK);
        assert_eq!(
            at / MIB,
            (end - 1) / MIB,
            "piece {at}..{end} is in one chunk"
        );
        assert!(piece[..] == data[at as usize..end as usize]);
        at = end;
    }
    assert_eq!(at, len);
}

#[test]
fn a_piece_within_a_chunk_is_a_slice_of_it_not_a_copy() {
    let data = content(2 * MIB, 2);
    let (_dir, path) = temp_file(&data);
    let (cache, counters) = new_cache(64 * MIB);
    let source = cached(&path, &cache);
    let mut scratch = BytesMut::new();
    let first = source.read_chunk(1000, 500, &mut scratch).expect("read");
    let again = source.read_chunk(1100, 10, &mut scratch).expect("read");
    assert_eq!(
        again.as_ptr(),
        first[100..].as_ptr(),
        "both slice one chunk"
    );
    assert_eq!(scratch.capacity(), 0, "the scratch buffer was not used");
    let whole = read_all(&source, &[Segment::Source(1000..=1499)]).expect("read_all");
    assert_eq!(
        whole.as_ptr(),
        first.as_ptr(),
        "read_all of one range: no copy"
    );
    assert_eq!((counters.misses.get(), counters.hits.get()), (1, 2));
}

#[test]
fn a_file_replaced_by_rename_gets_fresh_chunks() {
    let old = content(2 * MIB, 3);
    let (dir, path) = temp_file(&old);
    let (cache, counters) = new_cache(64 * MIB);
    let before = cached(&path, &cache);
    assert!(read(&before, 0, 4096).expect("old") == old[..4096]);

    let new = content(2 * MIB, 4);
    let staged = dir.path().join("staged");
    std::fs::write(&staged, &new).expect("write new");
    std::fs::rename(&staged, &path).expect("rename over");
    let after = cached(&path, &cache);
    assert_ne!(before.file.identity(), after.file.identity());
    assert!(
        read(&after, 0, 4096).expect("new") == new[..4096],
        "new bytes"
    );
    assert!(
        read(&before, 0, 4096).expect("old") == old[..4096],
        "old handle, old bytes"
    );
    assert_eq!(counters.misses.get(), 2, "one fill per version");
}

#[test]
fn a_file_rewritten_in_place_and_opened_again_gets_fresh_chunks() {
    let old = content(MIB + 10, 8);
    let (_dir, path) = temp_file(&old);
    let (cache, counters) = new_cache(64 * MIB);
    let before = cached(&path, &cache);
    assert!(read(&before, 0, 4096).expect("old") == old[..4096]);
    // Same inode, new bytes and mtime (the length may match or not).
    let new = content(MIB + 10, 9);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let after = loop {
        std::fs::write(&path, &new).expect("rewrite in place");
        let after = cached(&path, &cache);
        if after.file.identity() != before.file.identity() {
            break after;
        }
        assert!(std::time::Instant::now() < deadline, "mtime never changed");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(before.file.identity().ino, after.file.identity().ino);
    assert!(
        read(&after, 0, 4096).expect("new") == new[..4096],
        "new bytes"
    );
    // The old handle still gets what was cached of its version (consistent
    // with the validators it sent), but nothing read since the rewrite.
    assert!(read(&before, 0, 10).expect("cached") == old[..10]);
    assert!(
        read(&before, MIB, 10).is_err(),
        "not filled from the new bytes"
    );
    assert_eq!(cache.chunks.len(), 2);
    assert_eq!(
        counters.misses.get(),
        2,
        "a fill of a changed file reads nothing"
    );
}

#[test]
fn a_fill_that_fails_is_not_cached_and_every_waiter_gets_the_error() {
    let data = content(2 * MIB, 5);
    let (_dir, path) = temp_file(&data);
    let (cache, counters) = new_cache(64 * MIB);
    let source = cached(&path, &cache);
    let mut writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("reopen");
    writer.write_all(b"grown in place").expect("append");

    let waiters = 8;
    let barrier = Barrier::new(waiters);
    let results: Vec<io::Result<Bytes>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..waiters)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    cache.chunk(&source.file, 0)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for result in results {
        let error = result.expect_err("a changed file fails");
        assert!(error.to_string().contains("file changed"), "{error}");
    }
    assert_eq!(cache.chunks.len(), 0, "nothing cached");
    assert_eq!(counters.bytes.get(), 0);
    assert_eq!(counters.hits.get() + counters.coalesced_waits.get(), 0);
    assert!(
        cache.chunk(&source.file, 0).is_err(),
        "fails again, not cached"
    );
}

#[test]
fn concurrent_requests_for_a_cold_chunk_read_it_once() {
    let data = content(MIB, 6);
    let (_dir, path) = temp_file(&data);
    let (cache, counters) = new_cache(64 * MIB);
    let source = cached(&path, &cache);
    let threads = 16;
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                barrier.wait();
                let chunk = cache.chunk(&source.file, 0).expect("chunk");
                assert!(chunk[..] == data[..]);
            });
        }
    });
    assert_eq!(counters.misses.get(), 1);
    assert_eq!(
        counters.hits.get() + counters.coalesced_waits.get(),
        threads as u64 - 1
    );
}

/// Requests that come while a fill is under way wait for it and read
/// nothing: the fill is held open here (its guard taken by the test).
#[test]
fn requests_during_a_fill_wait_for_it_instead_of_reading() {
    let data = content(MIB, 10);
    let (_dir, path) = temp_file(&data);
    let (cache, counters) = new_cache(64 * MIB);
    let source = cached(&path, &cache);
    let key = (*source.file.identity(), 0);
    let GuardResult::Guard(guard) = cache.chunks.get_value_or_guard(&key, None) else {
        panic!("a cold chunk has no value");
    };
    let finished = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let chunk = cache.chunk(&source.file, 0).expect("chunk");
                    finished.fetch_add(1, Ordering::SeqCst);
                    chunk
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(finished.load(Ordering::SeqCst), 0, "they wait for the fill");
        assert_eq!(counters.misses.get(), 0, "and do not read");
        let _ = guard.insert(Bytes::from(data.clone()));
        for waiter in waiters {
            assert!(waiter.join().expect("waiter")[..] == data[..]);
        }
    });
    assert_eq!(counters.coalesced_waits.get(), 4);
    assert_eq!((counters.misses.get(), counters.hits.get()), (0, 0));
}

#[test]
fn the_capacity_is_never_above_the_bound() {
    for bound in [
        MIN_BOUND,
        MIN_BOUND + 1,
        64 * MIB + 12345,
        1000 * MIB + 7,
        4 << 30,
    ] {
        let (cache, _) = new_cache(bound);
        assert!(cache.capacity() <= bound, "{bound}: {cache:?}");
        assert!(
            cache.capacity() + 64 >= bound,
            "{bound}: rounded by shards only"
        );
        let shard = cache.capacity() / cache.chunks.num_shards() as u64;
        assert!(shard as f64 * 0.97 >= MIB as f64, "a chunk fits a shard");
    }
}

/// Fills many chunks into a small cache from two threads while a third
/// samples what it holds: neither the cache's weight nor the gauge is ever
/// above the bound, not even for an instant around an insertion (the gauge's
/// high-water mark is taken right after each insert, before any later
/// eviction could bring it down).
#[test]
fn the_bytes_held_never_exceed_the_bound_and_evictions_are_counted() {
    let chunks = 24;
    let data = content(chunks * MIB - 1000, 7);
    let (_dir, path) = temp_file(&data);
    let bound = 4 * MIB + 4321;
    let (cache, counters) = new_cache(bound);
    let source = cached(&path, &cache);
    let done = AtomicBool::new(false);
    let sampled_max = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                max = max
                    .max(cache.chunks.weight())
                    .max(counters.bytes.get().max(0) as u64);
            }
            max
        });
        let fillers: Vec<_> = (0..2)
            .map(|half| {
                let (cache, source, counters) = (&cache, &source, &counters);
                scope.spawn(move || {
                    for index in (half..chunks).step_by(2) {
                        cache.chunk(&source.file, index).expect("fill");
                        assert!(cache.chunks.weight() <= bound);
                        assert!(counters.bytes.get() <= bound as i64);
                    }
                })
            })
            .collect();
        for filler in fillers {
            filler.join().expect("filler");
        }
        done.store(true, Ordering::Relaxed);
        sampler.join().expect("sampler")
    });
    assert!(sampled_max <= bound, "held {sampled_max} > {bound}");
    let peak = cache.peak.load(Ordering::Relaxed);
    assert!(peak <= bound as i64, "peak {peak} > {bound}");
    assert!(peak >= 3 * MIB as i64, "the cache did fill up: {peak}");
    assert_eq!(counters.misses.get(), chunks);
    let resident = cache.chunks.len() as u64;
    assert_eq!(counters.evictions.get(), chunks - resident);
    assert!(counters.evictions.get() >= chunks - 4);
    assert_eq!(counters.bytes.get(), cache.chunks.weight() as i64);
    // The bytes read back are still the file's, evicted or not.
    assert!(read(&source, 0, data.len()).expect("read") == data);
}
