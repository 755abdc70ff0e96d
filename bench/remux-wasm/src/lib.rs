//! The driver of `cargo xtask bench remux`: Caudal's plain-MP4 → fMP4 remux
//! fed the way the player feeds it, one chunk of file bytes at a time.
//!
//! [`StreamRemux`] is the player's streaming path with the network taken out:
//! the chunks of one run of the file (from offset 0) go to [`Mp4Remuxer`]
//! until the index is ready, then to the repackager the player would take
//! from it (`reset` at the first fragment, `push` every chunk), and each
//! output (the init segment, then the fragments) goes to a callback.
//!
//! The same driver is measured twice: linked natively into xtask (the rlib),
//! and compiled to wasm behind [`Remuxer`], a wasm-bindgen class whose
//! `feed` takes each chunk across the JS/wasm boundary and whose outputs go
//! back to JS one `Uint8Array` each, as the player's go to
//! `SourceBuffer.appendBuffer`. What differs between the two numbers is then
//! the wasm engine and the boundary, not the code.

use std::collections::VecDeque;
use std::fmt;

use caudal_media::index::{ContainerIndexer, MediaError, Repackager, Step};
use caudal_media::remux::{Mp4Remuxer, PlanOptions, StreamOptions};
use wasm_bindgen::prelude::*;

/// Why a run could not be remuxed.
#[derive(Debug)]
pub enum DriveError {
    /// The remuxer rejected the file.
    Media(MediaError),
    /// The indexer wants bytes the run has already passed (a box header cut
    /// by a chunk boundary, or a `moov` after the media): the player would
    /// issue a new request; a single sequential run cannot.
    NotSequential { wanted: u64, at: u64 },
    /// A chunk did not start where the previous one ended.
    Gap { expected: u64, got: u64 },
    /// The indexer said `Ready` without an index or a repackager (a bug in
    /// the remuxer, reported rather than unwrapped).
    NotReady,
}

impl fmt::Display for DriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::Media(e) => write!(f, "remux failed: {e}"),
            DriveError::NotSequential { wanted, at } => write!(
                f,
                "the remuxer wants byte {wanted} but the run is at byte {at}: \
                 the benchmark needs a faststart file (moov before mdat)"
            ),
            DriveError::Gap { expected, got } => {
                write!(f, "chunk at byte {got}, expected byte {expected}")
            }
            DriveError::NotReady => {
                write!(f, "the remuxer was ready without an index or a repackager")
            }
        }
    }
}

impl std::error::Error for DriveError {}

impl From<MediaError> for DriveError {
    fn from(e: MediaError) -> Self {
        DriveError::Media(e)
    }
}

/// What a run produced so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of the init segment (0 until the index is ready).
    pub init_bytes: u64,
    /// Media fragments built (`moof` + `mdat` pairs).
    pub fragments: u64,
    /// Bytes of all outputs, the init segment included.
    pub output_bytes: u64,
    /// Fragments in the plan (0 until the index is ready): a finished run
    /// built all of them.
    pub planned_fragments: u64,
    /// Size of the `moov` the index was built from.
    pub moov_bytes: u64,
    /// The largest output, which bounds the fragment in flight.
    pub largest_output: u64,
}

/// One run of a plain MP4 through the player's remux path (see the crate
/// docs). Feed contiguous chunks from offset 0 with [`StreamRemux::feed`].
pub struct StreamRemux {
    file_len: u64,
    indexer: Mp4Remuxer,
    /// The fragment builder, once the index is ready.
    stream: Option<Box<dyn Repackager>>,
    /// File offset of the next byte the run must deliver.
    next: u64,
    stats: Stats,
}

impl fmt::Debug for StreamRemux {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRemux")
            .field("file_len", &self.file_len)
            .field("ready", &self.stream.is_some())
            .field("next", &self.next)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl StreamRemux {
    /// A run over a file of `file_len` bytes, cut with the player's default
    /// plan (fragments of at least one second, at video key frames), one
    /// output per planned fragment: the player cuts the first fragment of a
    /// run into small pieces as its bytes arrive (`StreamOptions`), which
    /// would make the outputs depend on the chunk size and the fragment
    /// count differ from mp4box.js's by a few for nothing measured here.
    pub fn new(file_len: u64) -> Self {
        StreamRemux {
            file_len,
            indexer: Mp4Remuxer::with_stream_options(
                PlanOptions::default(),
                StreamOptions::WHOLE_FRAGMENTS,
            ),
            stream: None,
            next: 0,
            stats: Stats::default(),
        }
    }

    /// What the run produced so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// True once every planned fragment was built.
    pub fn finished(&self) -> bool {
        self.stream.is_some() && self.stats.fragments == self.stats.planned_fragments
    }

    /// Offers `data`, the bytes from `offset`; calls `out` with each output
    /// it completes, in order (the init segment first).
    pub fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        mut out: impl FnMut(Vec<u8>),
    ) -> Result<(), DriveError> {
        if offset > self.next {
            return Err(DriveError::Gap {
                expected: self.next,
                got: offset,
            });
        }
        let end = offset.saturating_add(data.len() as u64);
        if self.stream.is_none() {
            match self.indexer.feed(offset, data, Some(self.file_len))? {
                Step::NeedBytes { offset: wanted, .. } => {
                    if wanted < end {
                        return Err(DriveError::NotSequential { wanted, at: end });
                    }
                    self.next = end;
                    return Ok(());
                }
                // The remuxer is linked in: it never waits on code.
                Step::Pending => {
                    self.next = end;
                    return Ok(());
                }
                Step::Ready => self.start(offset, &mut out)?,
                // One reader, fed in order: it never asks to be fed again.
                Step::Replay { from } => {
                    return Err(DriveError::NotSequential {
                        wanted: from,
                        at: end,
                    });
                }
            }
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        // Only the part of the chunk the run has not delivered yet: the
        // media may start inside this chunk (right after the `moov`).
        let Some(fresh) = self
            .next
            .checked_sub(offset)
            .and_then(|skip| usize::try_from(skip).ok())
            .and_then(|skip| data.get(skip..))
            .filter(|fresh| !fresh.is_empty())
        else {
            return Ok(());
        };
        for output in stream.push(self.next, fresh)? {
            self.stats.fragments += 1;
            self.count(&output);
            out(output);
        }
        self.next = end;
        Ok(())
    }

    /// The index is ready: takes the repackager, emits the init segment and
    /// starts the media run at the first fragment's first byte, as the
    /// player does at playback start. `offset` is where the current chunk,
    /// the oldest bytes the run still has, starts.
    fn start(&mut self, offset: u64, out: &mut impl FnMut(Vec<u8>)) -> Result<(), DriveError> {
        let index = self.indexer.index().ok_or(DriveError::NotReady)?;
        let media_start = index
            .segments
            .first()
            .map_or(self.file_len, |s| s.bytes.start);
        self.stats.planned_fragments = index.segments.len() as u64;
        self.stats.moov_bytes = index.init.end.saturating_sub(index.init.start);
        if media_start < offset {
            // The media lies before the bytes still held (moov at the end).
            return Err(DriveError::NotSequential {
                wanted: media_start,
                at: offset,
            });
        }
        let mut stream = self.indexer.take_repackager().ok_or(DriveError::NotReady)?;
        let init = stream.init_segment();
        self.stats.init_bytes = init.len() as u64;
        self.count(&init);
        out(init);
        stream.reset(media_start);
        self.stream = Some(stream);
        self.next = media_start;
        Ok(())
    }

    fn count(&mut self, output: &[u8]) {
        let len = output.len() as u64;
        self.stats.output_bytes += len;
        self.stats.largest_output = self.stats.largest_output.max(len);
    }
}

/// [`StreamRemux`] for JavaScript: `new Remuxer(fileLength)`, then per chunk
/// `feed(offset, bytes)` (the bytes are copied into wasm memory, as the
/// player's fetched bytes are) and `nextOutput()` until it returns
/// `undefined` (each output is copied out into its own `Uint8Array`, as the
/// player's go to `appendBuffer`).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Remuxer {
    run: StreamRemux,
    outputs: VecDeque<Vec<u8>>,
}

#[wasm_bindgen]
impl Remuxer {
    /// A run over a file of `file_length` bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(file_length: f64) -> Result<Remuxer, JsError> {
        Ok(Remuxer {
            run: StreamRemux::new(to_u64(file_length, "file length")?),
            outputs: VecDeque::new(),
        })
    }

    /// Offers the bytes from `offset`; returns how many outputs wait in
    /// [`Remuxer::next_output`].
    pub fn feed(&mut self, offset: f64, chunk: &[u8]) -> Result<usize, JsError> {
        let offset = to_u64(offset, "offset")?;
        let outputs = &mut self.outputs;
        self.run
            .feed(offset, chunk, |output| outputs.push_back(output))
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(self.outputs.len())
    }

    /// The oldest output not taken yet (the init segment first).
    #[wasm_bindgen(js_name = nextOutput)]
    pub fn next_output(&mut self) -> Option<Vec<u8>> {
        self.outputs.pop_front()
    }

    /// Media fragments built so far.
    #[wasm_bindgen(getter)]
    pub fn fragments(&self) -> f64 {
        self.run.stats().fragments as f64
    }

    /// True once every planned fragment was built.
    #[wasm_bindgen(getter)]
    pub fn finished(&self) -> bool {
        self.run.finished()
    }
}

/// Size of the module's linear memory, bytes. Wasm memory only grows, so
/// after a run this is the run's high-water mark: the bound the remux
/// keeps (index plus fragment in flight), not the file.
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) * 65536) as f64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}

/// A JS number as a byte offset: whole, non-negative and exact in an f64.
fn to_u64(value: f64, what: &str) -> Result<u64, JsError> {
    const MAX_EXACT: f64 = 9_007_199_254_740_991.0; // 2^53 - 1
    if (0.0..=MAX_EXACT).contains(&value) && value.fract() == 0.0 {
        Ok(value as u64)
    } else {
        Err(JsError::new(&format!(
            "{what} must be a whole number of bytes, got {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain MP4 of the remux corpus (committed in media/).
    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../media/tests/fixtures/remux")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn remux_in_chunks(data: &[u8], chunk: usize) -> Result<(Stats, Vec<Vec<u8>>), DriveError> {
        let mut run = StreamRemux::new(data.len() as u64);
        let mut outputs = Vec::new();
        for (i, bytes) in data.chunks(chunk).enumerate() {
            run.feed((i * chunk) as u64, bytes, |o| outputs.push(o))?;
        }
        assert!(run.finished(), "{run:?}");
        Ok((run.stats(), outputs))
    }

    #[test]
    fn chunking_does_not_change_the_output() -> Result<(), DriveError> {
        // (edit-cut.mp4 is one fragment: its lead-in puts the next keyframe
        // too close for a cut.)
        for name in [
            "bframes.mp4",
            "no-bframes.mp4",
            "audio.m4a",
            "ntsc-90k.mp4",
            "edit-cut.mp4",
        ] {
            let data = fixture(name);
            let (stats, whole) = remux_in_chunks(&data, data.len())?;
            assert!(
                stats.fragments > 1 || name == "edit-cut.mp4",
                "{name}: {stats:?}"
            );
            assert_eq!(whole.len() as u64, stats.fragments + 1, "{name}");
            assert_eq!(
                stats.output_bytes,
                whole.iter().map(|o| o.len() as u64).sum::<u64>()
            );
            // Chunk sizes that cut the moov, samples and fragments anywhere.
            for chunk in [64, 1000, 4096, 65_536] {
                let (chunked_stats, chunked) = remux_in_chunks(&data, chunk)?;
                assert_eq!(chunked_stats, stats, "{name} in {chunk}-byte chunks");
                assert!(chunked == whole, "{name} in {chunk}-byte chunks");
            }
        }
        Ok(())
    }

    #[test]
    fn moov_at_the_end_needs_a_second_request() {
        let data = fixture("moov-end.mp4");
        let err = remux_in_chunks(&data, 4096);
        assert!(
            matches!(err, Err(DriveError::NotSequential { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_a_gap() {
        let mut run = StreamRemux::new(100);
        let err = run.feed(10, &[0; 10], |_| {});
        assert!(matches!(
            err,
            Err(DriveError::Gap {
                expected: 0,
                got: 10
            })
        ));
    }

    #[test]
    fn garbage_is_a_media_error() {
        let mut run = StreamRemux::new(64);
        let err = run.feed(0, &[0xAB; 64], |_| {});
        assert!(matches!(err, Err(DriveError::Media(_))), "{err:?}");
    }
}
