//! The player's files as a site serves them: each named by a hash of its
//! bytes (so a cache may keep it forever under that name), with brotli and
//! gzip copies beside it (`<name>.br`, `<name>.gz`) that the server picks
//! by `Accept-Encoding`, and the loader stamped with those names.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// 16 lowercase hex digits (64 bits) of the SHA-256 of `bytes`: the server
/// recognises them as `-[0-9a-f]{16}\.` and serves such names immutable.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `<stem>-<hash>.<ext>`, the name of an asset with these bytes.
pub fn hashed_name(stem: &str, ext: &str, bytes: &[u8]) -> String {
    format!("{stem}-{}.{ext}", content_hash(bytes))
}

/// `template` with every `(from, to)` replaced; each `from` must occur, so
/// that a renamed reference fails the build instead of a page.
pub fn stamp(template: &str, names: &[(String, String)]) -> Result<String> {
    let mut out = template.to_owned();
    for (from, to) in names {
        ensure!(
            out.contains(from.as_str()),
            "the loader no longer names {from}"
        );
        out = out.replace(from.as_str(), to);
    }
    Ok(out)
}

/// `bytes` gzipped at the best level.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).context("gzip failed")?;
    encoder.finish().context("gzip failed")
}

/// `bytes` in brotli at its best quality (11) and a 4 MiB window.
pub fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        writer.write_all(bytes).context("brotli failed")?;
        writer.flush().context("brotli failed")?;
    }
    Ok(out)
}

/// The sizes of one asset on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

/// Writes `<path>.br` and `<path>.gz` beside `path`; their sizes.
pub fn compress_beside(path: &Path) -> Result<Sizes> {
    let bytes = fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
    let gz = gzip(&bytes)?;
    let br = brotli(&bytes)?;
    write(&sidecar(path, "gz"), &gz)?;
    write(&sidecar(path, "br"), &br)?;
    Ok(Sizes {
        raw: bytes.len(),
        gzip: gz.len(),
        brotli: br.len(),
    })
}

fn sidecar(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("could not write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_hash_is_sixteen_hex_digits_and_follows_the_bytes() {
        let a = content_hash(b"one");
        assert_eq!(a.len(), 16);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(a, content_hash(b"one"));
        assert_ne!(a, content_hash(b"two"));
        // SHA-256("abc") starts ba7816bf8f01cfea.
        assert_eq!(content_hash(b"abc"), "ba7816bf8f01cfea");
        assert_eq!(
            hashed_name("caudal_player", "wasm", b"abc"),
            "caudal_player-ba7816bf8f01cfea.wasm"
        );
    }

    #[test]
    fn stamping_replaces_every_name_and_refuses_a_missing_one() -> Result<()> {
        let names = [("'pkg/a.js'".to_owned(), "'pkg/a-0123.js'".to_owned())];
        assert_eq!(
            stamp("x('pkg/a.js'); y('pkg/a.js')", &names)?,
            "x('pkg/a-0123.js'); y('pkg/a-0123.js')"
        );
        assert!(stamp("x('pkg/b.js')", &names).is_err());
        Ok(())
    }

    #[test]
    fn the_sidecars_decode_to_the_same_bytes() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("asset.js");
        let bytes: Vec<u8> = (0..20_000_u32)
            .flat_map(|i| format!("let v{i} = {};\n", i % 97).into_bytes())
            .collect();
        write(&path, &bytes)?;
        let sizes = compress_beside(&path)?;
        let gz = fs::read(dir.path().join("asset.js.gz"))?;
        let br = fs::read(dir.path().join("asset.js.br"))?;
        assert_eq!(
            (sizes.raw, sizes.gzip, sizes.brotli),
            (bytes.len(), gz.len(), br.len())
        );
        assert!(
            sizes.brotli < sizes.raw && sizes.gzip < sizes.raw,
            "{sizes:?}"
        );
        let mut from_gz = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut from_gz)?;
        let mut from_br = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut from_br)?;
        assert!(from_gz == bytes, "gzip round trip");
        assert!(from_br == bytes, "brotli round trip");
        Ok(())
    }
}
