//! Just enough TypeScript declaration reading to compare `www/player.d.ts`
//! with the runtime API: identifiers outside comments, and the members of the
//! type `stats()` returns.

use anyhow::{Result, anyhow, bail};

/// The text without `//` and `/* */` comments (string literals are kept).
pub fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut start = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\'' | b'`' => {
                quote = Some(c);
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                out.push_str(&src[start..i]);
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                start = i;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.push_str(&src[start..i]);
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i = (i + 2).min(b.len());
                out.push(' ');
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&src[start.min(src.len())..]);
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

/// Whether `name` occurs in `code` as a whole identifier (or quoted key).
pub fn mentions(code: &str, name: &str) -> bool {
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(pos) = code[from..].find(name) {
        let at = from + pos;
        let end = at + name.len();
        let before = at.checked_sub(1).map(|i| b[i]);
        let after = b.get(end).copied();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// The `{ ... }` block starting at the first `{` at or after `from`.
fn brace_block(code: &str, from: usize) -> Option<&str> {
    let open = from + code[from..].find('{')?;
    let mut depth = 0usize;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&code[open + 1..open + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Member names at the top level of an object type body.
pub fn members(block: &str) -> Vec<String> {
    let b = block.as_bytes();
    let mut names = Vec::new();
    let mut depth = 0i32;
    let mut i = 0;
    let mut expect_name = true;
    while i < b.len() {
        let c = b[i];
        match c {
            b'{' | b'(' | b'[' | b'<' => {
                depth += 1;
                i += 1;
            }
            b'>' if i > 0 && b[i - 1] == b'=' => i += 1, // `=>` of a function type
            b'}' | b')' | b']' | b'>' => {
                depth -= 1;
                i += 1;
            }
            b';' | b',' | b'\n' if depth == 0 => {
                expect_name = true;
                i += 1;
            }
            _ if depth == 0 && expect_name && (is_ident(c) || c == b'"' || c == b'\'') => {
                let (name, next) = if c == b'"' || c == b'\'' {
                    let end = block[i + 1..]
                        .find(c as char)
                        .map_or(b.len(), |e| i + 1 + e);
                    (&block[i + 1..end], (end + 1).min(b.len()))
                } else {
                    let mut j = i;
                    while j < b.len() && is_ident(b[j]) {
                        j += 1;
                    }
                    (&block[i..j], j)
                };
                i = next;
                if name == "readonly" {
                    continue;
                }
                let rest = block[i..].trim_start();
                if rest.starts_with(':') || rest.starts_with('?') || rest.starts_with('(') {
                    names.push(name.to_owned());
                    expect_name = false;
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The member names of the type that `stats()` returns in the d.ts.
pub fn stats_keys(dts: &str) -> Result<Vec<String>> {
    let code = strip_comments(dts);
    let at =
        find_ident(&code, "stats").ok_or_else(|| anyhow!("no `stats` member in player.d.ts"))?;
    let after = &code[at + "stats".len()..];
    let close = after
        .find(')')
        .ok_or_else(|| anyhow!("`stats` in player.d.ts is not a method"))?;
    let ret = after[close + 1..].trim_start();
    let ret = ret
        .strip_prefix(':')
        .ok_or_else(|| anyhow!("`stats()` in player.d.ts has no return type"))?
        .trim_start();
    if ret.starts_with('{') {
        let start = code.len() - ret.len();
        let block = brace_block(&code, start).ok_or_else(|| anyhow!("unclosed stats type"))?;
        return Ok(members(block));
    }
    let name: String = ret
        .bytes()
        .take_while(|&c| is_ident(c))
        .map(char::from)
        .collect();
    if name.is_empty() {
        bail!("cannot read the return type of `stats()` in player.d.ts");
    }
    interface_keys(&code, &name).map_err(|_| {
        anyhow!(
            "`stats()` returns `{name}`, but player.d.ts declares no interface or type `{name}`"
        )
    })
}

/// The member names of the interface (or type) `name` in the d.ts.
pub fn interface_keys(dts: &str, name: &str) -> Result<Vec<String>> {
    let code = strip_comments(dts);
    for decl in [format!("interface {name}"), format!("type {name}")] {
        let mut from = 0;
        while let Some(pos) = code[from..].find(&decl) {
            let at = from + pos;
            let end = at + decl.len();
            if !code.as_bytes().get(end).copied().is_some_and(is_ident)
                && let Some(block) = brace_block(&code, end)
            {
                return Ok(members(block));
            }
            from = end;
        }
    }
    bail!("player.d.ts declares no interface or type `{name}`")
}

fn find_ident(code: &str, name: &str) -> Option<usize> {
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(pos) = code[from..].find(name) {
        let at = from + pos;
        let end = at + name.len();
        let before = at.checked_sub(1).map(|i| b[i]);
        if !before.is_some_and(is_ident)
            && !b.get(end).copied().is_some_and(is_ident)
            && code[end..].trim_start().starts_with('(')
        {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DTS: &str = r#"
/** The player. stats is documented here: stats(): Nope */
export interface Player {
  /** A snapshot. */
  stats(): PlayerStats;
  destroy(): void;
}
// bytesFetched would be a false hit in a comment
export interface PlayerStats {
  readonly mode: "mse" | "native";
  state: State;
  startupMs: number | null;
  buffered?: Array<[number, number]>;
  nested: { inner: number; other: string };
  "quoted-key": number
  onStall?: (detail: { position: number }) => void;
  throughput: number | null,
}
"#;

    #[test]
    fn reads_the_stats_interface() {
        let keys = stats_keys(DTS).expect("keys");
        assert_eq!(
            keys,
            [
                "mode",
                "state",
                "startupMs",
                "buffered",
                "nested",
                "quoted-key",
                "onStall",
                "throughput"
            ]
        );
    }

    #[test]
    fn reads_an_inline_stats_type() {
        let keys =
            stats_keys("declare class P { stats(): { a: number; b?: string } }").expect("keys");
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn mentions_ignores_comments_and_substrings() {
        let code = strip_comments(DTS);
        assert!(mentions(&code, "destroy"));
        assert!(mentions(&code, "quoted-key"));
        assert!(!mentions(&code, "bytesFetched"));
        assert!(!mentions(&code, "stat"));
    }
}
