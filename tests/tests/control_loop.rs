//! The control loop against independent implementations of its standards:
//! the CMCD Caudal's player sends from headless Chromium (query form and
//! header form, the loader's early request included) passes
//! `@montevideo-tech/cmcd-validator`, and the CMSD `caudal serve` sends
//! decodes with `@svta/cml-cmsd` to what the server meant; hls.js with
//! its CMCD on is paced by the buffer it reports. The npm
//! packages are pinned and installed under `target/npm-tests/` on first
//! use; without node and npm a test skips (fails under CI).

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use caudal_tests::media::MP4;
use caudal_tests::page::Page;
use caudal_tests::shaped_link::LinkConfig;
use caudal_tests::{Stage, browser_test, npm, secs, skip};
use serde_json::{Value, json};

const VALIDATOR: &str = "@montevideo-tech/cmcd-validator@1.3.1";
const CMSD: &str = "@svta/cml-cmsd@1.1.0";

/// Records every `fetch` the page makes (URL and headers), the loader's
/// early request included: installed before `Caudal.attach`.
const RECORD_FETCHES: &str = "window.__fetches = []; var original = window.fetch; \
    window.fetch = function (input, init) { \
      var headers = {}; \
      if (init && init.headers) { \
        var h = new Headers(init.headers); h.forEach(function (v, k) { headers[k] = v; }); \
      } \
      window.__fetches.push({ url: String(input && input.url || input), headers: headers }); \
      return original.apply(this, arguments); \
    };";

/// Plays MP4 through a link three times its bit rate with a short goal
/// (several requests, some with a healthy buffer) and returns the media
/// requests the page made.
async fn media_requests(
    browser: &caudal_tests::browser::Browser,
    options: Value,
) -> Result<Vec<Value>> {
    let mut stage = Stage::start().await?;
    let (trace, rtt) = (vec![(0.0, 3 * MP4.bit_rate()?)], secs(0.02));
    stage.add_link(LinkConfig { trace, rtt }).await?;
    let page: Page = stage.open(browser, &[("muted", "")]).await?;
    page.wait_for_caudal().await?;
    page.run(RECORD_FETCHES).await?;
    page.attach(&stage.linked_media_url(MP4.name)?, options)
        .await?;
    page.play().await?;
    page.wait_until("8 s played", secs(40.0), "v.currentTime > 8")
        .await?;
    page.expect_no_errors().await?;
    let fetches = page.js("return window.__fetches;", vec![]).await?;
    let media: Vec<Value> = fetches
        .as_array()
        .context("the fetch log")?
        .iter()
        .filter(|f| f["url"].as_str().is_some_and(|u| u.contains("/media/")))
        .cloned()
        .collect();
    ensure!(
        media.len() >= 3,
        "too few media requests to judge: {media:?}"
    );
    Ok(media)
}

/// The validator's answers for `items` (`{query}` or `{header}`); `None`
/// after a skip line when node or npm is missing.
fn validate(items: &[Value]) -> Result<Option<Vec<Value>>> {
    let dir = match npm::prepared("cmcd-validator", &[VALIDATOR], Some("cmcd_validate.js")) {
        Ok(dir) => dir,
        Err(why) => {
            skip::missing_tool("the CMCD validator", &why);
            return Ok(None);
        }
    };
    let out = npm::run(
        &dir,
        "cmcd_validate.js",
        &Value::from(items.to_vec()).to_string(),
    )
    .map_err(anyhow::Error::msg)?;
    Ok(Some(
        serde_json::from_str(&out).context("the validator's answer")?,
    ))
}

/// Every answer valid, without errors, keys in order.
fn all_valid(answers: &[Value], asked: &[Value]) -> Result<()> {
    for (answer, item) in answers.iter().zip(asked) {
        let order = answer["warnings"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["type"] == "no-alphabetical-order"));
        if answer["valid"] != Value::Bool(true)
            || answer["errors"].as_array().is_some_and(|e| !e.is_empty())
            || order
        {
            bail!("the validator refused {item}: {answer}");
        }
    }
    Ok(())
}

#[test]
fn the_players_cmcd_query_passes_an_independent_validator() {
    browser_test(
        "the_players_cmcd_query_passes_an_independent_validator",
        secs(90.0),
        |browser| async move {
            let requests = media_requests(&browser, json!({ "goal": 4 })).await?;
            let items: Vec<Value> = requests
                .iter()
                .map(|r| json!({ "query": r["url"] }))
                .collect();
            let Some(answers) = validate(&items)? else {
                return Ok(());
            };
            all_valid(&answers, &items)?;
            let parsed: Vec<&Value> = answers.iter().map(|a| &a["parsedData"]).collect();
            // The first (the loader's early request) is a startup; one
            // later request says the buffer, the bit rate and the link.
            ensure!(
                parsed[0]["su"] == Value::Bool(true),
                "first request: {}",
                parsed[0]
            );
            let sid = &parsed[0]["sid"];
            ensure!(
                parsed.iter().all(|p| &p["sid"] == sid),
                "one sid per playback: {parsed:?}"
            );
            ensure!(
                parsed.iter().any(|p| p["bl"].is_number()
                    && p["br"].is_number()
                    && p["mtp"].is_number()
                    && p["ot"] == "av"),
                "no request said its buffer, bit rate and throughput: {parsed:?}"
            );
            caudal_tests::say(&format!(
                "{} requests validated; e.g. {}",
                parsed.len(),
                parsed[parsed.len() - 1]
            ));
            Ok(())
        },
    );
}

#[test]
fn the_players_cmcd_headers_pass_an_independent_validator() {
    browser_test(
        "the_players_cmcd_headers_pass_an_independent_validator",
        secs(90.0),
        |browser| async move {
            let requests = media_requests(&browser, json!({ "goal": 4, "cmcd": "header" })).await?;
            let mut items = Vec::new();
            for request in &requests {
                let url = request["url"].as_str().context("url")?;
                ensure!(
                    !url.contains("CMCD="),
                    "header mode put CMCD in the URL: {url}"
                );
                let mut raw = format!("GET {url} HTTP/1.1\nHost: localhost\n");
                for (name, value) in request["headers"].as_object().context("headers")? {
                    if name.starts_with("cmcd-") {
                        // The validator wants the spec's capitalisation.
                        let name = name.replace("cmcd-", "CMCD-");
                        let name = format!("{}{}", &name[..5], capitalise(&name[5..]));
                        raw.push_str(&format!("{name}: {}\n", value.as_str().unwrap_or("")));
                    }
                }
                items.push(json!({ "header": raw }));
            }
            let Some(answers) = validate(&items)? else {
                return Ok(());
            };
            all_valid(&answers, &items)
        },
    );
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// One raw GET with `Range` on a new connection: the response head.
fn head_of(addr: std::net::SocketAddr, target: &str) -> Result<Vec<(String, String)>> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-99999\r\nConnection: close\r\n\r\n"
    )?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    let text = String::from_utf8_lossy(&received);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    Ok(head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect())
}

#[test]
fn the_servers_cmsd_decodes_with_an_independent_library() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dir = match npm::prepared("cml-cmsd", &[CMSD], Some("cmsd_decode.mjs")) {
            Ok(dir) => dir,
            Err(why) => {
                skip::missing_tool("the_servers_cmsd_decodes_with_an_independent_library", &why);
                return;
            }
        };
        let media = caudal_tests::server::sample_media_dir();
        let server = caudal_tests::server::TestServer::start(&media, None)
            .await
            .expect("server");
        let addr = server.addr();
        let path = format!("/media/{}", MP4.name);
        // The first response starts reading the file's facts (bit rate,
        // tracks); the next, from a healthy viewer, is paced.
        let healthy = format!(
            "{path}?CMCD=bl%3D20000%2Cbr%3D1000%2Cot%3Dav%2Csf%3Do%2Csid%3D%22cmsd%22%2Cst%3Dv"
        );
        let heads = tokio::task::spawn_blocking(move || {
            let first = head_of(addr, &path)?;
            std::thread::sleep(Duration::from_millis(500));
            let paced = head_of(addr, &healthy)?;
            Ok::<_, anyhow::Error>([first, paced])
        })
        .await
        .expect("join")
        .expect("requests");
        let get = |head: &[(String, String)], name: &str| {
            head.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let items: Vec<Value> = heads
            .iter()
            .map(|h| json!({ "static": get(h, "cmsd-static"), "dynamic": get(h, "cmsd-dynamic") }))
            .collect();
        let out = npm::run(
            &dir,
            "cmsd_decode.mjs",
            &Value::from(items.clone()).to_string(),
        )
        .expect("cml-cmsd ran");
        let decoded: Vec<Value> = serde_json::from_str(&out).expect("json");
        for (item, d) in items.iter().zip(&decoded) {
            assert_eq!(d["static"]["sf"], "o", "{item} -> {d}");
            assert_eq!(d["static"]["st"], "v", "{item} -> {d}");
            assert_eq!(d["dynamic"][0]["server"], "caudal", "{item} -> {d}");
            assert!(
                d["dynamic"][0]["params"]["rtt"].is_number(),
                "{item} -> {d}"
            );
            assert!(
                d["dynamic"][0]["params"]["etp"].is_number(),
                "{item} -> {d}"
            );
        }
        // The file's facts known: its type and bit rate; the healthy
        // viewer's response paced, and the cap said (2.9 x 1 Mbit/s).
        let paced = &decoded[1];
        assert_eq!(paced["static"]["ot"], "av", "{paced}");
        assert!(
            paced["static"]["br"].as_u64().is_some_and(|br| br > 100),
            "{paced}"
        );
        assert_eq!(paced["dynamic"][0]["params"]["mb"], 2933, "{paced}");
        assert!(
            decoded[0]["dynamic"][0]["params"]["mb"].is_null(),
            "a first request is not paced"
        );
        server.stop().await;
    });
}

const HLSJS: &str = "hls.js@1.5.20";

/// `/metrics`' value of `name` (with its labels), from the server of `stage`.
async fn metric(stage: &Stage, name: &str) -> Result<f64> {
    let url = stage.media_url("x").replace("/media/x", "/metrics");
    let text = reqwest::get(&url).await?.text().await?;
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0))
}

/// hls.js with its CMCD on (query form) plays a byte-range playlist of the
/// sample from `caudal serve`, and Caudal paces it by the buffer it reports,
/// as it paces its own player.
#[test]
fn hlsjs_with_cmcd_on_is_paced_by_its_buffer() {
    browser_test(
        "hlsjs_with_cmcd_on_is_paced_by_its_buffer",
        secs(90.0),
        |browser| async move {
            let npm_dir = match npm::prepared("hlsjs", &[HLSJS], None) {
                Ok(dir) => dir,
                Err(why) => {
                    skip::missing_tool("hls.js", &why);
                    return Ok(());
                }
            };
            let dir = tempfile::tempdir()?;
            let sample = MP4.bytes()?;
            let layout = caudal_tests::qoe::fmp4::FileLayout::parse(&sample)?;
            std::fs::write(dir.path().join(MP4.name), &sample)?;
            std::fs::write(
                dir.path().join("sample.m3u8"),
                layout.hls_playlist(MP4.name),
            )?;
            std::fs::copy(
                npm_dir.join("node_modules/hls.js/dist/hls.min.js"),
                dir.path().join("hls.min.js"),
            )?;
            let mut stage = Stage::with_media(dir).await?;
            // Three times the media's rate: the buffer grows past the rule's
            // 4 s while hls.js still fetches (on loopback it would have
            // every segment before it plays, all startup requests).
            let (trace, rtt) = (vec![(0.0, 3 * MP4.bit_rate()?)], secs(0.02));
            stage.add_link(LinkConfig { trace, rtt }).await?;
            let playlist = stage.linked_media_url("sample.m3u8")?;
            let page = stage.open(&browser, &[("muted", "")]).await?;
            page.load_hlsjs(&stage.media_url("hls.min.js")).await?;
            page.js(
                "var hls = new Hls({ cmcd: { sessionId: 'hlsjs-test', useHeaders: false } }); \
                 window.__hls = hls; hls.loadSource(arguments[0]); hls.attachMedia(v); \
                 v.play().catch(function () {}); return true;",
                vec![Value::from(playlist)],
            )
            .await?;
            page.wait_until("hls.js to play 6 s", secs(40.0), "v.currentTime > 6")
                .await?;
            let sent = page
                .js(
                    "return performance.getEntriesByType('resource').map(function (e) { return e.name; }) \
                     .filter(function (n) { return n.indexOf('CMCD=') >= 0; });",
                    vec![],
                )
                .await?;
            caudal_tests::say(&format!("hls.js sent: {sent}"));
            let cmcd = metric(&stage, "caudal_cmcd_requests_total").await?;
            let paced = metric(&stage, "caudal_pacing_decisions_total{decision=\"paced\"}").await?;
            let startup = metric(
                &stage,
                "caudal_pacing_decisions_total{decision=\"startup\"}",
            )
            .await?;
            let mut others = Vec::new();
            for decision in [
                "low_buffer",
                "unknown_buffer",
                "unknown_bitrate",
                "stall",
                "no_cmcd",
            ] {
                let name = format!("caudal_pacing_decisions_total{{decision=\"{decision}\"}}");
                others.push(format!("{decision} {}", metric(&stage, &name).await?));
            }
            caudal_tests::say(&format!(
                "hls.js: {cmcd} requests with CMCD, {paced} paced, {startup} unpaced at startup; {}",
                others.join(", ")
            ));
            ensure!(
                cmcd >= 3.0,
                "hls.js sent no CMCD Caudal could read ({cmcd})"
            );
            ensure!(startup >= 1.0, "its startup requests are never paced");
            ensure!(
                paced >= 1.0,
                "none of hls.js's requests with a healthy buffer was paced"
            );
            Ok(())
        },
    );
}
