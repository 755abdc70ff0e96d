//! What a site page needs of the player, read from its HTML: whether it
//! loads `player.js` from this server (and from where, since the loader
//! finds its modules beside itself), and which reader modules the media
//! URLs it names will want — by the same extensions the loader goes by.
//! Pure; a page it cannot be sure of (a `<base>`, a loader on another
//! origin) gets no hints, never wrong ones.

/// The most of a page that is read: the script tag and the media URLs of
/// a page that embeds a player come early.
pub const SCAN_LIMIT: usize = 256 * 1024;

/// A reader module of the player, loaded by the format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reader {
    /// Plain MP4: the remuxer (also what the loader picks for any `.mp4`).
    Remux,
    Fmp4,
    Webm,
    Mp3,
    /// A live stream of `caudal serve` (`/live/NAME`).
    Live,
}

impl Reader {
    /// Its key in `pkg/manifest.json`.
    pub fn key(self) -> &'static str {
        match self {
            Reader::Remux => "remux",
            Reader::Fmp4 => "fmp4",
            Reader::Webm => "webm",
            Reader::Mp3 => "mp3",
            Reader::Live => "live",
        }
    }

    /// The reader the loader picks for a file of this extension
    /// (`formatOf` in `www/player.js`).
    fn of_extension(ext: &str) -> Option<Reader> {
        match ext.to_ascii_lowercase().as_str() {
            "mp4" | "m4v" | "m4a" | "mov" | "3gp" => Some(Reader::Remux),
            "cmfv" | "cmfa" => Some(Reader::Fmp4),
            "webm" | "mkv" | "mka" | "weba" => Some(Reader::Webm),
            "mp3" => Some(Reader::Mp3),
            _ => None,
        }
    }
}

/// What a page that embeds the player needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageNeeds {
    /// The loader (`player.js`) as the page's script tag asks for it.
    pub loader: Loader,
    /// The loader's directory on this server, ending in `/`: its modules
    /// are under `{loader_dir}pkg/`.
    pub loader_dir: String,
    /// The readers its media URLs name, each once, in [`Reader`] order.
    pub readers: Vec<Reader>,
}

/// The page's `<script>` for the loader: a hint for it must ask for it
/// the same way, or the browser fetches it twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loader {
    /// Its path on this server.
    pub path: String,
    /// `type=module`.
    pub module: bool,
    /// Its `crossorigin` attribute: `anonymous` or `use-credentials`.
    pub cors: Option<&'static str>,
}

/// Reads `html`, served at `page_path` (the URL path, from `/`). `None`
/// when the page does not load `player.js` from this origin, or its URLs
/// cannot be resolved with certainty.
pub fn scan(html: &[u8], page_path: &str) -> Option<PageNeeds> {
    let html = &html[..html.len().min(SCAN_LIMIT)];
    let text = String::from_utf8_lossy(html);
    let lower = text.to_ascii_lowercase();
    // A <base> moves every relative URL: the loader's place is unsure.
    if tag_starts(&lower, "<base").next().is_some() {
        return None;
    }
    let loader = tag_starts(&lower, "<script").find_map(|at| {
        let tag = &text[at..];
        let tag = &tag[..tag.find('>')?];
        let src = attribute(tag, "src")?;
        let path = same_origin_path(&src, page_path).filter(|p| is_loader(p))?;
        let module = attribute(tag, "type").is_some_and(|t| t.eq_ignore_ascii_case("module"));
        let cors = attribute(tag, "crossorigin").map(|c| {
            if c.eq_ignore_ascii_case("use-credentials") {
                "use-credentials"
            } else {
                "anonymous"
            }
        });
        Some(Loader { path, module, cors })
    })?;
    let loader_dir = loader.path[..=loader.path.rfind('/')?].to_owned();
    if !loader.path.bytes().all(url_safe) {
        return None;
    }
    Some(PageNeeds {
        loader,
        loader_dir,
        readers: readers_named(&lower),
    })
}

/// Where each `<name` tag begins (`name` lowercase, followed by a space,
/// `>` or `/`), in `lower`.
fn tag_starts<'a>(lower: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
    lower.match_indices(name).filter_map(move |(at, _)| {
        let next = lower.as_bytes().get(at + name.len()).copied()?;
        (next.is_ascii_whitespace() || next == b'>' || next == b'/').then_some(at)
    })
}

/// The value of attribute `name` in `tag` (`<script …`, without its `>`),
/// quoted or not, with the common character references undone.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let bytes = tag.as_bytes();
    let mut i = tag.find(|c: char| c.is_ascii_whitespace())?;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"=/".contains(&bytes[i]) {
            i += 1;
        }
        let key = &tag[start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            if key.is_empty() {
                return None;
            }
            if key.eq_ignore_ascii_case(name) {
                return Some(String::new()); // a bare attribute (`crossorigin`)
            }
            continue; // another bare attribute (`async`, `defer`)
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let end = tag[i + 1..].find(quote as char)? + i + 1;
                let value = &tag[i + 1..end];
                i = end + 1;
                value
            }
            _ => {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &tag[start..i]
            }
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(
                value
                    .trim()
                    .replace("&amp;", "&")
                    .replace("&#47;", "/")
                    .replace("&sol;", "/"),
            );
        }
    }
    None
}

/// `src` as a path on this origin, resolved against `page_path`; `None`
/// for another origin (a scheme, `//host`) or a path that climbs out.
fn same_origin_path(src: &str, page_path: &str) -> Option<String> {
    let src = src.split(['?', '#']).next()?;
    if src.is_empty() || src.starts_with("//") || src.contains('\\') || has_scheme(src) {
        return None;
    }
    let joined = if src.starts_with('/') {
        src.to_owned()
    } else {
        let dir = &page_path[..=page_path.rfind('/')?];
        format!("{dir}{src}")
    };
    let mut segments: Vec<&str> = Vec::new();
    let mut rest = joined.split('/').skip(1).peekable();
    while let Some(segment) = rest.next() {
        match segment {
            "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
        // A trailing `.`/`..` names a directory.
        if rest.peek().is_none() && matches!(segment, "." | "..") {
            segments.push("");
        }
    }
    Some(format!("/{}", segments.join("/")))
}

fn has_scheme(src: &str) -> bool {
    match src.find(':') {
        Some(colon) => {
            let scheme = &src[..colon];
            !scheme.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// The loader is `player.js` (the name `caudal serve` gives it).
fn is_loader(path: &str) -> bool {
    path.rsplit('/').next() == Some("player.js")
}

/// Characters a hint's URL may carry as they are.
fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"/._~-%".contains(&b)
}

/// The readers the media URLs in the page name: a file name with one of
/// the loader's extensions where a URL ends (a quote, `?`, `#`, a space,
/// `<`, `)`, `,`), and `/live/NAME` likewise.
fn readers_named(lower: &str) -> Vec<Reader> {
    let bytes = lower.as_bytes();
    let ends_url = |at: usize| {
        bytes
            .get(at)
            .is_none_or(|b| b"\"'`?#<),&;".contains(b) || b.is_ascii_whitespace())
    };
    let name_char = |b: u8| b.is_ascii_alphanumeric() || b"-_%".contains(&b);
    let mut readers = Vec::new();
    for (dot, _) in lower.match_indices('.') {
        if dot == 0 || !name_char(bytes[dot - 1]) {
            continue;
        }
        let ext_len = bytes[dot + 1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if ext_len == 0 || ext_len > 4 || !ends_url(dot + 1 + ext_len) {
            continue;
        }
        if let Some(reader) = Reader::of_extension(&lower[dot + 1..dot + 1 + ext_len]) {
            readers.push(reader);
        }
    }
    for (at, found) in lower.match_indices("/live/") {
        let name = bytes[at + found.len()..]
            .iter()
            .take_while(|&&b| name_char(b))
            .count();
        if name > 0 && ends_url(at + found.len() + name) {
            readers.push(Reader::Live);
        }
    }
    readers.sort();
    readers.dedup();
    readers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(html: &str, page: &str) -> Option<PageNeeds> {
        scan(html.as_bytes(), page)
    }

    #[test]
    fn a_page_loading_player_js_from_the_root_needs_the_player_and_its_files_readers() {
        let page = r#"<!doctype html><video id=v></video>
            <script src="/player.js"></script>
            <script>Caudal.attach(v, '/media/talk.mp4?x=1');</script>"#;
        let n = needs(page, "/index.html").expect("embeds the player");
        assert_eq!(n.loader_dir, "/");
        assert_eq!(
            n.loader,
            Loader {
                path: "/player.js".into(),
                module: false,
                cors: None
            }
        );
        assert_eq!(n.readers, [Reader::Remux]);
    }

    #[test]
    fn relative_and_unquoted_script_sources_resolve_against_the_page() {
        let n = needs("<SCRIPT defer src=../player.js>", "/demo/a/page.html").expect("found");
        assert_eq!(n.loader_dir, "/demo/");
        let n = needs("<script src='player.js?v=2'></script>", "/x/p.html").expect("found");
        assert_eq!(n.loader_dir, "/x/");
        let n = needs("<script type=module\n src = \"./player.js\">", "/p").expect("found");
        assert_eq!(n.loader_dir, "/");
        assert!(n.loader.module);
    }

    #[test]
    fn the_loaders_crossorigin_attribute_is_kept() {
        let cors = |html: &str| needs(html, "/").expect("found").loader.cors;
        assert_eq!(
            cors("<script src=/player.js crossorigin></script>"),
            Some("anonymous")
        );
        assert_eq!(
            cors("<script crossorigin=\"\" src=/player.js>"),
            Some("anonymous")
        );
        assert_eq!(
            cors("<script src=/player.js crossorigin=use-credentials>"),
            Some("use-credentials")
        );
        assert_eq!(cors("<script async src=/player.js>"), None);
    }

    #[test]
    fn a_loader_elsewhere_or_unsure_gets_no_hints() {
        for page in [
            "<script src=\"https://cdn.example/player.js\"></script>",
            "<script src=\"//cdn.example/player.js\"></script>",
            "<script src=\"/js/other.js\"></script>",
            "<p>player.js</p>",
            "<base href=/x/><script src=player.js></script>",
            "<script src=\"../../player.js\"></script>",
        ] {
            assert_eq!(needs(page, "/a.html"), None, "{page}");
        }
    }

    #[test]
    fn media_urls_name_their_readers_by_the_loaders_extensions() {
        let page = "<script src=/player.js></script>
            <a href=\"/media/a.WEBM\">a</a> '/media/b.mp3#t=1' \"c.cmfv\" `/live/cam`
            /media/d.mp4, e.m4a) not.mp4x .mp4 video.mp4.html /live/ /live/x.m3u8";
        let n = needs(page, "/").expect("found");
        assert_eq!(
            n.readers,
            [
                Reader::Remux,
                Reader::Fmp4,
                Reader::Webm,
                Reader::Mp3,
                Reader::Live
            ]
        );
        let n = needs("<script src=/player.js></script> no media", "/").expect("found");
        assert!(n.readers.is_empty());
    }

    #[test]
    fn a_loader_path_with_characters_a_link_cannot_carry_is_not_hinted() {
        assert_eq!(needs("<script src=\"/a,b/player.js\">", "/"), None);
        assert_eq!(needs("<script src=\"/a b/player.js\">", "/"), None);
    }

    #[test]
    fn only_the_first_quarter_mebibyte_is_read() {
        let mut page = "x".repeat(SCAN_LIMIT);
        page.push_str("<script src=/player.js></script>");
        assert_eq!(needs(&page, "/"), None);
    }
}
