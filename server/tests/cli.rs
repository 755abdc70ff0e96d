//! `caudal inspect` and `caudal package`, run as the real binary on the
//! committed fixtures, and the start-up scan of `caudal serve`.
//!
//! Outputs are checked with the media crate's own readers: a faststart
//! output must hold the very same samples (compared byte by byte), a
//! fragmented one must index completely from its first 64 KiB and hold
//! exactly the fragments the remux plan describes. When `ffmpeg` is
//! installed, its packet hashes of input and output must agree as well.

#[allow(dead_code)] // the HTTP harness; only its server runner is used here
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use caudal_media::index::{ContainerIndexer, Step};
use caudal_media::mp4::Fmp4Indexer;
use caudal_media::mp4::boxes::Boxes;
use caudal_media::mp4::samples::MovieSamples;
use caudal_media::remux::{PlanOptions, Remux};
use common::{TestServer, WAIT};

const REMUX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../media/tests/fixtures/remux");
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../www/media");

/// The plain MP4 fixtures: B-frames, moov at the end, an edit list, a long
/// GOP at 90 kHz, audio only.
const PLAIN: &[&str] = &[
    "bframes.mp4",
    "no-bframes.mp4",
    "moov-end.mp4",
    "edit-cut.mp4",
    "ntsc-90k.mp4",
    "audio.m4a",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(REMUX).join(name)
}

fn caudal(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(args)
        .env_remove("CAUDAL_LOG")
        .output()
        .expect("run caudal")
}

fn package(input: &Path, output: &Path, mode: &str) -> Output {
    caudal(&[
        "package".as_ref(),
        input.as_os_str(),
        output.as_os_str(),
        mode.as_ref(),
    ])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The sample tables of an MP4 held in memory.
fn movie(bytes: &[u8]) -> MovieSamples {
    let moov = Boxes::new(bytes, 0, 0)
        .expect("boxes")
        .find(b"moov")
        .expect("top-level boxes")
        .expect("a moov");
    MovieSamples::parse(&moov, Some(bytes.len() as u64)).expect("sample tables")
}

/// The top-level box types, in order.
fn top_level(bytes: &[u8]) -> Vec<String> {
    Boxes::new(bytes, 0, 0)
        .expect("boxes")
        .map(|b| text(&b.expect("box").header.kind))
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn inspect_json_tells_fast_files_from_slow_ones() {
    let files = [
        fixture("moov-end.mp4"),
        fixture("bframes.mp4"),
        fixture("audio.m4a"),
        Path::new(SAMPLES).join("caudal-sample.mp4"),
        Path::new(SAMPLES).join("caudal-sample.webm"),
    ];
    let mut args: Vec<&std::ffi::OsStr> = vec!["inspect".as_ref(), "--json".as_ref()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    let out = caudal(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reports: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("a JSON array");
    assert_eq!(reports.len(), 5);

    let end = &reports[0];
    assert_eq!(end["container"], "mp4");
    assert_eq!(end["streamable"], false);
    assert_eq!(end["faststart"], false);
    assert_eq!(end["moov"]["position"], "after-mdat");
    assert_eq!(end["moov"]["size"], 3040);
    assert_eq!(end["first_frame"]["round_trips"], 2);
    assert_eq!(end["keyframes"]["source"], "stss");
    assert_eq!(end["keyframes"]["count"], 3);
    assert!((end["keyframes"]["max"].as_f64().expect("max") - 1.0).abs() < 1e-9);
    assert!(
        end["slow"][0]
            .as_str()
            .expect("a reason")
            .contains("moov at the end"),
        "{end}"
    );
    let codecs: Vec<&str> = end["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| t["codec"].as_str().expect("codec"))
        .collect();
    assert_eq!(codecs, ["avc1.64000b", "mp4a.40.2"]);

    let fast = &reports[1];
    assert_eq!(
        (&fast["streamable"], &fast["faststart"]),
        (&true.into(), &true.into())
    );
    assert_eq!(fast["moov"]["position"], "before-mdat");
    assert_eq!(fast["first_frame"]["round_trips"], 1);
    assert_eq!(fast["slow"].as_array().map(Vec::len), Some(0));
    assert!((fast["duration"].as_f64().expect("duration") - 3.0).abs() < 0.01);

    assert_eq!(reports[2]["keyframes"], serde_json::Value::Null);
    assert_eq!(reports[2]["mime"], "audio/mp4; codecs=\"mp4a.40.2\"");

    let frag = &reports[3];
    assert_eq!(frag["container"], "fragmented-mp4");
    assert_eq!(frag["fragmented"], true);
    assert_eq!(frag["index"], "mfra");
    assert_eq!(frag["keyframes"]["count"], 10);
    assert_eq!(frag["keyframes"]["source"], "fragments");

    let webm = &reports[4];
    assert_eq!(webm["container"], "webm");
    assert_eq!(webm["index"], "cues");
    assert_eq!(webm["keyframes"]["count"], 10);
}

#[test]
fn inspect_prints_a_report_and_fails_on_files_it_cannot_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("notes.mp4");
    std::fs::write(&junk, b"just some text, not a movie\n").expect("write");
    let moov_end = fixture("moov-end.mp4");
    let out = caudal(&["inspect".as_ref(), moov_end.as_os_str(), junk.as_os_str()]);
    assert!(!out.status.success());
    let report = text(&out.stdout);
    assert!(
        report.contains("streamable   NO: moov after mdat"),
        "{report}"
    );
    assert!(report.contains("slow start   moov at the end"), "{report}");
    assert!(report.contains("2 round trips"), "{report}");
    let errors = text(&out.stderr);
    assert!(errors.contains("notes.mp4: not a media file"), "{errors}");
}

#[test]
fn faststart_moves_moov_and_keeps_every_sample() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in PLAIN {
        let input = fixture(name);
        let output = dir.path().join(format!("fast-{name}"));
        let out = package(&input, &output, "--faststart");
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let before = std::fs::read(&input).expect("read input");
        let after = std::fs::read(&output).expect("read output");
        assert_eq!(before.len(), after.len(), "{name}: same boxes, same size");
        let boxes = top_level(&after);
        let moov = boxes.iter().position(|b| b == "moov");
        let mdat = boxes.iter().position(|b| b == "mdat");
        assert!(moov < mdat, "{name}: {boxes:?}");

        let (a, b) = (movie(&before), movie(&after));
        assert_eq!(a.tracks.len(), b.tracks.len());
        for (ta, tb) in a.tracks.iter().zip(&b.tracks) {
            assert_eq!((ta.id, &ta.codec), (tb.id, &tb.codec));
            assert_eq!(ta.samples.len(), tb.samples.len(), "{name}");
            for (sa, sb) in ta.samples.iter().zip(&tb.samples) {
                assert_eq!(
                    (
                        sa.size(),
                        sa.decode_time,
                        sa.composition_offset,
                        sa.is_sync()
                    ),
                    (
                        sb.size(),
                        sb.decode_time,
                        sb.composition_offset,
                        sb.is_sync()
                    )
                );
                let bytes = |file: &[u8], s: &caudal_media::mp4::samples::Sample| {
                    file[s.offset as usize..s.end() as usize].to_vec()
                };
                assert_eq!(
                    bytes(&before, sa),
                    bytes(&after, sb),
                    "{name}: sample bytes"
                );
            }
        }
    }
    assert!(
        !files_in(dir.path()).iter().any(|f| f.ends_with(".tmp")),
        "no temporary file left"
    );
}

#[test]
fn fragment_output_indexes_completely_from_its_first_64_kib() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in PLAIN {
        let input = fixture(name);
        let output = dir.path().join(format!("frag-{name}"));
        let out = package(&input, &output, "--fragment");
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let before = std::fs::read(&input).expect("read input");
        let after = std::fs::read(&output).expect("read output");
        let boxes = top_level(&after);
        assert_eq!(&boxes[..3], ["ftyp", "moov", "sidx"], "{name}");

        let mut indexer = Fmp4Indexer::new();
        let head = &after[..after.len().min(64 << 10)];
        let step = indexer
            .feed(0, head, Some(after.len() as u64))
            .expect("index");
        assert_eq!(step, Step::Ready, "{name}");
        let index = indexer.index().expect("an index");
        assert!(index.complete, "{name}: the sidx indexes every fragment");

        let remux = Remux::new(movie(&before)).expect("remux");
        let plan = remux.plan(PlanOptions::default());
        assert_eq!(index.segments.len(), plan.len(), "{name}");
        let init = remux.init_segment();
        assert_eq!(
            &after[..init.len()],
            init.as_slice(),
            "{name}: init segment"
        );
        let mut at = index.segments[0].bytes.start;
        for (segment, fragment) in index.segments.iter().zip(&plan) {
            assert!(
                (segment.start - fragment.start.max(0.0)).abs() < 1e-3,
                "{name}"
            );
            assert!((segment.end - fragment.end).abs() < 1e-3, "{name}");
            assert_eq!(segment.bytes.start, at, "{name}: contiguous");
            at = segment.bytes.end;
            // The fragment is exactly what the remuxer builds from the input.
            let built = remux
                .build_fragment(fragment, before.as_slice())
                .expect("build");
            let range = segment.bytes.start as usize..segment.bytes.end as usize;
            assert!(
                after[range] == built[..],
                "{name}: fragment {}",
                fragment.sequence
            );
        }
        assert_eq!(
            at,
            after.len() as u64,
            "{name}: the last fragment ends the file"
        );
    }
}

/// `ffmpeg -i X -map 0 -c copy -f framemd5 -`: per stream, each packet's
/// size and hash (times differ by design: the fragmented output applies
/// edit lists to its fragment times).
fn packets(file: &Path) -> Vec<Vec<(String, String)>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(file)
        .args(["-map", "0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg: {}", text(&out.stderr));
    let mut streams: Vec<Vec<(String, String)>> = Vec::new();
    for line in text(&out.stdout).lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let (Some(stream), Some(size), Some(hash)) = (fields.first(), fields.get(4), fields.get(5))
        else {
            continue;
        };
        let stream: usize = stream.parse().expect("stream index");
        if streams.len() <= stream {
            streams.resize(stream + 1, Vec::new());
        }
        streams[stream].push((size.to_string(), hash.to_string()));
    }
    streams
}

#[test]
fn ffmpeg_sees_the_same_packets_when_installed() {
    let installed = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        // On CI (`CI=true`, as CI services set it) a missing tool is a
        // broken setup, not a pass.
        let on_ci = std::env::var("CI").is_ok_and(|ci| !matches!(ci.as_str(), "" | "0" | "false"));
        assert!(!on_ci, "ffmpeg is needed by this test; install it");
        eprintln!("skipped: ffmpeg is not installed (the sample comparisons above still ran)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for name in PLAIN {
        let input = fixture(name);
        let expected = packets(&input);
        for mode in ["--faststart", "--fragment"] {
            let output = dir.path().join(format!("{}-{name}", &mode[2..]));
            let out = package(&input, &output, mode);
            assert!(out.status.success(), "{name}: {}", text(&out.stderr));
            assert_eq!(packets(&output), expected, "{name} {mode}");
        }
    }
}

#[test]
fn package_refuses_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.mp4");
    std::fs::copy(fixture("moov-end.mp4"), &input).expect("copy");
    let original = std::fs::read(&input).expect("read");
    let existing = dir.path().join("exists.mp4");
    std::fs::write(&existing, b"keep me").expect("write");
    let webm = dir.path().join("clip.webm");
    std::fs::copy(Path::new(SAMPLES).join("caudal-sample.webm"), &webm).expect("copy");
    let text_file = dir.path().join("notes.mp4");
    std::fs::write(&text_file, b"not a movie at all\n").expect("write");
    // Cut in the middle of mdat: the moov (at the end) is gone.
    let cut_end = dir.path().join("cut-end.mp4");
    std::fs::write(&cut_end, &original[..original.len() / 2]).expect("write");
    // A faststart file cut short: the moov lists samples past the end.
    let fast = std::fs::read(fixture("bframes.mp4")).expect("read");
    let cut_fast = dir.path().join("cut-fast.mp4");
    std::fs::write(&cut_fast, &fast[..fast.len() * 2 / 3]).expect("write");
    let fragmented = dir.path().join("frag.mp4");
    std::fs::copy(Path::new(SAMPLES).join("caudal-sample.mp4"), &fragmented).expect("copy");
    let before = files_in(dir.path());

    let same_by_another_name = dir.path().join(".").join("in.mp4");
    let new = dir.path().join("new.mp4");
    let cases: &[(&Path, &Path, &str, &str)] = &[
        (&input, &input, "--faststart", "is the input file"),
        (
            &input,
            &same_by_another_name,
            "--fragment",
            "is the input file",
        ),
        (&input, &existing, "--faststart", "exists (pass --force"),
        (&webm, &new, "--faststart", "not an MP4"),
        (&text_file, &new, "--fragment", "not an MP4"),
        (&cut_end, &new, "--faststart", "ends at byte"),
        (&cut_fast, &new, "--fragment", "ends at byte"),
        (&cut_fast, &new, "--faststart", "ends at byte"),
        (&fragmented, &new, "--fragment", "already fragmented"),
        (
            &input,
            &dir.path().join("no/such/dir.mp4"),
            "--faststart",
            "does not exist",
        ),
    ];
    for (input, output, mode, why) in cases {
        let out = package(input, output, mode);
        let errors = text(&out.stderr);
        assert!(
            !out.status.success(),
            "{} -> {}: should fail",
            input.display(),
            output.display()
        );
        assert!(errors.contains(why), "{why:?} not in {errors}");
        assert_eq!(files_in(dir.path()), before, "nothing written for {errors}");
    }
    assert_eq!(std::fs::read(&input).expect("read"), original);
    assert_eq!(std::fs::read(&existing).expect("read"), b"keep me");

    // No mode, or both: clap refuses.
    let out = caudal(&["package".as_ref(), input.as_os_str(), new.as_os_str()]);
    assert!(!out.status.success());

    // --force replaces an existing output, atomically.
    let out = caudal(&[
        "package".as_ref(),
        input.as_os_str(),
        existing.as_os_str(),
        "--faststart".as_ref(),
        "--force".as_ref(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::metadata(&existing).expect("stat").len(),
        original.len() as u64
    );
    assert_eq!(files_in(dir.path()), before, "no temporary file left");
}

#[test]
fn serve_logs_slow_files_after_it_is_listening() {
    let media = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture("moov-end.mp4"), media.path().join("clip.mp4")).expect("copy");
    std::fs::copy(fixture("bframes.mp4"), media.path().join("fast.mp4")).expect("copy");
    std::fs::create_dir(media.path().join("sub")).expect("mkdir");
    std::fs::copy(fixture("moov-end.mp4"), media.path().join("sub/late.m4v")).expect("copy");
    std::fs::write(media.path().join("readme.txt"), b"not media").expect("write");
    // Started means the address line was printed: the scan comes after.
    let server = TestServer::start_serving(media.path(), &["--quiet"]);
    let deadline = Instant::now() + WAIT;
    let mut log = server.log();
    while !(log.contains("sub/late.m4v starts slowly") && log.contains("clip.mp4 starts slowly"))
        && Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
        log = server.log();
    }
    assert!(
        log.contains("clip.mp4 starts slowly: moov at the end"),
        "{log}"
    );
    assert!(log.contains("caudal package --faststart"), "{log}");
    assert!(log.contains("sub/late.m4v starts slowly"), "{log}");
    assert!(!log.contains("fast.mp4"), "{log}");
    assert!(!log.contains("readme.txt"), "{log}");
}
