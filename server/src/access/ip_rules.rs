//! IP rules: allow and deny lists of CIDRs per URL path prefix, decided on
//! the client address ([`super::forwarded`] finds it behind proxies).
//!
//! Rules are tried in the order given; the first whose prefix covers the
//! path and whose CIDRs contain the client decides. When none matches, a
//! path under the prefix of some `allow` rule is denied (an allow list
//! means "only these"), any other path is open.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::protection::under_prefix;

/// What a rule does to the clients it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

/// One `--allow PREFIX=CIDR[,CIDR]` or `--deny PREFIX=CIDR[,CIDR]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRule {
    pub action: Action,
    /// URL path prefix (starts with `/`), matched at a segment boundary.
    pub prefix: String,
    pub nets: Vec<IpNet>,
}

/// Why a rule could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("`{0}`: write PREFIX=CIDR[,CIDR...], such as /media/=10.0.0.0/8")]
    NoEquals(String),
    #[error("`{0}`: a prefix is a URL path, starting with /")]
    BadPrefix(String),
    #[error("`{0}`: not a CIDR (such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32)")]
    BadCidr(String),
}

/// A CIDR, or a bare address as its own /32 or /128.
pub fn parse_net(text: &str) -> Result<IpNet, RuleError> {
    let text = text.trim();
    IpNet::from_str(text)
        .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
        .map_err(|_| RuleError::BadCidr(text.to_owned()))
}

impl IpRule {
    /// Reads `PREFIX=CIDR[,CIDR...]`.
    pub fn parse(action: Action, text: &str) -> Result<IpRule, RuleError> {
        let (prefix, nets) = text
            .split_once('=')
            .ok_or_else(|| RuleError::NoEquals(text.to_owned()))?;
        IpRule::new(action, prefix, nets.split(','))
    }

    /// A rule from its prefix and CIDR texts.
    pub fn new<'a>(
        action: Action,
        prefix: &str,
        nets: impl IntoIterator<Item = &'a str>,
    ) -> Result<IpRule, RuleError> {
        if !prefix.starts_with('/') {
            return Err(RuleError::BadPrefix(prefix.to_owned()));
        }
        let nets = nets
            .into_iter()
            .map(parse_net)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IpRule {
            action,
            prefix: prefix.to_owned(),
            nets,
        })
    }

    fn covers(&self, path: &str) -> bool {
        under_prefix(path, &self.prefix)
    }

    fn contains(&self, client: IpAddr) -> bool {
        let client = canonical(client);
        self.nets.iter().any(|net| net.contains(&client))
    }
}

impl fmt::Display for IpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.action {
            Action::Allow => "allow",
            Action::Deny => "deny",
        };
        let nets: Vec<String> = self.nets.iter().map(IpNet::to_string).collect();
        write!(f, "{action} {}={}", self.prefix, nets.join(","))
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is its
/// IPv4 address, so IPv4 rules match it.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

/// The rules, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpRules(pub Vec<IpRule>);

impl IpRules {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `client` may fetch `path` (decoded or as sent, both are
    /// tried: a rule covering either form applies). `None` (no address
    /// known) matches no CIDR.
    pub fn allows(&self, path: &str, client: Option<IpAddr>) -> bool {
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let covers = |rule: &IpRule| rule.covers(path) || rule.covers(&decoded);
        for rule in self.0.iter().filter(|rule| covers(rule)) {
            if client.is_some_and(|client| rule.contains(client)) {
                return rule.action == Action::Allow;
            }
        }
        !self
            .0
            .iter()
            .any(|rule| rule.action == Action::Allow && covers(rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(Action, &str)]) -> IpRules {
        IpRules(
            list.iter()
                .map(|(action, text)| IpRule::parse(*action, text).expect("rule"))
                .collect(),
        )
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("ip"))
    }

    #[test]
    fn an_allow_list_admits_only_its_nets_under_its_prefix() {
        let r = rules(&[(Action::Allow, "/media/private=10.0.0.0/8,192.0.2.7")]);
        assert!(r.allows("/media/private/a.mp4", ip("10.1.2.3")));
        assert!(r.allows("/media/private/a.mp4", ip("192.0.2.7")));
        assert!(!r.allows("/media/private/a.mp4", ip("192.0.2.8")));
        assert!(!r.allows("/media/%70rivate/a.mp4", ip("192.0.2.8")));
        assert!(!r.allows("/media/private/a.mp4", None));
        assert!(r.allows("/media/privateer.mp4", ip("192.0.2.8")));
        assert!(r.allows("/media/a.mp4", ip("192.0.2.8")));
    }

    #[test]
    fn a_deny_list_refuses_its_nets_and_lets_others_through() {
        let r = rules(&[(Action::Deny, "/media/=203.0.113.0/24")]);
        assert!(!r.allows("/media/a.mp4", ip("203.0.113.9")));
        assert!(r.allows("/media/a.mp4", ip("198.51.100.1")));
        assert!(r.allows("/index.html", ip("203.0.113.9")));
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let r = rules(&[
            (Action::Deny, "/media/=10.9.0.0/16"),
            (Action::Allow, "/media/=10.0.0.0/8"),
        ]);
        assert!(!r.allows("/media/a.mp4", ip("10.9.1.1")));
        assert!(r.allows("/media/a.mp4", ip("10.8.1.1")));
        assert!(!r.allows("/media/a.mp4", ip("11.0.0.1")));
        let reversed = rules(&[
            (Action::Allow, "/media/=10.0.0.0/8"),
            (Action::Deny, "/media/=10.9.0.0/16"),
        ]);
        assert!(reversed.allows("/media/a.mp4", ip("10.9.1.1")));
    }

    #[test]
    fn ipv6_and_mapped_ipv4_clients_match() {
        let r = rules(&[(Action::Allow, "/=2001:db8::/32,127.0.0.0/8")]);
        assert!(r.allows("/x", ip("2001:db8::1")));
        assert!(r.allows("/x", ip("::ffff:127.0.0.1")));
        assert!(!r.allows("/x", ip("2001:db9::1")));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        assert_eq!(
            IpRule::parse(Action::Allow, "/media/"),
            Err(RuleError::NoEquals("/media/".into()))
        );
        assert_eq!(
            IpRule::parse(Action::Allow, "media=10.0.0.0/8"),
            Err(RuleError::BadPrefix("media".into()))
        );
        assert_eq!(
            IpRule::parse(Action::Deny, "/m=10.0.0.0/33"),
            Err(RuleError::BadCidr("10.0.0.0/33".into()))
        );
    }
}
