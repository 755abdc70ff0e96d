//! `--live-record DIR`: each publisher's stream written as it arrives to
//! `DIR/<name>-<UTC time>.mp4` — the init segment, then every fragment: a
//! fragmented MP4 that plays as a file afterwards. A thread per recording
//! writes, so a slow disk never holds the publisher; if it falls more than
//! [`QUEUE`] fragments behind, the recording stops (logged).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// Fragments queued for the writer at most.
const QUEUE: usize = 4096;

/// One recording in progress; it ends when dropped.
#[derive(Debug)]
pub struct Recording {
    sender: Option<SyncSender<Bytes>>,
    path: PathBuf,
}

impl Recording {
    /// Starts `dir/<name>-<time>.mp4` (`.webm` for a WebM stream) with `init`.
    pub fn start(dir: &Path, name: &str, webm: bool, init: Bytes) -> std::io::Result<Recording> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let extension = if webm { "webm" } else { "mp4" };
        let path = dir.join(format!("{name}-{stamp}.{extension}"));
        let mut file = std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?,
        );
        let (sender, receiver) = sync_channel::<Bytes>(QUEUE);
        let shown = path.display().to_string();
        std::thread::Builder::new()
            .name("caudal-record".into())
            .spawn(move || {
                let written = std::iter::once(init)
                    .chain(receiver)
                    .try_for_each(|bytes| file.write_all(&bytes))
                    .and_then(|()| file.flush());
                if let Err(error) = written {
                    tracing::warn!(target: "caudal::live", path = shown, %error, "recording failed");
                }
            })?;
        Ok(Recording {
            sender: Some(sender),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One more fragment; false once the recording has stopped.
    pub fn write(&mut self, fragment: Bytes) -> bool {
        let Some(sender) = &self.sender else {
            return false;
        };
        match sender.try_send(fragment) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!(target: "caudal::live", path = %self.path.display(),
                    "recording stopped: the disk is {QUEUE} fragments behind");
                self.sender = None;
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                self.sender = None;
                false
            }
        }
    }
}
