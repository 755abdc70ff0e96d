//! Headless Chromium driven over WebDriver (chromedriver + fantoccini).
//!
//! Each [`Browser`] owns one chromedriver process on a free loopback port and
//! the Chromium it starts, with a fresh profile directory. Dropping the
//! `Browser` kills chromedriver and every process it started (the process
//! tree below chromedriver, plus anything still running with our profile
//! directory on its command line), by process id, and removes the profile.

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Where the browser binaries are.
#[derive(Debug, Clone)]
pub struct BrowserPaths {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
}

/// Whether the browser tests can run here.
#[derive(Debug)]
pub enum Availability {
    /// Both binaries were found.
    Ready(BrowserPaths),
    /// Told to skip (`CAUDAL_SKIP_BROWSER`): the reason, for a "skipped: ..." line.
    Skip(String),
    /// Not installed: what is missing. A skip on a laptop, a failure under CI
    /// (see [`crate::skip`]).
    Missing(String),
    /// Told where the binaries are, but they are not there: a configuration error.
    Misconfigured(String),
}

/// Decides from the environment whether and with what the browser tests run:
/// `CAUDAL_SKIP_BROWSER=1` skips; `CAUDAL_CHROMEDRIVER` / `CAUDAL_CHROMIUM`
/// name the binaries (an explicit path that does not exist is an error, not a
/// skip); else `chromedriver` / `chromium` are looked up on `PATH` and in
/// `/usr/bin`, and their absence is [`Availability::Missing`].
pub fn availability() -> Availability {
    if let Ok(v) = std::env::var("CAUDAL_SKIP_BROWSER")
        && !v.is_empty()
        && v != "0"
    {
        return Availability::Skip(format!("CAUDAL_SKIP_BROWSER={v}"));
    }
    let find = |var: &str, names: &[&str]| -> std::result::Result<Option<PathBuf>, String> {
        if let Some(explicit) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(explicit);
            return if path.is_file() {
                Ok(Some(path))
            } else {
                Err(format!("{var}={} does not exist", path.display()))
            };
        }
        Ok(names.iter().find_map(|name| find_on_path(name)))
    };
    let driver = find("CAUDAL_CHROMEDRIVER", &["chromedriver"]);
    let chromium = find("CAUDAL_CHROMIUM", &["chromium", "chromium-browser"]);
    match (driver, chromium) {
        (Err(e), _) | (_, Err(e)) => Availability::Misconfigured(e),
        (Ok(Some(chromedriver)), Ok(Some(chromium))) => Availability::Ready(BrowserPaths {
            chromedriver,
            chromium,
        }),
        (Ok(d), Ok(c)) => {
            let mut missing = Vec::new();
            if d.is_none() {
                missing.push("chromedriver (set CAUDAL_CHROMEDRIVER)");
            }
            if c.is_none() {
                missing.push("chromium (set CAUDAL_CHROMIUM)");
            }
            Availability::Missing(format!(
                "not found: {}; on Debian: apt-get install chromium chromium-driver",
                missing.join(", ")
            ))
        }
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A free TCP port on 127.0.0.1 (bound, read back, released).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// One chromedriver + headless Chromium, with a WebDriver session.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Child,
    /// Holds the Chromium profile (`profile/`) and `chromedriver.log`.
    dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; bounded (30 s).
    pub async fn start(paths: &BrowserPaths) -> Result<Browser> {
        let dir = tempfile::Builder::new()
            .prefix("caudal-chromium-")
            .tempdir()
            .context("creating the browser's temp dir")?;
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile)?;
        let log_path = dir.path().join("chromedriver.log");
        let log = File::create(&log_path)?;
        let port = free_port()?;
        let driver = Command::new(&paths.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", paths.chromedriver.display()))?;
        // From here on, Drop cleans up whatever happens.
        let mut this = Partial {
            driver: Some(driver),
            dir: Some(dir),
        };
        wait_for_port(&mut this, port, &log_path).await?;

        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-breakpad",
            "--disable-crash-reporter",
            "--autoplay-policy=no-user-gesture-required",
            "--mute-audio",
            "--window-size=1024,768",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "script": 20_000, "pageLoad": 20_000, "implicit": 0 },
            "goog:chromeOptions": {
                "binary": paths.chromium.display().to_string(),
                "args": args,
            },
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let url = format!("http://127.0.0.1:{port}");
        let client = tokio::time::timeout(Duration::from_secs(30), builder.connect(&url))
            .await
            .map_err(|_| anyhow!("no WebDriver session within 30 s{}", log_tail(&log_path)))?
            .map_err(|e| anyhow!("WebDriver session: {e}{}", log_tail(&log_path)))?;
        let (driver, dir) = this.take();
        Ok(Browser {
            client,
            driver,
            dir,
        })
    }

    /// The WebDriver client (cheap to clone).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates (bounded by the session's page-load timeout, 20 s).
    pub async fn goto(&self, url: &str) -> Result<()> {
        tokio::time::timeout(Duration::from_secs(25), self.client.goto(url))
            .await
            .map_err(|_| anyhow!("navigating to {url}: no load within 25 s"))?
            .with_context(|| format!("navigating to {url}"))
    }

    /// The last lines chromedriver wrote, for error messages.
    pub fn driver_log_tail(&self) -> String {
        log_tail(&self.dir.path().join("chromedriver.log"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_tree(&mut self.driver, self.dir.path());
    }
}

/// Cleans up a half-started browser.
struct Partial {
    driver: Option<Child>,
    dir: Option<tempfile::TempDir>,
}

impl Partial {
    fn take(&mut self) -> (Child, tempfile::TempDir) {
        match (self.driver.take(), self.dir.take()) {
            (Some(d), Some(t)) => (d, t),
            _ => unreachable!("taken once"),
        }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let (Some(driver), Some(dir)) = (self.driver.as_mut(), self.dir.as_ref()) {
            kill_tree(driver, dir.path());
        }
    }
}

async fn wait_for_port(partial: &mut Partial, port: u16, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Some(driver) = partial.driver.as_mut()
            && let Some(status) = driver.try_wait()?
        {
            bail!("chromedriver exited at start ({status}){}", log_tail(log));
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "chromedriver did not listen on port {port} within 10 s{}",
                log_tail(log)
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .is_err()
    {
        return String::new();
    }
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n  ");
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n  chromedriver log:\n  {tail}")
    }
}

/// Kills chromedriver, every descendant of it, and any process whose command
/// line names `dir` (our Chromium profile), all by pid; waits briefly for them.
fn kill_tree(driver: &mut Child, dir: &Path) {
    let me = std::process::id();
    let mut pids = descendants(driver.id());
    let needle = dir.display().to_string();
    for pid in processes_mentioning(&needle) {
        if pid != me && !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    let _ = driver.kill();
    let _ = driver.wait();
    if !pids.is_empty() {
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(|p| p.to_string()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// (pid, ppid) of every process, from /proc.
fn process_table() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may contain spaces and parens.
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect()
}

fn descendants(root: u32) -> Vec<u32> {
    let table = process_table();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &table {
            if ppid == parent && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}

fn processes_mentioning(needle: &str) -> Vec<u32> {
    process_table()
        .into_iter()
        .filter_map(|(pid, _)| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(needle)
                .then_some(pid)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
