//! [`TidyStream`]: the tidy reader's [`Repackager`]. It takes the player's
//! run of file bytes (from a Cluster on), holds one Cluster at a time, and
//! answers each as a tidy Cluster ([`Rewriter`]); other top-level elements
//! (Cues, Tags, Void) are skipped by their size without being held.

use super::cluster::Rewriter;
use super::fmp4::Fragmenter;
use crate::index::{MediaError, Repackager};
use crate::webm::ebml::{self, Header};
use crate::webm::elements as id;
use crate::webm::malformed;

/// Largest Cluster held whole. A Cluster is a few seconds of media; 64 MiB
/// is ten seconds at 50 Mbit/s.
pub const MAX_CLUSTER: usize = 64 << 20;

/// The repackager; see the module docs.
#[derive(Debug)]
pub struct TidyStream {
    init: Vec<u8>,
    rewriter: Rewriter,
    /// Writes fragmented MP4 rather than WebM (H.264/AAC in Matroska).
    fmp4: Option<Fragmenter>,
    /// File offset of `held[0]`.
    at: u64,
    held: Vec<u8>,
    /// Bytes still to skip (the rest of an element not held).
    skip: u64,
    /// Where the media ends, when known: ends the last unknown-size Cluster.
    end: Option<u64>,
    /// The unknown-size Cluster being held: its header length.
    open_cluster: Option<usize>,
    /// How far its children were walked (from the held bytes' start), so
    /// that each push walks only what it added.
    walked: usize,
}

impl TidyStream {
    /// `fmp4`: write each Cluster as a fragment (the init is an fMP4 one).
    pub fn new(
        init: Vec<u8>,
        rewriter: Rewriter,
        fmp4: Option<Fragmenter>,
        end: Option<u64>,
    ) -> Self {
        TidyStream {
            init,
            rewriter,
            fmp4,
            at: 0,
            held: Vec::new(),
            skip: 0,
            end,
            open_cluster: None,
            walked: 0,
        }
    }

    /// Consumes what the held bytes complete.
    fn drain(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), MediaError> {
        loop {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(self.held.len());
                self.consume(n);
                self.skip -= n as u64;
                if self.skip > 0 {
                    return Ok(());
                }
            }
            if let Some(header_len) = self.open_cluster {
                if !self.unknown_cluster(header_len, out)? {
                    return Ok(());
                }
                continue;
            }
            let Some(h) = self.header(0)? else {
                return Ok(());
            };
            match (h.id, h.size) {
                // Into the Segment: its children follow.
                (id::SEGMENT, _) => self.consume(h.len),
                (id::CLUSTER, None) => self.open_cluster = Some(h.len),
                (id::CLUSTER, Some(size)) => {
                    let total = usize::try_from(size)
                        .ok()
                        .and_then(|s| s.checked_add(h.len))
                        .filter(|&t| t <= MAX_CLUSTER)
                        .ok_or(MediaError::TooLarge {
                            what: "Cluster",
                            limit: MAX_CLUSTER as u64,
                        })?;
                    let Some(payload) = self.held.get(h.len..total) else {
                        return Ok(());
                    };
                    let at = self.at + h.len as u64;
                    out.push(write(&mut self.rewriter, self.fmp4.as_mut(), payload, at)?);
                    self.consume(total);
                }
                (_, Some(size)) => {
                    self.consume(h.len);
                    self.skip = size;
                }
                (_, None) => {
                    return Err(malformed(
                        self.at,
                        "unknown size on an element that must have one",
                    ));
                }
            }
        }
    }

    /// Walks the children of the unknown-size Cluster held from the start;
    /// true once it ended (the next top-level element, or the media's end)
    /// and was rewritten.
    fn unknown_cluster(
        &mut self,
        header_len: usize,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<bool, MediaError> {
        let mut pos = self.walked.max(header_len);
        let ended = loop {
            let at_end = self.end.is_some_and(|end| self.at + pos as u64 >= end);
            if at_end {
                break true;
            }
            let Some(h) = self.header(pos)? else {
                break false;
            };
            if id::is_top_level(h.id) {
                break true;
            }
            let Some(size) = h.size else {
                return Err(malformed(
                    self.at + pos as u64,
                    "unknown-size element in a Cluster",
                ));
            };
            let next = usize::try_from(size)
                .ok()
                .and_then(|s| s.checked_add(h.len))
                .and_then(|s| s.checked_add(pos))
                .filter(|&n| n <= MAX_CLUSTER)
                .ok_or(MediaError::TooLarge {
                    what: "Cluster",
                    limit: MAX_CLUSTER as u64,
                })?;
            if next > self.held.len() {
                break false;
            }
            pos = next;
        };
        if !ended {
            self.walked = pos;
            if self.held.len() > MAX_CLUSTER {
                return Err(MediaError::TooLarge {
                    what: "Cluster",
                    limit: MAX_CLUSTER as u64,
                });
            }
            return Ok(false);
        }
        let payload = self.held.get(header_len..pos).unwrap_or(&[]);
        let at = self.at + header_len as u64;
        out.push(write(&mut self.rewriter, self.fmp4.as_mut(), payload, at)?);
        self.consume(pos);
        self.open_cluster = None;
        self.walked = 0;
        Ok(true)
    }

    /// The element header at `pos` in the held bytes, if all there.
    fn header(&self, pos: usize) -> Result<Option<Header>, MediaError> {
        ebml::read_header(self.held.get(pos..).unwrap_or(&[]))
            .map_err(|reason| malformed(self.at + pos as u64, reason))
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.held.len());
        self.held.drain(..n);
        self.at += n as u64;
    }
}

/// One Cluster's payload (at file offset `at`), rewritten.
fn write(
    rewriter: &mut Rewriter,
    fmp4: Option<&mut Fragmenter>,
    payload: &[u8],
    at: u64,
) -> Result<Vec<u8>, MediaError> {
    match fmp4 {
        None => rewriter.rewrite(payload, at),
        Some(fragmenter) => {
            let (timecode, frames) = rewriter.frames(payload, at)?;
            Ok(fragmenter.fragment(timecode, &frames))
        }
    }
}

impl Repackager for TidyStream {
    fn init_segment(&self) -> Vec<u8> {
        self.init.clone()
    }

    fn reset(&mut self, offset: u64) {
        self.at = offset;
        self.held.clear();
        self.skip = 0;
        self.open_cluster = None;
        self.walked = 0;
    }

    fn push(&mut self, offset: u64, data: &[u8]) -> Result<Vec<Vec<u8>>, MediaError> {
        let expected = self.at + self.held.len() as u64;
        let data = if offset == expected {
            data
        } else if offset < expected {
            // Bytes already held: only what extends them.
            let overlap = usize::try_from(expected - offset).unwrap_or(usize::MAX);
            data.get(overlap..).unwrap_or(&[])
        } else {
            // A gap: a new run must start at a unit.
            self.reset(offset);
            data
        };
        self.held.extend_from_slice(data);
        let mut out = Vec::new();
        self.drain(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::webm::tidy::write;

    /// An unknown-size Cluster at `timecode` with one keyframe of track 1.
    fn open_cluster(timecode: u8, frame: u8) -> Vec<u8> {
        let mut out = Vec::new();
        write::unknown_size(&mut out, id::CLUSTER);
        write::uint(&mut out, id::CLUSTER_TIMECODE, u64::from(timecode));
        write::element(&mut out, id::SIMPLE_BLOCK, &[0x81, 0, 0, 0x80, frame]);
        out
    }

    #[test]
    fn unknown_size_clusters_end_at_the_next_cluster_or_the_media_end() {
        let file = [open_cluster(0, b'a'), open_cluster(40, b'b')].concat();
        for piece in [1, 5, file.len()] {
            let rewriter = Rewriter::new(1_000_000, vec![1], Vec::new());
            let mut stream = TidyStream::new(Vec::new(), rewriter, None, Some(file.len() as u64));
            stream.reset(0);
            let mut out = Vec::new();
            for (n, chunk) in file.chunks(piece).enumerate() {
                out.extend(stream.push((n * piece) as u64, chunk).unwrap());
            }
            assert_eq!(out.len(), 2, "{piece}-byte pushes");
            for (cluster, frame) in out.iter().zip([b'a', b'b']) {
                let h = crate::webm::ebml::read_header(cluster).unwrap().unwrap();
                assert_eq!(
                    (h.id, h.size),
                    (id::CLUSTER, Some((cluster.len() - h.len) as u64))
                );
                assert_eq!(cluster.last(), Some(&frame));
            }
        }
        // Without a known end, the last one waits for what follows it.
        let rewriter = Rewriter::new(1_000_000, vec![1], Vec::new());
        let mut stream = TidyStream::new(Vec::new(), rewriter, None, None);
        stream.reset(0);
        assert_eq!(stream.push(0, &file).unwrap().len(), 1);
    }
}
