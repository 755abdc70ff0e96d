//! What kind of failure ended playback, and the one mapping from a media
//! reader's error to it.

use crate::index::MediaError;

/// What kind of failure ended playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Not a format Caudal can stream, or malformed.
    Format,
    /// The browser cannot play these codecs through MSE.
    Unsupported,
    /// The server refused (4xx) or does not do ranges.
    Http,
    /// The network failed past every retry.
    Network,
    /// The file is shorter than its own index says.
    Truncated,
    /// The browser rejected appended media.
    Decode,
    /// The server refused the media's token (HTTP 403), for good.
    Forbidden,
    /// The media's token expired (or is not valid yet) and no new URL
    /// opened it.
    Expired,
    /// A defect in the player itself (a panic): the shell reports it and
    /// hands the file to the browser.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Format => "format",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Http => "http",
            ErrorCode::Network => "network",
            ErrorCode::Truncated => "truncated",
            ErrorCode::Decode => "decode",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Expired => "expired",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A media error is `truncated` when the file ends early (as this crate or
/// the remuxer module saw it), else `format`.
impl From<&MediaError> for ErrorCode {
    fn from(error: &MediaError) -> Self {
        match error {
            MediaError::Truncated { .. }
            | MediaError::Elsewhere {
                truncated: true, ..
            } => ErrorCode::Truncated,
            _ => ErrorCode::Format,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_ends_early_is_truncated_anything_else_malformed_is_format() {
        let truncated = MediaError::Truncated {
            len: 10,
            what: "index",
        };
        assert_eq!(ErrorCode::from(&truncated), ErrorCode::Truncated);
        let elsewhere = MediaError::Elsewhere {
            truncated: true,
            message: "cut".into(),
        };
        assert_eq!(ErrorCode::from(&elsewhere), ErrorCode::Truncated);
        let other = MediaError::Elsewhere {
            truncated: false,
            message: "bad".into(),
        };
        assert_eq!(ErrorCode::from(&other), ErrorCode::Format);
        assert_eq!(
            ErrorCode::from(&MediaError::UnknownFormat),
            ErrorCode::Format
        );
    }
}
