//! npm packages the interop tests run under node (independent validators
//! and decoders of what Caudal sends), installed at pinned versions into
//! `target/npm-tests/<name>/` on first use.

use std::path::PathBuf;
use std::process::Command;

/// The folder where `packages` are installed (installing them when the
/// stamp says otherwise), with `script` (from `tests/js/`) copied in so
/// that it finds them; or why not (no node, no npm, no registry).
pub fn prepared(name: &str, packages: &[&str], script: Option<&str>) -> Result<PathBuf, String> {
    let dir = crate::server::workspace_root()
        .join("target/npm-tests")
        .join(name);
    let stamp = dir.join("installed.txt");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let out = Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&dir)
            .args(["--no-audit", "--no-fund", "--silent"])
            .args(packages)
            .output()
            .map_err(|e| format!("npm: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm install {}: {}",
                packages.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::fs::write(&stamp, &wanted).map_err(|e| format!("write stamp: {e}"))?;
    }
    if let Some(script) = script {
        let source = crate::server::workspace_root()
            .join("tests/js")
            .join(script);
        std::fs::copy(&source, dir.join(script)).map_err(|e| format!("copy {script}: {e}"))?;
    }
    Ok(dir)
}

/// Runs `script` in `dir` under node with `input` on stdin; its stdout.
pub fn run(dir: &std::path::Path, script: &str, input: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(input.as_bytes())
        .map_err(|e| format!("write to node: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("node: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
