//! The top-level boxes of an MP4, read by seeking from header to header:
//! a 16-byte read per box, whatever the size of `mdat`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use caudal_media::index::MediaError;
use caudal_media::mp4::boxes::{BoxHeader, Child, HeaderRead, moov};

use super::ToolError;

/// Most top-level boxes we list: two per fragment, so 2^21 is a million
/// fragments; more is a hostile file growing our memory.
const MAX_BOXES: usize = 1 << 21;

/// A media file opened for bounded reads.
#[derive(Debug)]
pub(crate) struct MediaFile {
    pub path: PathBuf,
    pub file: File,
    pub len: u64,
}

impl MediaFile {
    pub fn open(path: &Path) -> Result<Self, ToolError> {
        let file = File::open(path).map_err(ToolError::read(path))?;
        let meta = file.metadata().map_err(ToolError::read(path))?;
        if !meta.is_file() {
            return Err(ToolError::Read {
                path: path.to_owned(),
                source: std::io::Error::other("not a regular file"),
            });
        }
        Ok(MediaFile {
            path: path.to_owned(),
            file,
            len: meta.len(),
        })
    }

    /// Up to `len` bytes from `offset` (fewer at the end of the file).
    /// Callers bound `len` by a box size limit before asking.
    pub fn read_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ToolError> {
        let len = len.min(self.len.saturating_sub(offset));
        let mut buf = Vec::new();
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(ToolError::read(&self.path))?;
        (&mut self.file)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(ToolError::read(&self.path))?;
        Ok(buf)
    }

    /// Exactly `len` bytes from `offset`, or a truncation error.
    pub fn read_exact_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ToolError> {
        let buf = self.read_at(offset, len)?;
        if (buf.len() as u64) < len {
            return Err(MediaError::Truncated {
                len: self.len,
                what: "box",
            }
            .into());
        }
        Ok(buf)
    }
}

/// One top-level box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopBox {
    pub header: BoxHeader,
    /// Total size, header included (a size-0 box runs to the end of the file).
    pub size: u64,
}

impl TopBox {
    pub fn kind(&self) -> &[u8; 4] {
        &self.header.kind
    }
    pub fn offset(&self) -> u64 {
        self.header.offset
    }
    pub fn end(&self) -> u64 {
        self.header.offset.saturating_add(self.size)
    }
}

/// The top-level boxes of an ISO BMFF file, in file order.
///
/// Fails with [`ToolError::NotMp4`] when the first box is not one an MP4
/// starts with, and with a truncation error when a box runs past the end.
pub(crate) fn top_level(f: &mut MediaFile) -> Result<Vec<TopBox>, ToolError> {
    let mut boxes: Vec<TopBox> = Vec::new();
    let mut pos = 0u64;
    while pos < f.len {
        if boxes.len() >= MAX_BOXES {
            return Err(MediaError::TooLarge {
                what: "list of top-level boxes",
                limit: MAX_BOXES as u64,
            }
            .into());
        }
        let head = f.read_at(pos, 32)?;
        let header = match BoxHeader::read(&head, pos) {
            Ok(HeaderRead::Complete(h)) => h,
            Ok(HeaderRead::Need(_)) if boxes.is_empty() => return Err(ToolError::NotMp4),
            Ok(HeaderRead::Need(_)) => {
                return Err(MediaError::Truncated {
                    len: f.len,
                    what: "box header",
                }
                .into());
            }
            Err(_) if boxes.is_empty() => return Err(ToolError::NotMp4),
            Err(e) => return Err(e.into()),
        };
        if boxes.is_empty()
            && !matches!(
                &header.kind,
                b"ftyp" | b"styp" | b"free" | b"skip" | b"wide" | b"pdin" | b"moov" | b"mdat"
            )
        {
            return Err(ToolError::NotMp4);
        }
        let size = header.size.unwrap_or(f.len - pos);
        let end = pos.saturating_add(size);
        if end > f.len {
            return Err(MediaError::Truncated {
                len: f.len,
                what: box_name(&header.kind),
            }
            .into());
        }
        boxes.push(TopBox { header, size });
        pos = end;
    }
    if boxes.is_empty() {
        return Err(ToolError::NotMp4);
    }
    Ok(boxes)
}

/// A box's name for error messages.
fn box_name(kind: &[u8; 4]) -> &'static str {
    match kind {
        b"moov" => "'moov' box",
        b"mdat" => "'mdat' box",
        b"moof" => "'moof' box",
        _ => "box",
    }
}

/// The `moov` of a file: its box and its bytes (at most
/// [`moov::MAX_SIZE`]).
#[derive(Debug)]
pub(crate) struct Moov {
    pub top: TopBox,
    pub bytes: Vec<u8>,
}

impl Moov {
    /// Reads the first `moov` among `boxes`.
    pub fn read(f: &mut MediaFile, boxes: &[TopBox]) -> Result<Self, ToolError> {
        let top = *boxes
            .iter()
            .find(|b| b.kind() == b"moov")
            .ok_or(MediaError::Truncated {
                len: f.len,
                what: "'moov' box",
            })?;
        if top.size > moov::MAX_SIZE {
            return Err(MediaError::TooLarge {
                what: "'moov' box",
                limit: moov::MAX_SIZE,
            }
            .into());
        }
        let bytes = f.read_exact_at(top.offset(), top.size)?;
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
    pub fn has_mvex(&self) -> Result<bool, ToolError> {
        Ok(self.child().children()?.find(b"mvex")?.is_some())
    }
}
