//! `caudal`: the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use caudal_server::{Config, Server};
use clap::{Parser, Subcommand};
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
}

/// The checkout this binary was built from, for the default folders.
const CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Serve(args) = cli.command;
    init_logging(args.quiet);
    let config = match config_from(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("caudal: {message}");
            return ExitCode::FAILURE;
        }
    };
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
        server.run_until(shutdown_signal()).await;
        ExitCode::SUCCESS
    })
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
    })
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
