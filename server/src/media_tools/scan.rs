//! The start-up scan of `caudal serve`: one warning per file in the media
//! folder that would start slowly in a player, with the reason and the
//! fix. It runs on a blocking thread after the server is listening, so it
//! never delays serving; it reads only box headers and indexes.

use std::path::Path;

use crate::safe_path::Root;

/// The extensions worth inspecting: the MP4 family, where the position of
/// `moov` decides how a file starts.
const EXTENSIONS: &[&str] = &["mp4", "m4a", "m4v", "mov"];

/// Inspects every MP4 under `root` and logs a warning for each slow one.
/// Returns the warnings (for tests).
pub fn scan(root: &Root) -> Vec<String> {
    let mut files: Vec<_> = crate::listing::visible_files(root)
        .into_iter()
        .filter(|file| {
            Path::new(&file.name)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut warnings = Vec::new();
    for file in files {
        let name = file.name;
        match super::inspect(&file.real) {
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
