//! The WebM normaliser ("tidy"): Matroska/WebM files that native `<video>`
//! plays and Chromium's MSE refuses (mkvmerge's defaults: LanguageBCP47 in
//! every track, laced audio, BlockGroups; DocType `matroska`), rewritten as
//! their bytes arrive into the WebM subset Chromium's parser takes.
//!
//! The main [`WebmIndexer`](super::WebmIndexer) decides from the headers
//! that a file needs this reader and hands over
//! ([`WebmIndexer::with_tidy`](super::WebmIndexer::with_tidy)); the player
//! keeps it in its remuxer module (feature `remux`), loaded only for such
//! files. One concept per file: [`lacing`] reads a Block and undoes its
//! lace, [`cluster`] rewrites one Cluster, [`init`] writes the init
//! segment, [`codecs`] names the codecs outside WebM, `write` is the EBML
//! writer, [`stream`] is the [`Repackager`](crate::index::Repackager) over
//! the player's run of bytes, and [`reader`] the
//! [`ContainerIndexer`](crate::index::ContainerIndexer).

pub mod annexb;
pub mod cluster;
pub mod codecs;
pub mod fmp4;
pub mod init;
pub mod lacing;
pub mod reader;
pub mod stream;
pub mod write;

pub use reader::TidyReader;
pub use stream::TidyStream;
