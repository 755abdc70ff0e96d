//! Reading fragmented MP4s back in tests: the top-level boxes, the
//! `moov`, and every sample as MSE would see it (the re-chunker's and the
//! normaliser's outputs are checked against their inputs with these).
#![allow(dead_code)]

use std::ops::Range;

use caudal_media::mp4::boxes::moov::Movie;
use caudal_media::mp4::boxes::traf::{self, TrafSamples};
use caudal_media::mp4::boxes::{BoxHeader, Child, HeaderRead};

/// A top-level box: kind and byte range.
pub fn top_boxes(file: &[u8]) -> Vec<([u8; 4], Range<usize>)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Ok(HeaderRead::Complete(h)) = BoxHeader::read(&file[at..], at as u64) {
        let end = h.size.map_or(file.len(), |s| at + s as usize);
        out.push((h.kind, at..end));
        at = end;
    }
    out
}

pub fn movie(file: &[u8]) -> Movie {
    let (_, r) = top_boxes(file)
        .into_iter()
        .find(|(k, _)| k == b"moov")
        .expect("moov");
    let Ok(HeaderRead::Complete(h)) = BoxHeader::read(&file[r.clone()], 0) else {
        panic!("moov header")
    };
    Movie::parse(&Child::top_level(h, &file[r.start + 8..r.end])).expect("moov parses")
}

/// One sample as MSE sees it: track, decode time, duration, flags,
/// composition offset (signed per its `trun` version), size and a hash of
/// its bytes.
pub type Seen = (u32, u64, u32, u32, i64, usize, u64);

pub fn hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Every sample of every fragment of `stream`, track by track in decode
/// order (pieces interleave tracks differently), read with the `moov` of
/// `init`.
pub fn samples(stream: &[u8], init: &[u8]) -> Vec<Seen> {
    let trex = movie(init).mvex.expect("mvex").trex;
    let mut out = Vec::new();
    for (kind, r) in top_boxes(stream) {
        if &kind != b"moof" {
            continue;
        }
        let child = Child::top_level(
            match BoxHeader::read(&stream[r.clone()], r.start as u64) {
                Ok(HeaderRead::Complete(h)) => h,
                _ => panic!("moof header"),
            },
            &stream[r.start + 8..r.end],
        );
        let trafs =
            traf::samples(&child, r.start as u64, &trex, 0..u64::MAX).expect("moof described");
        for t in trafs {
            push_samples(&t, stream, r.start, &mut out);
        }
    }
    out.sort_by_key(|s| s.0);
    out
}

pub fn push_samples(t: &TrafSamples, stream: &[u8], moof: usize, out: &mut Vec<Seen>) {
    let mut dts = t.base_time;
    for s in &t.samples {
        let at = moof + s.offset as usize;
        let cto = if t.version == 1 {
            i64::from(s.cto as i32)
        } else {
            i64::from(s.cto)
        };
        let bytes = &stream[at..at + s.size as usize];
        out.push((
            t.track_id,
            dts,
            s.duration,
            s.flags,
            cto,
            bytes.len(),
            hash(bytes),
        ));
        dts += u64::from(s.duration);
    }
}
