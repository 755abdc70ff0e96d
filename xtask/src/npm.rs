//! The two npm tools the player build runs: Binaryen's `wasm-opt` (the
//! optimizer wasm-pack also runs; Debian's old Binaryen corrupts our output)
//! and `terser` (the JavaScript minifier). Both are installed, at pinned
//! versions, into `target/npm-tools/`, once per machine; node and npm come
//! from apt when they are missing and we are root.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::player::Names;
use crate::workspace::Workspace;
use crate::{cmd, tools};

/// The packages and their exact versions: a build is reproducible only with
/// the same optimizer.
const PACKAGES: [(&str, &str); 2] = [("binaryen", "132.0.0"), ("terser", "5.51.4")];

/// Where the tools are, once installed.
pub struct NpmTools {
    node: PathBuf,
    bin: PathBuf,
}

impl NpmTools {
    /// Installs the pinned packages unless the stamp says they are there.
    pub fn ensure(ws: &Workspace) -> Result<Self> {
        let node = tools::ensure_program("node", &["nodejs"])?;
        let prefix = ws.target_dir.join("npm-tools");
        let stamp = prefix.join("caudal-versions");
        let wanted = wanted_stamp();
        let bin = prefix.join("node_modules").join(".bin");
        let installed = fs::read_to_string(&stamp).unwrap_or_default();
        if installed != wanted || !bin.join("wasm-opt").exists() || !bin.join("terser").exists() {
            let npm = tools::ensure_program("npm", &["npm"])?;
            fs::create_dir_all(&prefix)
                .with_context(|| format!("could not create {}", prefix.display()))?;
            println!("installing {} with npm", wanted.trim().replace('\n', " "));
            cmd::run(
                Command::new(npm)
                    .arg("install")
                    .args(["--no-save", "--no-audit", "--no-fund", "--prefix"])
                    .arg(&prefix)
                    .args(PACKAGES.map(|(name, version)| format!("{name}@{version}"))),
            )?;
            fs::write(&stamp, &wanted)
                .with_context(|| format!("could not write {}", stamp.display()))?;
        }
        Ok(Self { node, bin })
    }

    /// `wasm-opt -Oz` of `wasm` in place: Binaryen's size passes (dead code,
    /// inlining, local coalescing) over what LLVM and wasm-bindgen left.
    pub fn optimize_wasm(&self, wasm: &Path, names: Names) -> Result<()> {
        let before = file_len(wasm)?;
        let mut command = self.script("wasm-opt");
        if names == Names::Keep {
            command.arg("--debuginfo");
        }
        cmd::run(
            command
                .arg(wasm)
                .arg("-o")
                .arg(wasm)
                .args(["-Oz", "--converge"])
                // The features rustc's wasm32 target enables by default.
                .args([
                    "--enable-bulk-memory",
                    "--enable-nontrapping-float-to-int",
                    "--enable-sign-ext",
                    "--enable-mutable-globals",
                    "--enable-multivalue",
                    "--enable-reference-types",
                ]),
        )?;
        let after = file_len(wasm)?;
        ensure!(
            after > 0 && after <= before,
            "wasm-opt grew {}",
            wasm.display()
        );
        Ok(())
    }

    /// Minifies `js` in place with terser. `module`: an ES module (its
    /// top-level names are private and may be mangled); otherwise a classic
    /// script, whose top-level names are the page's globals and stay.
    pub fn minify_js(&self, js: &Path, module: bool) -> Result<()> {
        let mut command = self.script("terser");
        command
            .arg(js)
            .arg("-o")
            .arg(js)
            .args(["--compress", "passes=2", "--mangle", "--ecma", "2020"])
            .args(["--comments", "false"]);
        if module {
            command.arg("--module");
        }
        cmd::run(&mut command)
    }

    /// The tool's npm bin script, run by node (its shebang may name a node
    /// that is not on `PATH`).
    fn script(&self, name: &str) -> Command {
        let mut command = Command::new(&self.node);
        command.arg(self.bin.join(name));
        command
    }
}

fn wanted_stamp() -> String {
    PACKAGES
        .iter()
        .map(|(name, version)| format!("{name}@{version}\n"))
        .collect()
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)
        .with_context(|| format!("could not read {}", path.display()))?
        .len())
}
