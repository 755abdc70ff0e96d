//! What the server knows of a media file for pacing and CMSD: its mean bit
//! rate and whether it holds audio, video or both. Read once per file
//! version (path and ETag) by `caudal inspect`'s reader — box headers and
//! indexes, never the media — on a blocking thread, off the request's path:
//! a request that finds the facts not yet known goes on without them (its
//! response is a first one, which is never paced).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use caudal_media::cta::ObjectType;

/// File versions remembered at once (a small map: one entry per file).
const MAX_FILES: usize = 4096;

/// What is known of one file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facts {
    /// Mean bits per second over the whole file.
    pub bitrate: Option<f64>,
    pub object: ObjectType,
}

#[derive(Debug, Clone)]
enum Entry {
    Reading,
    Known(Option<Facts>),
}

/// Facts by file version, filled in the background.
#[derive(Debug, Default, Clone)]
pub struct MediaFacts {
    files: Arc<Mutex<HashMap<(PathBuf, String), Entry>>>,
}

impl MediaFacts {
    /// The facts of `path` at version `etag`, if already read; a first ask
    /// starts the read (on tokio's blocking pool) and answers `None`.
    pub fn get(&self, path: PathBuf, etag: &str) -> Option<Facts> {
        let key = (path, etag.to_string());
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match files.get(&key) {
            Some(Entry::Known(facts)) => return *facts,
            Some(Entry::Reading) => return None,
            None => {}
        }
        if files.len() >= MAX_FILES {
            files.retain(|_, entry| matches!(entry, Entry::Reading));
        }
        files.insert(key.clone(), Entry::Reading);
        drop(files);
        let table = self.files.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return None;
        };
        runtime.spawn_blocking(move || {
            let facts = read(&key.0);
            let mut files = table.lock().unwrap_or_else(|poison| poison.into_inner());
            files.insert(key, Entry::Known(facts));
        });
        None
    }
}

/// Reads the facts of the file at `path` (`None`: not media it can read).
pub fn read(path: &std::path::Path) -> Option<Facts> {
    let report = crate::media_tools::inspect(path).ok()?;
    let video = report.tracks.iter().any(|t| t.kind == "video");
    let audio = report.tracks.iter().any(|t| t.kind == "audio");
    let object = match (video, audio) {
        (true, true) => ObjectType::Muxed,
        (true, false) => ObjectType::Video,
        (false, true) => ObjectType::Audio,
        (false, false) => ObjectType::Other,
    };
    let bitrate = report
        .bitrate
        .map(|bits| bits as f64)
        .or_else(|| Some(report.size as f64 * 8.0 / report.duration.filter(|d| *d > 0.0)?));
    Some(Facts { bitrate, object })
}
