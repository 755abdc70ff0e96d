//! Every file of the muxer corpus (`tests/fixtures/corpus/`, issue 12) gets
//! the right answer from Caudal: where the browser's own `<video>` plays
//! it, Caudal plays it too — under MSE with the same duration, or by
//! handing it to the element — and where the element cannot, Caudal says so
//! with one `caudal:error`. The files the player still gets wrong are listed
//! in `tests/fixtures/corpus/known-wrong.txt`; for those the test asserts
//! they are *still* wrong, so a fix fails it until the list is updated.
//!
//! The test prints the whole table (file, producer, layout, native, Caudal,
//! class) and the `known-wrong.txt` it would write; both are what the
//! README's corpus table and the list are made from. It uses only the
//! committed files (`make.sh` is not run here).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use caudal_tests::corpus::{Class, Run, classify, lists, pages, verdict};
use caudal_tests::{Page, Stage, browser_test, say, secs};
use serde::Deserialize;

/// Probe iframes at once (each two muted 320x180 videos): what this
/// 2-core machine plays without starving any of them.
const CONCURRENCY: usize = 4;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    native: Option<Run>,
    caudal: Option<Run>,
    #[serde(default)]
    frame_timeout: bool,
}

struct Row {
    file: String,
    producer: String,
    layout: String,
    native: String,
    caudal: String,
    class: String,
    /// Err(why) when Caudal's answer is not the right one.
    verdict: Result<(), String>,
}

/// A `known-wrong.txt` reason that starts so marks a file whose native
/// result varies between runs (a duration the element estimates): it may
/// come out right or wrong.
const UNSETTLED: &str = "unsettled:";

#[test]
fn every_corpus_file_gets_the_right_answer_or_is_a_known_defect() {
    browser_test(
        "every_corpus_file_gets_the_right_answer_or_is_a_known_defect",
        secs(170.0),
        |browser| async move {
            let dir = lists::corpus_dir();
            let files = lists::media_files(&dir)?;
            let readme =
                std::fs::read_to_string(dir.join("README.md")).context("corpus README.md")?;
            let described = lists::parse_readme(&readme);
            let known_text =
                std::fs::read_to_string(dir.join("known-wrong.txt")).context("known-wrong.txt")?;
            let known = lists::parse_known_wrong(&known_text)?;
            let mut problems = Vec::new();
            for file in &files {
                if !described.contains_key(file) {
                    problems.push(format!("{file}: not described in the corpus README.md"));
                }
            }
            for file in described.keys().chain(known.keys()) {
                if !files.contains(file) {
                    problems.push(format!("{file}: listed but not in the corpus folder"));
                }
            }
            if files.len() < 30 {
                problems.push(format!("only {} corpus files", files.len()));
            }

            let stage = Stage::serving(&dir).await?;
            let probe_url = stage.pages.write(&pages::probe_html(&stage.player_js()))?;
            let urls: Vec<String> = files.iter().map(|f| stage.media_url(f)).collect();
            let pool_url = stage
                .pages
                .write(&pages::pool_html(&probe_url, &urls, CONCURRENCY))?;
            let page = Page::open(&browser, &pool_url).await?;
            page.wait_until(
                "every corpus file probed",
                secs(150.0),
                "window.__done === true",
            )
            .await?;
            let elapsed: f64 = page.js_as("return window.__elapsed;", vec![]).await?;
            let results: BTreeMap<String, Probe> =
                page.js_as("return window.__results;", vec![]).await?;

            let mut rows = Vec::new();
            for (file, url) in files.iter().zip(&urls) {
                let d = described.get(file);
                let mut row = Row {
                    file: file.clone(),
                    producer: d.map(|d| d.producer.clone()).unwrap_or_default(),
                    layout: d.map(|d| d.layout.clone()).unwrap_or_default(),
                    native: String::new(),
                    caudal: String::new(),
                    class: String::new(),
                    verdict: Ok(()),
                };
                match results.get(url) {
                    Some(Probe {
                        native: Some(native),
                        caudal: Some(caudal),
                        ..
                    }) => {
                        let class = classify(native, caudal);
                        row.native = native.native_summary();
                        row.caudal = caudal.caudal_summary();
                        row.verdict = verdict(native, caudal, &class);
                        // Short in the table; the whole message goes to the list.
                        row.class = match (&class, &row.verdict) {
                            (Class::Wrong(_), _) | (_, Ok(())) => class.to_string(),
                            (Class::Error, Err(_)) => {
                                "wrong: caudal:error where native plays".into()
                            }
                            (_, Err(why)) => format!("wrong: {why}"),
                        };
                        if row.verdict.is_err() {
                            say(&format!(
                                "  {file}: caudal:error {:?}, reason {:?}, notes {:?}, \
                                 buffered {:?}; native error {:?} {:?}",
                                caudal.errors,
                                caudal.reason,
                                caudal.notes,
                                caudal.buffered,
                                native.error,
                                native.error_message
                            ));
                        }
                    }
                    other => {
                        let why = match other {
                            Some(p) if p.frame_timeout => "the probe page never answered",
                            Some(_) => "the probe page answered without both runs",
                            None => "no result",
                        };
                        row.native = "?".into();
                        row.caudal = "?".into();
                        row.class = format!("wrong: {why}");
                        row.verdict = Err(why.to_owned());
                    }
                }
                rows.push(row);
            }

            say(&format!(
                "corpus: {} files probed in {elapsed:.0} ms of page time",
                rows.len()
            ));
            say("| producer | layout | file | native `<video>` | Caudal | class |");
            say("|---|---|---|---|---|---|");
            for r in &rows {
                say(&format!(
                    "| {} | {} | `{}` | {} | {} | {} |",
                    r.producer, r.layout, r.file, r.native, r.caudal, r.class
                ));
            }
            let count = |class: &str| {
                rows.iter()
                    .filter(|r| r.class.split(':').next() == Some(class))
                    .count()
            };
            say(&format!(
                "classes: {} mse, {} native, {} error, {} wrong (of {})",
                count("mse"),
                count("native"),
                count("error"),
                count("wrong"),
                rows.len()
            ));
            let wrong: Vec<(&str, &str)> = rows
                .iter()
                .filter_map(|r| {
                    r.verdict
                        .as_ref()
                        .err()
                        .map(|why| (r.file.as_str(), why.as_str()))
                })
                .collect();
            say("the known-wrong.txt this run would write:");
            say(&lists::render_known_wrong(wrong.iter().copied()));

            for r in &rows {
                match (&r.verdict, known.get(&r.file)) {
                    (Err(why), None) => problems.push(format!("{}: wrong: {why}", r.file)),
                    // Native's own answer for this file varies from run to
                    // run: listed, printed, but either outcome is accepted.
                    (Ok(()), Some(listed)) if listed.starts_with(UNSETTLED) => {}
                    (Ok(()), Some(listed)) => problems.push(format!(
                        "{}: now right ({}), but known-wrong.txt still lists it ({listed}): \
                         remove it from the list",
                        r.file, r.class
                    )),
                    _ => {}
                }
            }
            if !problems.is_empty() {
                bail!(
                    "{} corpus problem(s):\n  {}",
                    problems.len(),
                    problems.join("\n  ")
                );
            }
            Ok(())
        },
    );
}
