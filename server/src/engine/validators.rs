//! Validators of a file: the strong ETag and Last-Modified we send, and the
//! identity that tells "the same bytes" from "a file that changed under us".

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What identifies one version of a file: replacing it (new inode), growing or
/// truncating it (size), or writing into it (mtime) each changes this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
}

impl FileIdentity {
    pub fn of(meta: &Metadata) -> Self {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }

    /// A strong entity tag: equal only for byte-identical versions as far as
    /// the filesystem can tell.
    pub fn etag(&self) -> String {
        format!("\"{:x}-{:x}-{:x}\"", self.ino, self.len, self.mtime_ns)
    }

    /// Last-Modified, truncated to whole seconds as HTTP dates are.
    pub fn last_modified(&self) -> SystemTime {
        let secs = (self.mtime_ns.div_euclid(1_000_000_000)).max(0);
        UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    }

    /// Whether Last-Modified is a strong validator at `now`: a file written
    /// within the last second could be written again with the same date.
    pub fn last_modified_is_strong(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        self.mtime_ns + 1_000_000_000 <= now.as_nanos() as i128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_changes_with_each_part_of_the_identity() {
        let base = FileIdentity {
            dev: 1,
            ino: 2,
            len: 3,
            mtime_ns: 4,
        };
        let tags = [
            base.etag(),
            FileIdentity { ino: 9, ..base }.etag(),
            FileIdentity { len: 9, ..base }.etag(),
            FileIdentity {
                mtime_ns: 9,
                ..base
            }
            .etag(),
        ];
        for (i, a) in tags.iter().enumerate() {
            assert!(a.starts_with('"') && a.ends_with('"') && !a.starts_with("W/"));
            for b in &tags[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn last_modified_is_strong_only_a_second_after_the_write() {
        let id = FileIdentity {
            dev: 0,
            ino: 0,
            len: 0,
            mtime_ns: 5_000_000_000,
        };
        assert!(!id.last_modified_is_strong(UNIX_EPOCH + Duration::from_millis(5_999)));
        assert!(id.last_modified_is_strong(UNIX_EPOCH + Duration::from_millis(6_000)));
    }

    #[test]
    fn last_modified_truncates_to_seconds() {
        let id = FileIdentity {
            dev: 0,
            ino: 0,
            len: 0,
            mtime_ns: 1_700_000_000_999_999_999,
        };
        assert_eq!(
            id.last_modified(),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
    }
}
