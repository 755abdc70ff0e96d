//! `caudal serve --config caudal.toml`: every serve flag as a TOML key.
//! Unknown keys and bad values are errors naming `file:line:col`; relative
//! paths are relative to the file's folder. The flags given on the command
//! line override the file (`main.rs` merges them).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use crate::access::ip_rules::{Action, IpRule, parse_net};

/// The file, as written; every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    /// Folder served under `/media/`.
    pub media: Option<PathBuf>,
    /// Folder of the web player and demo page.
    pub www: Option<PathBuf>,
    /// `Cache-Control` of files; `"off"` sends none.
    pub cache_control: Option<String>,
    pub cors: Option<bool>,
    pub header_timeout: Option<f64>,
    pub send_timeout: Option<f64>,
    pub max_connections: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub follow_symlinks_outside: Option<bool>,
    pub shutdown_grace: Option<f64>,
    pub quiet: Option<bool>,
    /// `false`: hyper serves every connection (no `sendfile`).
    pub zero_copy: Option<bool>,
    /// `false`: no `Link` preload hints on pages that embed the player.
    pub preload_hints: Option<bool>,
    /// Event loops (`--workers`).
    pub workers: Option<usize>,
    /// Path prefixes that need a token.
    #[serde(default)]
    pub protect: Vec<UrlPrefix>,
    /// Keys as hex; the first signs, all verify.
    #[serde(default)]
    pub keys: Vec<HexKey>,
    #[serde(default)]
    pub key_files: Vec<PathBuf>,
    pub token_name: Option<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<Cidr>,
    /// `[[ip_rule]]` tables, tried in order.
    #[serde(default)]
    pub ip_rule: Vec<FileRule>,
    /// `[metrics]`: whether `/metrics` is served, and to whom.
    pub metrics: Option<FileMetrics>,
    /// `[cache]`: the shared chunk cache.
    pub cache: Option<FileCacheSettings>,
    /// `[pace]`: pacing by the player's buffer.
    pub pace: Option<FilePace>,
    /// `[live]`: live streams.
    pub live: Option<FileLive>,
}

/// `[live]`: `enabled` (`--live`), `open` (`--live-open`), `takeover`
/// (`--live-takeover`), `idle` and `linger` (seconds, `--live-idle`,
/// `--live-linger`), `record` (a directory, `--live-record`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLive {
    pub enabled: Option<bool>,
    pub open: Option<bool>,
    pub takeover: Option<bool>,
    pub idle: Option<f64>,
    pub linger: Option<f64>,
    pub record: Option<std::path::PathBuf>,
}

/// `[pace]`: `mode` (`"off"`, `"cmcd"`, `"always"`), `by` (`"kernel"`,
/// `"app"`), `max_egress` (`"800M"`: bits per second), `min_buffer` and
/// `goal` (seconds), `multiplier` (`[at empty, at goal]`), as the
/// `--pace*` and `--max-egress` flags.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePace {
    pub mode: Option<String>,
    pub by: Option<String>,
    pub max_egress: Option<String>,
    pub min_buffer: Option<f64>,
    pub goal: Option<f64>,
    pub multiplier: Option<[f64; 2]>,
}

/// `[cache]`: `mem`, as `--cache-mem` (`"512M"`, `"2G"`, bytes; `0` is off).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCacheSettings {
    pub mem: Option<Size>,
}

/// A size in bytes, written as `--cache-mem` takes it or as a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a size: bytes, or a string such as \"512M\" or \"2G\"")
            }
            fn visit_u64<E: serde::de::Error>(self, bytes: u64) -> Result<Size, E> {
                Ok(Size(bytes))
            }
            fn visit_i64<E: serde::de::Error>(self, bytes: i64) -> Result<Size, E> {
                u64::try_from(bytes)
                    .map(Size)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Size, E> {
                crate::config::parse_size(text).map(Size).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `[metrics]`: `enabled` (default true), `allow` (CIDRs; default loopback).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetrics {
    pub enabled: Option<bool>,
    pub allow: Option<Vec<Cidr>>,
}

/// One `[[ip_rule]]`: `action = "allow"|"deny"`, `prefix`, `from` (CIDRs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    pub action: FileAction,
    pub prefix: UrlPrefix,
    pub from: Vec<Cidr>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileAction {
    Allow,
    Deny,
}

/// A URL path prefix: starts with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UrlPrefix(pub String);

impl TryFrom<String> for UrlPrefix {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if text.starts_with('/') {
            Ok(UrlPrefix(text))
        } else {
            Err(format!("`{text}`: a prefix is a URL path, starting with /"))
        }
    }
}

/// A key as hex, checked where it is written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HexKey(pub String);

impl TryFrom<String> for HexKey {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match crate::access::Key::from_hex(&text) {
            Ok(_) => Ok(HexKey(text)),
            Err(error) => Err(format!("key: {error}")),
        }
    }
}

/// A CIDR or a bare address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Cidr(pub IpNet);

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        parse_net(&text)
            .map(Cidr)
            .map_err(|error| error.to_string())
    }
}

impl FileRule {
    pub fn to_rule(&self) -> IpRule {
        IpRule {
            action: match self.action {
                FileAction::Allow => Action::Allow,
                FileAction::Deny => Action::Deny,
            },
            prefix: self.prefix.0.clone(),
            nets: self.from.iter().map(|cidr| cidr.0).collect(),
        }
    }
}

/// Reads and checks `path`; errors are one line, `path:line:col: what`.
pub fn load(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{}: cannot read: {error}", path.display()))?;
    let mut config = parse(&text).map_err(|error| format!("{}:{error}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new(""));
    let rebase = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    config.media.as_mut().map(rebase);
    config.www.as_mut().map(rebase);
    config.key_files.iter_mut().for_each(rebase);
    Ok(config)
}

/// Parses the text of a config file; errors start with `line:col: `.
pub fn parse(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|error| {
        let message = error.message().trim_end().replace('\n', " ");
        match error.span() {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                format!("{line}:{col}: {message}")
            }
            None => format!(" {message}"),
        }
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_reads_every_key() {
        let config = parse(
            r#"
listen = "127.0.0.1:9000"
media = "media"
cache_control = "no-cache"
cors = false
header_timeout = 5.0
protect = ["/media/private/"]
keys = ["00112233445566778899aabbccddeeff"]
token_name = "tok"
trusted_proxies = ["10.0.0.0/8", "192.0.2.1"]

[[ip_rule]]
action = "deny"
prefix = "/media/"
from = ["203.0.113.0/24"]
"#,
        )
        .expect("parses");
        assert_eq!(config.listen, Some("127.0.0.1:9000".parse().expect("addr")));
        assert_eq!(config.protect, vec![UrlPrefix("/media/private/".into())]);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(
            config.ip_rule[0].to_rule().to_string(),
            "deny /media/=203.0.113.0/24"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_their_line() {
        let error = parse("listen = \"127.0.0.1:0\"\n\nlisten_on = 3\n").expect_err("unknown");
        assert!(error.starts_with("3:1: "), "{error}");
        assert!(error.contains("listen_on"), "{error}");
        let error =
            parse("[[ip_rule]]\naction = \"allow\"\nprefix = \"/m/\"\nfrom = [\"10.0.0.0/99\"]\n")
                .expect_err("bad cidr");
        assert!(error.starts_with("4:"), "{error}");
        assert!(error.contains("10.0.0.0/99"), "{error}");
        let error = parse("\nkeys = [\"0g\"]").expect_err("bad key");
        assert!(error.starts_with("2:"), "{error}");
        let error = parse("protect = [\"media\"]").expect_err("bad prefix");
        assert!(error.starts_with("1:"), "{error}");
    }

    #[test]
    fn the_cache_size_is_a_string_with_a_unit_or_bytes() {
        let mem = |text: &str| parse(text).map(|c| c.cache.and_then(|c| c.mem));
        assert_eq!(mem("[cache]\nmem = \"512M\""), Ok(Some(Size(512 << 20))));
        assert_eq!(mem("[cache]\nmem = 0"), Ok(Some(Size(0))));
        assert_eq!(mem(""), Ok(None));
        let error = mem("[cache]\nmem = \"lots\"").expect_err("bad size");
        assert!(error.starts_with("2:"), "{error}");
        assert!(mem("[cache]\nmem = -1").is_err());
        assert!(mem("[cache]\nsize = 1").is_err());
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
