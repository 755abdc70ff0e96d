//! The real-browser QoE benchmark (`cargo xtask bench qoe`, binary `qoe`):
//! Caudal, the native `<video>` and hls.js play the same fragmented MP4 in
//! headless Chromium through a [`crate::shaped_link::ShapedLink`], scenario
//! by scenario, measured the same way from the video element.
//!
//! - [`fmp4`]: the file's boxes (init, fragments) and the HLS playlist;
//! - [`player`]: the players compared;
//! - [`scenario`]: the links and what the viewer does;
//! - [`page`]: the page and its in-page recorder;
//! - [`run`]: one run (fresh browser, fresh link);
//! - [`report`]: medians, the table, ratios, results.json.

pub mod fmp4;
pub mod page;
pub mod player;
pub mod report;
pub mod run;
pub mod scenario;
