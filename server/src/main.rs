//! `caudal`: the command line.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use caudal_server::access::{self, Algorithm, Key, Verifier};
use caudal_server::media_tools::{self, Mode};
use caudal_server::token_tools::{self, Start};
use caudal_server::{Config, Server};
use clap::{ArgGroup, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "caudal", version, about = "Stream media files to web pages.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a folder of media, the web player and its demo page.
    Serve(ServeArgs),
    /// Tell whether media files start fast in a browser, and why not.
    Inspect(InspectArgs),
    /// Rewrite an MP4 so that it starts fast (never in place).
    Package(PackageArgs),
    /// Print a new random key (hex) for signed tokens.
    Keygen,
    /// Sign a path or path patterns: prints the URL or the token (Akamai Auth Token 2.0).
    Sign(SignArgs),
    /// Say whether a signed URL or token is valid, and why not (exit status 1).
    Verify(VerifyArgs),
}

/// The keys of `sign`, `verify` (and later `serve`): several for rotation.
#[derive(Debug, clap::Args)]
struct KeyArgs {
    /// A key, as hex (repeatable; the first given signs, all verify).
    #[arg(long = "key", value_name = "HEX")]
    keys: Vec<String>,
    /// A file of keys, one hex key per line (repeatable; read after --key).
    #[arg(long = "key-file", value_name = "PATH")]
    key_files: Vec<PathBuf>,
    /// Name of the query parameter (and cookie, header) that carries the token.
    #[arg(long, default_value = access::carrier::DEFAULT_TOKEN_NAME)]
    token_name: String,
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("what").required(true).multiple(true).args(["path", "acl"])))]
struct SignArgs {
    /// The path to sign (a URL token: the path is signed, not sent); prints its URL.
    path: Option<String>,
    /// Path pattern the token opens, `*` for any characters (repeatable; an ACL token).
    #[arg(long, value_name = "PATTERN")]
    acl: Vec<String>,
    /// How long the token is valid: `90s`, `30m`, `2h`, `7days`...
    #[arg(long, value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// Not valid before: `now` or Unix seconds (default: no `st` field, valid at once).
    #[arg(long)]
    start: Option<Start>,
    /// Only valid from this client address.
    #[arg(long)]
    ip: Option<IpAddr>,
    /// A session id carried in the token (`id=`).
    #[arg(long)]
    id: Option<String>,
    /// Opaque data carried in the token (`data=`).
    #[arg(long)]
    data: Option<String>,
    /// Put before PATH in the printed URL: a scheme and host, such as the CDN's.
    #[arg(long, value_name = "URL")]
    base: Option<String>,
    /// Percent-encode ip, id, data and the signed path first (EdgeAuth's escape_early).
    #[arg(long)]
    escape_early: bool,
    /// HMAC hash: sha256 (Auth Token 2.0), or sha1/md5 for old EdgeAuth setups.
    #[arg(long, default_value = "sha256", value_parser = parse_algorithm)]
    algorithm: Algorithm,
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// A signed URL (`https://host/path?__token__=...` or `/path?__token__=...`) or a bare token.
    input: String,
    /// The request path to check the token for (default: the URL's).
    #[arg(long)]
    path: Option<String>,
    /// The client address to check an `ip` field against (default: report the binding).
    #[arg(long)]
    ip: Option<IpAddr>,
    /// Also accept HMAC-SHA1 and HMAC-MD5 tokens (old EdgeAuth setups).
    #[arg(long)]
    allow_legacy_hashes: bool,
    #[command(flatten)]
    keys: KeyArgs,
}

fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    Algorithm::from_name(name).ok_or_else(|| format!("`{name}`: use sha256, sha1 or md5"))
}

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Media files (MP4, fragmented MP4, WebM, MP3).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON array with an object per file instead of the report.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["faststart", "fragment"])))]
struct PackageArgs {
    /// The plain MP4 to read.
    input: PathBuf,
    /// Where to write (a new file; written beside it, then renamed).
    output: PathBuf,
    /// Move the moov before the media (media bytes unchanged).
    #[arg(long)]
    faststart: bool,
    /// Write a fragmented MP4 with a sidx index (media bytes unchanged).
    #[arg(long)]
    fragment: bool,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Folder of media served under /media/ (default: the sample media in www/media).
    dir: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Folder of the web player and demo page served at / (default: this checkout's www/).
    #[arg(long)]
    www: Option<PathBuf>,
    /// Cache-Control sent with files; "off" sends none.
    #[arg(long, default_value = "no-cache")]
    cache_control: String,
    /// Do not answer cross-origin (CORS) requests.
    #[arg(long)]
    no_cors: bool,
    /// Seconds a client has to send a complete request head.
    #[arg(long, default_value_t = 10.0)]
    header_timeout: f64,
    /// Seconds a response write may make no progress before the connection is closed.
    #[arg(long, default_value_t = 60.0)]
    send_timeout: f64,
    /// Connections served at once; more are answered 503.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Largest request head in bytes; larger is answered 431.
    #[arg(long, default_value_t = 16 * 1024)]
    max_header_bytes: usize,
    /// Follow symlinks that lead outside the served folder (refused by default).
    #[arg(long)]
    follow_symlinks_outside: bool,
    /// Seconds in-flight responses get to finish on SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30.0)]
    shutdown_grace: f64,
    /// No per-request log lines.
    #[arg(long, short)]
    quiet: bool,
    /// URL path prefix whose files need a signed token (repeatable; default /media/ when a key is given).
    #[arg(long, value_name = "PREFIX")]
    protect: Vec<String>,
    #[command(flatten)]
    keys: KeyArgs,
}

/// The checkout this binary was built from, for the default folders.
const CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve(args) => serve(args),
        Command::Inspect(args) => inspect(args),
        Command::Package(args) => package(args),
        Command::Keygen => keygen(),
        Command::Sign(args) => sign(args),
        Command::Verify(args) => verify(args),
    }
}

/// `caudal keygen`.
fn keygen() -> ExitCode {
    match Key::generate() {
        Ok(key) => {
            println!("{}", key.to_hex());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("caudal: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `caudal sign`.
fn sign(args: SignArgs) -> ExitCode {
    let keys = match token_tools::load_keys(&args.keys.keys, &args.keys.key_files) {
        Ok(keys) => keys,
        Err(error) => {
            eprintln!("caudal: {error}");
            return ExitCode::FAILURE;
        }
    };
    let request = token_tools::SignRequest {
        path: args.path,
        acl: args.acl,
        ttl: args.ttl,
        start: args.start,
        ip: args.ip,
        id: args.id,
        data: args.data,
        base: args.base,
        token_name: args.keys.token_name,
        options: access::Options {
            algorithm: args.algorithm,
            escape_early: args.escape_early,
        },
    };
    match token_tools::sign(&request, &keys, token_tools::unix_now()) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("caudal: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `caudal verify`: exit status 0 when valid, 1 when not (or on an error).
fn verify(args: VerifyArgs) -> ExitCode {
    let keys = match token_tools::load_keys(&args.keys.keys, &args.keys.key_files) {
        Ok(keys) => keys,
        Err(error) => {
            eprintln!("caudal: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut verifier = Verifier::new(keys);
    if args.allow_legacy_hashes {
        verifier = verifier.allow(Algorithm::Sha1).allow(Algorithm::Md5);
    }
    let now = token_tools::unix_now();
    match token_tools::verify(
        &args.input,
        args.path.as_deref(),
        args.ip,
        &verifier,
        &args.keys.token_name,
        now,
    ) {
        Ok(verdict) => {
            println!("{}", verdict.line);
            if verdict.valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("caudal: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `caudal inspect`: a report per file; exit status 1 if any file failed.
fn inspect(args: InspectArgs) -> ExitCode {
    let mut failed = false;
    let mut json = Vec::new();
    for (i, file) in args.files.iter().enumerate() {
        match media_tools::inspect(file) {
            Ok(report) if args.json => {
                json.push(serde_json::to_value(&report).unwrap_or_default());
            }
            Ok(report) => {
                if i > 0 {
                    println!();
                }
                print!("{report}");
            }
            Err(error) => {
                failed = true;
                eprintln!("caudal: {}: {error}", file.display());
                if args.json {
                    json.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "error": error.to_string(),
                    }));
                }
            }
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&json) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("caudal: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `caudal package`.
fn package(args: PackageArgs) -> ExitCode {
    let mode = if args.fragment {
        Mode::Fragment
    } else {
        Mode::Faststart
    };
    match media_tools::package(&args.input, &args.output, mode, args.force) {
        Ok(done) => {
            println!(
                "caudal: wrote {} ({} bytes): {}",
                args.output.display(),
                done.bytes,
                done.summary
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("caudal: cannot package {}: {error}", args.input.display());
            ExitCode::FAILURE
        }
    }
}

/// `caudal serve`.
fn serve(args: ServeArgs) -> ExitCode {
    init_logging(args.quiet);
    let follow_symlinks_outside = args.follow_symlinks_outside;
    let config = match config_from(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("caudal: {message}");
            return ExitCode::FAILURE;
        }
    };
    let protection = config.protection.clone();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("caudal: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let server = match Server::bind(config).await {
            Ok(server) => server,
            Err(error) => {
                eprintln!("caudal: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "caudal: serving {} at http://{}/",
            server.media_dir().display(),
            server.local_addr()
        );
        if let Some(protection) = &protection {
            tracing::info!(
                "signed tokens ({}) needed under {} ({} key{})",
                protection.token_name,
                protection.prefixes.join(", "),
                protection.verifier.keys().len(),
                if protection.verifier.keys().len() == 1 {
                    ""
                } else {
                    "s"
                },
            );
        }
        start_scan(server.media_dir(), follow_symlinks_outside);
        server.run_until(shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

/// Logs which files of the media folder would start slowly, on a blocking
/// thread: serving starts at once, the warnings follow.
fn start_scan(media_dir: &std::path::Path, follow_symlinks_outside: bool) {
    match caudal_server::safe_path::Root::new(media_dir, follow_symlinks_outside) {
        Ok(root) => {
            tokio::task::spawn_blocking(move || media_tools::scan::scan(&root));
        }
        Err(error) => tracing::warn!(%error, "cannot scan the media folder"),
    }
}

fn config_from(args: ServeArgs) -> Result<Config, String> {
    let seconds = |value: f64, flag: &str| {
        Duration::try_from_secs_f64(value)
            .map_err(|_| format!("--{flag} must be a positive number of seconds"))
    };
    let media_dir = args
        .dir
        .unwrap_or_else(|| PathBuf::from(CHECKOUT).join("www/media"));
    let www_dir = match args.www {
        Some(www) => Some(www),
        None => Some(PathBuf::from(CHECKOUT).join("www")).filter(|www| www.is_dir()),
    };
    if args.max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    let protection = protection_from(&args.protect, args.keys)?;
    Ok(Config {
        media_dir,
        www_dir,
        listen: args.listen,
        cache_control: Some(args.cache_control).filter(|v| v != "off"),
        cors: !args.no_cors,
        header_timeout: seconds(args.header_timeout, "header-timeout")?,
        send_timeout: seconds(args.send_timeout, "send-timeout")?,
        max_connections: args.max_connections,
        max_header_bytes: args.max_header_bytes,
        allow_symlinks_outside: args.follow_symlinks_outside,
        access_log: !args.quiet,
        shutdown_grace: seconds(args.shutdown_grace, "shutdown-grace")?,
        protection,
    })
}

/// `--protect` and the keys: none of either, nothing is protected.
fn protection_from(
    protect: &[String],
    keys: KeyArgs,
) -> Result<Option<access::Protection>, String> {
    if keys.keys.is_empty() && keys.key_files.is_empty() {
        if protect.is_empty() {
            return Ok(None);
        }
        return Err(
            "--protect needs the keys that sign its tokens: --key HEX or --key-file PATH".into(),
        );
    }
    let key_set =
        token_tools::load_keys(&keys.keys, &keys.key_files).map_err(|error| error.to_string())?;
    let prefixes = if protect.is_empty() {
        vec!["/media/".to_owned()]
    } else {
        protect.to_vec()
    };
    if let Some(bad) = prefixes.iter().find(|prefix| !prefix.starts_with('/')) {
        return Err(format!(
            "--protect {bad}: a prefix is a URL path, starting with /"
        ));
    }
    if http::HeaderName::from_bytes(keys.token_name.as_bytes()).is_err()
        || keys.token_name.contains(['=', ';', '&'])
    {
        return Err(format!(
            "--token-name {}: not usable as a header, cookie and query name",
            keys.token_name
        ));
    }
    Ok(Some(access::Protection {
        verifier: Verifier::new(key_set),
        prefixes,
        token_name: keys.token_name,
    }))
}

fn init_logging(quiet: bool) {
    let default = if quiet {
        "info,caudal::access=off"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_env("CAUDAL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
