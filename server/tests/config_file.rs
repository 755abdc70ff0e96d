//! `caudal serve --config FILE` and `caudal check-config FILE`, the real
//! binary: a full file serves and protects, flags override it, and an
//! unknown key or a bad CIDR is an error naming its line.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use caudal_server::access::{Fields, Key, Options, Scope, sign};
use common::{TestServer, client, request};
use reqwest::Method;

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER_KEY: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn grant(key: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let fields = Fields {
        scope: Scope::Acl(vec!["/media/*".into()]),
        start: None,
        expires: now + 3600,
        ip: None,
        id: None,
        data: None,
    };
    sign::sign(
        &fields,
        &Key::from_hex(key).expect("key"),
        Options::default(),
    )
}

/// A complete file; `listen` names an address of no interface here, so the
/// server only starts because the harness's `--listen 127.0.0.1:0` wins.
fn full_config(dir: &Path) -> String {
    std::fs::write(dir.join("keys.txt"), format!("{OTHER_KEY}\n")).expect("write keys");
    format!(
        r#"# caudal serve --config
listen = "192.0.2.1:8080"
media = "media"
cache_control = "no-cache"
cors = true
header_timeout = 10
send_timeout = 60.0
max_connections = 64
max_header_bytes = 16384
shutdown_grace = 5
zero_copy = true
protect = ["/media/sub/"]
keys = ["{KEY}"]
key_files = ["keys.txt"]
token_name = "__token__"
trusted_proxies = ["10.0.0.0/8"]

[metrics]
allow = ["127.0.0.2"]

[[ip_rule]]
action = "deny"
prefix = "/media/big.mp4"
from = ["127.0.0.0/8"]
"#
    )
}

fn check_config(path: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .arg("check-config")
        .arg(path)
        .output()
        .expect("run caudal");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_full_config_serves_protects_and_yields_to_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("caudal.toml");
    std::fs::write(&file, full_config(dir.path())).expect("write config");
    let file = file.to_str().expect("utf-8 path");
    let server = TestServer::start(&["--config", file]);
    let client = client();
    let url = |path: &str| server.url(path);
    assert_eq!(
        request(&client, Method::GET, &url("/media/sub/inner.webm"), &[])
            .await
            .status,
        403
    );
    for key in [KEY, OTHER_KEY] {
        let token = grant(key);
        let with = [("__token__", token.as_str())];
        let reply = request(&client, Method::GET, &url("/media/sub/inner.webm"), &with).await;
        assert_eq!(reply.status, 200, "key from the file opens");
        assert_eq!(reply.header("cache-control"), Some("private, no-store"));
    }
    assert_eq!(
        request(&client, Method::GET, &url("/media/small.mp4"), &[])
            .await
            .status,
        200
    );
    assert_eq!(
        request(&client, Method::GET, &url("/media/big.mp4"), &[])
            .await
            .status,
        403
    );

    // Flags override the file: another protected prefix, another cache policy.
    let flagged = TestServer::start(&[
        "--config",
        file,
        "--protect",
        "/media/small.mp4",
        "--cache-control",
        "max-age=7",
    ]);
    let open = request(
        &client,
        Method::GET,
        &flagged.url("/media/sub/inner.webm"),
        &[],
    )
    .await;
    assert_eq!(open.status, 200);
    assert_eq!(open.header("cache-control"), Some("max-age=7"));
    let shut = request(&client, Method::GET, &flagged.url("/media/small.mp4"), &[]).await;
    assert_eq!(shut.status, 403);

    let (ok, summary, _) = check_config(Path::new(file));
    assert!(ok);
    assert!(
        summary.contains("protected: /media/sub/ (token __token__, 2 keys)"),
        "{summary}"
    );
    assert!(
        summary.contains("ip rule: deny /media/big.mp4=127.0.0.0/8"),
        "{summary}"
    );
    assert!(summary.contains("trusted proxies: 10.0.0.0/8"), "{summary}");
    assert!(
        summary.contains("metrics: /metrics for 127.0.0.2/32"),
        "{summary}"
    );
    // The file's `[metrics] allow` leaves 127.0.0.1 out.
    let metrics = request(&client, Method::GET, &url("/metrics"), &[]).await;
    assert_eq!(metrics.status, 403);
}

#[test]
fn an_unknown_key_or_a_bad_cidr_is_an_error_naming_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("caudal.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\n\nprotected = [\"/media/\"]\n",
    )
    .expect("write");
    let (ok, _, error) = check_config(&file);
    assert!(!ok);
    let at = format!("{}:3:1:", file.display());
    assert!(
        error.contains(&at) && error.contains("protected"),
        "{error}"
    );

    std::fs::write(
        &file,
        "[[ip_rule]]\naction = \"allow\"\nprefix = \"/media/\"\nfrom = [\"10.0.0.0/8\", \"10.1.0.0/40\"]\n",
    )
    .expect("write");
    let (ok, _, error) = check_config(&file);
    assert!(!ok);
    let at = format!("{}:4:", file.display());
    assert!(
        error.contains(&at) && error.contains("10.1.0.0/40"),
        "{error}"
    );

    // serve refuses the same file, with the same message.
    let out = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .output()
        .expect("run caudal");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&at));

    // In a table too: `[metrics]` knows `enabled` and `allow` only.
    std::fs::write(&file, "[metrics]\nenabled = true\nallowed = []\n").expect("write");
    let (ok, _, error) = check_config(&file);
    assert!(!ok);
    assert!(
        error.contains(&format!("{}:3:1:", file.display())) && error.contains("allowed"),
        "{error}"
    );
}
