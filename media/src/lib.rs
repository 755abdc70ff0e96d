//! caudal-media: the pure-Rust heart of Caudal.
//!
//! Everything here is sans-I/O: parsers take bytes, decision makers take time and
//! events and answer with actions. Nothing reads a clock, a socket or a file, so the
//! same code runs natively, in tests, in the simulator, in the server's tools and in
//! the wasm player.
//!
//! How the modules fit. A file's first bytes go to [`probe`], which tells the
//! container and makes its reader: [`mp4`] (fragmented MP4, with one bounded parser
//! per box in `mp4::boxes` and the one box writer in `mp4::write`), [`webm`] or
//! [`mp3`]. Every reader is a [`index::ContainerIndexer`]: fed pieces of the file in
//! any order, it holds what it needs in one [`io::Window`] and answers with the next
//! bytes it wants or a [`index::MediaIndex`] (tracks, MIME type, duration, a time ↔
//! byte map of appendable units). A plain MP4 is handed to [`remux`] (feature
//! `remux`), which turns its sample tables into an init segment and fragments that
//! MSE accepts; a WebM/Matroska that Chromium's MSE refuses as it is (mkvmerge's
//! defaults, codecs outside WebM) is handed to `webm::tidy` (feature `remux`), which
//! rewrites it as tidy WebM or, for H.264/AAC, fragmented MP4. [`codec`] holds the
//! codec-string helpers the readers share (the VP9 level from the picture size). The buffer policy, [`policy`], is the state machine the player runs:
//! it takes the index, the network's events and the element's playback and answers
//! with actions (fetch, append, evict, hold, release); its concerns sit one per file
//! under `policy/`. [`sim`] runs that same policy against bandwidth traces in
//! simulated time. [`package`] (feature `remux`) is the media half of `caudal
//! inspect` and `caudal package`; [`mime`] names media types for the server. [`live`] cuts a live
//! publisher's fragmented MP4 into its init segment and whole fragments for the
//! server to fan out.
//!
//! Features: `remux` (default) builds the remuxer and the packaging tools; the
//! player's main wasm module leaves it out and loads the remuxer as a second module
//! only for plain MP4s and untidy WebMs. `serde` makes the inspect report serializable.

pub mod cmcd;
pub mod cmsd;
pub mod codec;
pub mod cta;
pub mod index;
pub mod io;
pub mod live;
pub mod mime;
pub mod mp3;
pub mod mp4;
pub mod pace;
#[cfg(feature = "remux")]
pub mod package;
pub mod policy;
pub mod probe;
#[cfg(feature = "remux")]
pub mod remux;
pub mod sim;
pub mod webm;
pub mod wire;
