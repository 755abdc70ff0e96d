//! The outside programs xtask drives (Chromium, ffmpeg, wrk, nginx, node...):
//! finding them, and installing them with apt-get on a fresh machine.
//!
//! One policy for all of them: look on `PATH` and in the system folders a
//! minimal `PATH` may leave out; when a program is missing and we are root on
//! a Debian-like machine (CI is), install its package; otherwise say in one
//! sentence what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail, ensure};

use crate::cmd;

/// Folders searched after `PATH`: `PATH` may be minimal under CI, and Debian
/// puts nginx in an sbin folder a normal user's `PATH` often lacks.
const SYSTEM_DIRS: [&str; 4] = ["/usr/bin", "/usr/sbin", "/sbin", "/usr/local/sbin"];

/// Finds the executable `name` on `PATH`, then in [`SYSTEM_DIRS`].
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SYSTEM_DIRS.map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// A regular file we may execute.
pub fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = path.metadata() else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        metadata.is_file()
    }
}

/// `id -u` is 0: portable across Unixes and needs no unsafe `geteuid`. Any
/// failure to ask counts as "not root", which only means we do not install.
pub fn is_root() -> bool {
    cmd::output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// Whether apt-get also installs a package's "Recommends".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recommends {
    /// The default for command-line tools: fewer packages, a faster install.
    Skip,
    /// What a desktop install gets (Chromium's fonts and helpers).
    Install,
}

/// Whether we could install packages here: root, with apt-get.
pub fn can_install() -> bool {
    is_root() && find_program("apt-get").is_some()
}

/// Installs `packages` with apt-get, non-interactively, when we are root;
/// otherwise fails with `hint` (the one sentence saying what to install).
/// A fresh container often has no package lists yet: when the install
/// fails, `apt-get update` and one more try.
pub fn apt_install(packages: &[&str], recommends: Recommends, hint: &str) -> Result<()> {
    let Some(apt_get) = find_program("apt-get").filter(|_| is_root()) else {
        bail!("{hint}");
    };
    println!("installing {} with apt-get", packages.join(" "));
    let install = || {
        let mut command = Command::new(&apt_get);
        command.args(["install", "-y"]);
        if recommends == Recommends::Skip {
            command.arg("--no-install-recommends");
        }
        cmd::status(
            command
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install()?.success() {
        return Ok(());
    }
    cmd::run(
        Command::new(&apt_get)
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let status = install()?;
    ensure!(
        status.success(),
        "apt-get install failed ({status}); {hint}"
    );
    Ok(())
}

/// Finds `program`, installing `packages` (which provide it) when it is
/// missing and we may; else fails saying what to install.
pub fn ensure_program(program: &str, packages: &[&str]) -> Result<PathBuf> {
    if let Some(path) = find_program(program) {
        return Ok(path);
    }
    apt_install(packages, Recommends::Skip, &install_hint(program, packages))?;
    match find_program(program) {
        Some(path) => Ok(path),
        None => bail!(
            "apt-get installed {} but `{program}` is still not found",
            packages.join(" ")
        ),
    }
}

/// The sentence that says what to install when we may not install it.
pub fn install_hint(program: &str, packages: &[&str]) -> String {
    format!(
        "`{program}` is missing: install it (on Debian, as root: `apt-get install -y {}`)",
        packages.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_every_unix_has_and_not_a_made_up_one() {
        assert!(find_program("sh").is_some());
        assert!(find_program("caudal-no-such-program").is_none());
    }

    #[test]
    fn a_folder_is_not_an_executable() {
        assert!(!is_executable(Path::new("/")));
    }
}
