//! `--faststart`: the same boxes, `moov` moved before the first `mdat`.
//!
//! The media bytes are copied unchanged (the caller copies them, in
//! chunks, from the ranges this plan names); only the chunk offsets in the
//! `moov` change, each by where its box moved. Offsets are mapped box by
//! box rather than shifted by one constant, so any arrangement of
//! top-level boxes (several `mdat`s, `free` space, boxes after `moov`)
//! comes out right.

use std::ops::Range;

use super::error::PackageError;
use super::layout::Mp4Layout;
use super::moov_rewrite;
use crate::index::MediaError;
use crate::mp4::boxes::TopBox;

/// One piece of the output, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// These bytes of the input, unchanged.
    Copy(Range<u64>),
    /// The rewritten `moov` ([`Faststart::moov`]).
    Moov,
}

/// What to write: the parts in order, and the new `moov`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faststart {
    pub parts: Vec<Part>,
    pub moov: Vec<u8>,
    /// A `stco` became `co64` (an offset passed 4 GiB).
    pub widened: bool,
    /// The `moov` was after the media (false: it only gets rewritten).
    pub moved: bool,
}

/// The faststart form of the file laid out as `layout`.
pub fn faststart(layout: &Mp4Layout) -> Result<Faststart, PackageError> {
    let (boxes, moov) = (&layout.boxes, &layout.moov);
    let first_mdat = boxes
        .iter()
        .position(|b| b.kind() == b"mdat")
        .unwrap_or(boxes.len());
    let is_moov = |b: &TopBox| b.offset() == moov.top.offset();
    // The output order; `None` stands for the new `moov`.
    let order: Vec<Option<&TopBox>> = boxes
        .get(..first_mdat)
        .unwrap_or_default()
        .iter()
        .filter(|b| !is_moov(b))
        .map(Some)
        .chain(std::iter::once(None))
        .chain(
            boxes
                .get(first_mdat..)
                .unwrap_or_default()
                .iter()
                .filter(|b| !is_moov(b))
                .map(Some),
        )
        .collect();

    // The moov's size decides where the media goes, and the media's place
    // the moov's size (stco -> co64): settle it in a few rounds.
    let mut size = moov.top.size;
    let mut rewritten = None;
    for _ in 0..4 {
        let moved = placement(&order, size);
        let map = |old: u64| map_offset(&moved, old);
        let (bytes, widened) = moov_rewrite::rewrite(moov, &map)?;
        if bytes.len() as u64 == size {
            rewritten = Some((bytes, widened));
            break;
        }
        size = bytes.len() as u64;
    }
    let (bytes, widened) = rewritten.ok_or_else(|| MediaError::Unsupported {
        container: "mp4",
        what: "a 'moov' whose size does not settle".into(),
    })?;
    let parts = order
        .iter()
        .map(|entry| match entry {
            None => Part::Moov,
            Some(b) => Part::Copy(b.offset()..b.end()),
        })
        .collect();
    Ok(Faststart {
        parts,
        moov: bytes,
        widened,
        moved: !layout.moov_first(),
    })
}

/// (old start, old end, new start) of every box but the `moov`, sorted by
/// old start, when the new `moov` is `moov_size` bytes.
fn placement(order: &[Option<&TopBox>], moov_size: u64) -> Vec<(u64, u64, u64)> {
    let mut pos = 0u64;
    let mut moved = Vec::with_capacity(order.len());
    for entry in order {
        match entry {
            None => pos = pos.saturating_add(moov_size),
            Some(b) => {
                moved.push((b.offset(), b.end(), pos));
                pos = pos.saturating_add(b.size);
            }
        }
    }
    moved.sort_unstable();
    moved
}

fn map_offset(moved: &[(u64, u64, u64)], old: u64) -> Result<u64, PackageError> {
    let i = moved.partition_point(|&(start, _, _)| start <= old);
    match i.checked_sub(1).and_then(|i| moved.get(i)) {
        Some(&(start, end, new)) if old <= end => Ok(new.saturating_add(old - start)),
        _ => Err(PackageError::StrayChunkOffset { offset: old }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::samples::MovieSamples;
    use crate::package::InMemory;
    use crate::package::layout::Mp4Layout;

    #[test]
    fn offsets_follow_their_box() {
        // ftyp 0..32, mdat 32..1032, moov 1032..1232 -> ftyp, moov(300), mdat
        let moved = vec![(0, 32, 0), (32, 1032, 332)];
        assert_eq!(map_offset(&moved, 40).ok(), Some(340));
        assert_eq!(map_offset(&moved, 1032).ok(), Some(1332));
        assert!(map_offset(&moved, 1100).is_err());
    }

    /// The output the parts describe, from `input`.
    fn assemble(input: &[u8], plan: &Faststart) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &plan.parts {
            match part {
                Part::Moov => out.extend_from_slice(&plan.moov),
                Part::Copy(r) => out.extend_from_slice(&input[r.start as usize..r.end as usize]),
            }
        }
        out
    }

    #[test]
    fn the_moov_moves_first_and_every_sample_keeps_its_bytes() {
        let input: &[u8] = include_bytes!("../../tests/fixtures/remux/moov-end.mp4");
        let layout = Mp4Layout::read(&mut InMemory(input)).expect("layout");
        let plan = faststart(&layout).expect("plan");
        assert!(plan.moved && !plan.widened);
        let output = assemble(input, &plan);
        assert_eq!(output.len(), input.len());
        let after = Mp4Layout::read(&mut InMemory(&output)).expect("layout");
        assert!(after.moov_first());
        let parse = |bytes: &[u8], l: &Mp4Layout| {
            MovieSamples::parse(&l.moov.child(), Some(bytes.len() as u64)).expect("samples")
        };
        let (a, b) = (parse(input, &layout), parse(&output, &after));
        for (ta, tb) in a.tracks.iter().zip(&b.tracks) {
            assert_eq!(ta.samples.len(), tb.samples.len());
            for (sa, sb) in ta.samples.iter().zip(&tb.samples) {
                assert!(
                    input[sa.offset as usize..sa.end() as usize]
                        == output[sb.offset as usize..sb.end() as usize]
                );
            }
        }
    }

    #[test]
    fn a_moov_already_first_is_not_reported_as_moved() {
        let input: &[u8] = include_bytes!("../../tests/fixtures/remux/bframes.mp4");
        let plan =
            faststart(&Mp4Layout::read(&mut InMemory(input)).expect("layout")).expect("plan");
        assert!(!plan.moved);
        assert_eq!(assemble(input, &plan).len(), input.len());
    }
}
