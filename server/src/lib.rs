//! caudal-server: a progressive-download media server with exact HTTP range
//! semantics.
//!
//! A request travels through four rooms. [`net`] is the transport: it
//! accepts connections, bounds them (count, head size and time, stalled
//! writes), shuts down gracefully, and puts a connection context (peer and
//! local address, a handle on the socket) into every request; it knows
//! nothing of files. [`pipeline`] is the ordered list of stages each request
//! passes — access log, CORS, signed tokens, the slot for metrics, the
//! warp router — and, for a file, path safety, the plan, the response and its
//! cache headers. The decisions are pure functions in [`engine`] (Range,
//! preconditions, validators, the one [`engine::plan::ResponsePlan`]), tested
//! without sockets. [`body`] reads the bytes through a [`body::ByteSource`]
//! (an open file today, a shared chunk cache later), whole when small and in
//! bounded chunks when not. [`server`] wires them: a [`Config`] checked and
//! bound, then served. Beside them: [`safe_path`] (what a URL may name,
//! shared by serving, the listing and the start-up scan), [`listing`]
//! (`/api/media`), [`config`], [`media_tools`] (the `inspect` and
//! `package` subcommands and the start-up scan), [`access`] (signed tokens
//! in Akamai's Auth Token 2.0 format, sans-I/O) and [`token_tools`] (the
//! `keygen`, `sign` and `verify` subcommands). [`live`] takes live streams
//! from a publisher and fans them out to viewers.

pub mod access;
pub mod body;
pub mod config;
pub mod config_file;
pub mod engine;
pub mod listing;
pub mod live;
pub mod media_tools;
pub mod metrics;
pub mod net;
pub mod pacing;
pub mod pipeline;
pub mod preload;
pub mod safe_path;
pub mod server;
pub mod token_tools;

pub use config::Config;
pub use server::{Server, ServerError};
