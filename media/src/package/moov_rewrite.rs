//! Rewrites the chunk offsets (`stco`/`co64`) of every track of a `moov`,
//! for a file whose media moves. Every other box is copied byte for byte;
//! the boxes on the way down (`moov/trak/mdia/minf/stbl`) get new sizes
//! when a table grows from `stco` to `co64` (an offset past 4 GiB).

use super::error::PackageError;
use super::layout::Moov;
use crate::index::MediaError;
use crate::mp4::boxes::stco::ChunkOffsets;
use crate::mp4::boxes::{Child, full_box};
use crate::mp4::write::Writer;

/// The new `moov`, with `map` applied to every chunk offset; also says
/// whether a table had to become `co64`.
pub fn rewrite(
    moov: &Moov,
    map: &dyn Fn(u64) -> Result<u64, PackageError>,
) -> Result<(Vec<u8>, bool), PackageError> {
    let mut out = Writer::with_capacity(moov.bytes.len().saturating_add(1024));
    let mut widened = false;
    let mut ctx = Ctx {
        base: moov.top.offset(),
        original: &moov.bytes,
        map,
        widened: &mut widened,
    };
    ctx.container(&moov.child(), &mut out)?;
    // Every box inside is smaller than the `moov`: if it fits a 32-bit
    // size, they all do.
    if u32::try_from(out.len()).is_err() {
        return Err(MediaError::TooLarge {
            what: "rewritten 'moov' box",
            limit: u64::from(u32::MAX),
        }
        .into());
    }
    Ok((out.into_bytes(), widened))
}

struct Ctx<'a, 'm> {
    /// File offset of `original[0]`.
    base: u64,
    original: &'a [u8],
    map: &'m dyn Fn(u64) -> Result<u64, PackageError>,
    widened: &'m mut bool,
}

impl Ctx<'_, '_> {
    /// Where `child` (header included) lies in `original`.
    fn span(&self, child: &Child<'_>) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(child.header.offset.checked_sub(self.base)?).ok()?;
        let payload = usize::try_from(child.payload_offset().checked_sub(self.base)?).ok()?;
        Some(start..payload.checked_add(child.payload.len())?)
    }

    fn original(&self, range: std::ops::Range<usize>) -> Result<&[u8], PackageError> {
        self.original.get(range).ok_or_else(|| cut(self.base))
    }

    /// A box on the path to the sample tables: children rebuilt, the bytes
    /// between and after them (padding some writers add) kept.
    fn container(&mut self, parent: &Child<'_>, out: &mut Writer) -> Result<(), PackageError> {
        let at = out.begin(&parent.header.kind);
        let payload_start = self.span(parent).ok_or_else(|| cut(self.base))?.start
            + usize::from(parent.header.header_len);
        let payload_end = payload_start.saturating_add(parent.payload.len());
        let mut pos = payload_start;
        for child in parent.children()? {
            let child = child?;
            let span = self.span(&child).ok_or_else(|| cut(self.base))?;
            out.bytes(self.original(pos..span.start)?);
            match &child.header.kind {
                b"trak" | b"mdia" | b"minf" | b"stbl" => self.container(&child, out)?,
                b"stco" => self.offsets(&child, false, out)?,
                b"co64" => self.offsets(&child, true, out)?,
                _ => out.bytes(self.original(span.clone())?),
            }
            pos = span.end;
        }
        out.bytes(self.original(pos..payload_end)?);
        out.end(at);
        Ok(())
    }

    /// An `stco`/`co64` with every offset mapped; `co64` when one needs it.
    fn offsets(
        &mut self,
        child: &Child<'_>,
        wide: bool,
        out: &mut Writer,
    ) -> Result<(), PackageError> {
        let table = ChunkOffsets::parse(child, wide)?;
        let mut c = child.cursor("'stco' box too short");
        let (version, flags) = full_box(&mut c)?;
        let mut mapped = Vec::with_capacity(usize::try_from(table.chunk_count).unwrap_or(0));
        for n in 1..=table.chunk_count {
            let old = table.get(n).ok_or_else(|| cut(child.header.offset))?;
            mapped.push((self.map)(old)?);
        }
        let wide = wide || mapped.iter().any(|&o| o > u64::from(u32::MAX));
        if wide && child.header.kind == *b"stco" {
            *self.widened = true;
        }
        let at = out.begin_full(if wide { b"co64" } else { b"stco" }, version, flags);
        out.u32(table.chunk_count);
        for o in mapped {
            if wide {
                out.u64(o);
            } else {
                // Checked above to fit.
                out.u32(o as u32);
            }
        }
        out.end(at);
        Ok(())
    }
}

fn cut(offset: u64) -> PackageError {
    MediaError::Malformed {
        container: "mp4",
        offset,
        reason: "box outside its 'moov'".into(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::boxes::{BoxHeader, Boxes, HeaderRead, TopBox};
    use crate::mp4::samples::MovieSamples;

    const FILE: &[u8] = include_bytes!("../../tests/fixtures/remux/bframes.mp4");

    fn moov_of(file: &[u8]) -> Moov {
        let moov = Boxes::new(file, 0, 0)
            .and_then(|b| b.find(b"moov"))
            .ok()
            .flatten()
            .expect("a moov");
        let start = moov.header.offset as usize;
        let end = start + usize::from(moov.header.header_len) + moov.payload.len();
        let size = (end - start) as u64;
        Moov {
            top: TopBox {
                header: moov.header,
                size,
            },
            bytes: file[start..end].to_vec(),
        }
    }

    fn samples(moov_bytes: &[u8]) -> MovieSamples {
        let Ok(HeaderRead::Complete(header)) = BoxHeader::read(moov_bytes, 0) else {
            panic!("moov header");
        };
        let child = Child::top_level(header, &moov_bytes[usize::from(header.header_len)..]);
        MovieSamples::parse(&child, None).expect("sample tables")
    }

    #[test]
    fn unchanged_offsets_give_the_same_moov() {
        let moov = moov_of(FILE);
        let (bytes, widened) = rewrite(&moov, &|o| Ok(o)).expect("rewrite");
        assert_eq!(bytes, moov.bytes);
        assert!(!widened);
    }

    #[test]
    fn offsets_past_4_gib_switch_stco_to_co64() {
        let moov = moov_of(FILE);
        let shift = 1u64 << 32;
        let (bytes, widened) = rewrite(&moov, &|o| Ok(o + shift)).expect("rewrite");
        assert!(widened);
        assert!(bytes.windows(4).any(|w| w == b"co64"));
        assert!(!bytes.windows(4).any(|w| w == b"stco"));
        let (before, after) = (samples(&moov.bytes), samples(&bytes));
        for (a, b) in before.tracks.iter().zip(&after.tracks) {
            assert_eq!(a.samples.len(), b.samples.len());
            for (sa, sb) in a.samples.iter().zip(&b.samples) {
                assert_eq!(sa.offset + shift, sb.offset);
                assert_eq!(sa.size(), sb.size());
            }
        }
    }

    #[test]
    fn a_stray_offset_is_an_error() {
        let moov = moov_of(FILE);
        let refuse = |o| Err(PackageError::StrayChunkOffset { offset: o });
        assert!(matches!(
            rewrite(&moov, &refuse),
            Err(PackageError::StrayChunkOffset { .. })
        ));
    }
}
