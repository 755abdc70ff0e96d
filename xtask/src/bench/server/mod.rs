//! `cargo xtask bench server`: `caudal` against nginx, side by side, in one run.
//!
//! Both servers serve one 64 MiB file of pseudo-random bytes from a scratch
//! directory, and `wrk` drives two workloads against each in turn:
//!
//! * **64 KiB ranges**: 256 connections asking random 64 KiB-aligned ranges,
//!   the shape of many players seeking and buffering at once;
//! * **whole file**: 16 connections downloading the whole file, raw throughput.
//!
//! Each measured run is preceded by a short warmup so the page cache is hot and
//! the servers have reached their steady state.
//!
//! This file runs the steps in order; each concern is a leaf module:
//! [`options`] (the command line), [`files`] (the scratch file and wrk script),
//! [`process`] and [`nginx`] (the servers as child processes), [`check`] (the
//! correctness check and peak memory), [`wrk`] (the load and its figures) and
//! [`report`] (the table).

mod check;
pub(super) mod files;
pub mod many;
mod nginx;
mod options;
pub(super) mod process;
mod report;
mod wrk;

use std::fs;

use anyhow::{Context, Result};

use self::files::{FILE_NAME, FILE_SIZE, RANGE_SIZE, ScratchDir};
pub use self::options::Args;
use self::options::ServerKind;
use self::report::{Goal, Row};
use self::wrk::{Workload, WrkStats};
use crate::tools;
use crate::workspace::Workspace;

/// Builds caudal, writes the file, starts the servers, checks them, drives
/// each workload against each server and prints the table.
pub fn run(ws: &Workspace, options: &Args) -> Result<()> {
    let wrk = tools::ensure_program("wrk", &["wrk"])?;
    let nginx = match options.includes(ServerKind::Nginx) {
        true => Some(tools::ensure_program("nginx", &["nginx"])?),
        false => None,
    };
    let caudal_bin =
        match options.includes(ServerKind::Caudal) || options.includes(ServerKind::CaudalToken) {
            true => Some(ws.build_release_bin("caudal-server", "caudal")?),
            false => None,
        };

    // Declared before the servers so it is dropped after them: the servers
    // must be stopped before their files and config disappear.
    let scratch = ScratchDir::create()?;
    let media_dir = scratch.path().join("media");
    fs::create_dir(&media_dir).context("creating the media directory")?;
    let prefix = files::write_random_file(&media_dir.join(FILE_NAME), FILE_SIZE)?;
    let workloads = [
        Workload {
            name: "64 KiB ranges",
            connections: 256,
            script: Some(files::write_range_script(scratch.path())?),
            body_size: RANGE_SIZE,
            goal: Goal::RequestsPerSec,
        },
        Workload {
            name: "whole file",
            connections: 16,
            script: None,
            body_size: FILE_SIZE,
            goal: Goal::BytesPerSec,
        },
    ];

    let mut servers = Vec::new();
    if let Some(nginx) = &nginx {
        servers.push(nginx::start(nginx, scratch.path(), &media_dir)?);
    }
    if let Some(bin) = &caudal_bin {
        if options.includes(ServerKind::Caudal) {
            let extra: Vec<&str> = options.caudal_arg.iter().map(String::as_str).collect();
            servers.push(process::start_caudal_with(
                bin,
                &media_dir,
                &extra,
                ServerKind::Caudal,
            )?);
        }
        if options.includes(ServerKind::CaudalToken) {
            servers.push(process::start_caudal_with_token(bin, &media_dir)?);
        }
    }
    for server in &servers {
        check::verify_range(server.addr, &server.path(), &prefix)
            .with_context(|| format!("{} failed the correctness check", server.kind.name()))?;
        eprintln!(
            "bench: {} at {} answers ranges correctly",
            server.kind.name(),
            server.addr
        );
    }

    let mut rows = Vec::new();
    for workload in &workloads {
        let mut row = Row {
            workload: format!("{} ({} conns)", workload.name, workload.connections),
            goal: workload.goal,
            nginx: None,
            caudal: None,
            caudal_token: None,
            caudal_runs: Vec::new(),
            caudal_token_runs: Vec::new(),
            caudal_peak_rss_kib: None,
        };
        let mut runs: Vec<(ServerKind, Vec<WrkStats>)> =
            servers.iter().map(|s| (s.kind, Vec::new())).collect();
        for round in 0..options.rounds {
            // Alternate the order, so that neither server always runs
            // first after a pause or last on a warm machine.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..servers.len()).collect()
            } else {
                (0..servers.len()).rev().collect()
            };
            for at in order {
                let stats = wrk::measure(&wrk, &servers[at], workload, options.seconds)?;
                runs[at].1.push(stats);
            }
        }
        for (server, (kind, stats)) in servers.iter().zip(runs) {
            let median = report::median(&stats);
            match kind {
                ServerKind::Nginx => row.nginx = median,
                ServerKind::Caudal => {
                    row.caudal = median;
                    row.caudal_runs = stats;
                    row.caudal_peak_rss_kib = Some(check::peak_rss_kib(server.process.pid())?);
                }
                ServerKind::CaudalToken => {
                    row.caudal_token = median;
                    row.caudal_token_runs = stats;
                }
            }
        }
        rows.push(row);
    }
    drop(servers);

    report::print(options, &rows);
    Ok(())
}
