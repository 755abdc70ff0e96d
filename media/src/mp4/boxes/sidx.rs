//! `sidx`: segment index (ISO 14496-12 §8.16.3) — sizes and durations of
//! the fragments that follow, i.e. a complete time ↔ byte map in one box.

use super::{Cursor, full_box, malformed};
use crate::index::MediaError;
use crate::mp4::write::Writer;

/// Bytes of one reference entry.
const REFERENCE_LEN: usize = 12;

/// Most references one `sidx` lists (its count is 16 bits).
pub const MAX_REFERENCES: usize = u16::MAX as usize;

/// Largest `sidx` we buffer: its 16-bit reference count caps a real one at
/// about 768 KiB.
pub const MAX_SIZE: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidx {
    /// The track whose timeline the times are on.
    pub reference_id: u32,
    pub timescale: u32,
    pub earliest_presentation_time: u64,
    /// Bytes from the end of this box to the first referenced byte.
    pub first_offset: u64,
    pub references: Vec<Reference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// True when it points at another `sidx` (a hierarchical index) rather
    /// than at media; either way it is a contiguous byte range.
    pub to_index: bool,
    /// Bytes, never 0.
    pub size: u32,
    /// In `timescale` units.
    pub duration: u32,
}

impl Sidx {
    pub fn parse(payload: &[u8], offset: u64) -> Result<Self, MediaError> {
        let mut c = Cursor::new(payload, offset, "'sidx' box too short");
        let (version, _) = full_box(&mut c)?;
        let reference_id = c.u32()?;
        let timescale = c.u32()?;
        if timescale == 0 {
            return Err(malformed(offset, "'sidx' timescale is 0"));
        }
        let earliest_presentation_time = c.u32_or_u64(version)?;
        let first_offset = c.u32_or_u64(version)?;
        let _reserved = c.u16()?;
        let count = usize::from(c.u16()?);
        // Check the entries are all present before allocating for them.
        if count.saturating_mul(REFERENCE_LEN) > c.remaining() {
            return Err(malformed(
                c.offset(),
                "'sidx' lists more references than it holds",
            ));
        }
        let mut references = Vec::with_capacity(count);
        for _ in 0..count {
            let at = c.offset();
            let a = c.u32()?;
            let duration = c.u32()?;
            let _sap = c.u32()?;
            let size = a & 0x7fff_ffff;
            if size == 0 {
                return Err(malformed(at, "'sidx' reference of size 0"));
            }
            references.push(Reference {
                to_index: a >> 31 == 1,
                size,
                duration,
            });
        }
        Ok(Sidx {
            reference_id,
            timescale,
            earliest_presentation_time,
            first_offset,
            references,
        })
    }

    /// Bytes of the version-1 box [`Sidx::write`] makes with `references`
    /// entries: header, version and flags, reference_ID, timescale, the
    /// 64-bit earliest time and first offset, reserved, count, then 12
    /// bytes a reference.
    pub fn encoded_len(references: usize) -> usize {
        8 + 4 + 4 + 4 + 8 + 8 + 2 + 2 + REFERENCE_LEN.saturating_mul(references)
    }

    /// Appends this index as a version-1 box (64-bit times, whatever their
    /// size, so its length depends on the reference count alone and can be
    /// reserved before the fragments are built). Every reference is written
    /// as starting with a type-1 SAP: the fragments we index begin with a
    /// keyframe. Fails when more than [`MAX_REFERENCES`] are listed or a
    /// size does not fit the 31-bit field.
    pub fn write(&self, w: &mut Writer) -> Result<(), MediaError> {
        let count = u16::try_from(self.references.len()).map_err(|_| MediaError::TooLarge {
            what: "'sidx' reference list",
            limit: MAX_REFERENCES as u64,
        })?;
        let at = w.begin_full(b"sidx", 1, 0);
        w.u32(self.reference_id);
        w.u32(self.timescale);
        w.u64(self.earliest_presentation_time);
        w.u64(self.first_offset);
        w.u16(0); // reserved
        w.u16(count);
        for r in &self.references {
            if r.size > i32::MAX as u32 {
                return Err(MediaError::TooLarge {
                    what: "fragment",
                    limit: i32::MAX as u64,
                });
            }
            w.u32(u32::from(r.to_index) << 31 | r.size);
            w.u32(r.duration);
            w.u32(0x9000_0000); // starts_with_SAP = 1, SAP_type = 1
        }
        w.end(at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sidx(version: u8, count: u16, refs: &[(u32, u32)]) -> Vec<u8> {
        let mut v = vec![version, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x03, 0xe8];
        if version == 1 {
            v.extend_from_slice(&5u64.to_be_bytes());
            v.extend_from_slice(&7u64.to_be_bytes());
        } else {
            v.extend_from_slice(&5u32.to_be_bytes());
            v.extend_from_slice(&7u32.to_be_bytes());
        }
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&count.to_be_bytes());
        for &(size, dur) in refs {
            v.extend_from_slice(&size.to_be_bytes());
            v.extend_from_slice(&dur.to_be_bytes());
            v.extend_from_slice(&0x9000_0000u32.to_be_bytes());
        }
        v
    }

    #[test]
    fn parses_versions_0_and_1() {
        for version in [0, 1] {
            let s = Sidx::parse(&sidx(version, 2, &[(100, 1000), (200, 500)]), 0).ok();
            let s = s.expect("parses");
            assert_eq!((s.reference_id, s.timescale), (1, 1000));
            assert_eq!((s.earliest_presentation_time, s.first_offset), (5, 7));
            assert_eq!(s.references.len(), 2);
            assert_eq!(
                s.references[1],
                Reference {
                    to_index: false,
                    size: 200,
                    duration: 500
                }
            );
        }
    }

    #[test]
    fn what_is_written_reads_back_at_its_announced_length() {
        let index = Sidx {
            reference_id: 2,
            timescale: 90_000,
            earliest_presentation_time: 1 << 33,
            first_offset: 0,
            references: vec![
                Reference {
                    to_index: false,
                    size: 1000,
                    duration: 180_000,
                },
                Reference {
                    to_index: true,
                    size: i32::MAX as u32,
                    duration: 1,
                },
            ],
        };
        let mut w = Writer::default();
        index.write(&mut w).expect("write");
        let bytes = w.into_bytes();
        assert_eq!(bytes.len(), Sidx::encoded_len(2));
        assert_eq!(&bytes[..8], b"\0\0\0\x40sidx");
        assert_eq!(Sidx::parse(&bytes[8..], 8).ok(), Some(index));
    }

    #[test]
    fn refuses_to_write_what_the_fields_cannot_hold() {
        let reference = Reference {
            to_index: false,
            size: 1,
            duration: 1,
        };
        let mut index = Sidx {
            reference_id: 1,
            timescale: 1000,
            earliest_presentation_time: 0,
            first_offset: 0,
            references: vec![reference; MAX_REFERENCES + 1],
        };
        assert!(index.write(&mut Writer::default()).is_err());
        index.references = vec![Reference {
            size: 1 << 31,
            ..reference
        }];
        assert!(index.write(&mut Writer::default()).is_err());
    }

    #[test]
    fn rejects_counts_beyond_the_data_and_empty_references() {
        assert!(Sidx::parse(&sidx(0, u16::MAX, &[(100, 1000)]), 0).is_err());
        assert!(Sidx::parse(&sidx(0, 1, &[(0, 1000)]), 0).is_err());
        let mut zero_timescale = sidx(0, 0, &[]);
        zero_timescale[8..12].fill(0);
        assert!(Sidx::parse(&zero_timescale, 0).is_err());
    }
}
