//! QuickTime sound descriptions made ISO: what an MSE init segment needs.
//!
//! QuickTime `.mov` files (GStreamer's `qtmux`, mediabunny, cameras) write
//! an audio sample entry of version 1: sixteen more bytes of fields after
//! the ISO ones (samples per packet, bytes per packet, per frame, per
//! sample), and the `esds` inside a `wave` box with `frma` and a
//! terminator. Native playback reads it; Chromium's MSE refuses it (a
//! `SourceBuffer` error on the init segment). The same entry as ISO 14496-12
//! §12.2.3 writes it: version 0, the `esds` (or other decoder configuration)
//! a direct child, QuickTime-only boxes left out.

use super::{BoxHeader, HeaderRead};

/// Bytes of an AudioSampleEntry's fields (reserved, data_reference_index,
/// version, revision, vendor, channels, sample size, compression id, packet
/// size, sample rate) before its children or a QuickTime extension.
const ISO_FIELDS: usize = 28;
/// What QuickTime version 1 adds after them.
const V1_EXTENSION: usize = 16;

/// `entry` (a whole sample entry box) as an ISO version-0 entry when it is
/// a QuickTime version-1 sound description; `None` when it is not one, or
/// when it cannot be read (the caller keeps it as it is).
pub fn iso_sound_entry(entry: &[u8]) -> Option<Vec<u8>> {
    let HeaderRead::Complete(header) = BoxHeader::read(entry, 0).ok()? else {
        return None;
    };
    let payload = entry.get(usize::from(header.header_len)..)?;
    let version = u16::from_be_bytes([*payload.get(8)?, *payload.get(9)?]);
    if version != 1 {
        return None;
    }
    let mut fields = payload.get(..ISO_FIELDS)?.to_vec();
    // Version, revision level and vendor, and QuickTime's compression id
    // and packet size (ISO's pre_defined and reserved): 0 in ISO files.
    fields[8..16].fill(0);
    fields[20..24].fill(0);
    let mut children = Vec::new();
    for (kind, bytes) in boxes(payload.get(ISO_FIELDS + V1_EXTENSION..)?)? {
        match &kind {
            // The decoder configuration sits in `wave` next to QuickTime's
            // `frma`, `mp4a` and terminator: only it comes out.
            b"wave" => {
                for (inner, config) in boxes(bytes.get(8..)?)? {
                    if matches!(&inner, b"esds" | b"dOps" | b"dfLa" | b"dac3" | b"dec3") {
                        children.extend_from_slice(config);
                    }
                }
            }
            // QuickTime's channel layout has no place in an ISO entry.
            b"chan" => {}
            _ => children.extend_from_slice(bytes),
        }
    }
    let size = u32::try_from(8 + fields.len() + children.len()).ok()?;
    let mut out = Vec::with_capacity(size as usize);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&header.kind);
    out.extend_from_slice(&fields);
    out.extend_from_slice(&children);
    Some(out)
}

/// The boxes `bytes` holds end to end, each as its type and its whole
/// bytes; `None` when one does not fit. A zero-size box ends the list (the
/// terminator QuickTime writes in `wave`).
fn boxes(mut bytes: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
    let mut out = Vec::new();
    while bytes.len() >= 8 {
        let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if size == 0 {
            break;
        }
        if size < 8 || size > bytes.len() {
            return None;
        }
        out.push(([bytes[4], bytes[5], bytes[6], bytes[7]], &bytes[..size]));
        bytes = &bytes[size..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    /// An `mp4a` entry of `version` with `children` after its fields.
    fn mp4a(version: u16, children: &[u8]) -> Vec<u8> {
        let mut fields = vec![0u8; ISO_FIELDS];
        fields[7] = 1; // data_reference_index
        fields[8..10].copy_from_slice(&version.to_be_bytes());
        fields[12..16].copy_from_slice(b"appl");
        fields[17] = 2; // channels
        fields[19] = 16; // sample size
        fields[24..26].copy_from_slice(&44_100u16.to_be_bytes());
        if version == 1 {
            fields.extend_from_slice(&[0, 0, 4, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2]);
        }
        fields.extend_from_slice(children);
        boxed(b"mp4a", &fields)
    }

    #[test]
    fn a_version_1_description_with_esds_in_wave_becomes_iso() {
        let esds = boxed(b"esds", &[0, 0, 0, 0, 3, 25, 0, 1, 0]);
        let frma = boxed(b"frma", b"mp4a");
        let wave = boxed(
            b"wave",
            &[frma, boxed(b"mp4a", &[0; 4]), esds.clone(), vec![0; 8]].concat(),
        );
        let chan = boxed(b"chan", &[0; 12]);
        let qt = mp4a(1, &[wave, chan].concat());
        let iso = iso_sound_entry(&qt).expect("rewritten");
        let mut want = mp4a(0, &esds);
        want[8 + 12..8 + 16].fill(0); // no vendor
        assert_eq!(iso, want);
    }

    #[test]
    fn iso_entries_and_broken_ones_are_left_alone() {
        let esds = boxed(b"esds", &[0; 9]);
        assert_eq!(iso_sound_entry(&mp4a(0, &esds)), None);
        // A child that claims more bytes than there are.
        let mut broken = mp4a(1, &esds);
        let at = 8 + ISO_FIELDS + V1_EXTENSION;
        broken[at..at + 4].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(iso_sound_entry(&broken), None);
        assert_eq!(iso_sound_entry(&[0, 0, 0, 8]), None);
        assert_eq!(iso_sound_entry(&[]), None);
    }
}
