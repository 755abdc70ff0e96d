//! The real-browser QoE benchmark (`cargo xtask bench qoe`, binary `qoe`):
//! Caudal, the native `<video>` and hls.js play one encode in headless
//! Chromium — a plain faststart MP4 and the same samples fragmented — with
//! the page, the players' code and the media all through one
//! [`crate::shaped_link::ShapedLink`], scenario by scenario, a first visit
//! and a second, measured the same way from the video element from
//! navigation start.
//!
//! - [`file`]: the two files and what a played second costs in each;
//! - [`plain`]: the plain file's sample tables, counted;
//! - [`fmp4`]: the fragmented file's boxes and hls.js's playlist;
//! - [`player`]: the players compared;
//! - [`scenario`]: the links and what the viewer does;
//! - [`site`]: the one origin (site copy, pages, hls.js, media);
//! - [`page`]: the page and its in-page recorder;
//! - [`run`]: one run (fresh browser, a cold and a warm visit);
//! - [`timeline`]: each visit's requests, Resource Timing and marks;
//! - [`limit`]: the physical limit of a first frame, and Caudal's floor;
//! - [`breakdown`]: where the time goes on the slowest scenario;
//! - [`report`]: medians, the table, ratios, results.json.

pub mod breakdown;
pub mod file;
pub mod fmp4;
pub mod limit;
pub mod page;
pub mod plain;
pub mod player;
pub mod report;
pub mod run;
pub mod scenario;
pub mod site;
pub mod timeline;
