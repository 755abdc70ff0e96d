//! The `acl` field of a token: one or more path patterns joined by `!`,
//! where `*` stands for any run of characters, `/` included (so
//! `/media/*` covers every file below `/media/`, at any depth). Every other
//! character matches itself, byte for byte and case-sensitively; there is
//! no `?` or character class. This is the subset of Akamai's ACL syntax
//! that EdgeAuth documents and that CDNs agree on.

/// The delimiter between patterns of one `acl` field (EdgeAuth's default).
pub const ACL_DELIMITER: char = '!';

/// Whether `path` is covered by any pattern of `acl` (patterns joined by `!`).
pub fn allows(acl: &str, path: &str) -> bool {
    acl.split(ACL_DELIMITER)
        .any(|pattern| !pattern.is_empty() && matches(pattern, path))
}

/// Whether one `*` pattern covers the whole of `path`.
///
/// The classic greedy match with one backtrack point (the last `*` seen):
/// linear in practice, at worst `pattern.len() * path.len()` steps, never
/// recursive, so a hostile pattern cannot blow the stack or loop.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.as_bytes();
    let path = path.as_bytes();
    let (mut p, mut s) = (0usize, 0usize);
    // After the last `*`: where the pattern resumes, and where in the path
    // that `*` stopped swallowing.
    let mut star: Option<(usize, usize)> = None;
    while s < path.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, s));
                p += 1;
            }
            Some(&c) if path.get(s) == Some(&c) => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((resume, swallowed)) => {
                    star = Some((resume, swallowed + 1));
                    p = resume;
                    s = swallowed + 1;
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_covers_any_characters_across_slashes() {
        assert!(matches("/media/*", "/media/a.mp4"));
        assert!(matches("/media/*", "/media/deep/er/a.mp4"));
        assert!(matches("/media/*", "/media/"));
        assert!(matches("*", "/anything"));
        assert!(matches("/media/*.mp4", "/media/x/y.mp4"));
        assert!(matches("/a*b*c", "/aXXbYYc"));
    }

    #[test]
    fn everything_else_matches_exactly_and_wholly() {
        assert!(matches("/media/a.mp4", "/media/a.mp4"));
        assert!(!matches("/media/a.mp4", "/media/a.mp4x"));
        assert!(!matches("/media/a.mp4", "/Media/a.mp4"));
        assert!(!matches("/media/*", "/other/a.mp4"));
        assert!(!matches("/media/*", "/media"));
        assert!(!matches("/media/*.mp4", "/media/a.webm"));
        assert!(!matches("", "/"));
    }

    #[test]
    fn any_pattern_of_a_list_may_allow() {
        assert!(allows("/a/*!/b/*", "/b/x"));
        assert!(allows("/a/*!/b/*", "/a/x"));
        assert!(!allows("/a/*!/b/*", "/c/x"));
        assert!(!allows("!", "/c/x"));
    }

    #[test]
    fn hostile_patterns_finish_quickly() {
        let pattern = "*a".repeat(200) + "b";
        let path = "a".repeat(4000);
        assert!(!matches(&pattern, &path));
    }
}
