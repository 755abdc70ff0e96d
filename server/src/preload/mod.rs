//! Preload hints for the pages that embed the player. A site page whose
//! HTML loads `player.js` from this server is answered with a `Link`
//! header naming the player's main module and the reader modules its
//! media URLs will want (content-hashed names, from the build's
//! [`manifest`]): the browser fetches them as the page's headers arrive,
//! beside `player.js`, instead of after `player.js` has come and run —
//! on a 300 ms link that is a round trip and `player.js`'s own bytes
//! less before the first frame. The names are immutable, so a returning
//! viewer's hints are answered from its cache.
//!
//! `rel=modulepreload` for the JS glue (the loader `import()`s it),
//! `rel=preload; as=fetch; crossorigin=anonymous` for the wasm (the loader
//! `fetch()`es it in CORS mode with same-origin credentials: the hint must
//! match, or the browser fetches it twice).

pub mod manifest;
pub mod page_scan;

pub use manifest::{Manifest, ManifestError};
pub use page_scan::{Loader, PageNeeds, Reader, scan};

/// The `Link` field value for a page with `needs`, the modules named by
/// `manifest`; `None` when the manifest lacks the main module.
pub fn link_value(needs: &PageNeeds, manifest: &Manifest) -> Option<String> {
    let dir = &needs.loader_dir;
    let main = manifest.module("player")?;
    // The loader first: it takes the page's connection, free by then,
    // rather than wait for a new one (a round trip) behind the modules —
    // and it is what starts the file's first request.
    let loader = &needs.loader;
    let mut first = if loader.module {
        format!("<{}>; rel=modulepreload", loader.path)
    } else {
        format!("<{}>; rel=preload; as=script", loader.path)
    };
    if let Some(cors) = loader.cors {
        first.push_str(&format!("; crossorigin={cors}"));
    }
    let readers = needs
        .readers
        .iter()
        .filter_map(|reader| manifest.module(reader.key()));
    let links: Vec<String> = std::iter::once(main)
        .chain(readers)
        .flat_map(|module| {
            [
                format!(
                    "<{dir}pkg/{}>; rel=preload; as=fetch; type=\"application/wasm\"; crossorigin=anonymous",
                    module.wasm
                ),
                format!("<{dir}pkg/{}>; rel=modulepreload", module.js),
            ]
        })
        .collect();
    Some(
        std::iter::once(first)
            .chain(links)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            br#"{"player": {"js": "p.js", "wasm": "p.wasm"},
                 "remux": {"js": "r.js", "wasm": "r.wasm"},
                 "live": {"js": "l.js", "wasm": "l.wasm"}}"#,
        )
        .expect("a manifest")
    }

    #[test]
    fn the_hint_names_the_main_module_then_each_reader_the_page_needs() {
        let needs = PageNeeds {
            loader: Loader {
                path: "/demo/player.js".into(),
                module: false,
                cors: Some("anonymous"),
            },
            loader_dir: "/demo/".into(),
            readers: vec![Reader::Remux, Reader::Webm],
        };
        assert_eq!(
            link_value(&needs, &manifest()).as_deref(),
            Some(
                "</demo/player.js>; rel=preload; as=script; crossorigin=anonymous, \
                 </demo/pkg/p.wasm>; rel=preload; as=fetch; type=\"application/wasm\"; crossorigin=anonymous, \
                 </demo/pkg/p.js>; rel=modulepreload, \
                 </demo/pkg/r.wasm>; rel=preload; as=fetch; type=\"application/wasm\"; crossorigin=anonymous, \
                 </demo/pkg/r.js>; rel=modulepreload"
            ),
            "webm is not in this build's manifest: not hinted"
        );
    }

    #[test]
    fn without_the_main_module_there_is_no_hint() {
        let only_remux = Manifest::default();
        let needs = PageNeeds {
            loader: Loader {
                path: "/player.js".into(),
                module: false,
                cors: None,
            },
            loader_dir: "/".into(),
            readers: vec![],
        };
        assert_eq!(link_value(&needs, &only_remux), None);
    }
}
