//! `/api/media`: a JSON listing of the served directory.
//!
//! Walks the tree with the same rules as file serving (dotfiles hidden,
//! symlinks leading outside refused unless allowed), bounded in depth and
//! entry count so a huge or looping tree cannot stall the server.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use crate::safe_path::Root;

/// Deepest directory nesting listed.
const MAX_DEPTH: usize = 16;
/// Most entries listed; the rest are left out (and logged).
const MAX_ENTRIES: usize = 10_000;

/// One file of the listing.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MediaEntry {
    /// Path relative to the served directory, `/`-separated.
    pub name: String,
    pub size: u64,
    /// Seconds since the Unix epoch.
    pub mtime: u64,
    /// Media type, as served in Content-Type.
    #[serde(rename = "type")]
    pub media_type: &'static str,
}

/// Lists every visible regular file under `root`, sorted by name.
pub fn list(root: &Root) -> Vec<MediaEntry> {
    let mut entries: Vec<MediaEntry> = visible_files(root)
        .into_iter()
        .map(|file| {
            let mtime = file
                .meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            MediaEntry {
                media_type: caudal_media::mime::content_type_for(&file.name),
                size: file.meta.len(),
                name: file.name,
                mtime,
            }
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

/// A regular file found under a root.
#[derive(Debug)]
pub struct VisibleFile {
    /// Path relative to the root, `/`-separated.
    pub name: String,
    /// Where it really is (symlinks resolved).
    pub real: PathBuf,
    pub meta: std::fs::Metadata,
}

/// Every regular file under `root` that file serving would serve: dotfiles
/// hidden, symlinks leading outside refused unless allowed, bounded in depth
/// and count. Shared by the listing and the start-up scan.
pub fn visible_files(root: &Root) -> Vec<VisibleFile> {
    let mut files = Vec::new();
    walk(root, Path::new(""), 0, &mut files);
    if files.len() >= MAX_ENTRIES {
        tracing::warn!(limit = MAX_ENTRIES, "media listing truncated");
    }
    files
}

fn walk(root: &Root, relative: &Path, depth: usize, out: &mut Vec<VisibleFile>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(dir) = std::fs::read_dir(root.dir().join(relative)) else {
        return;
    };
    for entry in dir.flatten() {
        if out.len() >= MAX_ENTRIES {
            return;
        }
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let child = relative.join(name);
        // Resolving applies the symlink and dotfile rules of file serving.
        let Ok(real) = root.resolve(&child) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &child, depth + 1, out);
        } else if meta.is_file() {
            let name = child.to_string_lossy().replace('\\', "/");
            out.push(VisibleFile { name, real, meta });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_nested_files_sorted_without_dotfiles_or_escapes() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret.mp4"), b"x").expect("write");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("b.mp4"), b"12345").expect("write");
        std::fs::write(dir.path().join("sub/a.webm"), b"1").expect("write");
        std::fs::write(dir.path().join(".hidden.mp4"), b"1").expect("write");
        std::os::unix::fs::symlink(
            outside.path().join("secret.mp4"),
            dir.path().join("link.mp4"),
        )
        .expect("symlink");
        let root = Root::new(dir.path(), false).expect("root");
        let names: Vec<_> = list(&root)
            .into_iter()
            .map(|e| (e.name, e.size, e.media_type))
            .collect();
        assert_eq!(
            names,
            vec![
                ("b.mp4".into(), 5, "video/mp4"),
                ("sub/a.webm".into(), 1, "video/webm")
            ]
        );
    }
}
