//! Interoperability with Akamai's own token libraries, EdgeAuth for
//! Python (PyPI `akamai-edgeauth`) and for Node (npm `akamai-edgeauth`),
//! pinned below and installed under target/tmp on first run: tokens they
//! make (ACL and URL forms, with and without `ip` and `st`, `escape_early`,
//! a rotated key, SHA-1) are judged by `caudal verify` as the library means
//! them, and `caudal sign` makes the very strings the library makes for
//! the same fields.
//!
//! Needs python3 with venv and pip and PyPI, or node with npm and the npm
//! registry. Missing, a test skips with a `skipped:` line; under CI (`CI`
//! set) it fails instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

const PYPI_EDGEAUTH: &str = "akamai-edgeauth==0.3.2";
const NPM_EDGEAUTH: &str = "akamai-edgeauth@0.2.0";
const KEY: &str = "6c1d3e5f7a9b0c2d4e6f8a1b3c5d7e9f0a2b4c6d8e1f3a5b7c9d0e2f4a6b8c1d";
const OLD_KEY: &str = "aabbccddeeff00112233445566778899";
const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/edgeauth");

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| !matches!(ci.as_str(), "" | "0" | "false" | "FALSE"))
}

/// One of the EdgeAuth libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Library {
    Python,
    Node,
}

impl Library {
    /// The command that runs this library's token script, installing the
    /// library on first use; or why it cannot run here.
    fn command(self) -> Result<Vec<PathBuf>, String> {
        static PYTHON: OnceLock<Result<Vec<PathBuf>, String>> = OnceLock::new();
        static NODE: OnceLock<Result<Vec<PathBuf>, String>> = OnceLock::new();
        match self {
            Library::Python => PYTHON.get_or_init(install_python).clone(),
            Library::Node => NODE.get_or_init(install_node).clone(),
        }
    }

    /// The command, or `None` after a `skipped:` line (a panic under CI).
    fn command_or_skip(self, test: &str) -> Option<Vec<PathBuf>> {
        match self.command() {
            Ok(command) => Some(command),
            Err(why) => {
                assert!(
                    !under_ci(),
                    "{test} ({self:?}): {why}; under CI this test must run"
                );
                eprintln!("skipped: {test} ({self:?}): {why}");
                None
            }
        }
    }

    /// Tokens the library makes for `cases` (Python option names).
    fn tokens(self, command: &[PathBuf], cases: &Value) -> Vec<String> {
        let (program, args) = command.split_first().expect("a program");
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the EdgeAuth script");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(cases.to_string().as_bytes())
            .expect("write cases");
        let output = child.wait_with_output().expect("EdgeAuth script");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("a JSON list of tokens")
    }
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|error| format!("{what}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn install_python() -> Result<Vec<PathBuf>, String> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("edgeauth-venv");
    let python = venv.join("bin/python");
    let importable = |python: &Path| {
        Command::new(python)
            .args(["-c", "import akamai.edgeauth"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !importable(&python) {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        )?;
        run(
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PYPI_EDGEAUTH,
            ]),
            "pip install akamai-edgeauth",
        )?;
        if !importable(&python) {
            return Err("akamai.edgeauth is not importable after pip install".into());
        }
    }
    Ok(vec![python, Path::new(SCRIPTS).join("make_tokens.py")])
}

fn install_node() -> Result<Vec<PathBuf>, String> {
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("edgeauth-npm");
    let installed = prefix.join("node_modules/akamai-edgeauth/package.json");
    if !installed.is_file() {
        std::fs::create_dir_all(&prefix)
            .map_err(|error| format!("mkdir {}: {error}", prefix.display()))?;
        run(
            Command::new("npm")
                .arg("install")
                .arg("--prefix")
                .arg(&prefix)
                .args(["--no-audit", "--no-fund", "--silent", NPM_EDGEAUTH]),
            "npm install akamai-edgeauth",
        )?;
    }
    run(Command::new("node").arg("--version"), "node --version")?;
    // Run from the install folder, so `require('akamai-edgeauth')` finds it.
    let script = prefix.join("make_tokens.js");
    std::fs::copy(Path::new(SCRIPTS).join("make_tokens.js"), &script)
        .map_err(|error| format!("copy make_tokens.js: {error}"))?;
    Ok(vec![PathBuf::from("node"), script])
}

fn caudal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(args)
        .env_remove("CAUDAL_LOG")
        .output()
        .expect("run caudal")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

#[test]
fn tokens_made_by_python_edgeauth_are_judged_as_it_means_them() {
    judged_as_meant(
        Library::Python,
        "tokens_made_by_python_edgeauth_are_judged_as_it_means_them",
    );
}

#[test]
fn tokens_made_by_node_edgeauth_are_judged_as_it_means_them() {
    judged_as_meant(
        Library::Node,
        "tokens_made_by_node_edgeauth_are_judged_as_it_means_them",
    );
}

fn judged_as_meant(library: Library, test: &str) {
    let Some(command) = library.command_or_skip(test) else {
        return;
    };
    let later = now() + 3600;
    // (EdgeAuth options, the URL the token is used on, flags, valid, what caudal says)
    #[rustfmt::skip]
    let cases: Vec<(Value, &str, Vec<&str>, bool, &str)> = vec![
        (json!({"key": KEY, "window_seconds": 3600, "acl": "/media/*"}), "/media/a/b.mp4", vec![], true, "valid"),
        (json!({"key": KEY, "window_seconds": 3600, "acl": ["/live/*", "/media/*"]}), "/media/a.mp4", vec![], true, "valid"),
        (json!({"key": KEY, "window_seconds": 3600, "acl": "/media/*"}), "/other/a.mp4", vec![], false, "not valid for this path"),
        (json!({"key": KEY, "window_seconds": 3600, "url": "/media/a.mp4"}), "/media/a.mp4", vec![], true, "valid"),
        (json!({"key": KEY, "window_seconds": 3600, "url": "/media/a.mp4"}), "/media/b.mp4", vec![], false, "bad signature"),
        (json!({"key": KEY, "start_time": "now", "window_seconds": 3600, "ip": "127.0.0.1", "acl": "/media/*"}), "/media/a.mp4", vec!["--ip", "127.0.0.1"], true, "valid"),
        (json!({"key": KEY, "start_time": "now", "window_seconds": 3600, "ip": "127.0.0.1", "acl": "/media/*"}), "/media/a.mp4", vec!["--ip", "127.0.0.2"], false, "not valid for this address"),
        (json!({"key": KEY, "start_time": "now", "window_seconds": 3600, "ip": "127.0.0.1", "url": "/media/a.mp4"}), "/media/a.mp4", vec!["--ip", "127.0.0.1"], true, "valid"),
        (json!({"key": KEY, "window_seconds": 3600, "session_id": "s42", "payload": "user=7", "acl": "/media/*"}), "/media/a.mp4", vec![], true, "valid"),
        (json!({"key": KEY, "window_seconds": 3600, "escape_early": true, "ip": "::1", "payload": "a b/c", "url": "/media/my clip.mp4"}), "/media/my%20clip.mp4", vec!["--ip", "::1"], true, "valid"),
        (json!({"key": KEY, "window_seconds": 3600, "escape_early": true, "session_id": "it's", "url": "/media/(1)!*.mp4"}), "/media/(1)!*.mp4", vec![], true, "valid"),
        (json!({"key": KEY, "start_time": later, "end_time": later + 60, "acl": "/media/*"}), "/media/a.mp4", vec![], false, "not valid before"),
        (json!({"key": KEY, "start_time": 1000, "end_time": 2000, "acl": "/media/*"}), "/media/a.mp4", vec![], false, "expired at 2000"),
        (json!({"key": OLD_KEY, "window_seconds": 3600, "acl": "/media/*"}), "/media/a.mp4", vec!["--key", OLD_KEY], true, "key 2 of 2"),
        (json!({"key": OLD_KEY, "window_seconds": 3600, "acl": "/media/*"}), "/media/a.mp4", vec![], false, "bad signature"),
        (json!({"key": KEY, "window_seconds": 3600, "algorithm": "sha1", "acl": "/media/*"}), "/media/a.mp4", vec![], false, "bad signature"),
        (json!({"key": KEY, "window_seconds": 3600, "algorithm": "sha1", "acl": "/media/*"}), "/media/a.mp4", vec!["--allow-legacy-hashes"], true, "valid"),
    ];
    let options: Vec<Value> = cases.iter().map(|case| case.0.clone()).collect();
    let tokens = library.tokens(&command, &Value::Array(options));
    assert_eq!(tokens.len(), cases.len());
    for ((options, path, flags, valid, says), token) in cases.iter().zip(&tokens) {
        let url = format!("{path}?x=1&__token__={token}");
        let mut args = vec!["verify", &url, "--key", KEY];
        args.extend(flags.iter().copied());
        let output = caudal(&args);
        let line = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.success(),
            *valid,
            "{library:?} {options} on {path}: {line}"
        );
        assert!(
            line.contains(says),
            "{library:?} {options} on {path}: `{line}` lacks `{says}`"
        );
    }
}

/// The `st` and `exp` of a token, as EdgeAuth options.
fn times(token: &str) -> (Option<u64>, u64) {
    let field = |name: &str| {
        token
            .split('~')
            .find_map(|f| f.strip_prefix(name))
            .map(|v| v.parse::<u64>().expect("seconds"))
    };
    (field("st="), field("exp=").expect("exp"))
}

#[test]
fn caudal_sign_makes_the_strings_python_edgeauth_makes() {
    same_strings(
        Library::Python,
        "caudal_sign_makes_the_strings_python_edgeauth_makes",
    );
}

#[test]
fn caudal_sign_makes_the_strings_node_edgeauth_makes() {
    same_strings(
        Library::Node,
        "caudal_sign_makes_the_strings_node_edgeauth_makes",
    );
}

fn same_strings(library: Library, test: &str) {
    let Some(command) = library.command_or_skip(test) else {
        return;
    };
    // (caudal sign flags, the same token as EdgeAuth options, minus times)
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, Value)> = vec![
        (vec!["--acl", "/media/*"], json!({"acl": "/media/*"})),
        (vec!["--acl", "/media/*", "--acl", "/live/*"], json!({"acl": ["/media/*", "/live/*"]})),
        (vec!["/media/a.mp4"], json!({"url": "/media/a.mp4"})),
        (vec!["/media/a.mp4", "--start", "now", "--ip", "192.0.2.9"], json!({"url": "/media/a.mp4", "ip": "192.0.2.9"})),
        (vec!["--acl", "/media/*", "--start", "1700000000", "--ip", "2001:db8::1", "--id", "s1", "--data", "k=v"],
         json!({"acl": "/media/*", "ip": "2001:db8::1", "session_id": "s1", "payload": "k=v"})),
        (vec!["/media/my clip.mp4", "--escape-early", "--ip", "2001:db8::1", "--data", "a b/c"],
         json!({"url": "/media/my clip.mp4", "escape_early": true, "ip": "2001:db8::1", "payload": "a b/c"})),
        (vec!["--acl", "/media/*", "--algorithm", "sha1"], json!({"acl": "/media/*", "algorithm": "sha1"})),
    ];
    let mut ours = Vec::new();
    let mut options = Vec::new();
    for (flags, mut same) in cases {
        // `--escape-early` is the Python library's form (`quote_plus`); the
        // Node one encodes space and `!*'()` differently.
        if library == Library::Node && same.get("escape_early").is_some() {
            continue;
        }
        let mut args = vec!["sign", "--ttl", "2h", "--key", KEY];
        args.extend(flags.iter().copied());
        let output = caudal(&args);
        assert!(
            output.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let token = line
            .split_once("__token__=")
            .map_or(line.clone(), |(_, t)| t.to_owned());
        let (start, expires) = times(&token);
        same["key"] = json!(KEY);
        same["end_time"] = json!(expires);
        if let Some(start) = start {
            same["start_time"] = json!(start);
        }
        ours.push((flags, token));
        options.push(same);
    }
    let theirs = library.tokens(&command, &Value::Array(options));
    assert_eq!(theirs.len(), ours.len());
    for ((flags, ours), theirs) in ours.iter().zip(&theirs) {
        assert_eq!(ours, theirs, "{library:?}: caudal sign {flags:?}");
    }
}
