//! caudal-server: a progressive-download media server with exact HTTP range
//! semantics.
//!
//! The decisions are pure functions, tested without sockets:
//! [`range`] parses `Range`, [`conditional`] evaluates preconditions,
//! [`plan`] combines them into a [`plan::ResponsePlan`], [`safe_path`] keeps
//! requests inside the served directory. The shell around them is small:
//! [`routes`] (warp filters), [`respond`] and [`file_body`] (building and
//! streaming responses), [`access_log`] (tower layer), [`server`] (accept
//! loop, limits, graceful shutdown on hyper).

pub mod access_log;
pub mod conditional;
pub mod config;
pub mod file_body;
pub mod file_cache;
pub mod listing;
pub mod media_tools;
pub mod plan;
pub mod range;
pub mod respond;
pub mod routes;
pub mod safe_path;
pub mod server;
pub mod validators;

pub use config::Config;
pub use server::{Server, ServerError};
