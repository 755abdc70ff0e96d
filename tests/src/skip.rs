//! Skipping a test that cannot run here. On a laptop a missing tool
//! (Chromium, chromedriver) skips with a `skipped: ...` line; under CI (`CI`
//! set to anything but empty, `0` or `false`) it fails the test, so a run
//! that checked nothing never reads as green. Being told to skip
//! (`CAUDAL_SKIP_BROWSER=1`, which `cargo xtask test --no-browser` sets) is
//! not a missing tool and skips everywhere.

/// Whether we run under CI, where a missing tool is a failure.
pub fn under_ci() -> bool {
    means_ci(std::env::var("CI").ok().as_deref())
}

/// Skips test `name`, which cannot run because of `why`, with a line on
/// stderr; under CI, panics instead.
pub fn missing_tool(name: &str, why: &str) {
    missing_tool_when(under_ci(), name, why);
}

/// What CI services set `CI` to ("true", "1", a service name) and not what
/// turns it off.
fn means_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn missing_tool_when(ci: bool, name: &str, why: &str) {
    assert!(
        !ci,
        "{name}: {why}; under CI a test whose tool is missing fails"
    );
    crate::say(&format!("skipped: {name}: {why}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_any_value_but_empty_zero_or_false() {
        for on in ["true", "1", "yes", "github"] {
            assert!(means_ci(Some(on)), "{on}");
        }
        for off in [None, Some(""), Some("0"), Some("false"), Some("FALSE")] {
            assert!(!means_ci(off), "{off:?}");
        }
    }

    #[test]
    #[should_panic(expected = "under CI a test whose tool is missing fails")]
    fn a_missing_tool_fails_the_test_under_ci() {
        missing_tool_when(true, "some_test", "chromium not found");
    }

    #[test]
    fn a_missing_tool_skips_elsewhere() {
        missing_tool_when(false, "some_test", "chromium not found");
    }
}
