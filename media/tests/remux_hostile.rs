//! Hostile sample tables: each lie is a clear error, found without walking
//! or allocating what the lie describes.

use caudal_media::index::{ContainerIndexer, MediaError, Step};
use caudal_media::mp4::boxes::{BoxHeader, Child, HeaderRead};
use caudal_media::mp4::samples::MovieSamples;
use caudal_media::remux::{Mp4Remuxer, PlanOptions};

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(payload);
    v
}

fn full(kind: &[u8; 4], version: u8, body: &[u32]) -> Vec<u8> {
    let mut p = (u32::from(version) << 24).to_be_bytes().to_vec();
    p.extend(body.iter().flat_map(|v| v.to_be_bytes()));
    boxed(kind, &p)
}

/// The sample tables of a good track: 4 samples of 10 bytes in 2 chunks
/// (at 100 and 200), 1000 ticks each, sample 1 and 3 sync.
struct Tables {
    stts: Vec<u8>,
    stsz: Vec<u8>,
    stsc: Vec<u8>,
    stco: Vec<u8>,
    stss: Vec<u8>,
    extra: Vec<u8>,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            stts: full(b"stts", 0, &[1, 4, 1000]),
            stsz: full(b"stsz", 0, &[0, 4, 10, 10, 10, 10]),
            stsc: full(b"stsc", 0, &[1, 1, 2, 1]),
            stco: full(b"stco", 0, &[2, 100, 200]),
            stss: full(b"stss", 0, &[2, 1, 3]),
            extra: Vec::new(),
        }
    }
}

fn moov(t: &Tables) -> Vec<u8> {
    let mut entry = vec![0u8; 78];
    entry.extend(boxed(b"avcC", &[1, 0x64, 0, 0x1f]));
    let mut stsd = full(b"stsd", 0, &[1]);
    stsd.extend(boxed(b"avc1", &entry));
    let stsd = boxed(b"stsd", &stsd[8..]);
    let stbl = boxed(
        b"stbl",
        &[
            stsd,
            t.stts.clone(),
            t.stsz.clone(),
            t.stsc.clone(),
            t.stco.clone(),
            t.stss.clone(),
            t.extra.clone(),
        ]
        .concat(),
    );
    let mut hdlr = (0u32).to_be_bytes().to_vec();
    hdlr.extend([0; 4]);
    hdlr.extend(b"vide");
    hdlr.extend([0; 13]);
    let mdia = boxed(
        b"mdia",
        &[
            full(b"mdhd", 0, &[0, 0, 1000, 4000, 0]),
            boxed(b"hdlr", &hdlr),
            boxed(b"minf", &stbl),
        ]
        .concat(),
    );
    let trak = boxed(
        b"trak",
        &[full(b"tkhd", 0, &[0, 0, 1, 0, 4000]), mdia].concat(),
    );
    boxed(
        b"moov",
        &[full(b"mvhd", 0, &[0, 0, 1000, 4000]), trak].concat(),
    )
}

fn parse(moov: &[u8], file_len: Option<u64>) -> Result<MovieSamples, MediaError> {
    let Ok(HeaderRead::Complete(h)) = BoxHeader::read(moov, 0) else {
        panic!("test moov header")
    };
    MovieSamples::parse(&Child::top_level(h, &moov[8..]), file_len)
}

fn reason(r: Result<MovieSamples, MediaError>) -> String {
    match r {
        Ok(m) => panic!("parsed: {m:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_good_track_parses() {
    let m = parse(&moov(&Tables::default()), Some(1000)).expect("parses");
    let t = &m.tracks[0];
    let offsets: Vec<u64> = t.samples.iter().map(|s| s.offset).collect();
    assert_eq!(offsets, [100, 110, 200, 210]);
    let syncs: Vec<bool> = t.samples.iter().map(|s| s.is_sync()).collect();
    assert_eq!(syncs, [true, false, true, false]);
    assert_eq!(t.end_time, 4000);
    assert_eq!(t.codec, "avc1.64001f");
    assert!(std::mem::size_of_val(&t.samples[0]) <= 24);
}

#[test]
fn counts_of_2_32_are_refused_before_any_walk() {
    let t = Tables {
        stsz: full(b"stsz", 0, &[0, u32::MAX]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("entry count exceeds its box"));
    // A constant size needs no table: the count itself is refused.
    let t = Tables {
        stsz: full(b"stsz", 0, &[10, u32::MAX]),
        stts: full(b"stts", 0, &[1, u32::MAX, 1]),
        ..Tables::default()
    };
    let e = parse(&moov(&t), None).expect_err("refused");
    assert!(matches!(e, MediaError::TooLarge { .. }), "{e}");
    let t = Tables {
        stts: full(b"stts", 0, &[u32::MAX, 4, 1000]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("entry count exceeds its box"));
}

#[test]
fn tables_must_agree_on_the_sample_count() {
    let t = Tables {
        stts: full(b"stts", 0, &[1, 5, 1000]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("'stts' and 'stsz' disagree"));
    let t = Tables {
        stts: full(b"stts", 0, &[2, u32::MAX, 1, u32::MAX, 1]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("disagree"));
    let t = Tables {
        extra: full(b"ctts", 0, &[1, 3, 0]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("'ctts' and 'stsz' disagree"));
    let t = Tables {
        stsc: full(b"stsc", 0, &[1, 1, 3, 1]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("more samples than 'stsz'"));
    let t = Tables {
        stsc: full(b"stsc", 0, &[1, 1, 1, 1]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("fewer samples"));
    let t = Tables {
        stss: full(b"stss", 0, &[1, 5]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("past the last"));
    let t = Tables {
        stss: full(b"stss", 0, &[2, 3, 1]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("not ascending"));
}

#[test]
fn stsc_must_start_at_1_and_ascend() {
    for entries in [
        vec![1, 0, 2, 1],
        vec![2, 2, 1, 1, 2, 1, 1],
        vec![2, 1, 2, 1, 1, 2, 1],
    ] {
        let t = Tables {
            stsc: full(b"stsc", 0, &entries),
            ..Tables::default()
        };
        let e = reason(parse(&moov(&t), None));
        assert!(e.contains("'stsc'"), "{entries:?}: {e}");
    }
    // A run starting past the last chunk.
    let t = Tables {
        stsc: full(b"stsc", 0, &[2, 1, 2, 1, 5, 2, 1]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("past 'stco'"));
    // Chunks holding 2^32 - 1 samples each: the walk stops at the count.
    let t = Tables {
        stsc: full(b"stsc", 0, &[1, 1, u32::MAX, 1]),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("more samples"));
}

#[test]
fn samples_past_the_end_of_the_file() {
    let t = Tables {
        stco: full(b"stco", 0, &[2, 100, u32::MAX - 5]),
        ..Tables::default()
    };
    let e = parse(&moov(&t), Some(1000)).expect_err("refused");
    assert!(matches!(e, MediaError::Truncated { len: 1000, .. }), "{e}");
    // co64 offsets at the top of the 64-bit range overflow: an error too.
    let mut co64 = (0u32).to_be_bytes().to_vec();
    co64.extend(2u32.to_be_bytes());
    co64.extend(100u64.to_be_bytes());
    co64.extend((u64::MAX - 5).to_be_bytes());
    let t = Tables {
        stco: boxed(b"co64", &co64),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("past 2^64"));
}

#[test]
fn stz2_field_sizes() {
    // 4-bit fields: 4 samples in 2 bytes, high nibble first.
    let mut stz2 = vec![0, 0, 0, 0, 0, 0, 0, 4];
    stz2.extend(4u32.to_be_bytes());
    stz2.extend([0x12, 0x3f]);
    let t = Tables {
        stsz: boxed(b"stz2", &stz2),
        ..Tables::default()
    };
    let m = parse(&moov(&t), Some(1000)).expect("parses");
    let sizes: Vec<u32> = m.tracks[0].samples.iter().map(|s| s.size()).collect();
    assert_eq!(sizes, [1, 2, 3, 15]);
    // 16-bit fields.
    let mut stz2 = vec![0, 0, 0, 0, 0, 0, 0, 16];
    stz2.extend(4u32.to_be_bytes());
    stz2.extend([0, 1, 1, 0, 0, 3, 0, 4]);
    let t = Tables {
        stsz: boxed(b"stz2", &stz2),
        ..Tables::default()
    };
    let m = parse(&moov(&t), Some(1000)).expect("parses");
    let sizes: Vec<u32> = m.tracks[0].samples.iter().map(|s| s.size()).collect();
    assert_eq!(sizes, [1, 256, 3, 4]);
    // Another field size, and a table cut short.
    let mut stz2 = vec![0, 0, 0, 0, 0, 0, 0, 12];
    stz2.extend(4u32.to_be_bytes());
    let t = Tables {
        stsz: boxed(b"stz2", &stz2),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("not 4, 8 or 16"));
    let mut stz2 = vec![0, 0, 0, 0, 0, 0, 0, 8];
    stz2.extend(4u32.to_be_bytes());
    stz2.extend([1, 2, 3]);
    let t = Tables {
        stsz: boxed(b"stz2", &stz2),
        ..Tables::default()
    };
    assert!(reason(parse(&moov(&t), None)).contains("exceeds its box"));
}

#[test]
fn edit_lists_v0_and_v1() {
    // v1: an empty edit of 500 movie ticks, then media from 2000 ticks.
    let mut elst = (1u32 << 24).to_be_bytes().to_vec();
    elst.extend(2u32.to_be_bytes());
    elst.extend(500u64.to_be_bytes());
    elst.extend((-1i64).to_be_bytes());
    elst.extend([0, 1, 0, 0]);
    elst.extend(3500u64.to_be_bytes());
    elst.extend(2000i64.to_be_bytes());
    elst.extend([0, 1, 0, 0]);
    let edts = boxed(b"edts", &boxed(b"elst", &elst));
    let mut m = moov(&Tables::default());
    // Put edts into the trak: rebuild by splicing after tkhd.
    let at = find(&m, b"tkhd") - 4 + 32;
    m.splice(at..at, edts.iter().copied());
    fix_size(&mut m, b"moov", edts.len());
    fix_size(&mut m, b"trak", edts.len());
    let movie = parse(&m, None).expect("parses");
    let edit = movie.tracks[0].edit;
    assert_eq!((edit.empty_duration, edit.media_time), (500, 2000));

    // A count the box cannot hold.
    let elst = full(b"elst", 0, &[u32::MAX, 1, 1, 1]);
    let edts = boxed(b"edts", &elst);
    let mut m = moov(&Tables::default());
    m.splice(at..at, edts.iter().copied());
    fix_size(&mut m, b"moov", edts.len());
    fix_size(&mut m, b"trak", edts.len());
    assert!(reason(parse(&m, None)).contains("exceeds its box"));
}

fn find(b: &[u8], kind: &[u8; 4]) -> usize {
    b.windows(4).position(|w| w == kind).expect("box")
}

fn fix_size(b: &mut [u8], kind: &[u8; 4], grow: usize) {
    let at = find(b, kind) - 4;
    let size = u32::from_be_bytes(b[at..at + 4].try_into().expect("field")) as usize + grow;
    b[at..at + 4].copy_from_slice(&(size as u32).to_be_bytes());
}

/// A file around a moov: ftyp, the moov, an mdat.
fn file(moov: &[u8]) -> Vec<u8> {
    let mut f = boxed(b"ftyp", b"isom\0\0\x02\0isom");
    f.extend(moov);
    f.extend(boxed(b"mdat", &[0; 300]));
    f
}

fn remux_index(data: &[u8]) -> Result<Step, MediaError> {
    Mp4Remuxer::new(PlanOptions::default()).feed(0, data, Some(data.len() as u64))
}

#[test]
fn box_sizes_0_and_1_with_2_64() {
    // size 1 with a largesize of 2^64 - 1 before the moov.
    let mut f = boxed(b"ftyp", b"isom\0\0\x02\0isom");
    f.extend(1u32.to_be_bytes());
    f.extend(b"free");
    f.extend(u64::MAX.to_be_bytes());
    f.extend(moov(&Tables::default()));
    let e = remux_index(&f).expect_err("refused");
    assert!(matches!(e, MediaError::Malformed { .. }), "{e}");
    // ... with the file length unknown: an end past 2^64 is an error.
    let e = Mp4Remuxer::new(PlanOptions::default()).feed(0, &f, None);
    assert!(matches!(e, Err(MediaError::Malformed { .. })), "{e:?}");
    // Size 0 (to the end) before the moov: with the length known, the walk
    // reaches the end and says the moov is missing.
    let mut f = boxed(b"ftyp", b"isom\0\0\x02\0isom");
    f.extend(0u32.to_be_bytes());
    f.extend(b"mdat");
    f.extend(moov(&Tables::default()));
    let e = remux_index(&f).expect_err("refused");
    assert!(matches!(e, MediaError::Truncated { .. }), "{e}");
    // ... and unknown: unsupported, not a wait forever.
    let e = Mp4Remuxer::new(PlanOptions::default()).feed(0, &f, None);
    assert!(matches!(e, Err(MediaError::Unsupported { .. })), "{e:?}");
    // A moov child claiming 2^64 - 1 bytes.
    let mut m = moov(&Tables::default());
    m.splice(
        8..8,
        [0, 0, 0, 1, b'f', b'r', b'e', b'e']
            .into_iter()
            .chain(u64::MAX.to_be_bytes()),
    );
    fix_size(&mut m, b"moov", 16);
    assert!(reason(parse(&m, None)).contains("past its parent"));
}

#[test]
fn a_good_file_remuxes_and_a_moov_that_lies_does_not() {
    let f = file(&moov(&Tables::default()));
    let mut r = Mp4Remuxer::new(PlanOptions::default());
    assert_eq!(r.feed(0, &f, Some(f.len() as u64)), Ok(Step::Ready));
    let remux = r.remux().expect("ready");
    // Two keyframes 2 s apart: two fragments.
    assert_eq!(r.fragments().len(), 2);
    let fragment = remux
        .build_fragment(&r.fragments()[0], f.as_slice())
        .expect("builds");
    assert!(fragment.windows(4).any(|w| w == b"mdat"));
    // The same tables in a 150-byte file: samples past its end.
    let e = parse(&moov(&Tables::default()), Some(150)).expect_err("refused");
    assert!(matches!(e, MediaError::Truncated { .. }));
    // A file that ends inside the moov; the error sticks.
    let mut r = Mp4Remuxer::new(PlanOptions::default());
    let e = r.feed(0, &f, Some(150));
    assert!(
        matches!(e, Err(MediaError::Truncated { len: 150, .. })),
        "{e:?}"
    );
    assert!(r.feed(0, &f, Some(f.len() as u64)).is_err());
}
