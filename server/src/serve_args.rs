//! `caudal serve`'s settings: its flags, the `--config` file under them,
//! and the [`Config`] they make (also what `caudal check-config` prints).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use caudal_server::Config;
use caudal_server::access::{self, Action, IpRule, IpRules, Verifier, ip_rules};
use caudal_server::body::chunk_cache::MIN_BOUND;
use caudal_server::config;
use caudal_server::config_file::{self, FileConfig};
use caudal_server::metrics::{self, MetricsAccess};
use caudal_server::token_tools;
use clap::FromArgMatches;

use crate::{CHECKOUT, KeyArgs};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Folder of media served under /media/ (default: the sample media in www/media).
    pub dir: Option<PathBuf>,
    /// A TOML file with any of these settings; flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Folder of the web player and demo page served at / (default: this checkout's www/).
    #[arg(long)]
    pub www: Option<PathBuf>,
    /// Cache-Control sent with files; "off" sends none [default: no-cache].
    #[arg(long)]
    pub cache_control: Option<String>,
    /// Do not answer cross-origin (CORS) requests.
    #[arg(long)]
    pub no_cors: bool,
    /// Seconds a client has to send a complete request head [default: 10].
    #[arg(long)]
    pub header_timeout: Option<f64>,
    /// Seconds a response write may make no progress before the connection is closed [default: 60].
    #[arg(long)]
    pub send_timeout: Option<f64>,
    /// Connections served at once; more are answered 503 [default: 1024].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Largest request head in bytes; larger is answered 431 [default: 16384].
    #[arg(long)]
    pub max_header_bytes: Option<usize>,
    /// Follow symlinks that lead outside the served folder (refused by default).
    #[arg(long)]
    pub follow_symlinks_outside: bool,
    /// Seconds in-flight responses get to finish on SIGINT/SIGTERM [default: 30].
    #[arg(long)]
    pub shutdown_grace: Option<f64>,
    /// No per-request log lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// URL path prefix whose files need a signed token (repeatable; default /media/ when a key is given).
    #[arg(long, value_name = "PREFIX")]
    pub protect: Vec<String>,
    /// Only these clients under PREFIX: `PREFIX=CIDR[,CIDR]` (repeatable; with --deny, first match wins).
    #[arg(long, value_name = "PREFIX=CIDRS")]
    pub allow: Vec<String>,
    /// Refuse these clients under PREFIX: `PREFIX=CIDR[,CIDR]` (repeatable; in order with --allow).
    #[arg(long, value_name = "PREFIX=CIDRS")]
    pub deny: Vec<String>,
    /// A reverse proxy whose Forwarded / X-Forwarded-For names the client (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub trusted_proxy: Vec<String>,
    /// Clients that may read /metrics (repeatable) [default: 127.0.0.0/8, ::1].
    #[arg(long, value_name = "CIDR")]
    pub metrics_allow: Vec<String>,
    /// Do not serve /metrics (it answers 404).
    #[arg(long)]
    pub no_metrics: bool,
    /// Send file bodies kernel to socket (sendfile) from Caudal's own HTTP/1.1 loop; off: hyper serves every connection [default: on].
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    pub zero_copy: Option<bool>,
    /// A site page that loads player.js gets a Link header naming the player's modules (and the readers its media URLs need), so the browser fetches them beside player.js [default: on].
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    pub preload_hints: Option<bool>,
    /// Live streams at /live/NAME: publish with PUT or POST (a token whose acl covers the path), watch with GET [default: on].
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    pub live: Option<bool>,
    /// Publishing live streams from loopback needs no token (for development).
    #[arg(long)]
    pub live_open: bool,
    /// A second publisher of a live name takes it over (else it is refused with 409).
    #[arg(long)]
    pub live_takeover: bool,
    /// Write each live publisher's stream to DIR/NAME-<unix ms>.mp4 as it arrives (a fragmented MP4 that plays as a file).
    #[arg(long, value_name = "DIR")]
    pub live_record: Option<PathBuf>,
    /// A live publisher that sends nothing this long (seconds) is cut [default: 10].
    #[arg(long, value_name = "SECS")]
    pub live_idle: Option<f64>,
    /// How long (seconds) a live stream whose publisher left keeps its viewers waiting for the next [default: 30].
    #[arg(long, value_name = "SECS")]
    pub live_linger: Option<f64>,
    /// Event loops, one thread each, sharing the address (SO_REUSEPORT) [default: one per CPU].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Memory for the chunk cache shared by all responses (file bytes in 1 MiB
    /// chunks, one read per chunk however many clients want it): bytes or K, M, G
    /// (powers of 1024: 64M, 512MiB, 2G); 0 turns it off (read the file for each
    /// response); at least 2M otherwise [default: 1/8 of RAM, at most 4G].
    #[arg(long, value_name = "SIZE", value_parser = config::parse_size)]
    pub cache_mem: Option<u64>,
    /// Pace media responses by the player's buffer (SO_MAX_PACING_RATE): off; cmcd: requests that carry CMCD; always: also players without CMCD, by the buffer estimated from what was served [default: cmcd].
    #[arg(long, value_name = "off|cmcd|always", value_parser = caudal_server::pacing::PaceMode::parse)]
    pub pace: Option<caudal_server::pacing::PaceMode>,
    /// Who enforces a pace: kernel (SO_MAX_PACING_RATE on the socket, the application's token bucket where the kernel has none); app (always the token bucket) [default: kernel].
    #[arg(long, value_name = "kernel|app", value_parser = caudal_server::pacing::PaceBy::parse)]
    pub pace_by: Option<caudal_server::pacing::PaceBy>,
    /// One budget, bits per second, for all media responses at once (800M, 1.5G, 20Mbit/s), shared by urgency: every viewer its media's bit rate first, the emptiest buffers first, the rest to starved viewers, then to the others [default: none].
    #[arg(long, value_name = "RATE", value_parser = caudal_server::config::parse_bit_rate)]
    pub max_egress: Option<u64>,
    /// Below this much buffer (seconds) a response is never paced [default: 4].
    #[arg(long, value_name = "SECS")]
    pub pace_min_buffer: Option<f64>,
    /// The buffer (seconds) at which the pace multiplier reaches its low end [default: 30].
    #[arg(long, value_name = "SECS")]
    pub pace_goal: Option<f64>,
    /// Pace = m x the media's bit rate, m from EMPTY (empty buffer) to GOAL (at the goal) [default: 3.2:2.8].
    #[arg(long, value_name = "EMPTY:GOAL", value_parser = parse_multiplier)]
    pub pace_multiplier: Option<[f64; 2]>,
    /// The rules in command-line order (filled from the parsed matches).
    #[arg(skip)]
    pub rules_in_order: Vec<(Action, String)>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// The `--allow` / `--deny` values of `serve`, in command-line order.
pub fn rules_in_order(matches: &clap::ArgMatches) -> Vec<(Action, String)> {
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
pub fn config_from(args: ServeArgs, file: FileConfig) -> Result<Config, String> {
    let pace = pace_config(
        PaceArgs {
            mode: args.pace,
            by: args.pace_by,
            max_egress: args.max_egress,
            min_buffer: args.pace_min_buffer,
            goal: args.pace_goal,
            multiplier: args.pace_multiplier,
        },
        file.pace.clone().unwrap_or_default(),
    )?;
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
    let file_metrics = file.metrics.unwrap_or_default();
    let metrics = MetricsAccess {
        enabled: !args.no_metrics && file_metrics.enabled != Some(false),
        allow: if args.metrics_allow.is_empty() {
            file_metrics
                .allow
                .map(|nets| nets.iter().map(|cidr| cidr.0).collect())
                .unwrap_or_else(metrics::loopback)
        } else {
            args.metrics_allow
                .iter()
                .map(|text| ip_rules::parse_net(text))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| format!("--metrics-allow {error}"))?
        },
    };
    let cache_mem = args
        .cache_mem
        .or(file.cache.and_then(|cache| cache.mem).map(|mem| mem.0))
        .unwrap_or_else(config::default_cache_mem);
    if cache_mem != 0 && cache_mem < MIN_BOUND {
        return Err("--cache-mem ([cache] mem) must be 0 (off) or at least 2M".into());
    }
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
        metrics,
        zero_copy: args.zero_copy.or(file.zero_copy).unwrap_or(true),
        preload_hints: args.preload_hints.or(file.preload_hints).unwrap_or(true),
        live: {
            let file_live = file.live.clone().unwrap_or_default();
            caudal_server::live::LiveConfig {
                enabled: args.live.or(file_live.enabled).unwrap_or(true),
                open_loopback: args.live_open || file_live.open == Some(true),
                take_over: args.live_takeover || file_live.takeover == Some(true),
                idle: seconds(
                    args.live_idle.or(file_live.idle).unwrap_or(10.0),
                    "live-idle",
                )?,
                linger: seconds(
                    args.live_linger.or(file_live.linger).unwrap_or(30.0),
                    "live-linger",
                )?,
                record: match args.live_record.or(file_live.record) {
                    Some(dir) if !dir.is_dir() => {
                        return Err(format!("--live-record {}: not a directory", dir.display()));
                    }
                    dir => dir,
                },
                ..caudal_server::live::LiveConfig::default()
            }
        },
        workers: match args.workers.or(file.workers) {
            Some(0) => return Err("--workers must be at least 1".into()),
            Some(workers) => workers,
            None => config::default_workers(),
        },
        cache_mem,
        pace,
    })
}

/// The `--pace*` flags given.
struct PaceArgs {
    mode: Option<caudal_server::pacing::PaceMode>,
    by: Option<caudal_server::pacing::PaceBy>,
    max_egress: Option<u64>,
    min_buffer: Option<f64>,
    goal: Option<f64>,
    multiplier: Option<[f64; 2]>,
}

/// `--pace*` over `[pace]` over the defaults.
fn pace_config(
    args: PaceArgs,
    file: caudal_server::config_file::FilePace,
) -> Result<caudal_server::pacing::PaceConfig, String> {
    use caudal_server::pacing::{PaceBy, PaceConfig, PaceMode, PaceSettings};
    let defaults = PaceSettings::default();
    let mode = match (args.mode, file.mode.as_deref()) {
        (Some(mode), _) => mode,
        (None, Some(mode)) => PaceMode::parse(mode).map_err(|e| format!("[pace] mode: {e}"))?,
        (None, None) => PaceMode::default(),
    };
    let by = match (args.by, file.by.as_deref()) {
        (Some(by), _) => by,
        (None, Some(by)) => PaceBy::parse(by).map_err(|e| format!("[pace] by: {e}"))?,
        (None, None) => PaceBy::default(),
    };
    let max_egress = match (args.max_egress, file.max_egress.as_deref()) {
        (Some(bits), _) => Some(bits),
        (None, Some(text)) => Some(
            caudal_server::config::parse_bit_rate(text)
                .map_err(|e| format!("[pace] max_egress: {e}"))?,
        ),
        (None, None) => None,
    };
    let seconds = |value: Option<f64>, default: Duration, flag: &str| match value {
        None => Ok(default),
        Some(secs) => Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("--{flag} must be a positive number of seconds")),
    };
    let min_buffer = seconds(
        args.min_buffer.or(file.min_buffer),
        defaults.min_buffer,
        "pace-min-buffer",
    )?;
    let goal = seconds(args.goal.or(file.goal), defaults.goal, "pace-goal")?;
    let [multiplier_empty, multiplier_at_goal] = args
        .multiplier
        .or(file.multiplier)
        .unwrap_or([defaults.multiplier_empty, defaults.multiplier_at_goal]);
    let valid = |m: f64| m.is_finite() && m >= 1.0;
    if !(valid(multiplier_empty) && valid(multiplier_at_goal)) {
        return Err(
            "--pace-multiplier: both ends must be at least 1 (the media's own rate)".into(),
        );
    }
    Ok(PaceConfig {
        mode,
        by,
        // Bits per second given, bytes per second kept (as the socket takes it).
        max_egress: max_egress.map(|bits| (bits / 8).max(1)),
        settings: PaceSettings {
            min_buffer,
            goal,
            multiplier_empty,
            multiplier_at_goal,
        },
    })
}

/// `EMPTY:GOAL`, two multipliers.
fn parse_multiplier(value: &str) -> Result<[f64; 2], String> {
    let (empty, goal) = value
        .split_once(':')
        .ok_or_else(|| format!("expected EMPTY:GOAL such as 3.2:2.8, not {value:?}"))?;
    let number = |text: &str| {
        text.trim()
            .parse::<f64>()
            .map_err(|_| format!("{text:?} is not a number"))
    };
    Ok([number(empty)?, number(goal)?])
}

/// `on` or `off`, as the switches of `serve` take them.
fn on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("expected on or off, not {value:?}")),
    }
}

/// `caudal check-config FILE`: what `serve --config FILE` would do, or why not.
pub fn check_config(path: &std::path::Path) -> ExitCode {
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
    if config.metrics.enabled {
        let allowed: Vec<String> = config
            .metrics
            .allow
            .iter()
            .map(ToString::to_string)
            .collect();
        println!("metrics: /metrics for {}", allowed.join(", "));
    } else {
        println!("metrics: off");
    }
    match config.cache_mem {
        0 => println!("chunk cache: off"),
        bytes => println!("chunk cache: {} MiB", bytes >> 20),
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
