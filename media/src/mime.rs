//! Media types by file extension, for the server's Content-Type and its
//! `/api/media` listing; the player does not use it (it probes the bytes, `probe.rs`).

/// The media type for a file name, by its extension (case-insensitive).
/// Unknown extensions get `application/octet-stream`.
pub fn content_type_for(name: &str) -> &'static str {
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) if !ext.contains('/') => ext.to_ascii_lowercase(),
        _ => return OCTET_STREAM,
    };
    TYPES
        .iter()
        .find(|(known, _)| *known == ext)
        .map_or(OCTET_STREAM, |(_, media_type)| media_type)
}

/// Whether a media type is audio or video (what `/api/media` lists as media).
pub fn is_media(content_type: &str) -> bool {
    content_type.starts_with("video/")
        || content_type.starts_with("audio/")
        || content_type == "application/vnd.apple.mpegurl"
        || content_type == "application/dash+xml"
}

const OCTET_STREAM: &str = "application/octet-stream";

const TYPES: &[(&str, &str)] = &[
    // Video containers.
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("m4s", "video/iso.segment"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("ts", "video/mp2t"),
    ("mov", "video/quicktime"),
    // Audio.
    ("m4a", "audio/mp4"),
    ("weba", "audio/webm"),
    ("mp3", "audio/mpeg"),
    ("aac", "audio/aac"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg; codecs=opus"),
    ("flac", "audio/flac"),
    ("wav", "audio/wav"),
    // Manifests and text tracks.
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("mpd", "application/dash+xml"),
    ("vtt", "text/vtt; charset=utf-8"),
    // The web player's own assets.
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("ico", "image/x-icon"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_media_extension_the_server_promises_has_its_type() {
        let expected = [
            ("a.mp4", "video/mp4"),
            ("a.m4v", "video/mp4"),
            ("a.m4a", "audio/mp4"),
            ("a.m4s", "video/iso.segment"),
            ("a.webm", "video/webm"),
            ("a.weba", "audio/webm"),
            ("a.mkv", "video/x-matroska"),
            ("a.mp3", "audio/mpeg"),
            ("a.aac", "audio/aac"),
            ("a.ogg", "audio/ogg"),
            ("a.oga", "audio/ogg"),
            ("a.opus", "audio/ogg; codecs=opus"),
            ("a.flac", "audio/flac"),
            ("a.wav", "audio/wav"),
            ("a.m3u8", "application/vnd.apple.mpegurl"),
            ("a.mpd", "application/dash+xml"),
            ("a.ts", "video/mp2t"),
            ("a.vtt", "text/vtt; charset=utf-8"),
        ];
        for (name, media_type) in expected {
            assert_eq!(content_type_for(name), media_type, "{name}");
        }
    }

    #[test]
    fn extension_match_is_case_insensitive_and_unknown_is_octet_stream() {
        assert_eq!(content_type_for("CLIP.MP4"), "video/mp4");
        assert_eq!(content_type_for("noext"), OCTET_STREAM);
        assert_eq!(content_type_for("dir.mp4/file"), OCTET_STREAM);
        assert_eq!(content_type_for("a.xyz"), OCTET_STREAM);
    }
}
