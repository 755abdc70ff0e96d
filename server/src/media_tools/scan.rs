//! The start-up scan of `caudal serve`: one warning per file in the media
//! folder that would start slowly in a player, with the reason and the
//! fix. It runs on a blocking thread after the server is listening, so it
//! never delays serving; it reads only box headers and indexes.

use std::path::Path;

use crate::safe_path::Root;

/// Deepest folder nesting scanned, and most files inspected (as the
/// `/api/media` listing).
const MAX_DEPTH: usize = 16;
const MAX_FILES: usize = 10_000;

/// The extensions worth inspecting: the MP4 family, where the position of
/// `moov` decides how a file starts.
const EXTENSIONS: &[&str] = &["mp4", "m4a", "m4v", "mov"];

/// Inspects every MP4 under `root` and logs a warning for each slow one.
/// Returns the warnings (for tests).
pub fn scan(root: &Root) -> Vec<String> {
    let mut files = Vec::new();
    walk(root, Path::new(""), 0, &mut files);
    files.sort();
    let mut warnings = Vec::new();
    for relative in files {
        let Ok(real) = root.resolve(&relative) else {
            continue;
        };
        let name = relative.to_string_lossy().replace('\\', "/");
        match super::inspect(&real) {
            Ok(report) => {
                for reason in &report.slow {
                    let line = format!("{name} starts slowly: {reason}");
                    tracing::warn!(target: "caudal::scan", "{line}");
                    warnings.push(line);
                }
            }
            Err(error) => {
                let line = format!("{name} cannot be streamed: {error}");
                tracing::warn!(target: "caudal::scan", "{line}");
                warnings.push(line);
            }
        }
    }
    warnings
}

fn walk(root: &Root, relative: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(dir) = std::fs::read_dir(root.dir().join(relative)) else {
        return;
    };
    for entry in dir.flatten() {
        if out.len() >= MAX_FILES {
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
        let Ok(real) = root.resolve(&child) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &child, depth + 1, out);
        } else if meta.is_file()
            && Path::new(name)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        {
            out.push(child);
        }
    }
}
