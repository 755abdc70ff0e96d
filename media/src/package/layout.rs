//! The top-level boxes of an MP4, read from header to header (a 32-byte
//! read per box, whatever the size of `mdat`), and its `moov`.

use super::error::PackageError;
use super::read::{ReadAt, read_exact_at};
use crate::index::MediaError;
use crate::mp4::boxes::{BoxHeader, Child, HeaderRead, TopBox, moov};
use crate::mp4::samples::MovieSamples;

/// Most top-level boxes we list: two per fragment, so 2^21 is a million
/// fragments; more is a hostile file growing our memory.
const MAX_BOXES: usize = 1 << 21;

/// Bytes read for each box header: enough for a 64-bit size and a `uuid`.
const HEADER_READ: u64 = 32;

/// The boxes an MP4 file starts with: anything else first is another
/// format.
pub fn starts_an_mp4(kind: &[u8]) -> bool {
    matches!(
        kind,
        b"ftyp" | b"styp" | b"moov" | b"free" | b"skip" | b"wide" | b"pdin" | b"mdat"
    )
}

/// The top-level boxes of an ISO BMFF file, in file order.
///
/// Fails with [`PackageError::NotMp4`] when the first box is not one an MP4
/// starts with, and with a truncation error when a box runs past the end.
pub fn top_level<S: ReadAt + ?Sized>(src: &mut S) -> Result<Vec<TopBox>, S::Error> {
    let len = src.file_len();
    let mut boxes: Vec<TopBox> = Vec::new();
    let mut pos = 0u64;
    while pos < len {
        if boxes.len() >= MAX_BOXES {
            return Err(from_media(MediaError::TooLarge {
                what: "list of top-level boxes",
                limit: MAX_BOXES as u64,
            }));
        }
        let head = src.read_at(pos, HEADER_READ)?;
        let header = match BoxHeader::read(&head, pos) {
            Ok(HeaderRead::Complete(h)) => h,
            Ok(HeaderRead::Need(_)) | Err(_) if boxes.is_empty() => {
                return Err(PackageError::NotMp4.into());
            }
            Ok(HeaderRead::Need(_)) => {
                return Err(from_media(MediaError::Truncated {
                    len,
                    what: "box header",
                }));
            }
            Err(e) => return Err(from_media(e)),
        };
        if boxes.is_empty() && !starts_an_mp4(&header.kind) {
            return Err(PackageError::NotMp4.into());
        }
        let top = TopBox::resolve(header, len).map_err(from_media::<S::Error>)?;
        boxes.push(top);
        pos = top.end();
    }
    if boxes.is_empty() {
        return Err(PackageError::NotMp4.into());
    }
    Ok(boxes)
}

/// A media error as the caller's error.
fn from_media<E: From<PackageError>>(e: MediaError) -> E {
    PackageError::from(e).into()
}

/// The `moov` of a file: its box and its bytes (at most
/// [`moov::MAX_SIZE`]).
#[derive(Debug, Clone)]
pub struct Moov {
    pub top: TopBox,
    pub bytes: Vec<u8>,
}

impl Moov {
    /// Reads the first `moov` among `boxes`.
    pub fn read<S: ReadAt + ?Sized>(src: &mut S, boxes: &[TopBox]) -> Result<Self, S::Error> {
        let top = *boxes.iter().find(|b| b.kind() == b"moov").ok_or_else(|| {
            from_media::<S::Error>(MediaError::Truncated {
                len: src.file_len(),
                what: "'moov' box",
            })
        })?;
        if top.size > moov::MAX_SIZE {
            return Err(from_media(MediaError::TooLarge {
                what: "'moov' box",
                limit: moov::MAX_SIZE,
            }));
        }
        let bytes = read_exact_at(src, top.offset(), top.size)?;
        Ok(Moov { top, bytes })
    }

    /// The `moov` as a box to walk.
    pub fn child(&self) -> Child<'_> {
        let payload = self
            .bytes
            .get(usize::from(self.top.header.header_len)..)
            .unwrap_or(&[]);
        Child::top_level(self.top.header, payload)
    }

    /// True when the `moov` has an `mvex`: fragments follow.
    pub fn has_mvex(&self) -> Result<bool, MediaError> {
        Ok(self.child().children()?.find(b"mvex")?.is_some())
    }
}

/// An MP4's top-level boxes and its `moov`.
#[derive(Debug, Clone)]
pub struct Mp4Layout {
    pub boxes: Vec<TopBox>,
    pub moov: Moov,
}

impl Mp4Layout {
    pub fn read<S: ReadAt + ?Sized>(src: &mut S) -> Result<Self, S::Error> {
        let boxes = top_level(src)?;
        let moov = Moov::read(src, &boxes)?;
        Ok(Mp4Layout { boxes, moov })
    }

    /// The first `mdat`, if any.
    pub fn first_mdat(&self) -> Option<&TopBox> {
        self.boxes.iter().find(|b| b.kind() == b"mdat")
    }

    /// True when the `moov` comes before the media (or there is none).
    pub fn moov_first(&self) -> bool {
        self.first_mdat()
            .is_none_or(|m| self.moov.top.offset() < m.offset())
    }

    /// True when fragments follow (an `mvex`, or a top-level `moof`).
    pub fn fragmented(&self) -> Result<bool, MediaError> {
        Ok(self.moov.has_mvex()? || self.has(b"moof"))
    }

    /// True when a top-level box of type `kind` is present.
    pub fn has(&self, kind: &[u8; 4]) -> bool {
        self.boxes.iter().any(|b| b.kind() == kind)
    }
}

/// A plain MP4 ready to be packaged: its layout and its sample tables,
/// checked to lie in the file before anything is written.
#[derive(Debug, Clone)]
pub struct PlainMp4 {
    pub layout: Mp4Layout,
    pub movie: MovieSamples,
}

impl PlainMp4 {
    /// Reads and checks a plain MP4; an already fragmented one is refused.
    pub fn read<S: ReadAt + ?Sized>(src: &mut S) -> Result<Self, S::Error> {
        let layout = Mp4Layout::read(src)?;
        if layout.fragmented().map_err(from_media::<S::Error>)? {
            return Err(PackageError::AlreadyFragmented.into());
        }
        let movie = MovieSamples::parse(&layout.moov.child(), Some(src.file_len()))
            .map_err(from_media::<S::Error>)?;
        Ok(PlainMp4 { layout, movie })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::InMemory;

    const FAST: &[u8] = include_bytes!("../../tests/fixtures/remux/bframes.mp4");
    const MOOV_END: &[u8] = include_bytes!("../../tests/fixtures/remux/moov-end.mp4");

    fn kinds(boxes: &[TopBox]) -> Vec<String> {
        boxes
            .iter()
            .map(|b| String::from_utf8_lossy(b.kind()).into_owned())
            .collect()
    }

    #[test]
    fn walks_the_top_level_boxes_to_the_end() {
        let layout = Mp4Layout::read(&mut InMemory(MOOV_END)).expect("layout");
        assert_eq!(
            kinds(&layout.boxes).last().map(String::as_str),
            Some("moov")
        );
        assert_eq!(
            layout.boxes.last().map(TopBox::end),
            Some(MOOV_END.len() as u64)
        );
        assert!(!layout.moov_first());
        assert!(
            Mp4Layout::read(&mut InMemory(FAST))
                .expect("layout")
                .moov_first()
        );
    }

    #[test]
    fn other_formats_and_cut_files_are_told_apart() {
        assert!(matches!(
            top_level(&mut InMemory(b"just some text, not a movie\n")),
            Err(PackageError::NotMp4)
        ));
        assert!(matches!(
            top_level(&mut InMemory(&[0x1A, 0x45, 0xDF, 0xA3, 0, 0, 0, 0])),
            Err(PackageError::NotMp4)
        ));
        let cut = &MOOV_END[..MOOV_END.len() - 100];
        assert!(matches!(
            Mp4Layout::read(&mut InMemory(cut)),
            Err(PackageError::Media(MediaError::Truncated { .. }))
        ));
    }

    #[test]
    fn a_fragmented_file_is_not_packaged_again() {
        let fragmented = include_bytes!("../../tests/fixtures/mp4/sidx.mp4");
        assert!(matches!(
            PlainMp4::read(&mut InMemory(fragmented)),
            Err(PackageError::AlreadyFragmented)
        ));
    }
}
