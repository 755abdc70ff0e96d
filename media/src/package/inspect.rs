//! `caudal inspect`: what a player goes through to start a file.
//!
//! The questions are the ones that decide time to first frame over a real
//! link: can the first request carry the index (faststart, fragmented with
//! `sidx`, WebM with Cues up front) or does the player need another round
//! trip to the end of the file; how many bytes come before the first frame;
//! how far apart keyframes are (a seek or a start waits for one).

use super::drive::{self, SCAN_LIMIT};
use super::error::PackageError;
use super::human::human_bytes;
use super::layout::{Mp4Layout, starts_an_mp4};
use super::read::ReadAt;
use super::report::{FirstFrame, Keyframes, MoovReport, Report, TrackReport};
use crate::index::{Container, ContainerIndexer, MediaError, MediaIndex, TrackKind};
use crate::mp3::Mp3Indexer;
use crate::mp4::boxes::TopBox;
use crate::mp4::samples::{MovieSamples, TrackSamples};
use crate::remux::{PlanOptions, Remux};
use crate::webm::WebmIndexer;

/// Keyframes further apart than this make startup and seeking slow.
pub const SLOW_KEYFRAME_SECS: f64 = 5.0;

/// Inspects one file, `file` being its name in the report: tells the
/// container from its first bytes, then reads only what a player would
/// need to start (box headers and the indexes, never `mdat`).
pub fn inspect<S: ReadAt + ?Sized>(file: String, src: &mut S) -> Result<Report, S::Error> {
    let head = src.read_at(0, 16)?;
    let mut report = if head.get(..4) == Some(&[0x1A, 0x45, 0xDF, 0xA3][..]) {
        scanned(src, &mut WebmIndexer::new())?
    } else if head.get(4..8).is_some_and(starts_an_mp4) {
        mp4(src)?
    } else if head.starts_with(b"ID3") || crate::mp3::frame::parse_slice(&head).is_ok() {
        scanned(src, &mut Mp3Indexer::new())?
    } else {
        return Err(PackageError::from(MediaError::UnknownFormat).into());
    };
    report.file = file;
    report.streamable = report.slow.is_empty();
    Ok(report)
}

fn mp4<S: ReadAt + ?Sized>(src: &mut S) -> Result<Report, S::Error> {
    let len = src.file_len();
    let layout = Mp4Layout::read(src)?;
    let (boxes, moov) = (&layout.boxes, &layout.moov);
    let faststart = layout.moov_first();
    let moov_report = MoovReport {
        offset: moov.top.offset(),
        size: moov.top.size,
        position: if faststart {
            "before-mdat"
        } else {
            "after-mdat"
        },
    };
    if layout.fragmented().map_err(PackageError::from)? {
        let index = if layout.has(b"sidx") {
            "sidx"
        } else if layout.has(b"mfra") {
            "mfra"
        } else {
            "none"
        };
        let indexed = drive::fragmented_mp4(src)?;
        let mut report = from_index(len, &indexed.index, "fragmented-mp4", Some(index));
        report.faststart = Some(faststart);
        report.moov = Some(moov_report);
        return Ok(report);
    }
    let movie = MovieSamples::parse(&moov.child(), Some(len)).map_err(PackageError::from)?;
    Ok(plain_mp4(len, boxes, movie, moov_report)?)
}

/// A plain MP4: the sample tables say everything.
fn plain_mp4(
    len: u64,
    boxes: &[TopBox],
    movie: MovieSamples,
    moov: MoovReport,
) -> Result<Report, PackageError> {
    let duration = movie.duration_secs();
    let keyframes = movie
        .tracks
        .iter()
        .find(|t| t.kind == TrackKind::Video && !t.samples.is_empty())
        .and_then(stss_keyframes);
    let all_tracks: Vec<TrackReport> = movie
        .tracks
        .iter()
        .map(|t| TrackReport {
            id: u64::from(t.id),
            kind: kind_name(t.kind),
            codec: t.codec.clone(),
        })
        .collect();
    let remux = Remux::new(movie)?;
    let fragments = remux.plan(PlanOptions::default());
    let moov_end = moov.offset.saturating_add(moov.size);
    let index = remux.media_index(&fragments, moov.offset..moov_end);
    let first = fragments.first();
    let faststart = moov.position == "before-mdat";
    let first_frame = match first {
        Some(fr) if faststart => FirstFrame {
            bytes: fr.span.end.max(moov_end),
            round_trips: 1,
            how: "from the start of the file: the moov, then the first fragment's samples".into(),
        },
        Some(fr) => {
            // The first request finds `mdat` where the index should be;
            // its header says where the `moov` starts.
            let head = boxes
                .iter()
                .find(|b| b.kind() == b"mdat")
                .map_or(0, |m| m.header.payload_offset());
            FirstFrame {
                bytes: head
                    .saturating_add(moov.size)
                    .saturating_add(fr.span.end.saturating_sub(fr.span.start)),
                round_trips: 2,
                how: "the boxes before mdat, the moov at the end (one extra round trip), \
                      then the first fragment's samples"
                    .into(),
            }
        }
        None => FirstFrame {
            bytes: moov_end,
            round_trips: 1,
            how: "the moov (no samples)".into(),
        },
    };
    let mut report = Report {
        file: String::new(),
        size: len,
        container: "mp4",
        streamable: false,
        faststart: Some(faststart),
        fragmented: false,
        index: Some("moov"),
        tracks: all_tracks,
        mime: index.mime_type(),
        duration,
        bitrate: bitrate(len, duration),
        keyframes,
        moov: Some(moov),
        first_frame,
        slow: Vec::new(),
    };
    if !faststart {
        report.slow.push(format!(
            "moov at the end (a player must fetch {} before the first frame, \
             with one extra round trip); run `caudal package --faststart`",
            human_bytes(report.first_frame.bytes)
        ));
    }
    keyframe_warning(&mut report);
    Ok(report)
}

/// Keyframe spacing from the sync samples of a video track.
fn stss_keyframes(t: &TrackSamples) -> Option<Keyframes> {
    let scale = f64::from(t.timescale);
    let starts: Vec<f64> = t
        .samples
        .iter()
        .filter(|s| s.is_sync())
        .map(|s| s.decode_time as f64 / scale)
        .collect();
    spacing(&starts, t.end_time as f64 / scale, "stss", true)
}

/// Mean and largest gap between `starts`, the last gap running to `end`.
fn spacing(starts: &[f64], end: f64, source: &'static str, whole: bool) -> Option<Keyframes> {
    let first = *starts.first()?;
    let last = *starts.last()?;
    let mut max = (end - last).max(0.0);
    for w in starts.windows(2) {
        max = max.max(w[1] - w[0]);
    }
    Some(Keyframes {
        mean: (end - first).max(0.0) / starts.len() as f64,
        max,
        count: starts.len(),
        source,
        whole_file: whole,
    })
}

/// A file read by one of the crate's indexers (WebM, MP3).
fn scanned<S: ReadAt + ?Sized>(
    src: &mut S,
    ix: &mut dyn ContainerIndexer,
) -> Result<Report, S::Error> {
    let indexed = drive::scanned(src, ix)?;
    let (container, index) = match indexed.index.container {
        Container::WebM if indexed.complete_at_ready && indexed.jumped => {
            ("webm", Some("cues-at-end"))
        }
        Container::WebM if indexed.complete_at_ready => ("webm", Some("cues")),
        Container::WebM => ("webm", Some("none")),
        _ => ("mp3", None),
    };
    let mut report = from_index(src.file_len(), &indexed.index, container, index);
    if indexed.jumped {
        report.first_frame.round_trips = 2;
        report.first_frame.how = "the headers, the index at the end (one extra round trip), \
                                  then the first unit"
            .into();
    }
    Ok(report)
}

/// A report from a [`MediaIndex`] whose segments start with keyframes.
fn from_index(
    len: u64,
    index: &MediaIndex,
    container: &'static str,
    index_kind: Option<&'static str>,
) -> Report {
    let duration = index.duration.or(index.segments.last().map(|s| s.end));
    let has_video = index.tracks.iter().any(|t| t.kind == TrackKind::Video);
    let keyframes = if has_video {
        let starts: Vec<f64> = index.segments.iter().map(|s| s.start).collect();
        let end = index
            .segments
            .last()
            .map_or(0.0, |s| s.end)
            .max(duration.unwrap_or(0.0));
        let source = match container {
            "webm" if matches!(index_kind, Some("cues" | "cues-at-end")) => "cues",
            "webm" => "clusters",
            _ => "fragments",
        };
        spacing(&starts, end, source, index.complete)
    } else {
        None
    };
    let first_frame = if container == "mp3" {
        let per_second = bitrate(len, duration).map_or(0, |b| b / 8);
        FirstFrame {
            bytes: index.init.end.saturating_add(per_second),
            round_trips: 1,
            how: "the tags before the audio and its first second".into(),
        }
    } else {
        FirstFrame {
            bytes: index
                .segments
                .first()
                .map_or(index.init.end, |s| s.bytes.end.max(index.init.end)),
            round_trips: 1,
            how: "from the start of the file: the init segment, then the first unit".into(),
        }
    };
    let mut report = Report {
        file: String::new(),
        size: len,
        container,
        streamable: false,
        faststart: None,
        fragmented: container == "fragmented-mp4",
        index: index_kind,
        tracks: index
            .tracks
            .iter()
            .map(|t| TrackReport {
                id: t.id,
                kind: kind_name(t.kind),
                codec: t.codec.clone(),
            })
            .collect(),
        mime: index.mime_type(),
        duration,
        bitrate: bitrate(len, duration),
        keyframes,
        moov: None,
        first_frame,
        slow: Vec::new(),
    };
    keyframe_warning(&mut report);
    if !index.complete && index.segments.is_empty() && len > SCAN_LIMIT {
        report.slow.push(format!(
            "no media unit found in the first {}",
            human_bytes(SCAN_LIMIT)
        ));
    }
    report
}

fn keyframe_warning(report: &mut Report) {
    if let Some(k) = &report.keyframes
        && k.max > SLOW_KEYFRAME_SECS
    {
        report.slow.push(format!(
            "keyframes up to {:.1} s apart (more than {SLOW_KEYFRAME_SECS} s): \
             startup and seeks wait for one; re-encode with a shorter GOP (e.g. ffmpeg -g 50)",
            k.max
        ));
    }
}

fn kind_name(kind: TrackKind) -> &'static str {
    match kind {
        TrackKind::Video => "video",
        TrackKind::Audio => "audio",
        TrackKind::Other => "other",
    }
}

fn bitrate(len: u64, duration: Option<f64>) -> Option<u64> {
    let d = duration.filter(|&d| d > 0.0)?;
    Some((len as f64 * 8.0 / d).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_counts_the_last_gap_to_the_end() {
        let k = spacing(&[0.0, 2.0, 4.0], 10.0, "stss", true).expect("keyframes");
        assert_eq!((k.count, k.max), (3, 6.0));
        assert!((k.mean - 10.0 / 3.0).abs() < 1e-9);
        assert!(spacing(&[], 10.0, "stss", true).is_none());
    }

    #[test]
    fn long_gops_are_a_slow_start() {
        let mut report = Report {
            file: "x.mp4".into(),
            size: 1,
            container: "mp4",
            streamable: true,
            faststart: Some(true),
            fragmented: false,
            index: Some("moov"),
            tracks: Vec::new(),
            mime: String::new(),
            duration: Some(20.0),
            bitrate: None,
            keyframes: spacing(&[0.0, 10.0], 20.0, "stss", true),
            moov: None,
            first_frame: FirstFrame {
                bytes: 1,
                round_trips: 1,
                how: String::new(),
            },
            slow: Vec::new(),
        };
        keyframe_warning(&mut report);
        assert_eq!(report.slow.len(), 1);
        assert!(report.slow[0].starts_with("keyframes up to 10.0 s apart"));
    }
}
