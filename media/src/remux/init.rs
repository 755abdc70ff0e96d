//! The init segment: `ftyp` + a `moov` that describes the output tracks and
//! no samples, with `mvex` saying that fragments follow.
//!
//! The boxes that describe a track — `mvhd`, `tkhd`, `mdhd`, `hdlr`, the
//! media header and above all the sample entry with its decoder
//! configuration (`avcC`, `esds`, `dOps`, ...) — are copied from the file
//! verbatim, so the decoder is set up exactly as for the plain file. The
//! sample tables are written empty, and `edts` is left out: the edit is
//! applied to the fragment times instead (see the module docs).

use super::Remux;
use crate::mp4::write::Writer;

impl Remux {
    /// `ftyp` + `moov` for MSE's `appendBuffer`, before any fragment.
    pub fn init_segment(&self) -> Vec<u8> {
        let movie = &self.movie;
        let copied: usize = self
            .tracks()
            .map(|t| {
                t.tkhd.len()
                    + t.mdhd.len()
                    + t.hdlr.len()
                    + t.media_header.len()
                    + t.sample_entry.len()
            })
            .sum();
        let mut w = Writer::with_capacity(copied.saturating_add(movie.mvhd.len() + 512));

        let ftyp = w.begin(b"ftyp");
        w.bytes(b"iso6"); // major brand: tfdt v1, trun v1 (signed offsets)
        w.u32(0);
        for brand in [b"iso6", b"iso5", b"isom", b"mp41", b"dash"] {
            w.bytes(brand);
        }
        w.end(ftyp);

        let moov = w.begin(b"moov");
        w.bytes(&movie.mvhd);
        for t in self.tracks() {
            let trak = w.begin(b"trak");
            w.bytes(&t.tkhd);
            let mdia = w.begin(b"mdia");
            w.bytes(&t.mdhd);
            w.bytes(&t.hdlr);
            let minf = w.begin(b"minf");
            if t.media_header.is_empty() {
                // A null media header: the file had none to copy.
                let nmhd = w.begin_full(b"nmhd", 0, 0);
                w.end(nmhd);
            } else {
                w.bytes(&t.media_header);
            }
            let dinf = w.begin(b"dinf");
            let dref = w.begin_full(b"dref", 0, 0);
            w.u32(1);
            let url = w.begin_full(b"url ", 0, 1); // flag 1: media in this file
            w.end(url);
            w.end(dref);
            w.end(dinf);
            let stbl = w.begin(b"stbl");
            let stsd = w.begin_full(b"stsd", 0, 0);
            w.u32(1);
            w.bytes(&t.sample_entry);
            w.end(stsd);
            for kind in [b"stts", b"stsc", b"stco"] {
                let b = w.begin_full(kind, 0, 0);
                w.u32(0); // entry_count
                w.end(b);
            }
            let stsz = w.begin_full(b"stsz", 0, 0);
            w.u32(0); // sample_size
            w.u32(0); // sample_count
            w.end(stsz);
            w.end(stbl);
            w.end(minf);
            w.end(mdia);
            w.end(trak);
        }
        let mvex = w.begin(b"mvex");
        let mehd = w.begin_full(b"mehd", 1, 0);
        w.u64(movie.duration);
        w.end(mehd);
        for t in self.tracks() {
            let trex = w.begin_full(b"trex", 0, 0);
            w.u32(t.id);
            w.u32(1); // sample_description_index
            w.u32(0); // default duration, size, flags: every trun says
            w.u32(0);
            w.u32(0);
            w.end(trex);
        }
        w.end(mvex);
        w.end(moov);
        w.into_bytes()
    }
}
