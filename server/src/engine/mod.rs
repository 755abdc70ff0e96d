//! The range engine: what to answer, decided without sockets or files.
//!
//! [`range`] parses and resolves `Range` (RFC 9110 §14), [`conditional`]
//! evaluates the preconditions (§13), [`validators`] says what identifies one
//! version of a file (ETag, Last-Modified), and [`plan`] combines them into
//! one [`plan::ResponsePlan`]. Everything here is a pure function of header
//! bytes, validators and a length, so every case is a table row in a unit
//! test; the pipeline only carries the answer out.

pub mod conditional;
pub mod plan;
pub mod range;
pub mod validators;
