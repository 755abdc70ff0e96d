//! Open file handles kept between requests, as nginx's `open_file_cache`.
//!
//! Resolving a path safely (canonicalize: a `readlink` per component), then
//! `open` and `close`, cost more syscalls than serving a 64 KiB range itself.
//! A cached handle is reused only while the path still names the very same
//! version of the file — one `stat` of the path per request checks device,
//! inode, size and mtime — so a file replaced, rewritten or deleted is
//! resolved and opened afresh, with every check of [`Root::resolve`] again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::body::file::OpenFile;
use crate::engine::validators::FileIdentity;
use crate::safe_path::{PathError, Root};

/// Handles kept at most; beyond it an arbitrary one is closed.
const CAPACITY: usize = 1024;

#[derive(Debug, Default)]
pub struct FileCache {
    handles: Mutex<HashMap<PathBuf, OpenFile>>,
}

impl FileCache {
    /// Opens the file `relative` names under `root`, reusing a cached handle
    /// when the path still leads to the same version of the same file.
    pub fn open(&self, root: &Root, relative: &Path) -> Result<OpenFile, PathError> {
        // Keyed by the full path: several roots (media, www) share one cache.
        let key = root.dir().join(relative);
        let now = std::fs::metadata(&key).ok().map(|m| FileIdentity::of(&m));
        if let (Some(now), Ok(handles)) = (now, self.handles.lock())
            && let Some(cached) = handles.get(&key).filter(|c| *c.identity() == now)
        {
            return Ok(cached.clone());
        }
        let opened = root
            .resolve(relative)
            .and_then(|real| OpenFile::open(&real).map_err(|_| PathError::NotFound));
        if let Ok(mut handles) = self.handles.lock() {
            match &opened {
                Ok(file) => {
                    if handles.len() >= CAPACITY && !handles.contains_key(&key) {
                        let victim = handles.keys().next().cloned();
                        victim.map(|key| handles.remove(&key));
                    }
                    handles.insert(key, file.clone());
                }
                Err(_) => {
                    handles.remove(&key);
                }
            }
        }
        opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Root, FileCache) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.mp4"), b"version one").expect("write");
        let root = Root::new(dir.path(), false).expect("root");
        (dir, root, FileCache::default())
    }

    #[test]
    fn a_file_replaced_by_rename_is_opened_afresh() {
        let (dir, root, cache) = setup();
        let first = cache.open(&root, Path::new("a.mp4")).expect("open");
        assert_eq!(
            first.identity(),
            cache
                .open(&root, Path::new("a.mp4"))
                .expect("again")
                .identity()
        );
        std::fs::write(dir.path().join("new"), b"version two!").expect("write");
        std::fs::rename(dir.path().join("new"), dir.path().join("a.mp4")).expect("rename");
        let second = cache.open(&root, Path::new("a.mp4")).expect("reopen");
        assert_ne!(first.identity().ino, second.identity().ino);
        assert_eq!(second.len(), 12);
    }

    #[test]
    fn the_same_name_under_two_roots_is_two_files() {
        let (_dir, root, cache) = setup();
        let other_dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(other_dir.path().join("a.mp4"), b"other").expect("write");
        let other = Root::new(other_dir.path(), false).expect("root");
        assert_eq!(
            cache.open(&root, Path::new("a.mp4")).expect("open").len(),
            11
        );
        assert_eq!(
            cache.open(&other, Path::new("a.mp4")).expect("open").len(),
            5
        );
    }

    #[test]
    fn a_deleted_file_is_not_found_and_forgotten() {
        let (dir, root, cache) = setup();
        cache.open(&root, Path::new("a.mp4")).expect("open");
        std::fs::remove_file(dir.path().join("a.mp4")).expect("rm");
        assert_eq!(
            cache.open(&root, Path::new("a.mp4")).err(),
            Some(PathError::NotFound)
        );
        assert!(cache.handles.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_path_swapped_for_a_symlink_outside_is_refused() {
        let (dir, root, cache) = setup();
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), b"secret").expect("write");
        cache.open(&root, Path::new("a.mp4")).expect("open");
        std::fs::remove_file(dir.path().join("a.mp4")).expect("rm");
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("a.mp4"))
            .expect("symlink");
        assert_eq!(
            cache.open(&root, Path::new("a.mp4")).err(),
            Some(PathError::Escapes)
        );
    }
}
