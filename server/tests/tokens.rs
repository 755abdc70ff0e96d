//! `caudal keygen`, `caudal sign` and `caudal verify`, run as the real
//! binary: one table of the ways a token is valid or not, each checked
//! for its exit status and the reason it prints.

use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OLD_KEY: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const GONE_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn caudal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(args)
        .env_remove("CAUDAL_LOG")
        .output()
        .expect("run caudal")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The line `caudal sign ARGS` prints (it must succeed).
fn sign(args: &[&str]) -> String {
    let mut all = vec!["sign"];
    all.extend_from_slice(args);
    let output = caudal(&all);
    assert!(
        output.status.success(),
        "sign {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

#[test]
fn keygen_prints_a_new_256_bit_hex_key_each_time() {
    let first = caudal(&["keygen"]);
    let second = caudal(&["keygen"]);
    assert!(first.status.success());
    let (first, second) = (stdout(&first), stdout(&second));
    assert_eq!(first.len(), 64, "{first}");
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
    assert_ne!(first, second);
    // and it signs
    assert!(sign(&["--acl", "/*", "--ttl", "1m", "--key", &first]).contains("~hmac="));
}

/// (case, input, extra flags, keys, valid, what stdout must contain)
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [&'a str],
    &'a [&'a str],
    bool,
    &'a str,
);

#[test]
fn verify_says_why_each_token_is_refused() {
    let later = (now() + 3600).to_string();
    let acl = sign(&["--acl", "/media/*", "--ttl", "2h", "--key", KEY]);
    let url = sign(&["/media/a.mp4", "--ttl", "2h", "--key", KEY]);
    let bound = sign(&[
        "--acl", "/media/*", "--ttl", "2h", "--ip", "10.0.0.1", "--key", KEY,
    ]);
    let expired = sign(&[
        "--acl", "/media/*", "--ttl", "1h", "--start", "1000", "--key", KEY,
    ]);
    let early = sign(&[
        "--acl", "/media/*", "--ttl", "1h", "--start", &later, "--key", KEY,
    ]);
    let old = sign(&["--acl", "/media/*", "--ttl", "2h", "--key", OLD_KEY]);
    let gone = sign(&["--acl", "/media/*", "--ttl", "2h", "--key", GONE_KEY]);
    let exp = acl
        .split('~')
        .find(|field| field.starts_with("exp="))
        .expect("an exp field")
        .to_owned();
    let tampered = acl.replace(&exp, "exp=9999999999");
    let widened = acl.replace("acl=/media/*", "acl=/*");
    let extra = format!("/media/a.mp4?a=1&__token__={acl}&b=2");
    let encoded = acl
        .replace('=', "%3D")
        .replace('~', "%7E")
        .replace('/', "%2F");
    let on_other = format!("/other/a.mp4?__token__={acl}");
    let url_elsewhere = url.replace("/media/a.mp4", "/media/b.mp4");
    let both = ["--key", KEY, "--key", OLD_KEY];
    let only_new = ["--key", KEY];

    // (case, input, extra flags, keys, valid, what stdout must contain)
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("valid acl token", &acl, &[], &only_new, true, "valid: expires in"),
        ("valid url token", &url, &[], &only_new, true, "for /media/a.mp4"),
        ("expired", &expired, &[], &only_new, false, "invalid: token expired at 4600"),
        ("not yet valid", &early, &[], &only_new, false, "invalid: token not valid before"),
        ("url token on another path", &url_elsewhere, &[], &only_new, false, "invalid: bad signature"),
        ("outside its acl", &on_other, &[], &only_new, false, "invalid: token not valid for this path"),
        ("outside its acl (--path)", &acl, &["--path", "/etc/passwd"], &only_new, false, "not valid for this path"),
        ("tampered exp", &tampered, &[], &only_new, false, "invalid: bad signature"),
        ("tampered acl", &widened, &[], &only_new, false, "invalid: bad signature"),
        ("old key still configured", &old, &[], &both, true, "key 2 of 2"),
        ("key no longer configured", &gone, &[], &both, false, "invalid: bad signature"),
        ("bound to its ip", &bound, &["--ip", "10.0.0.1"], &only_new, true, "bound to ip 10.0.0.1"),
        ("bound to another ip", &bound, &["--ip", "10.0.0.2"], &only_new, false, "not valid for this address"),
        ("extra query parameters", &extra, &[], &only_new, true, "valid"),
        ("url-encoded whole", &encoded, &[], &only_new, true, "valid"),
        ("not a token", "hello", &[], &only_new, false, "invalid: malformed token"),
    ];
    for (case, input, flags, keys, valid, says) in cases {
        let mut args = vec!["verify", input];
        args.extend_from_slice(flags);
        args.extend_from_slice(keys);
        let output = caudal(&args);
        let line = stdout(&output);
        assert_eq!(output.status.success(), valid, "{case}: {line}");
        assert_eq!(
            output.status.code(),
            Some(if valid { 0 } else { 1 }),
            "{case}"
        );
        assert!(line.contains(says), "{case}: `{line}` lacks `{says}`");
        assert!(
            !line.contains(KEY) && !line.contains("hmac="),
            "{case}: {line}"
        );
    }
}

#[test]
fn a_key_file_holds_the_keys_of_a_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys");
    std::fs::write(&file, format!("# new first\n{KEY}\n\n{OLD_KEY}\n")).expect("write keys");
    let file = file.to_str().expect("utf-8 path");
    let old = sign(&["--acl", "/media/*", "--ttl", "1h", "--key", OLD_KEY]);
    let new = sign(&["--acl", "/media/*", "--ttl", "1h", "--key-file", file]);
    assert_eq!(new.split_once("~hmac=").map(|(_, h)| h.len()), Some(64));
    assert_eq!(
        caudal(&["verify", &new, "--key", KEY]).status.code(),
        Some(0),
        "the first key of the file signs"
    );
    for token in [&old, &new] {
        let output = caudal(&["verify", token, "--key-file", file]);
        assert!(output.status.success(), "{}", stdout(&output));
    }
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "not hex\n").expect("write bad keys");
    let output = caudal(&[
        "verify",
        &new,
        "--key-file",
        bad.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 1"), "{stderr}");
}

#[test]
fn sign_prints_a_url_for_a_path_and_a_token_for_patterns() {
    let url = sign(&[
        "/media/my clip.mp4",
        "--ttl",
        "10m",
        "--base",
        "https://cdn.example/",
        "--key",
        KEY,
    ]);
    assert!(
        url.starts_with("https://cdn.example/media/my%20clip.mp4?__token__=exp="),
        "{url}"
    );
    assert!(!url.contains("acl=") && !url.contains("url="), "{url}");
    let with_acl = sign(&[
        "/media/a.mp4",
        "--acl",
        "/media/*",
        "--ttl",
        "10m",
        "--token-name",
        "t",
        "--key",
        KEY,
    ]);
    assert!(with_acl.starts_with("/media/a.mp4?t=exp="), "{with_acl}");
    assert!(with_acl.contains("~acl=/media/*~hmac="), "{with_acl}");
    let output = caudal(&["verify", &with_acl, "--token-name", "t", "--key", KEY]);
    assert!(output.status.success(), "{}", stdout(&output));
    let token = sign(&[
        "--acl", "/a/*", "--acl", "/b/*", "--ttl", "10m", "--start", "now", "--key", KEY,
    ]);
    assert!(token.starts_with("st="), "{token}");
    assert!(token.contains("~acl=/a/*!/b/*~hmac="), "{token}");
    let no_key = caudal(&["sign", "--acl", "/*", "--ttl", "1h"]);
    assert_eq!(no_key.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("no key given"));
}
