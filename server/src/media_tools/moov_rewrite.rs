//! Rewrites the chunk offsets (`stco`/`co64`) of every track of a `moov`,
//! for a file whose media moves. Every other box is copied byte for byte;
//! the boxes on the way down (`moov/trak/mdia/minf/stbl`) get new sizes
//! when a table grows from `stco` to `co64` (an offset past 4 GiB).

use caudal_media::index::MediaError;
use caudal_media::mp4::boxes::stco::ChunkOffsets;
use caudal_media::mp4::boxes::{Child, full_box};

use super::ToolError;
use super::layout::Moov;

/// The new `moov`, with `map` applied to every chunk offset; also says
/// whether a table had to become `co64`.
pub(crate) fn rewrite(
    moov: &Moov,
    map: &dyn Fn(u64) -> Result<u64, ToolError>,
) -> Result<(Vec<u8>, bool), ToolError> {
    let mut out = Vec::with_capacity(moov.bytes.len().saturating_add(1024));
    let mut widened = false;
    let mut ctx = Ctx {
        base: moov.top.offset(),
        original: &moov.bytes,
        map,
        widened: &mut widened,
    };
    ctx.container(&moov.child(), &mut out)?;
    Ok((out, widened))
}

struct Ctx<'a, 'm> {
    /// File offset of `original[0]`.
    base: u64,
    original: &'a [u8],
    map: &'m dyn Fn(u64) -> Result<u64, ToolError>,
    widened: &'m mut bool,
}

impl Ctx<'_, '_> {
    /// Where `child` (header included) lies in `original`.
    fn span(&self, child: &Child<'_>) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(child.header.offset.checked_sub(self.base)?).ok()?;
        let payload = usize::try_from(child.payload_offset().checked_sub(self.base)?).ok()?;
        Some(start..payload.checked_add(child.payload.len())?)
    }

    fn original(&self, range: std::ops::Range<usize>) -> Result<&[u8], ToolError> {
        self.original.get(range).ok_or_else(|| cut(self.base))
    }

    /// A box on the path to the sample tables: children rebuilt, the bytes
    /// between and after them (padding some writers add) kept.
    fn container(&mut self, parent: &Child<'_>, out: &mut Vec<u8>) -> Result<(), ToolError> {
        let at = begin(out, &parent.header.kind);
        let payload_start = self.span(parent).ok_or_else(|| cut(self.base))?.start
            + usize::from(parent.header.header_len);
        let payload_end = payload_start.saturating_add(parent.payload.len());
        let mut pos = payload_start;
        for child in parent.children()? {
            let child = child?;
            let span = self.span(&child).ok_or_else(|| cut(self.base))?;
            out.extend_from_slice(self.original(pos..span.start)?);
            match &child.header.kind {
                b"trak" | b"mdia" | b"minf" | b"stbl" => self.container(&child, out)?,
                b"stco" => self.offsets(&child, false, out)?,
                b"co64" => self.offsets(&child, true, out)?,
                _ => out.extend_from_slice(self.original(span.clone())?),
            }
            pos = span.end;
        }
        out.extend_from_slice(self.original(pos..payload_end)?);
        end(out, at)
    }

    /// An `stco`/`co64` with every offset mapped; `co64` when one needs it.
    fn offsets(
        &mut self,
        child: &Child<'_>,
        wide: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ToolError> {
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
        let at = begin(out, if wide { b"co64" } else { b"stco" });
        out.extend_from_slice(&(u32::from(version) << 24 | flags).to_be_bytes());
        out.extend_from_slice(&table.chunk_count.to_be_bytes());
        for o in mapped {
            if wide {
                out.extend_from_slice(&o.to_be_bytes());
            } else {
                // Checked above to fit.
                out.extend_from_slice(&(o as u32).to_be_bytes());
            }
        }
        end(out, at)
    }
}

fn cut(offset: u64) -> ToolError {
    MediaError::Malformed {
        container: "mp4",
        offset,
        reason: "box outside its 'moov'".into(),
    }
    .into()
}

/// Opens a box with an 8-byte header; [`end`] writes its size.
fn begin(out: &mut Vec<u8>, kind: &[u8; 4]) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(kind);
    at
}

fn end(out: &mut [u8], at: usize) -> Result<(), ToolError> {
    let size = u32::try_from(out.len().saturating_sub(at)).map_err(|_| MediaError::TooLarge {
        what: "rewritten 'moov' box",
        limit: u64::from(u32::MAX),
    })?;
    if let Some(field) = out.get_mut(at..at + 4) {
        field.copy_from_slice(&size.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use caudal_media::mp4::boxes::{BoxHeader, HeaderRead};
    use caudal_media::mp4::samples::MovieSamples;

    const FILE: &[u8] = include_bytes!("../../../media/tests/fixtures/remux/bframes.mp4");

    fn moov_of(file: &[u8]) -> Moov {
        let moov = caudal_media::mp4::boxes::Boxes::new(file, 0, 0)
            .and_then(|b| b.find(b"moov"))
            .ok()
            .flatten()
            .expect("a moov");
        let start = moov.header.offset as usize;
        let end = start + usize::from(moov.header.header_len) + moov.payload.len();
        let size = (end - start) as u64;
        Moov {
            top: super::super::layout::TopBox {
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
        let refuse = |o| Err(ToolError::StrayChunkOffset { offset: o });
        assert!(matches!(
            rewrite(&moov, &refuse),
            Err(ToolError::StrayChunkOffset { .. })
        ));
    }
}
