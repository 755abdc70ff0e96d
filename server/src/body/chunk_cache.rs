//! A chunk cache shared by every response: aligned 1 MiB chunks
//! ([`CACHE_CHUNK`]) of one *version* of a file, keyed by its
//! [`FileIdentity`] (device, inode, size, mtime) and the chunk's index, so a
//! file replaced by rename or written in place gets fresh chunks and never
//! serves old ones under new validators. The values are [`Bytes`]: a response
//! takes a slice of a chunk without copying it.
//!
//! **Why `quick_cache` and not `moka`.** The cache must never hold more than
//! `--cache-mem`. moka's sync cache applies inserts and size-based eviction
//! in its housekeeping, which runs once enough writes are pending (64) or a
//! while has passed: until then it holds more than `max_capacity`.
//! `quick_cache` evicts inside the insert, under the shard's lock, so no
//! caller ever sees a shard above its capacity. Its capacity is split over
//! shards (each `ceil(total / shards)`), so [`ChunkCache::new`] picks the
//! shard count and rounds the bound down to a multiple of it: the sum of the
//! shards' capacities is then at most the bound. Its placeholders coalesce:
//! one fill per chunk however many requests want it at once.
//!
//! **Fills read on the calling thread.** A miss is a synchronous `pread` on
//! the tokio worker, as the server already reads files (nginx without
//! `aio threads`): media being served is hot in the page cache. Requests
//! that want a chunk being filled block on that fill (a read of 1 MiB at
//! most), never on I/O of their own.
//!
//! **A fill that fails is not cached.** A fill checks the file's identity
//! before and after its read ([`OpenFile::read_into`]); a file changed in
//! place fails the fill, nothing is inserted, and each waiter in turn
//! becomes the filler and fails the same way — at the cost of one `fstat`,
//! since the identity is checked before reading.
//!
//! What is bounded is the chunks the cache holds; a chunk evicted while a
//! response still sends a slice of it lives until that response drops it.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::{Bytes, BytesMut};
use quick_cache::sync::{Cache, GuardResult};
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};

use super::ByteSource;
use super::file::OpenFile;
use crate::engine::validators::FileIdentity;
use crate::metrics::ChunkCacheCounters;

/// Size of a cached chunk; chunk `i` holds bytes `[i * CACHE_CHUNK, (i + 1) * CACHE_CHUNK)`.
pub const CACHE_CHUNK: u64 = 1024 * 1024;

/// The smallest bound a cache can have: two chunks, so that a chunk always
/// fits a shard's admission budget (quick_cache refuses an item heavier
/// than 97 % of its shard).
pub const MIN_BOUND: u64 = 2 * CACHE_CHUNK;

/// Chunks a shard holds at least, as quick_cache advises (32 items).
const ITEMS_PER_SHARD: u64 = 32;

/// One chunk of one version of a file.
type Key = (FileIdentity, u64);

/// A chunk weighs its length in bytes.
#[derive(Debug, Clone, Copy)]
struct ByLength;

impl Weighter<Key, Bytes> for ByLength {
    fn weight(&self, _key: &Key, chunk: &Bytes) -> u64 {
        chunk.len() as u64
    }
}

/// Counts evictions and keeps the bytes-held gauge. An eviction runs inside
/// the insert that caused it, before that insert returns (and before its
/// bytes are added), so the gauge never reads above what the cache holds.
#[derive(Debug, Clone)]
struct Accounting {
    counters: ChunkCacheCounters,
}

impl Lifecycle<Key, Bytes> for Accounting {
    /// Up to two evicted chunks, freed after the shard's lock is released.
    type RequestState = [Option<Bytes>; 2];

    fn on_evict(&self, state: &mut Self::RequestState, _key: Key, chunk: Bytes) {
        self.counters.evictions.inc();
        self.counters.bytes.dec_by(chunk.len() as i64);
        if let Some(slot) = state.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(chunk);
        }
    }
}

/// Chunks of files shared by every response, bounded by bytes.
pub struct ChunkCache {
    chunks: Cache<Key, Bytes, ByLength, DefaultHashBuilder, Accounting>,
    counters: ChunkCacheCounters,
    /// The most bytes ever held (the gauge's high-water mark).
    peak: AtomicI64,
}

impl std::fmt::Debug for ChunkCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCache")
            .field("capacity", &self.chunks.capacity())
            .field("held", &self.chunks.weight())
            .finish_non_exhaustive()
    }
}

impl ChunkCache {
    /// A cache holding at most `bound` bytes of chunks (at least
    /// [`MIN_BOUND`]), counting into `counters`.
    pub fn new(bound: u64, counters: ChunkCacheCounters) -> ChunkCache {
        let bound = bound.max(MIN_BOUND);
        let items = bound / CACHE_CHUNK;
        let parallelism = std::thread::available_parallelism().map_or(4, |n| n.get() as u64);
        let most = (items / ITEMS_PER_SHARD).clamp(1, parallelism * 4);
        // A power of two (quick_cache rounds up to one), at most `most`.
        let shards = 1u64 << most.ilog2();
        let options = OptionsBuilder::new()
            .shards(shards as usize)
            .estimated_items_capacity(items as usize)
            // A multiple of the shard count: the shards' capacities add up to it.
            .weight_capacity(bound - bound % shards)
            .build();
        let options = match options {
            Ok(options) => options,
            // Only a missing capacity or item estimate fails, and both are set.
            Err(error) => unreachable!("chunk cache options: {error}"),
        };
        let accounting = Accounting {
            counters: counters.clone(),
        };
        ChunkCache {
            chunks: Cache::with_options(
                options,
                ByLength,
                DefaultHashBuilder::default(),
                accounting,
            ),
            counters,
            peak: AtomicI64::new(0),
        }
    }

    /// The most bytes of chunks the cache can hold.
    pub fn capacity(&self) -> u64 {
        self.chunks.capacity()
    }

    /// Chunk `index` of `file`'s version: cached, filled by another request
    /// meanwhile, or read now.
    pub fn chunk(&self, file: &OpenFile, index: u64) -> io::Result<Bytes> {
        let key = (*file.identity(), index);
        if let Some(chunk) = self.chunks.get(&key) {
            self.counters.hits.inc();
            return Ok(chunk);
        }
        match self.chunks.get_value_or_guard(&key, None) {
            GuardResult::Value(chunk) => {
                self.counters.coalesced_waits.inc();
                Ok(chunk)
            }
            GuardResult::Guard(guard) => {
                // Dropping the guard on an error hands the fill to a waiter.
                let chunk = self.fill(file, index)?;
                let len = chunk.len() as i64;
                if guard.insert(chunk.clone()).is_ok() {
                    let held = self.counters.bytes.inc_by(len) + len;
                    self.peak.fetch_max(held, Ordering::Relaxed);
                }
                Ok(chunk)
            }
            // No timeout was asked for: a waiter waits for the fill.
            GuardResult::Timeout => Err(io::Error::other("chunk cache wait timed out")),
        }
    }

    /// Reads chunk `index` of `file`, if the file is still that version.
    fn fill(&self, file: &OpenFile, index: u64) -> io::Result<Bytes> {
        file.check_unchanged()?;
        let start = index * CACHE_CHUNK;
        if start >= file.len() {
            // An empty chunk would weigh nothing, and quick_cache never evicts those.
            return Err(short_file());
        }
        let len = file.len().saturating_sub(start).min(CACHE_CHUNK) as usize;
        self.counters.misses.inc();
        let mut chunk = BytesMut::with_capacity(len);
        file.read_into(start, len, &mut chunk)?;
        Ok(chunk.freeze())
    }
}

/// A file read through the shared chunk cache.
#[derive(Debug, Clone)]
pub struct CachedFile {
    pub file: OpenFile,
    pub cache: Arc<ChunkCache>,
}

impl ByteSource for CachedFile {
    fn read_into(&self, offset: u64, len: usize, buf: &mut BytesMut) -> io::Result<()> {
        let start = buf.len();
        let end = offset + len as u64;
        let mut at = offset;
        while at < end {
            let index = at / CACHE_CHUNK;
            let chunk = match self.cache.chunk(&self.file, index) {
                Ok(chunk) => chunk,
                Err(error) => {
                    buf.truncate(start);
                    return Err(error);
                }
            };
            let from = (at - index * CACHE_CHUNK) as usize;
            let to = (end.min((index + 1) * CACHE_CHUNK) - index * CACHE_CHUNK) as usize;
            let Some(piece) = chunk.get(from..to) else {
                buf.truncate(start);
                return Err(short_file());
            };
            buf.extend_from_slice(piece);
            at = index * CACHE_CHUNK + to as u64;
        }
        Ok(())
    }

    /// A piece within one chunk is a slice of it, without a copy.
    fn read_chunk(&self, offset: u64, len: usize, scratch: &mut BytesMut) -> io::Result<Bytes> {
        let index = offset / CACHE_CHUNK;
        let from = (offset - index * CACHE_CHUNK) as usize;
        if len == 0 || from + len > CACHE_CHUNK as usize {
            self.read_into(offset, len, scratch)?;
            return Ok(scratch.split().freeze());
        }
        let chunk = self.cache.chunk(&self.file, index)?;
        if from + len > chunk.len() {
            return Err(short_file());
        }
        Ok(chunk.slice(from..from + len))
    }

    /// Pieces end at chunk boundaries, so each is one slice of one chunk.
    fn piece_len(&self, offset: u64, len: usize) -> usize {
        let to_boundary = CACHE_CHUNK - offset % CACHE_CHUNK;
        len.min(to_boundary as usize)
    }
}

/// A range past the end of the version cached: the plan never asks for one.
fn short_file() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "range past the end of the file",
    )
}

#[cfg(test)]
#[path = "chunk_cache_tests.rs"]
mod tests;
