//! What the server knows of a media file for pacing and CMSD: its mean bit
//! rate and whether it holds audio, video or both. Read once per file
//! version (URL path and ETag) by `caudal inspect`'s reader — box headers and
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

/// Facts by URL path, each with the ETag of the version they are of;
/// filled in the background.
#[derive(Debug, Default, Clone)]
pub struct MediaFacts {
    files: Arc<Mutex<HashMap<String, (String, Entry)>>>,
}

impl MediaFacts {
    /// The facts of the file at `url_path` in version `etag`, if already
    /// read. A first ask (or a new version) resolves the file on disk with
    /// `disk_path`, starts the read on tokio's blocking pool and answers
    /// `None`; a known file costs a map lookup, no file-system call.
    pub fn get(
        &self,
        url_path: &str,
        etag: &str,
        disk_path: impl FnOnce() -> Option<PathBuf>,
    ) -> Option<Facts> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match files.get(url_path) {
            Some((version, Entry::Known(facts))) if version == etag => return *facts,
            Some((version, Entry::Reading)) if version == etag => return None,
            _ => {}
        }
        let path = disk_path()?;
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        if files.len() >= MAX_FILES {
            files.retain(|_, (_, entry)| matches!(entry, Entry::Reading));
        }
        files.insert(url_path.to_owned(), (etag.to_owned(), Entry::Reading));
        drop(files);
        let (table, url_path, etag) = (self.files.clone(), url_path.to_owned(), etag.to_owned());
        runtime.spawn_blocking(move || {
            let facts = read(&path);
            let mut files = table.lock().unwrap_or_else(|poison| poison.into_inner());
            // Unless a newer version's read took the slot meanwhile.
            if files
                .get(&url_path)
                .is_some_and(|(version, _)| *version == etag)
            {
                files.insert(url_path, (etag, Entry::Known(facts)));
            }
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
