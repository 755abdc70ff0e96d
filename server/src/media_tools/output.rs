//! Where `caudal package` writes: never over its input, never over an
//! existing file unless asked, and never a half-written file under the
//! output name — the bytes go to a temporary file beside the output (same
//! folder, so same file system) that is renamed into place only once
//! complete and synced, and removed on any failure.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::ToolError;

/// Refuses an output that is the input (by path or by inode) or that
/// exists without `force`.
pub(crate) fn check(input: &Path, output: &Path, force: bool) -> Result<(), ToolError> {
    let read = ToolError::read(input);
    let input_real = input.canonicalize().map_err(read)?;
    let dir = parent(output);
    let dir_real = dir
        .canonicalize()
        .map_err(|_| ToolError::NoOutputDir(dir.to_owned()))?;
    if let Some(name) = output.file_name()
        && dir_real.join(name) == input_real
    {
        return Err(ToolError::SameFile);
    }
    match std::fs::metadata(output) {
        Ok(out_meta) => {
            if same_file(&input_real, &out_meta) {
                return Err(ToolError::SameFile);
            }
            if !force {
                return Err(ToolError::OutputExists(output.to_owned()));
            }
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

#[cfg(unix)]
fn same_file(input: &Path, output: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(input).is_ok_and(|i| i.dev() == output.dev() && i.ino() == output.ino())
}

#[cfg(not(unix))]
fn same_file(_input: &Path, _output: &std::fs::Metadata) -> bool {
    false
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A temporary file that becomes `target` on [`Staged::commit`] and is
/// deleted if dropped before.
#[derive(Debug)]
pub(crate) struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl Staged {
    pub fn create(target: &Path) -> Result<Self, ToolError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let dir = parent(target);
        for attempt in 0..100u32 {
            let tmp = dir.join(format!(
                ".{name}.caudal-{}-{attempt}.tmp",
                std::process::id()
            ));
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(file) => {
                    return Ok(Staged {
                        tmp,
                        target: target.to_owned(),
                        writer: Some(BufWriter::with_capacity(256 << 10, file)),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(ToolError::Write { path: tmp, source }),
            }
        }
        Err(ToolError::Write {
            path: dir.to_owned(),
            source: std::io::Error::other("no free temporary file name"),
        })
    }

    /// The writer (seekable: `--fragment` fills in its `sidx` last).
    pub fn writer(&mut self) -> Result<&mut BufWriter<File>, ToolError> {
        self.writer.as_mut().ok_or_else(|| ToolError::Write {
            path: self.tmp.clone(),
            source: std::io::Error::other("already committed"),
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), ToolError> {
        let writer = self.writer.take();
        let result = (|| {
            let file = writer
                .ok_or_else(|| std::io::Error::other("already committed"))?
                .into_inner()
                .map_err(|e| e.into_error())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&self.tmp, &self.target)
        })();
        result.map_err(|source| ToolError::Write {
            path: self.target.clone(),
            source,
        })?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        self.writer = None;
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
