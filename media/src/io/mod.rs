//! Byte plumbing shared by the container readers.
//!
//! Every reader walks a file with one cursor and is fed arbitrary pieces of
//! it, in any order; [`Window`] is the one place that decides which of those
//! bytes are kept, which are skipped, and which offset to ask for next. The
//! rules for gaps, overlaps, skips and bounds are the window's, the same for
//! all. What differs between readers is spelled out by the calls they make:
//!
//! | reader | holds | asks for |
//! |---|---|---|
//! | fMP4 (`mp4/indexer.rs`) | nothing while a feed holds the box whole ([`Window::view`]); a cut-off box up to its kind's limit | the rest of the box ([`Window::request_more`]); it checked the box fits the file |
//! | plain MP4 (`remux/indexer.rs`) | never a box header ([`Window::at_cursor`]); the `moov`, as fMP4 holds a box | a cut-off header again from its start, 16 bytes; the rest of the `moov` |
//! | WebM (`webm/cursor.rs`) | 64 KiB pieces copied ahead ([`Window::append`]) | through the element, cut at the file's end, else `Truncated` ([`Window::request`]) |
//! | MP3 (`mp3/indexer.rs`) | copied ahead up to the sync-search limit | at least 4 KiB, cut at the file's end, else `Truncated` |
//!
//! The fMP4 and plain-MP4 readers keep the first file length a caller gives;
//! WebM and MP3 the latest.

mod window;

pub use window::{Appended, AtEnd, Window};
