//! Who the client is behind reverse proxies: `Forwarded` (RFC 7239) and
//! `X-Forwarded-For`, believed only when the peer is a trusted proxy.
//!
//! The chain is the header's addresses, left to right, then the peer. From
//! the right, trusted proxies are skipped; the first address that is not
//! one is the client. A hop the header cannot name (`for=unknown`, an
//! obfuscated `_name`, garbage) ends the walk with no client address:
//! nothing after it can be told apart from a forgery, so it matches no
//! CIDR and no token `ip=`.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::ip_rules::canonical;

/// One hop named by a proxy header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Ip(IpAddr),
    /// `unknown`, an obfuscated identifier, or a value that is no address.
    Unnamed,
}

/// The headers' hops, left to right: `Forwarded` if any was sent, else
/// `X-Forwarded-For`. Each argument holds every value of its header, in order.
pub fn chain(forwarded: &[&str], x_forwarded_for: &[&str]) -> Vec<Node> {
    if !forwarded.is_empty() {
        forwarded
            .iter()
            .flat_map(|value| forwarded_for(value))
            .collect()
    } else {
        x_forwarded_for
            .iter()
            .flat_map(|value| value.split(','))
            .map(node)
            .collect()
    }
}

/// The client address of a request from `peer` carrying `chain`.
pub fn client(peer: IpAddr, chain: &[Node], trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |addr: IpAddr| {
        let addr = canonical(addr);
        trusted.iter().any(|net| net.contains(&addr))
    };
    let mut current = canonical(peer);
    if !is_trusted(current) {
        return Some(current);
    }
    for hop in chain.iter().rev() {
        match hop {
            Node::Unnamed => return None,
            Node::Ip(addr) => {
                current = canonical(*addr);
                if !is_trusted(current) {
                    return Some(current);
                }
            }
        }
    }
    // Every hop is a trusted proxy: the leftmost is as far as we can see.
    Some(current)
}

/// The `for=` node of each element of one `Forwarded` value
/// (`for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`); an element
/// without `for=` names no hop and is skipped.
pub fn forwarded_for(value: &str) -> Vec<Node> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter_map(|element| {
            split_outside_quotes(element, ';')
                .into_iter()
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .map(|(_, value)| node(&unquote(value.trim())))
        })
        .collect()
}

/// A node: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]`, `[2001:db8::1]:80`
/// or a bare IPv6 address (as X-Forwarded-For sends it).
pub fn node(text: &str) -> Node {
    let text = text.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Node::Ip(addr);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Node::Ip(addr.ip());
    }
    if let Some(inner) = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        && let Ok(addr) = inner.parse::<IpAddr>()
    {
        return Node::Ip(addr);
    }
    Node::Unnamed
}

/// Splits on `separator` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&text[start..at]);
            start = at + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A quoted-string's content (`\x` is `x`); a token as it is.
fn unquote(text: &str) -> String {
    let Some(inner) = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("net")).collect()
    }

    #[test]
    fn forwarded_reads_tokens_quoted_strings_brackets_and_ports() {
        assert_eq!(
            forwarded_for("for=192.0.2.60;proto=http;by=203.0.113.43"),
            vec![Node::Ip(ip("192.0.2.60"))]
        );
        assert_eq!(
            forwarded_for(r#"For="[2001:db8:cafe::17]:4711""#),
            vec![Node::Ip(ip("2001:db8:cafe::17"))]
        );
        assert_eq!(
            forwarded_for(r#"for="192.0.2.43:47011", for=198.51.100.17"#),
            vec![Node::Ip(ip("192.0.2.43")), Node::Ip(ip("198.51.100.17"))]
        );
        assert_eq!(
            forwarded_for(r#"for="[2001:db8::1]""#),
            vec![Node::Ip(ip("2001:db8::1"))]
        );
        assert_eq!(
            forwarded_for(r#"proto=https;host="a,b", for=192.0.2.1"#),
            vec![Node::Ip(ip("192.0.2.1"))]
        );
    }

    #[test]
    fn unknown_and_obfuscated_nodes_name_no_address() {
        assert_eq!(forwarded_for("for=unknown"), vec![Node::Unnamed]);
        assert_eq!(
            forwarded_for(r#"for=_hidden, for="_SEVKISEK:4711""#),
            vec![Node::Unnamed, Node::Unnamed]
        );
        assert_eq!(
            forwarded_for("for=2001:db8::1"),
            vec![Node::Ip(ip("2001:db8::1"))]
        );
        assert_eq!(forwarded_for("proto=http"), vec![]);
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        assert_eq!(
            chain(&["for=192.0.2.1"], &["198.51.100.1"]),
            vec![Node::Ip(ip("192.0.2.1"))]
        );
        assert_eq!(
            chain(&[], &["198.51.100.1, 10.0.0.2", "10.0.0.3"]),
            vec![
                Node::Ip(ip("198.51.100.1")),
                Node::Ip(ip("10.0.0.2")),
                Node::Ip(ip("10.0.0.3"))
            ]
        );
    }

    #[test]
    fn the_client_is_the_rightmost_address_that_is_no_trusted_proxy() {
        let trusted = nets(&["10.0.0.0/8"]);
        let hops = chain(&[], &["203.0.113.5, 198.51.100.9, 10.0.0.2"]);
        assert_eq!(
            client(ip("10.0.0.1"), &hops, &trusted),
            Some(ip("198.51.100.9"))
        );
        // An untrusted peer's header is ignored: it could say anything.
        assert_eq!(
            client(ip("192.0.2.1"), &hops, &trusted),
            Some(ip("192.0.2.1"))
        );
        // Nothing trusted: the peer, whatever the header says.
        assert_eq!(client(ip("10.0.0.1"), &hops, &[]), Some(ip("10.0.0.1")));
        // All proxies: the leftmost.
        let all = chain(&[], &["10.1.1.1"]);
        assert_eq!(client(ip("10.0.0.1"), &all, &trusted), Some(ip("10.1.1.1")));
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(client(ip("10.0.0.1"), &[], &trusted), Some(ip("10.0.0.1")));
    }

    #[test]
    fn an_unnamed_hop_leaves_the_client_unknown() {
        let trusted = nets(&["10.0.0.0/8"]);
        let hops = chain(&["for=198.51.100.9, for=unknown"], &[]);
        assert_eq!(client(ip("10.0.0.1"), &hops, &trusted), None);
        // ...unless an untrusted address stands right of it.
        let hops = chain(&["for=unknown, for=198.51.100.9"], &[]);
        assert_eq!(
            client(ip("10.0.0.1"), &hops, &trusted),
            Some(ip("198.51.100.9"))
        );
    }
}
