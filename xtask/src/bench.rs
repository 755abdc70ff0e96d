//! `cargo xtask bench server`: `caudal` against nginx, side by side, in one run.
//!
//! The design rule is that speed and memory goals are shown by benchmarks that
//! compare against a reference in the same run (same machine, same file, same
//! page cache, same load generator), never by absolute numbers or timed tests.
//! Both servers serve one 64 MiB file of pseudo-random bytes from a scratch
//! directory, and `wrk` drives two workloads against each in turn:
//!
//! * **64 KiB ranges**: 256 connections asking random 64 KiB-aligned ranges,
//!   the shape of many players seeking and buffering at once;
//! * **whole file**: 16 connections downloading the whole file, raw throughput.
//!
//! Each measured run is preceded by a short warmup so the page cache is hot and
//! the servers have reached their steady state.

use anyhow::{Context, Result, bail, ensure};
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// `bench remux` (MP4 remux: native, wasm, mp4box.js) has its own file; it is
// declared here, where it is dispatched, and shares the helpers below.
#[path = "bench_remux.rs"]
mod bench_remux;
// `bench qoe` (real-browser QoE: caudal, native <video>, hls.js) likewise.
#[path = "bench_qoe.rs"]
mod bench_qoe;

/// Name of the served file, under `/media/` on both servers.
const FILE_NAME: &str = "bench.bin";
/// Large enough that the random ranges do not all sit in one CPU cache, small
/// enough to write quickly and to stay in the page cache.
const FILE_SIZE: u64 = 64 * 1024 * 1024;
/// Size and alignment of the ranges asked by the ranges workload.
const RANGE_SIZE: u64 = 64 * 1024;
/// Warmup before every measured run, so the page cache is hot.
const WARMUP_SECONDS: u64 = 2;
/// wrk threads; two, to match the two cores the reference machine has.
const WRK_THREADS: u32 = 2;
/// How long a server may take to start accepting connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

const USAGE: &str = "\
usage: cargo xtask bench server [--seconds N] [--only caudal|nginx]
       cargo xtask bench remux [--help]   (MP4 remux: native, wasm, mp4box.js)
       cargo xtask bench qoe [--help]     (playback QoE in Chromium: caudal, native, hls.js)

Benchmarks caudal against nginx with wrk on the same 64 MiB file:
random 64 KiB ranges (256 connections) and whole-file downloads (16 connections).

options:
  --seconds N            length of each measured run (default 10)
  --only caudal|nginx    benchmark one server only";

/// Entry point for `cargo xtask bench ...`; `args` is everything after `bench`.
pub fn run(args: &[String]) -> Result<()> {
    match args.split_first() {
        Some((target, rest)) if target == "server" => bench_server(&Options::parse(rest)?),
        Some((target, rest)) if target == "remux" => bench_remux::run(rest),
        Some((target, rest)) if target == "qoe" => bench_qoe::run(rest),
        Some((flag, _)) if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        Some((other, _)) => bail!("unknown benchmark `{other}`\n\n{USAGE}"),
        None => bail!("which benchmark?\n\n{USAGE}"),
    }
}

/// Command-line options of `bench server`.
#[derive(Debug)]
struct Options {
    seconds: u64,
    only: Option<ServerKind>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut options = Options {
            seconds: 10,
            only: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (flag, inline_value) = match arg.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            let mut value = || {
                inline_value
                    .clone()
                    .or_else(|| args.next().cloned())
                    .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match flag {
                "--seconds" => {
                    let text = value()?;
                    options.seconds = text
                        .parse()
                        .with_context(|| format!("--seconds: `{text}` is not a whole number"))?;
                    ensure!(options.seconds > 0, "--seconds must be at least 1");
                }
                "--only" => options.only = Some(ServerKind::parse(&value()?)?),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                _ => bail!("unknown option `{arg}`\n\n{USAGE}"),
            }
        }
        Ok(options)
    }

    fn includes(&self, kind: ServerKind) -> bool {
        self.only.is_none_or(|only| only == kind)
    }
}

/// The servers under comparison; nginx is the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Nginx,
    Caudal,
}

impl ServerKind {
    fn parse(text: &str) -> Result<Self> {
        match text {
            "nginx" => Ok(ServerKind::Nginx),
            "caudal" => Ok(ServerKind::Caudal),
            _ => bail!("--only: expected `caudal` or `nginx`, got `{text}`"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ServerKind::Nginx => "nginx",
            ServerKind::Caudal => "caudal",
        }
    }
}

/// One load shape driven by wrk.
#[derive(Debug)]
struct Workload {
    name: &'static str,
    connections: u32,
    /// Lua script shaping the requests; `None` asks the whole file.
    script: Option<PathBuf>,
    /// Body bytes of each successful response, to catch a server that answers
    /// 200 with the whole file where a range was asked (wrk counts both as success).
    body_size: u64,
}

/// What wrk reported for one run.
#[derive(Debug, Clone, Default)]
struct WrkStats {
    requests_per_sec: f64,
    bytes_per_sec: f64,
    non_success: u64,
    /// The "Socket errors" line, kept only when some count is not zero.
    socket_errors: Option<String>,
    /// Mean bytes per response, kept only when far from the expected body size.
    odd_response_size: Option<f64>,
}

impl WrkStats {
    fn is_clean(&self) -> bool {
        self.non_success == 0 && self.socket_errors.is_none() && self.odd_response_size.is_none()
    }

    /// Flags a mean response size far from `body_size`. The bounds are loose
    /// because wrk counts the bytes of responses still in flight at the end
    /// and rounds its figures; they still catch a range answered with the
    /// whole file, or truncated bodies.
    fn check_response_size(&mut self, body_size: u64) {
        if self.requests_per_sec <= 0.0 {
            return;
        }
        let mean = self.bytes_per_sec / self.requests_per_sec;
        let body = body_size as f64;
        if mean < 0.9 * body || mean > 2.0 * body + 4096.0 {
            self.odd_response_size = Some(mean);
        }
    }
}

/// Results of one workload across the servers.
#[derive(Debug)]
struct Row {
    workload: String,
    nginx: Option<WrkStats>,
    caudal: Option<WrkStats>,
    /// caudal's peak resident set (VmHWM, KiB) once this workload is done.
    caudal_peak_rss_kib: Option<u64>,
}

fn bench_server(options: &Options) -> Result<()> {
    let tools = Tools::find(options)?;
    let caudal_bin = match options.includes(ServerKind::Caudal) {
        true => Some(build_caudal()?),
        false => None,
    };

    // Declared before the servers so it is dropped after them: the servers
    // must be stopped before their files and config disappear.
    let scratch = ScratchDir::create()?;
    let media_dir = scratch.path().join("media");
    fs::create_dir(&media_dir).context("creating the media directory")?;
    let prefix = write_random_file(&media_dir.join(FILE_NAME), FILE_SIZE)?;
    let workloads = [
        Workload {
            name: "64 KiB ranges",
            connections: 256,
            script: Some(write_range_script(scratch.path())?),
            body_size: RANGE_SIZE,
        },
        Workload {
            name: "whole file",
            connections: 16,
            script: None,
            body_size: FILE_SIZE,
        },
    ];

    let mut servers = Vec::new();
    if let Some(nginx) = &tools.nginx {
        servers.push(start_nginx(nginx, scratch.path(), &media_dir)?);
    }
    if let Some(bin) = &caudal_bin {
        servers.push(start_caudal(bin, &media_dir)?);
    }
    for server in &servers {
        verify_range(server.addr, &prefix)
            .with_context(|| format!("{} failed the correctness check", server.kind.name()))?;
        eprintln!(
            "bench: {} at {} answers ranges correctly",
            server.kind.name(),
            server.addr
        );
    }

    let mut rows = Vec::new();
    for workload in &workloads {
        let mut row = Row {
            workload: format!("{} ({} conns)", workload.name, workload.connections),
            nginx: None,
            caudal: None,
            caudal_peak_rss_kib: None,
        };
        for server in &servers {
            let stats = measure(&tools.wrk, server, workload, options.seconds)?;
            match server.kind {
                ServerKind::Nginx => row.nginx = Some(stats),
                ServerKind::Caudal => {
                    row.caudal = Some(stats);
                    row.caudal_peak_rss_kib = Some(peak_rss_kib(server.process.pid())?);
                }
            }
        }
        rows.push(row);
    }
    drop(servers);

    print_report(options, &rows);
    Ok(())
}

// ---------------------------------------------------------------------------
// Tools

/// Paths of the external programs the benchmark drives.
#[derive(Debug)]
struct Tools {
    wrk: PathBuf,
    /// `None` when nginx is not benchmarked (`--only caudal`).
    nginx: Option<PathBuf>,
}

impl Tools {
    /// Finds wrk (and nginx unless `--only caudal`), installing them with
    /// apt-get when missing and we are root, else says what to install.
    fn find(options: &Options) -> Result<Self> {
        let want_nginx = options.includes(ServerKind::Nginx);
        let missing: Vec<&str> = [("wrk", true), ("nginx", want_nginx)]
            .into_iter()
            .filter(|&(name, wanted)| wanted && find_program(name).is_none())
            .map(|(name, _)| name)
            .collect();
        if !missing.is_empty() {
            install_packages(&missing)?;
        }
        let locate = |name: &str| {
            find_program(name)
                .with_context(|| format!("`{name}` is still not found after installing it"))
        };
        Ok(Tools {
            wrk: locate("wrk")?,
            nginx: if want_nginx {
                Some(locate("nginx")?)
            } else {
                None
            },
        })
    }
}

/// Looks `name` up in `PATH`, and in the sbin directories where Debian puts
/// nginx but which are often not in a normal user's `PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn install_packages(packages: &[&str]) -> Result<()> {
    let hint = format!(
        "missing: {list}. Install them first, e.g. `sudo apt-get install -y {list}` on Debian/Ubuntu",
        list = packages.join(" ")
    );
    if !is_root() || find_program("apt-get").is_none() {
        bail!(hint);
    }
    eprintln!("bench: installing {} with apt-get", packages.join(" "));
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
    };
    if install().is_ok_and(|status| status.success()) {
        return Ok(());
    }
    // A fresh container often has no package lists yet.
    let updated = Command::new("apt-get")
        .arg("update")
        .status()
        .context("running apt-get update")?;
    ensure!(updated.success(), "apt-get update failed; {hint}");
    let installed = install().context("running apt-get install")?;
    ensure!(installed.success(), "apt-get install failed; {hint}");
    Ok(())
}

/// Builds `package`'s binary `bin` in release (benchmarks time it; a debug
/// build would time the compiler's checks) and returns its path.
fn build_release_bin(
    ws: &crate::workspace::Workspace,
    package: &str,
    bin: &str,
) -> Result<PathBuf> {
    eprintln!("bench: building {package} --bin {bin} (release)");
    crate::cmd::run(ws.cargo().args([
        "build",
        "--quiet",
        "--release",
        "--package",
        package,
        "--bin",
        bin,
    ]))?;
    let path = ws
        .target_dir
        .join("release")
        .join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    ensure!(path.is_file(), "cargo built no {}", path.display());
    Ok(path)
}

/// Makes a cached benchmark input with ffmpeg (installed with apt when
/// missing, as root), unless it is already there. Written aside and
/// renamed, so an interrupted encode is never reused.
fn encode_once(path: &Path, ffmpeg_args: &[&str]) -> Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    if find_program("ffmpeg").is_none() {
        install_packages(&["ffmpeg"])?;
    }
    let ffmpeg =
        find_program("ffmpeg").context("`ffmpeg` is still not found after installing it")?;
    eprintln!("bench: encoding {} once with ffmpeg", path.display());
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    crate::cmd::run(
        Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(ffmpeg_args)
            .arg(&partial),
    )?;
    fs::rename(&partial, path)
        .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))
}

/// `node` or `npm`, installed with apt when missing and we are root.
fn node_tool(name: &str) -> Result<PathBuf> {
    if find_program(name).is_none() {
        install_packages(&["nodejs", "npm"])?;
    }
    find_program(name).with_context(|| format!("`{name}` is still not found after installing it"))
}

/// Installs exactly `package@version` with npm into `npm_dir`, unless that
/// version is already there.
fn npm_install_pinned(npm_dir: &Path, package: &str, version: &str) -> Result<()> {
    fs::create_dir_all(npm_dir).with_context(|| format!("creating {}", npm_dir.display()))?;
    let manifest_path = npm_dir.join(format!("node_modules/{package}/package.json"));
    let installed = fs::read(&manifest_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|p| p["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(version) {
        return Ok(());
    }
    let npm = node_tool("npm")?;
    eprintln!("bench: installing {package}@{version} with npm");
    // An exact version in the manifest: npm installs that release only.
    let manifest =
        format!("{{\"private\": true, \"dependencies\": {{\"{package}\": \"{version}\"}}}}\n");
    fs::write(npm_dir.join("package.json"), manifest)
        .with_context(|| format!("writing {}", npm_dir.display()))?;
    crate::cmd::run(
        Command::new(npm)
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(npm_dir),
    )
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().next())
            == Some("0")
    })
}

/// Builds the release `caudal` binary and returns its path.
fn build_caudal() -> Result<PathBuf> {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bench: building caudal (release)");
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "caudal-server",
            "--bin",
            "caudal",
        ])
        .current_dir(&root)
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "cargo build of caudal failed");
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let bin = target_dir.join("release").join("caudal");
    ensure!(
        bin.is_file(),
        "cargo build succeeded but {} does not exist",
        bin.display()
    );
    Ok(bin)
}

fn workspace_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

// ---------------------------------------------------------------------------
// Scratch files

/// A temporary directory removed on drop, also when the benchmark fails.
#[derive(Debug)]
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("caudal-bench-{}-{nanos}", std::process::id()));
        fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(ScratchDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes `size` pseudo-random bytes (incompressible, so no layer can cheat)
/// and returns the first 100, for the correctness check.
fn write_random_file(path: &Path, size: u64) -> Result<Vec<u8>> {
    let file = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    // xorshift64*: fast, deterministic, good enough to defeat compression.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut prefix = Vec::with_capacity(100);
    for _ in 0..size / 8 {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bytes = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        if prefix.len() < 100 {
            prefix.extend_from_slice(&bytes[..(100 - prefix.len()).min(8)]);
        }
        out.write_all(&bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(prefix)
}

/// Writes the wrk script of the ranges workload. Each wrk thread gets its own
/// fixed seed, so runs are repeatable and both servers see the same requests.
fn write_range_script(dir: &Path) -> Result<PathBuf> {
    let script = format!(
        r#"-- Random {range}-byte ranges, aligned on {range} bytes, across a {size}-byte file.
local block = {range}
local blocks = {blocks}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end

function init(args)
  math.randomseed(4242 + id)
end

function request()
  local first = math.random(0, blocks - 1) * block
  local range = "bytes=" .. first .. "-" .. (first + block - 1)
  return wrk.format("GET", nil, {{ ["Range"] = range }})
end
"#,
        range = RANGE_SIZE,
        size = FILE_SIZE,
        blocks = FILE_SIZE / RANGE_SIZE,
    );
    let path = dir.join("ranges.lua");
    fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

// ---------------------------------------------------------------------------
// Servers

/// A child process stopped on drop, so no server outlives the benchmark even
/// when it fails half-way.
#[derive(Debug)]
struct ChildGuard {
    name: &'static str,
    child: Child,
}

impl ChildGuard {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM first: killing nginx's master outright would orphan its workers.
    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!("bench: {} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server under test, accepting connections at `addr`.
#[derive(Debug)]
struct RunningServer {
    kind: ServerKind,
    addr: SocketAddr,
    process: ChildGuard,
}

impl RunningServer {
    fn url(&self) -> String {
        format!("http://{}/media/{FILE_NAME}", self.addr)
    }
}

/// A port that was free a moment ago: bind port 0 and let the OS choose.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr().context("finding a free port")?.port())
}

fn start_nginx(nginx: &Path, scratch: &Path, media_dir: &Path) -> Result<RunningServer> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let conf = scratch.join("nginx.conf");
    fs::write(&conf, nginx_config(scratch, media_dir, addr))
        .with_context(|| format!("writing {}", conf.display()))?;
    let child = Command::new(nginx)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(scratch)
        // Without -e, nginx first tries the compiled-in /var/log/nginx/error.log.
        .arg("-e")
        .arg(scratch.join("nginx-error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", nginx.display()))?;
    let mut process = ChildGuard {
        name: "nginx",
        child,
    };
    wait_until_listening(&mut process, addr)?;
    Ok(RunningServer {
        kind: ServerKind::Nginx,
        addr,
        process,
    })
}

/// An nginx configured the way one would serve static media in production:
/// sendfile, no access log, long keep-alive, one worker per core.
fn nginx_config(scratch: &Path, media_dir: &Path, addr: SocketAddr) -> String {
    let tmp = scratch.display();
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        r#"daemon off;
master_process on;
worker_processes {workers};
pid "{tmp}/nginx.pid";
error_log "{tmp}/nginx-error.log" warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;

    client_body_temp_path "{tmp}/client_body";
    proxy_temp_path "{tmp}/proxy";
    fastcgi_temp_path "{tmp}/fastcgi";
    uwsgi_temp_path "{tmp}/uwsgi";
    scgi_temp_path "{tmp}/scgi";

    server {{
        listen {addr};
        location /media/ {{
            alias "{media}/";
        }}
    }}
}}
"#,
        media = media_dir.display(),
    )
}

fn start_caudal(bin: &Path, media_dir: &Path) -> Result<RunningServer> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let child = Command::new(bin)
        .arg("serve")
        .arg(media_dir)
        .args(["--listen", &addr.to_string(), "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut process = ChildGuard {
        name: "caudal",
        child,
    };
    wait_until_listening(&mut process, addr)?;
    Ok(RunningServer {
        kind: ServerKind::Caudal,
        addr,
        process,
    })
}

/// Waits until `addr` accepts connections, failing early if the server exits.
fn wait_until_listening(process: &mut ChildGuard, addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(status) = process.child.try_wait().context("checking on the server")? {
            bail!("{} exited during startup ({status})", process.name);
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{} did not listen on {addr} within {STARTUP_TIMEOUT:?}",
            process.name
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Checks, with a plain socket, that `Range: bytes=0-99` answers 206 with
/// exactly the first 100 bytes of the file: a fast wrong server is no result.
fn verify_range(addr: SocketAddr, expected: &[u8]) -> Result<()> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .context("setting a read timeout")?;
    let request = format!(
        "GET /media/{FILE_NAME} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes=0-99\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .context("sending the request")?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .context("reading the response")?;

    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the response has no end of headers")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let status_line = head.lines().next().unwrap_or_default();
    ensure!(
        status_line.split_whitespace().nth(1) == Some("206"),
        "expected status 206, got `{status_line}`"
    );
    let content_range = header(&head, "content-range");
    let want_range = format!("bytes 0-99/{FILE_SIZE}");
    ensure!(
        content_range == Some(want_range.as_str()),
        "expected Content-Range `{want_range}`, got {content_range:?}"
    );
    ensure!(
        body.len() == 100,
        "expected a 100-byte body, got {} bytes",
        body.len()
    );
    ensure!(
        body == expected,
        "the body differs from the file's first 100 bytes"
    );
    Ok(())
}

/// The value of header `name` (case-insensitive) in a response head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Peak resident set size of a process (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .with_context(|| format!("no VmHWM in {path}"))?;
    let kib = line.trim().trim_end_matches("kB").trim();
    kib.parse()
        .with_context(|| format!("parsing VmHWM `{line}`"))
}

// ---------------------------------------------------------------------------
// wrk

/// Warms `server` up with the workload, then measures it.
fn measure(
    wrk: &Path,
    server: &RunningServer,
    workload: &Workload,
    seconds: u64,
) -> Result<WrkStats> {
    let name = server.kind.name();
    eprintln!(
        "bench: {name} / {}: {WARMUP_SECONDS} s warmup, {seconds} s run",
        workload.name
    );
    run_wrk(wrk, server, workload, WARMUP_SECONDS).with_context(|| format!("warming up {name}"))?;
    let output =
        run_wrk(wrk, server, workload, seconds).with_context(|| format!("benchmarking {name}"))?;
    let mut stats = parse_wrk(&output)
        .with_context(|| format!("parsing wrk's output for {name}:\n{output}"))?;
    stats.check_response_size(workload.body_size);
    Ok(stats)
}

fn run_wrk(
    wrk: &Path,
    server: &RunningServer,
    workload: &Workload,
    seconds: u64,
) -> Result<String> {
    let mut command = Command::new(wrk);
    command
        .arg(format!("-t{WRK_THREADS}"))
        .arg(format!("-c{}", workload.connections))
        .arg(format!("-d{seconds}s"))
        // wrk's default 2 s would count slow whole-file downloads as errors.
        .args(["--timeout", "10s"]);
    if let Some(script) = &workload.script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(server.url()).output().context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "wrk failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

/// Extracts throughput and errors from wrk's human-readable report.
fn parse_wrk(output: &str) -> Result<WrkStats> {
    let mut stats = WrkStats::default();
    let mut seen = (false, false);
    for line in output.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("Requests/sec:") {
            stats.requests_per_sec = value.trim().parse().context("Requests/sec")?;
            seen.0 = true;
        } else if let Some(value) = line.strip_prefix("Transfer/sec:") {
            stats.bytes_per_sec = parse_wrk_bytes(value.trim())?;
            seen.1 = true;
        } else if let Some(value) = line.strip_prefix("Non-2xx or 3xx responses:") {
            stats.non_success = value.trim().parse().context("Non-2xx or 3xx responses")?;
        } else if let Some(counts) = line.strip_prefix("Socket errors:")
            && socket_error_total(counts)? > 0
        {
            stats.socket_errors = Some(counts.trim().to_owned());
        }
    }
    ensure!(seen.0 && seen.1, "no Requests/sec or Transfer/sec line");
    Ok(stats)
}

/// Parses wrk's binary-prefixed sizes such as `1.23GB` or `512.00KB` to bytes.
fn parse_wrk_bytes(text: &str) -> Result<f64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .with_context(|| format!("no unit in `{text}`"))?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => bail!("unknown unit in `{text}`"),
    };
    let number: f64 = number
        .parse()
        .with_context(|| format!("parsing `{text}`"))?;
    Ok(number * scale)
}

/// Sums `connect 0, read 0, write 0, timeout 0`.
fn socket_error_total(counts: &str) -> Result<u64> {
    counts
        .split(',')
        .map(|item| {
            let count = item.split_whitespace().last().unwrap_or_default();
            count
                .parse::<u64>()
                .with_context(|| format!("parsing socket errors `{counts}`"))
        })
        .sum()
}

// ---------------------------------------------------------------------------
// Report

fn print_report(options: &Options, rows: &[Row]) {
    println!();
    println!("machine: {} CPUs, {}", cpu_count(), cpu_model());
    println!(
        "file: {} MiB of random bytes; wrk {WRK_THREADS} threads; {} s per run after a {WARMUP_SECONDS} s warmup",
        FILE_SIZE >> 20,
        options.seconds
    );
    println!();
    println!(
        "{:<26} | {:>12} | {:>10} | {:>12} | {:>11} | {:>12}",
        "workload", "nginx req/s", "nginx GB/s", "caudal req/s", "caudal GB/s", "caudal/nginx"
    );
    println!("{}", "-".repeat(26 + 12 + 10 + 12 + 11 + 12 + 5 * 3));
    for row in rows {
        let ratio = match (&row.nginx, &row.caudal) {
            (Some(nginx), Some(caudal)) if nginx.requests_per_sec > 0.0 => {
                format!("{:.2}x", caudal.requests_per_sec / nginx.requests_per_sec)
            }
            _ => "-".to_owned(),
        };
        println!(
            "{:<26} | {:>12} | {:>10} | {:>12} | {:>11} | {:>12}",
            row.workload,
            requests_cell(row.nginx.as_ref()),
            gigabytes_cell(row.nginx.as_ref()),
            requests_cell(row.caudal.as_ref()),
            gigabytes_cell(row.caudal.as_ref()),
            ratio,
        );
    }
    println!("(GB = 10^9 bytes, headers included; * = the run had errors, see below)");

    let peaks: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let kib = row.caudal_peak_rss_kib?;
            Some(format!(
                "  after {}: {:.1} MiB",
                row.workload,
                kib as f64 / 1024.0
            ))
        })
        .collect();
    if !peaks.is_empty() {
        println!();
        println!("caudal peak RSS (VmHWM, cumulative since start):");
        peaks.iter().for_each(|line| println!("{line}"));
    }

    let problems = problems(rows);
    if !problems.is_empty() {
        println!();
        println!("errors during the runs:");
        problems.iter().for_each(|line| println!("  {line}"));
    }
}

fn requests_cell(stats: Option<&WrkStats>) -> String {
    match stats {
        Some(stats) => format!("{:.0}{}", stats.requests_per_sec, error_mark(stats)),
        None => "-".to_owned(),
    }
}

fn gigabytes_cell(stats: Option<&WrkStats>) -> String {
    match stats {
        Some(stats) => format!("{:.2}{}", stats.bytes_per_sec / 1e9, error_mark(stats)),
        None => "-".to_owned(),
    }
}

fn error_mark(stats: &WrkStats) -> &'static str {
    if stats.is_clean() { "" } else { "*" }
}

/// One line per run that saw failed responses, socket errors or odd sizes.
fn problems(rows: &[Row]) -> Vec<String> {
    let mut lines = Vec::new();
    for row in rows {
        let runs = [
            (ServerKind::Nginx, &row.nginx),
            (ServerKind::Caudal, &row.caudal),
        ];
        for (kind, stats) in runs {
            let Some(stats) = stats else { continue };
            let who = format!("{} / {}", kind.name(), row.workload);
            if stats.non_success > 0 {
                lines.push(format!(
                    "{who}: {} non-2xx/3xx responses",
                    stats.non_success
                ));
            }
            if let Some(errors) = &stats.socket_errors {
                lines.push(format!("{who}: socket errors: {errors}"));
            }
            if let Some(mean) = stats.odd_response_size {
                lines.push(format!(
                    "{who}: responses average {mean:.0} bytes, far from the expected body size"
                ));
            }
        }
    }
    lines
}

fn cpu_count() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_report() -> Result<()> {
        let output = "\
Running 10s test @ http://127.0.0.1:1/media/bench.bin
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.00ms    3.00ms  50.00ms   80.00%
    Req/Sec    10.00k     1.00k   12.00k    70.00%
  200000 requests in 10.00s, 12.50GB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  20000.50
Transfer/sec:      1.25GB
";
        let stats = parse_wrk(output)?;
        assert_eq!(stats.requests_per_sec, 20000.5);
        assert_eq!(stats.bytes_per_sec, 1.25 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(stats.non_success, 7);
        assert_eq!(
            stats.socket_errors.as_deref(),
            Some("connect 0, read 3, write 0, timeout 1")
        );
        Ok(())
    }

    #[test]
    fn clean_report_has_no_errors() -> Result<()> {
        let output = "Requests/sec:  5.00\nTransfer/sec:  100.00KB\n";
        let stats = parse_wrk(output)?;
        assert!(stats.is_clean());
        assert_eq!(stats.bytes_per_sec, 102_400.0);
        Ok(())
    }

    #[test]
    fn parses_options() -> Result<()> {
        let args: Vec<String> = ["--seconds", "3", "--only=nginx"]
            .map(String::from)
            .to_vec();
        let options = Options::parse(&args)?;
        assert_eq!(options.seconds, 3);
        assert_eq!(options.only, Some(ServerKind::Nginx));
        assert!(!options.includes(ServerKind::Caudal));
        assert!(Options::parse(&["--only".to_owned(), "apache".to_owned()]).is_err());
        Ok(())
    }

    #[test]
    fn finds_headers_case_insensitively() {
        let head = "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-99/1000\r\n";
        assert_eq!(header(head, "Content-Range"), Some("bytes 0-99/1000"));
        assert_eq!(header(head, "Content-Length"), None);
    }
}
