//! Tests of `mp4::indexer`.

use super::*;

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(payload);
    v
}

fn full(version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut v = (u32::from(version) << 24 | flags).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// The big-endian u32 at `at` (a box's size).
fn be32_at(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

fn be32(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn ftyp() -> Vec<u8> {
    boxed(b"ftyp", b"iso5\0\0\0\x01iso5dash")
}

/// A video track (id 1, timescale 1000) and an audio track (id 2).
fn trak(id: u32, handler: &[u8; 4], entry: Vec<u8>) -> Vec<u8> {
    let tkhd = boxed(b"tkhd", &full(0, 3, &be32(&[0, 0, id, 0, 0])));
    let mdhd = boxed(b"mdhd", &full(0, 0, &be32(&[0, 0, 1000, 0, 0])));
    let mut hdlr_body = be32(&[0]);
    hdlr_body.extend_from_slice(handler);
    hdlr_body.extend_from_slice(&[0; 13]);
    let hdlr = boxed(b"hdlr", &full(0, 0, &hdlr_body));
    let mut stsd_body = full(0, 0, &be32(&[1]));
    stsd_body.extend(entry);
    let stbl = boxed(b"stbl", &boxed(b"stsd", &stsd_body));
    let minf = boxed(b"minf", &stbl);
    let mdia = boxed(b"mdia", &[mdhd, hdlr, minf].concat());
    boxed(b"trak", &[tkhd, mdia].concat())
}

fn avc1() -> Vec<u8> {
    let mut p = vec![0u8; 78];
    p.extend(boxed(b"avcC", &[1, 0x4d, 0x40, 0x1e]));
    boxed(b"avc1", &p)
}

fn moov(mvex: bool) -> Vec<u8> {
    let mvhd = boxed(b"mvhd", &full(0, 0, &be32(&[0, 0, 1000, 0])));
    let mut parts = vec![
        mvhd,
        trak(2, b"soun", boxed(b"fLaC", &[0; 28])),
        trak(1, b"vide", avc1()),
    ];
    if mvex {
        let trex = |id| boxed(b"trex", &full(0, 0, &be32(&[id, 1, 100, 0, 0])));
        parts.push(boxed(b"mvex", &[trex(1), trex(2)].concat()));
    }
    boxed(b"moov", &parts.concat())
}

/// moof + mdat: `samples` video samples of the trex default duration
/// (100 ticks) from `tfdt`, and an audio traf.
fn fragment(seq: u32, tfdt: u64, samples: u32) -> Vec<u8> {
    let traf = |track: u32| {
        let tfhd = boxed(b"tfhd", &full(0, 0x02_0000, &be32(&[track])));
        let mut t = 0u32.to_be_bytes().to_vec();
        t.extend_from_slice(&tfdt.to_be_bytes());
        let tfdt = boxed(b"tfdt", &full(1, 0, &t[4..]));
        let trun = boxed(b"trun", &full(0, 0x01, &be32(&[samples, 0])));
        boxed(b"traf", &[tfhd, tfdt, trun].concat())
    };
    let moof = boxed(
        b"moof",
        &[boxed(b"mfhd", &full(0, 0, &be32(&[seq]))), traf(2), traf(1)].concat(),
    );
    [moof, boxed(b"mdat", &vec![0xAB; 50 + seq as usize])].concat()
}

fn file() -> Vec<u8> {
    [
        ftyp(),
        moov(true),
        fragment(1, 0, 20),
        boxed(b"free", &[]),
        fragment(2, 2000, 20),
        fragment(3, 4000, 15),
    ]
    .concat()
}

fn feed_in_chunks(
    data: &[u8],
    chunk: usize,
    known_len: bool,
) -> Result<(Step, Fmp4Indexer), MediaError> {
    let mut ix = Fmp4Indexer::new();
    let len = known_len.then_some(data.len() as u64);
    let mut step = ix.feed(0, &[], len)?;
    let mut at = 0;
    while at < data.len() {
        let end = (at + chunk).min(data.len());
        step = ix.feed(at as u64, &data[at..end], len)?;
        at = end;
    }
    Ok((step, ix))
}

#[test]
fn indexes_a_synthetic_file_whole_and_byte_by_byte() {
    let data = file();
    let (step, ix) = feed_in_chunks(&data, data.len(), true).expect("indexes");
    assert_eq!(step, Step::Ready);
    let index = ix.index().expect("index").clone();
    assert_eq!(index.container, Container::FragmentedMp4);
    let codecs: Vec<_> = index
        .tracks
        .iter()
        .map(|t| (t.id, t.kind, t.codec.as_str()))
        .collect();
    assert_eq!(
        codecs,
        [
            (2, TrackKind::Audio, "flac"),
            (1, TrackKind::Video, "avc1.4d401e")
        ]
    );
    let moov_end = (ftyp().len() + moov(true).len()) as u64;
    assert_eq!(index.init, 0..moov_end);
    let times: Vec<_> = index.segments.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(times, [(0.0, 2.0), (2.0, 4.0), (4.0, 5.5)]);
    assert_eq!(index.segments[0].bytes.start, moov_end);
    for pair in index.segments.windows(2) {
        assert_eq!(pair[0].bytes.end, pair[1].bytes.start);
    }
    assert_eq!(index.segments[2].bytes.end, data.len() as u64);
    assert!(index.complete);
    assert_eq!(index.duration, Some(5.5));
    assert_eq!(index.mime_type(), "video/mp4; codecs=\"flac,avc1.4d401e\"");

    for chunk in [1, 3, 8, 100] {
        let (_, ix) = feed_in_chunks(&data, chunk, true).expect("indexes in chunks");
        assert_eq!(ix.index(), Some(&index), "chunk {chunk}");
    }
    // Without a file length the last unit is known but not that it is last.
    let (_, ix) = feed_in_chunks(&data, 7, false).expect("indexes");
    let open = ix.index().expect("index");
    assert_eq!((open.segments.len(), open.complete), (3, false));
}

#[test]
fn asks_for_the_rest_of_moov_then_is_ready_at_the_first_moof_before_its_mdat() {
    let data = file();
    let mut ix = Fmp4Indexer::new();
    assert_eq!(
        ix.feed(0, &data[..4], None),
        Ok(Step::NeedBytes { offset: 4, len: 4 })
    );
    let moov_at = ftyp().len() as u64;
    let moov_len = moov(true).len() as u64;
    assert_eq!(
        ix.feed(4, &data[4..40], None),
        Ok(Step::NeedBytes {
            offset: 40,
            len: moov_at + moov_len - 40
        })
    );
    assert!(ix.index().is_none());
    let moov_end = (moov_at + moov_len) as usize;
    // The first `moof` says whether the fragments need a rewrite: the
    // index waits for it (it follows the `moov` in the same response).
    assert_eq!(
        ix.feed(40, &data[40..moov_end], None),
        Ok(Step::NeedBytes {
            offset: moov_end as u64,
            len: 8
        })
    );
    let moof_len = be32_at(&data, moov_end) as usize;
    assert_eq!(
        ix.feed(moov_end as u64, &data[moov_end..moov_end + moof_len], None),
        Ok(Step::Ready)
    );
    let index = ix.index().expect("index");
    assert!(index.segments.is_empty() && !index.complete && index.duration.is_none());
    // The `moof` was read as the scan's first box; its `mdat` is next.
    assert_eq!(ix.position(), (moov_end + moof_len) as u64);
    // Bytes that do not reach the wanted position are ignored.
    assert_eq!(
        ix.feed(
            (moov_end + moof_len) as u64 + 10,
            &data[moov_end + moof_len + 10..],
            None
        ),
        Ok(Step::Ready)
    );
    assert!(ix.index().is_some_and(|i| i.segments.is_empty()));
    assert_eq!(
        ix.feed(moov_end as u64, &data[moov_end..], Some(data.len() as u64)),
        Ok(Step::Ready)
    );
    assert!(
        ix.index()
            .is_some_and(|i| i.complete && i.segments.len() == 3)
    );
}

#[test]
fn skips_an_mdat_before_moov_by_asking_past_it() {
    let mdat = boxed(b"mdat", &[0; 1000]);
    let data = [ftyp(), mdat, moov(false)].concat();
    let mut ix = Fmp4Indexer::new();
    let step = ix.feed(0, &data[..100], None);
    let moov_at = ftyp().len() + 1008;
    assert_eq!(
        step,
        Ok(Step::NeedBytes {
            offset: moov_at as u64,
            len: 8
        })
    );
    assert_eq!(
        ix.feed(moov_at as u64, &data[moov_at..], None),
        Err(MediaError::NotFragmented)
    );
    // Errors stick.
    assert_eq!(ix.feed(0, &data, None), Err(MediaError::NotFragmented));
}

#[test]
fn recognises_other_formats_and_empty_files() {
    let webm = [0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01];
    assert_eq!(
        Fmp4Indexer::new().feed(0, &webm, None),
        Err(MediaError::UnknownFormat)
    );
    assert_eq!(
        Fmp4Indexer::new().feed(0, &[], Some(0)),
        Err(MediaError::UnknownFormat)
    );
    assert_eq!(
        Fmp4Indexer::new().feed(0, b"\0\0", Some(2)),
        Err(MediaError::UnknownFormat)
    );
}

#[test]
fn truncated_moov_is_an_error_once_the_length_is_known() {
    let data = [ftyp(), moov(true)].concat();
    let cut = &data[..data.len() - 10];
    let mut ix = Fmp4Indexer::new();
    assert!(matches!(ix.feed(0, cut, None), Ok(Step::NeedBytes { .. })));
    let err = Fmp4Indexer::new().feed(0, cut, Some(cut.len() as u64));
    assert_eq!(
        err,
        Err(MediaError::Truncated {
            len: cut.len() as u64,
            what: "'moov' box"
        })
    );
    let n = ftyp().len() as u64;
    let err = Fmp4Indexer::new().feed(0, &ftyp(), Some(n));
    assert_eq!(
        err,
        Err(MediaError::Truncated {
            len: n,
            what: "'moov' box"
        })
    );
}

#[test]
fn hostile_sizes() {
    let large = |kind: &[u8; 4], size: u64| {
        let mut v = 1u32.to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(&size.to_be_bytes());
        v
    };
    // A 2^64 - 1 byte moov is refused before anything is buffered.
    let data = [ftyp(), large(b"moov", u64::MAX)].concat();
    let err = Fmp4Indexer::new().feed(0, &data, None);
    assert_eq!(
        err,
        Err(MediaError::TooLarge {
            what: "'moov' box",
            limit: moov::MAX_SIZE
        })
    );
    // A 2^64 - 1 byte mdat: past the end of any file.
    let data = [ftyp(), moov(true), large(b"mdat", u64::MAX)].concat();
    let n = data.len() as u64;
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, Some(n)),
        Err(MediaError::Truncated { .. })
    ));
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, None),
        Err(MediaError::Malformed { .. })
    ));
    // ... and a 2^64 - 1 byte free before moov.
    let data = [ftyp(), large(b"free", u64::MAX - 100)].concat();
    let step = Fmp4Indexer::new().feed(0, &data, None);
    assert_eq!(
        step,
        Ok(Step::NeedBytes {
            offset: u64::MAX - 100 + ftyp().len() as u64,
            len: 8
        })
    );
    // Sizes smaller than the header, at the top and inside moov.
    let data = [ftyp(), 4u32.to_be_bytes().to_vec(), b"free".to_vec()].concat();
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, None),
        Err(MediaError::Malformed { .. })
    ));
    let data = [ftyp(), large(b"moof", 15)].concat();
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, None),
        Err(MediaError::Malformed { .. })
    ));
    let mut bad_moov = moov(true);
    bad_moov[8..12].copy_from_slice(&3u32.to_be_bytes()); // mvhd size 3
    let data = [ftyp(), bad_moov].concat();
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, None),
        Err(MediaError::Malformed { .. })
    ));
    // A huge moof is refused.
    let data = [ftyp(), moov(true), large(b"moof", 1 << 40)].concat();
    let err = Fmp4Indexer::new().feed(0, &data, None);
    assert_eq!(
        err,
        Err(MediaError::TooLarge {
            what: "'moof' box",
            limit: moof::MAX_SIZE
        })
    );
}

#[test]
fn hostile_counts() {
    // trun claiming 2^32 - 1 samples with durations.
    let tfhd = boxed(b"tfhd", &full(0, 0, &be32(&[1])));
    let trun = boxed(b"trun", &full(0, 0x100, &be32(&[u32::MAX, 5, 5])));
    let moof = boxed(b"moof", &boxed(b"traf", &[tfhd, trun].concat()));
    let data = [ftyp(), moov(true), moof, boxed(b"mdat", &[])].concat();
    // (Without a `tfdt` it needs the rewriting reader; that one reads it.)
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, None),
        Err(MediaError::NeedsRewrite { .. })
    ));
    assert!(matches!(
        Fmp4Indexer::rewriting().feed(0, &data, None),
        Err(MediaError::Malformed { .. })
    ));
    // sidx claiming 65535 references.
    let mut sidx_body = full(0, 0, &be32(&[1, 1000, 0, 0]));
    sidx_body.extend_from_slice(&[0, 0, 0xff, 0xff]);
    sidx_body.extend(be32(&[100, 1000, 0]));
    let data = [ftyp(), moov(true), boxed(b"sidx", &sidx_body)].concat();
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, None),
        Err(MediaError::Malformed { .. })
    ));
    // stsd claiming 2^32 - 1 entries but holding none.
    let mut m = moov(true);
    let at = m.windows(4).position(|w| w == b"stsd").expect("stsd") + 8;
    m[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let data = [ftyp(), m].concat();
    assert!(
        Fmp4Indexer::new().feed(0, &data, None).is_ok(),
        "only the first entry is read"
    );
    let empty_stsd = trak(1, b"vide", Vec::new());
    let mvhd = boxed(b"mvhd", &full(0, 0, &be32(&[0, 0, 1000, 0])));
    let data = [ftyp(), boxed(b"moov", &[mvhd, empty_stsd].concat())].concat();
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, None),
        Err(MediaError::Malformed { .. })
    ));
}

#[test]
fn deep_nesting_ends() {
    // 5000 nested traks, and a trak nested in mdia nested in trak ...
    let mut inner = boxed(b"free", &[]);
    for i in 0..5000 {
        inner = boxed(if i % 2 == 0 { b"trak" } else { b"mdia" }, &inner);
    }
    let data = [ftyp(), boxed(b"moov", &inner)].concat();
    let got = Fmp4Indexer::new().feed(0, &data, Some(data.len() as u64));
    assert!(matches!(got, Err(MediaError::Malformed { .. })));
}

#[test]
fn size_zero_mdat_ends_the_last_unit_at_the_end_of_the_file() {
    let mut data = [ftyp(), moov(true), fragment(1, 0, 20)].concat();
    let last = fragment(2, 2000, 10);
    let mdat_at = last.windows(4).position(|w| w == b"mdat").expect("mdat") - 4;
    let mut last = last;
    last[mdat_at..mdat_at + 4].copy_from_slice(&[0; 4]);
    data.extend(last);
    let mut ix = Fmp4Indexer::new();
    assert_eq!(ix.feed(0, &data, None), Ok(Step::Ready));
    assert!(
        ix.index()
            .is_some_and(|i| i.segments.len() == 1 && !i.complete)
    );
    // Once the length is known (no new bytes needed) the unit closes.
    assert_eq!(
        ix.feed(data.len() as u64, &[], Some(data.len() as u64)),
        Ok(Step::Ready)
    );
    let index = ix.index().expect("index");
    assert!(index.complete);
    assert_eq!(
        index.segments.last().map(|s| (s.end, s.bytes.end)),
        Some((3.0, data.len() as u64))
    );
    // A size-0 moov needs the file length.
    let mut m = moov(true);
    m[..4].copy_from_slice(&[0; 4]);
    let data = [ftyp(), m].concat();
    assert!(matches!(
        Fmp4Indexer::new().feed(0, &data, None),
        Err(MediaError::Unsupported { .. })
    ));
    assert_eq!(
        Fmp4Indexer::new().feed(0, &data, Some(data.len() as u64)),
        Ok(Step::Ready)
    );
}

/// A fragmented `moov` whose video track has an edit list starting
/// the presentation at `media_time` (ms).
fn moov_with_video_edit(media_time: u32) -> Vec<u8> {
    let mvhd = boxed(b"mvhd", &full(0, 0, &be32(&[0, 0, 1000, 0])));
    let video = trak(1, b"vide", avc1());
    let elst = boxed(
        b"elst",
        &full(0, 0, &be32(&[1, 0, media_time, 0x0001_0000])),
    );
    let edts = boxed(b"edts", &elst);
    // tkhd (8 + 24 bytes) first, then the edit, then the rest.
    let tkhd_end = 8 + 32;
    let body = [&video[8..tkhd_end], &edts, &video[tkhd_end..]].concat();
    let trex = boxed(b"trex", &full(0, 0, &be32(&[1, 1, 100, 0, 0])));
    let parts = [mvhd, boxed(b"trak", &body), boxed(b"mvex", &trex)];
    boxed(b"moov", &parts.concat())
}

#[test]
fn a_video_edit_past_the_first_frame_moves_the_presentation_later() {
    let frags = [fragment(1, 0, 20), fragment(2, 2000, 20)].concat();
    let data = [ftyp(), moov_with_video_edit(80), frags.clone()].concat();
    let mut ix = Fmp4Indexer::new();
    assert_eq!(ix.feed(0, &data, Some(data.len() as u64)), Ok(Step::Ready));
    // The keyframe at media time 0 would land at -0.08 s, where MSE
    // drops it and its GOP: everything moves 0.08 s later instead.
    let window = ix.presentation().expect("a shifted presentation");
    assert!((window.offset - 0.08).abs() < 1e-9, "{window:?}");
    assert!((window.end - 4.08).abs() < 1e-9, "{window:?}");
    // An edit that does not reach past the first frame moves nothing.
    let data = [ftyp(), moov_with_video_edit(0), frags].concat();
    let mut ix = Fmp4Indexer::new();
    assert_eq!(ix.feed(0, &data, Some(data.len() as u64)), Ok(Step::Ready));
    assert_eq!(ix.presentation(), None);
}

#[test]
fn media_that_starts_at_10_s_starts_playback_there() {
    let frags = [fragment(1, 10_000, 20), fragment(1, 12_000, 20)].concat();
    let data = [ftyp(), moov(true), frags].concat();
    let head = ftyp().len() + moov(true).len();
    let moof_end = head + be32_at(&data, head) as usize;
    let mut ix = Fmp4Indexer::new();
    // Known from the first `moof`, before its `mdat` closes the unit.
    assert_eq!(ix.feed(0, &data[..moof_end], None), Ok(Step::Ready));
    assert_eq!(ix.start(), 10.0);
    assert_eq!(
        ix.feed(moof_end as u64, &data[moof_end..], Some(data.len() as u64)),
        Ok(Step::Ready)
    );
    assert_eq!(ix.start(), 10.0);
    assert_eq!(ix.index().map(|i| i.segments[0].start), Some(10.0));
    // From 0, nothing to say.
    let data = [ftyp(), moov(true), fragment(1, 0, 20)].concat();
    let mut ix = Fmp4Indexer::new();
    assert_eq!(ix.feed(0, &data, Some(data.len() as u64)), Ok(Step::Ready));
    assert_eq!(ix.start(), 0.0);
}

#[test]
fn sidx_after_moov_gives_a_complete_index() {
    let frags = [fragment(1, 0, 20), fragment(2, 2000, 20)];
    let sidx = |id: u32, timescale: u32, dur: u32| {
        let mut body = full(1, 0, &be32(&[id, timescale]));
        body.extend_from_slice(&0u64.to_be_bytes());
        body.extend_from_slice(&0u64.to_be_bytes());
        body.extend_from_slice(&[0, 0, 0, 2]);
        for f in &frags {
            body.extend(be32(&[f.len() as u32, dur, 0x9000_0000]));
        }
        boxed(b"sidx", &body)
    };
    // The audio sidx first: the video one replaces it.
    let data = [
        ftyp(),
        moov(true),
        sidx(2, 48000, 96000),
        sidx(1, 1000, 2000),
        frags.concat(),
    ]
    .concat();
    let mut ix = Fmp4Indexer::new();
    let upto_sidx = data.len() - frags.concat().len();
    // Ready once the first `moof` after them was looked at.
    let upto_moof = upto_sidx + be32_at(&data, upto_sidx) as usize;
    assert_eq!(
        ix.feed(0, &data[..upto_moof], Some(data.len() as u64)),
        Ok(Step::Ready)
    );
    let index = ix.index().expect("index");
    assert!(index.complete);
    let times: Vec<_> = index.segments.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(times, [(0.0, 2.0), (2.0, 4.0)]);
    assert_eq!(index.segments[0].bytes.start, upto_sidx as u64);
    assert_eq!(index.segments[1].bytes.end, data.len() as u64);
    assert_eq!(index.duration, Some(4.0));

    // One `sidx` per track, the video's first (Bento4 `--index`), the
    // audio a little longer: the file lasts as long as its audio. (The
    // same layout: the first `moof` ends at the same offset.)
    let data = [
        ftyp(),
        moov(true),
        sidx(1, 1000, 2000),
        sidx(2, 48000, 97000),
        frags.concat(),
    ]
    .concat();
    let mut ix = Fmp4Indexer::new();
    assert_eq!(
        ix.feed(0, &data[..upto_moof], Some(data.len() as u64)),
        Ok(Step::Ready)
    );
    let index = ix.index().expect("index");
    let times: Vec<_> = index.segments.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(times, [(0.0, 2.0), (2.0, 4.0)], "units of the video");
    assert_eq!(index.duration, Some(194_000.0 / 48_000.0));
}
