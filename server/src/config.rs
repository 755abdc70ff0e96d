//! Server configuration: everything `caudal serve` can be told.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::access::{IpRules, Protection};
use crate::metrics::MetricsAccess;

/// How a `caudal` server behaves. [`Config::new`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory served under `/media/`.
    pub media_dir: PathBuf,
    /// Directory of the web player and demo page served at `/`; none serves no site.
    pub www_dir: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// `Cache-Control` sent with media and site files; `None` sends none.
    pub cache_control: Option<String>,
    /// Answer CORS for GET/HEAD from any origin, so players on other origins work.
    pub cors: bool,
    /// A client must send a complete request head within this time (slowloris).
    pub header_timeout: Duration,
    /// A response write that makes no progress for this long ends the
    /// connection (a client that stopped reading).
    pub send_timeout: Duration,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Largest request head (request line and headers) accepted; larger is 431.
    pub max_header_bytes: usize,
    /// Follow symlinks that lead outside the served directory (refused by default).
    pub allow_symlinks_outside: bool,
    /// One log line per request.
    pub access_log: bool,
    /// On SIGINT/SIGTERM, how long in-flight responses may take to finish.
    pub shutdown_grace: Duration,
    /// Paths that need a signed token, and the keys that sign them; none: all open.
    pub protection: Option<Protection>,
    /// Allow / deny lists of CIDRs per path prefix, first match wins.
    pub ip_rules: IpRules,
    /// Peers whose `Forwarded` / `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether `/metrics` is served, and to which clients.
    pub metrics: MetricsAccess,
    /// Serve connections with Caudal's own HTTP/1.1 loop, which sends file
    /// bodies kernel to socket (`sendfile`); off: hyper serves them all.
    pub zero_copy: bool,
}

impl Config {
    pub fn new(media_dir: impl Into<PathBuf>) -> Self {
        Config {
            media_dir: media_dir.into(),
            www_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            cache_control: Some("no-cache".to_owned()),
            cors: true,
            header_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            allow_symlinks_outside: false,
            access_log: true,
            shutdown_grace: Duration::from_secs(30),
            protection: None,
            ip_rules: IpRules::default(),
            trusted_proxies: Vec::new(),
            metrics: MetricsAccess::default(),
            zero_copy: true,
        }
    }
}
