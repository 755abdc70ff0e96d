//! Property tests: whatever a `moov` says, reading its sample tables and
//! remuxing what they describe answers (a value or an error) without
//! panicking.

use std::path::PathBuf;
use std::sync::OnceLock;

use caudal_media::index::{ContainerIndexer, Step};
use caudal_media::mp4::boxes::{BoxHeader, Child, HeaderRead};
use caudal_media::mp4::samples::MovieSamples;
use caudal_media::remux::{Mp4Remuxer, PlanOptions, Remux};
use proptest::prelude::*;

/// The corpus files: real tables for the byte flips to break.
fn corpus() -> &'static [Vec<u8>] {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remux");
        [
            "bframes.mp4",
            "moov-end.mp4",
            "audio.m4a",
            "edit-cut.mp4",
            "ntsc-90k.mp4",
            "co64.mp4",
        ]
        .iter()
        .map(|n| std::fs::read(dir.join(n)).expect("corpus file"))
        .collect()
    })
}

/// Everything the player would do with a file: index it, build the init
/// segment and every fragment from the file's own bytes.
fn remux_everything(data: &[u8]) {
    let mut r = Mp4Remuxer::new(PlanOptions {
        min_fragment_ms: 500,
    });
    let Ok(Step::Ready) = r.feed(0, data, Some(data.len() as u64)) else {
        return;
    };
    let index = r.index().expect("ready means an index");
    let _ = index.mime_type();
    let remux = r.remux().expect("ready means a remux");
    let _ = remux.init_segment();
    for f in r.fragments() {
        let _ = remux.build_fragment(f, data);
    }
}

/// Reads `payload` as a `moov` payload and remuxes what it says.
fn parse_moov(payload: &[u8]) {
    let mut bytes = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    bytes.extend(b"moov");
    bytes.extend(payload);
    let Ok(HeaderRead::Complete(h)) = BoxHeader::read(&bytes, 0) else {
        return;
    };
    let Ok(movie) = MovieSamples::parse(&Child::top_level(h, &bytes[8..]), None) else {
        return;
    };
    if let Ok(remux) = Remux::new(movie) {
        let _ = remux.init_segment();
        let _ = remux.plan(PlanOptions::default());
    }
}

/// Box-shaped bytes: a tree of the kinds the sample walk reads, with
/// random sizes and contents.
fn boxy() -> impl Strategy<Value = Vec<u8>> {
    let kinds: Vec<&'static [u8; 4]> = vec![
        b"mvhd", b"trak", b"tkhd", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl", b"stsd", b"stts",
        b"ctts", b"stss", b"stsz", b"stz2", b"stsc", b"stco", b"co64", b"edts", b"elst", b"avc1",
    ];
    let leaf = (
        proptest::sample::select(kinds),
        proptest::collection::vec(any::<u8>(), 0..48),
        prop_oneof![Just(None), any::<u32>().prop_map(Some)],
    )
        .prop_map(|(kind, body, size)| {
            let size = size.unwrap_or((body.len() + 8) as u32);
            let mut v = size.to_be_bytes().to_vec();
            v.extend_from_slice(kind);
            v.extend(body);
            v
        });
    proptest::collection::vec(leaf, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_moov_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
        parse_moov(&payload);
    }

    #[test]
    fn box_shaped_moov_payloads_never_panic(payload in boxy()) {
        parse_moov(&payload);
    }

    #[test]
    fn corpus_files_with_flipped_bytes_never_panic(
        file in 0usize..5,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut data = corpus()[file].clone();
        // Flip inside the moov most of the time: that is where the tables are.
        let moov = data.windows(4).position(|w| w == b"moov").unwrap_or(0);
        for (i, b) in flips {
            let at = if b & 1 == 0 { moov + i.index(data.len() - moov) } else { i.index(data.len()) };
            data[at] ^= b | 1;
        }
        remux_everything(&data);
    }
}
