//! caudal-media: the pure-Rust heart of Caudal.
//!
//! Everything here is sans-I/O: parsers take bytes, decision makers take time and
//! events and answer with actions. Nothing reads a clock, a socket or a file, so the
//! same code runs natively, in tests, in the simulator and in the wasm player.

pub mod index;
pub mod mime;
pub mod mp3;
pub mod mp4;
pub mod policy;
pub mod probe;
#[cfg(feature = "remux")]
pub mod remux;
pub mod sim;
pub mod webm;
pub mod wire;
