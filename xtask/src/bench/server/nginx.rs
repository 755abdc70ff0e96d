//! nginx, the reference server, configured as one would serve static media.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use super::options::ServerKind;
use super::process::{ChildGuard, RunningServer, free_port, wait_until_listening};
use crate::bench::machine::cpu_count;

/// Starts nginx on a free port, serving `media_dir` under `/media/`, with its
/// config and logs in `scratch`.
pub fn start(nginx: &Path, scratch: &Path, media_dir: &Path) -> Result<RunningServer> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let conf = scratch.join("nginx.conf");
    fs::write(&conf, config(scratch, media_dir, addr))
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
        token: None,
    })
}

/// An nginx configured the way one would serve static media in production:
/// sendfile, open file descriptors cached, no access log, long keep-alive,
/// one worker per core.
fn config(scratch: &Path, media_dir: &Path, addr: SocketAddr) -> String {
    let tmp = scratch.display();
    let workers = cpu_count();
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
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_errors on;
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
