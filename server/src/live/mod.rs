//! Live streams: one publisher sends a fragmented MP4 over HTTP (`PUT` or
//! `POST /live/<name>`), every viewer gets it as one endless body
//! (`GET /live/<name>`).
//!
//! - [`ingest`]: who may publish, and the publisher's body read as it
//!   comes (the cutting is `caudal_media::live`, sans-I/O);
//! - [`registry`]: the streams by name, a second publisher refused (or
//!   taking over), a stream kept for the next publisher a while;
//! - [`stream`]: one stream's init segment, ring of fragments back to the
//!   last keyframe and viewers, each fragment one shared `Bytes`;
//! - [`viewer`]: a viewer's body;
//! - [`hls_store`]: the newest segments and parts, for the HLS playlist
//!   (`/live/<name>.m3u8`, written by `caudal_media::live::hls`);
//! - [`record`]: `--live-record DIR`, each publisher's stream to a file;
//! - [`metrics`]: what `/metrics` shows.

pub mod hls_store;
pub mod ingest;
pub mod metrics;
pub mod record;
pub mod registry;
pub mod stream;
pub mod viewer;

pub use ingest::{PublishAuth, PublishRequest};
pub use registry::{LiveConfig, LiveRegistry, valid_name};
