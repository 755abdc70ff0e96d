//! `caudal`: the command line.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use caudal_server::access::{self, Algorithm, Key, Verifier, ip_rules};
use caudal_server::access::{Action, IpRule, IpRules};
use caudal_server::config_file::{self, FileConfig};
use caudal_server::media_tools::{self, Mode};
use caudal_server::token_tools::{self, Start};
use caudal_server::{Config, Server};
use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Check a `serve --config` file: a summary (exit 0) or the error and its line (exit 1).
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
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

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Folder of media served under /media/ (default: the sample media in www/media).
    dir: Option<PathBuf>,
    /// A TOML file with any of these settings; flags given here override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Folder of the web player and demo page served at / (default: this checkout's www/).
    #[arg(long)]
    www: Option<PathBuf>,
    /// Cache-Control sent with files; "off" sends none [default: no-cache].
    #[arg(long)]
    cache_control: Option<String>,
    /// Do not answer cross-origin (CORS) requests.
    #[arg(long)]
    no_cors: bool,
    /// Seconds a client has to send a complete request head [default: 10].
    #[arg(long)]
    header_timeout: Option<f64>,
    /// Seconds a response write may make no progress before the connection is closed [default: 60].
    #[arg(long)]
    send_timeout: Option<f64>,
    /// Connections served at once; more are answered 503 [default: 1024].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Largest request head in bytes; larger is answered 431 [default: 16384].
    #[arg(long)]
    max_header_bytes: Option<usize>,
    /// Follow symlinks that lead outside the served folder (refused by default).
    #[arg(long)]
    follow_symlinks_outside: bool,
    /// Seconds in-flight responses get to finish on SIGINT/SIGTERM [default: 30].
    #[arg(long)]
    shutdown_grace: Option<f64>,
    /// No per-request log lines.
    #[arg(long, short)]
    quiet: bool,
    /// URL path prefix whose files need a signed token (repeatable; default /media/ when a key is given).
    #[arg(long, value_name = "PREFIX")]
    protect: Vec<String>,
    /// Only these clients under PREFIX: `PREFIX=CIDR[,CIDR]` (repeatable; with --deny, first match wins).
    #[arg(long, value_name = "PREFIX=CIDRS")]
    allow: Vec<String>,
    /// Refuse these clients under PREFIX: `PREFIX=CIDR[,CIDR]` (repeatable; in order with --allow).
    #[arg(long, value_name = "PREFIX=CIDRS")]
    deny: Vec<String>,
    /// A reverse proxy whose Forwarded / X-Forwarded-For names the client (repeatable).
    #[arg(long, value_name = "CIDR")]
    trusted_proxy: Vec<String>,
    /// The rules in command-line order (filled from the parsed matches).
    #[arg(skip)]
    rules_in_order: Vec<(Action, String)>,
    #[command(flatten)]
    keys: KeyArgs,
}

/// The checkout this binary was built from, for the default folders.
const CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

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
            serve(args)
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

/// The `--allow` / `--deny` values of `serve`, in command-line order.
fn rules_in_order(matches: &clap::ArgMatches) -> Vec<(Action, String)> {
    let mut rules = Vec::new();
    for (id, action) in [("allow", Action::Allow), ("deny", Action::Deny)] {
        let indices = matches.indices_of(id).into_iter().flatten();
        let values = matches.get_many::<String>(id).into_iter().flatten();
        rules.extend(
            indices
                .zip(values)
                .map(|(at, value)| (at, action, value.clone())),
        );
    }
    rules.sort_by_key(|(at, _, _)| *at);
    rules
        .into_iter()
        .map(|(_, action, value)| (action, value))
        .collect()
}

/// The serve settings: each flag given, else the file's key, else the default.
fn config_from(args: ServeArgs, file: FileConfig) -> Result<Config, String> {
    let seconds = |value: f64, flag: &str| {
        Duration::try_from_secs_f64(value)
            .map_err(|_| format!("--{flag} must be a positive number of seconds"))
    };
    let media_dir = args
        .dir
        .or(file.media)
        .unwrap_or_else(|| PathBuf::from(CHECKOUT).join("www/media"));
    let www_dir = match args.www.or(file.www) {
        Some(www) => Some(www),
        None => Some(PathBuf::from(CHECKOUT).join("www")).filter(|www| www.is_dir()),
    };
    let max_connections = args
        .max_connections
        .or(file.max_connections)
        .unwrap_or(1024);
    if max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    let ip_rules = if args.rules_in_order.is_empty() {
        IpRules(
            file.ip_rule
                .iter()
                .map(config_file::FileRule::to_rule)
                .collect(),
        )
    } else {
        let rules = args
            .rules_in_order
            .iter()
            .map(|(action, text)| IpRule::parse(*action, text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("--allow/--deny {error}"))?;
        IpRules(rules)
    };
    let trusted_proxies = if args.trusted_proxy.is_empty() {
        file.trusted_proxies.iter().map(|cidr| cidr.0).collect()
    } else {
        args.trusted_proxy
            .iter()
            .map(|text| ip_rules::parse_net(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("--trusted-proxy {error}"))?
    };
    let protect = if args.protect.is_empty() {
        file.protect.into_iter().map(|prefix| prefix.0).collect()
    } else {
        args.protect
    };
    let keys = if args.keys.keys.is_empty() && args.keys.key_files.is_empty() {
        KeyArgs {
            keys: file.keys.into_iter().map(|key| key.0).collect(),
            key_files: file.key_files,
            token_name: args.keys.token_name.or(file.token_name),
        }
    } else {
        KeyArgs {
            token_name: args.keys.token_name.or(file.token_name),
            ..args.keys
        }
    };
    let protection = protection_from(&protect, keys)?;
    let cache_control = args
        .cache_control
        .or(file.cache_control)
        .unwrap_or_else(|| "no-cache".to_owned());
    Ok(Config {
        media_dir,
        www_dir,
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
        cache_control: Some(cache_control).filter(|v| v != "off"),
        cors: !args.no_cors && file.cors != Some(false),
        header_timeout: seconds(
            args.header_timeout.or(file.header_timeout).unwrap_or(10.0),
            "header-timeout",
        )?,
        send_timeout: seconds(
            args.send_timeout.or(file.send_timeout).unwrap_or(60.0),
            "send-timeout",
        )?,
        max_connections,
        max_header_bytes: args
            .max_header_bytes
            .or(file.max_header_bytes)
            .unwrap_or(16 * 1024),
        allow_symlinks_outside: args.follow_symlinks_outside
            || file.follow_symlinks_outside == Some(true),
        access_log: !(args.quiet || file.quiet == Some(true)),
        shutdown_grace: seconds(
            args.shutdown_grace.or(file.shutdown_grace).unwrap_or(30.0),
            "shutdown-grace",
        )?,
        protection,
        ip_rules,
        trusted_proxies,
    })
}

/// `caudal check-config FILE`: what `serve --config FILE` would do, or why not.
fn check_config(path: &std::path::Path) -> ExitCode {
    let file = match config_file::load(path) {
        Ok(file) => file,
        Err(message) => {
            eprintln!("caudal: {message}");
            return ExitCode::FAILURE;
        }
    };
    let command = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    let parsed = command
        .try_get_matches_from(["serve"])
        .and_then(|matches| ServeArgs::from_arg_matches(&matches));
    let args = match parsed {
        Ok(args) => args,
        Err(error) => {
            eprintln!("caudal: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = match config_from(args, file) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("caudal: {}: {message}", path.display());
            return ExitCode::FAILURE;
        }
    };
    println!("{}: ok", path.display());
    println!("listen: {}", config.listen);
    println!("media: {}", config.media_dir.display());
    if let Some(www) = &config.www_dir {
        println!("www: {}", www.display());
    }
    println!(
        "cache-control: {}",
        config.cache_control.as_deref().unwrap_or("off")
    );
    match &config.protection {
        Some(protection) => println!(
            "protected: {} (token {}, {} key{})",
            protection.prefixes.join(", "),
            protection.token_name,
            protection.verifier.keys().len(),
            if protection.verifier.keys().len() == 1 {
                ""
            } else {
                "s"
            },
        ),
        None => println!("protected: nothing"),
    }
    for rule in &config.ip_rules.0 {
        println!("ip rule: {rule}");
    }
    let proxies: Vec<String> = config
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    if !proxies.is_empty() {
        println!("trusted proxies: {}", proxies.join(", "));
    }
    ExitCode::SUCCESS
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
    let token_name = keys.token_name();
    if http::HeaderName::from_bytes(token_name.as_bytes()).is_err()
        || token_name.contains(['=', ';', '&'])
    {
        return Err(format!(
            "--token-name {token_name}: not usable as a header, cookie and query name"
        ));
    }
    Ok(Some(access::Protection {
        verifier: Verifier::new(key_set),
        prefixes,
        token_name,
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
