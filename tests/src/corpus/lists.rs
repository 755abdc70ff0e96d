//! The corpus's committed lists: which files there are (the media in the
//! folder), what each one is (the table in its README.md) and which ones
//! the player still gets wrong (`known-wrong.txt`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// `tests/fixtures/corpus`
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corpus")
}

/// Extensions of the media files (the scripts and lists beside them are not).
const MEDIA: &[&str] = &[
    "mp4", "m4a", "mov", "webm", "mkv", "ogg", "mp3", "wav", "flac",
];

/// The media files in `dir`, sorted.
pub fn media_files(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let ext = name.rsplit('.').next().unwrap_or_default();
        if MEDIA.contains(&ext) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// One file as the corpus README describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub producer: String,
    pub layout: String,
}

/// The README's table rows: `| \`file\` | producer | layout | how |`.
pub fn parse_readme(text: &str) -> BTreeMap<String, Described> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let cells: Vec<&str> = rest.split(" | ").map(str::trim).collect();
        let (Some(file), Some(producer), Some(layout)) =
            (cells.first(), cells.get(1), cells.get(2))
        else {
            continue;
        };
        let file = file.trim_end_matches('`');
        out.insert(
            file.to_owned(),
            Described {
                producer: producer.to_string(),
                layout: layout.to_string(),
            },
        );
    }
    out
}

/// `known-wrong.txt`: `FILE  one-line reason` per line; `#` comments.
pub fn parse_known_wrong(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (file, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if out
            .insert(file.to_owned(), reason.trim().to_owned())
            .is_some()
        {
            bail!("known-wrong.txt line {}: {file} is listed twice", n + 1);
        }
    }
    Ok(out)
}

/// The text of `known-wrong.txt` for these (file, reason) pairs.
pub fn render_known_wrong<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from(
        "# Corpus files Caudal does not yet get right (tests/tests/corpus.rs): FILE  why.\n\
         # The test fails when a listed file turns right, so that this list shrinks\n\
         # with the fixes; it prints the list to write after each run.\n",
    );
    for (file, reason) in entries {
        out.push_str(&format!("{file}  {reason}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_rows_give_producer_and_layout_by_file() {
        let text = "# x\n| file | producer | layout | how |\n|---|---|---|---|\n\
                    | `a.mp4` | GStreamer mp4mux | plain, moov at the end | `gst-launch-1.0 …` |\n";
        let rows = parse_readme(text);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows["a.mp4"].producer, "GStreamer mp4mux");
        assert_eq!(rows["a.mp4"].layout, "plain, moov at the end");
    }

    #[test]
    fn known_wrong_round_trips_and_refuses_duplicates() {
        let text = render_known_wrong([("a.webm", "stuck at 0"), ("b.mp4", "two errors")]);
        let parsed = parse_known_wrong(&text).unwrap_or_default();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed["a.webm"], "stuck at 0");
        assert!(parse_known_wrong("a.mp4 x\na.mp4 y\n").is_err());
    }
}
