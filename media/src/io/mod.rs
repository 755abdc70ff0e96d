//! Byte plumbing shared by the container readers.
//!
//! Every reader walks a file with one cursor and is fed arbitrary pieces of
//! it, in any order; [`Window`] is the one place that decides which of those
//! bytes are kept, which are skipped, and which offset to ask for next.

mod window;

pub use window::{Appended, AtEnd, Window};
