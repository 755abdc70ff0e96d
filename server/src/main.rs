//! `caudal`: the command line.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use caudal_server::Server;
use caudal_server::access::{self, Algorithm, Key, Verifier};
use caudal_server::config_file;
use caudal_server::media_tools::{self, Mode};
use caudal_server::token_tools::{self, Start};
use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

mod serve_args;

use serve_args::{ServeArgs, check_config, config_from, rules_in_order};

#[derive(Debug, Parser)]
#[command(name = "caudal", version, about = "Stream media files to web pages.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a folder of media, the web player and its demo page.
    Serve(Box<ServeArgs>),
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
    /// Check a `serve --config` file: a summary (exit 0) or the error and its line (exit 1).
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
}

/// The keys of `sign`, `verify` (and later `serve`): several for rotation.
#[derive(Debug, clap::Args)]
pub(crate) struct KeyArgs {
    /// A key, as hex (repeatable; the first given signs, all verify).
    #[arg(long = "key", value_name = "HEX")]
    keys: Vec<String>,
    /// A file of keys, one hex key per line (repeatable; read after --key).
    #[arg(long = "key-file", value_name = "PATH")]
    key_files: Vec<PathBuf>,
    /// Name of the query parameter (and cookie, header) that carries the token [default: __token__].
    #[arg(long)]
    token_name: Option<String>,
}

impl KeyArgs {
    fn token_name(&self) -> String {
        self.token_name
            .clone()
            .unwrap_or_else(|| access::carrier::DEFAULT_TOKEN_NAME.to_owned())
    }
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

/// The checkout this binary was built from, for the default folders.
pub(crate) const CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Serve(mut args) => {
            if let Some(serve) = matches.subcommand_matches("serve") {
                args.rules_in_order = rules_in_order(serve);
            }
            serve(*args)
        }
        Command::CheckConfig { file } => check_config(&file),
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
        token_name: args.keys.token_name(),
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
        &args.keys.token_name(),
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
    let file = match args.config.as_deref().map(config_file::load).transpose() {
        Ok(file) => file.unwrap_or_default(),
        Err(message) => {
            eprintln!("caudal: {message}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(args.quiet || file.quiet == Some(true));
    let config = match config_from(args, file) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("caudal: {message}");
            return ExitCode::FAILURE;
        }
    };
    let protection = config.protection.clone();
    let rules = config.ip_rules.clone();
    let follow_symlinks_outside = config.allow_symlinks_outside;
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
        for rule in &rules.0 {
            tracing::info!("ip rule: {rule}");
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
