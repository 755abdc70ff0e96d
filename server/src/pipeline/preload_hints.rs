//! The preload-hints stage (site pages only): a `Link` header on an HTML
//! page that embeds the player, naming the modules it is about to load
//! ([`crate::preload`]). Each page version is read once (its first
//! 256 KiB) and its hint kept, keyed by the page's and the manifest's
//! identities, so a rebuilt player or an edited page is seen at once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::BytesMut;
use http::header::HeaderValue;

use super::path_safety;
use crate::body::ByteSource;
use crate::body::file::OpenFile;
use crate::body::file_cache::FileCache;
use crate::engine::validators::FileIdentity;
use crate::preload::{self, Manifest, manifest, page_scan};
use crate::safe_path::Root;

/// Pages whose hint is kept.
const PAGES: usize = 256;

type PageKey = (PathBuf, FileIdentity, FileIdentity);

/// The hints of the site's pages; `None` when hints are off.
#[derive(Debug)]
pub struct PreloadHints {
    pages: quick_cache::sync::Cache<PageKey, Option<HeaderValue>>,
    /// The manifest as last read, by its file's identity (`None`: it did
    /// not parse, logged once per version).
    manifest: Mutex<Option<(FileIdentity, Option<Arc<Manifest>>)>>,
}

impl Default for PreloadHints {
    fn default() -> Self {
        PreloadHints {
            pages: quick_cache::sync::Cache::new(PAGES),
            manifest: Mutex::new(None),
        }
    }
}

impl PreloadHints {
    /// The `Link` value for the page `page` (its path under the site root,
    /// as requested) opened as `file`; `None` when it embeds no player of
    /// this server's, or the player is not built.
    pub fn hint(
        &self,
        root: &Root,
        files: &FileCache,
        page: &str,
        file: &OpenFile,
    ) -> Option<HeaderValue> {
        let (manifest_id, manifest) = self.manifest(root, files)?;
        let key = (PathBuf::from(page), *file.identity(), manifest_id);
        if let Some(hint) = self.pages.get(&key) {
            return hint;
        }
        let hint = read_page(file)
            .and_then(|html| page_scan::scan(&html, &format!("/{page}")))
            .and_then(|needs| preload::link_value(&needs, &manifest))
            .and_then(|value| HeaderValue::try_from(value).ok());
        self.pages.insert(key, hint.clone());
        hint
    }

    /// The build's manifest and its identity, read again when it changed.
    fn manifest(&self, root: &Root, files: &FileCache) -> Option<(FileIdentity, Arc<Manifest>)> {
        let (_, file) = path_safety::open(root, files, manifest::PATH).ok()?;
        let id = *file.identity();
        let mut held = self.manifest.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((held_id, parsed)) = held.as_ref()
            && *held_id == id
        {
            return parsed.clone().map(|m| (id, m));
        }
        let parsed = read_manifest(&file).map(Arc::new);
        *held = Some((id, parsed.clone()));
        parsed.map(|m| (id, m))
    }
}

fn read_page(file: &OpenFile) -> Option<BytesMut> {
    let len = usize::try_from(file.len())
        .unwrap_or(usize::MAX)
        .min(page_scan::SCAN_LIMIT);
    let mut buf = BytesMut::with_capacity(len);
    file.read_into(0, len, &mut buf).ok()?;
    Some(buf)
}

fn read_manifest(file: &OpenFile) -> Option<Manifest> {
    if file.len() > manifest::MAX_BYTES {
        tracing::warn!(target: "caudal::preload", "{} is over {} bytes: no preload hints", manifest::PATH, manifest::MAX_BYTES);
        return None;
    }
    let mut buf = BytesMut::new();
    // `len` fits: it is at most MAX_BYTES.
    let len = file.len() as usize;
    if let Err(error) = file.read_into(0, len, &mut buf) {
        tracing::warn!(target: "caudal::preload", %error, "could not read {}", manifest::PATH);
        return None;
    }
    Manifest::parse(&buf)
        .inspect_err(|error| tracing::warn!(target: "caudal::preload", %error, "no preload hints"))
        .ok()
}
