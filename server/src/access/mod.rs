//! Access control: signed tokens in Akamai's Auth Token 2.0 format, the
//! one CDN edges (and EdgeAuth, Akamai's open-source token libraries)
//! already make and check, so a token made for Caudal also opens the CDN
//! in front of it, and the reverse.
//!
//! Sans-I/O: the time and the client address are passed in, keys are
//! values. [`token`] reads a token, [`carrier`] finds it in a request, [`verify`] decides on it, [`sign`]
//! makes one, [`protection`] says which requests need one; [`keys`] holds the key sets (rotation), [`acl`] the path
//! patterns, [`signature`] the HMAC, [`escape`] EdgeAuth's `escape_early`;
//! [`ip_rules`] the allow/deny lists, [`cookie_grant`] the
//! query-token-to-cookie exchange, [`forwarded`] the client behind proxies.

pub mod acl;
pub mod carrier;
pub mod cookie_grant;
pub mod escape;
pub mod forwarded;
pub mod ip_rules;
pub mod keys;
pub mod protection;
pub mod sign;
pub mod signature;
pub mod token;
pub mod verify;

pub use ip_rules::{Action, IpRule, IpRules};
pub use keys::{Key, KeyError, KeySet};
pub use protection::{Decision, Offered, Protection};
pub use sign::{Fields, Options, Scope};
pub use signature::Algorithm;
pub use token::{Malformed, Token};
pub use verify::{Grant, Refusal, Request, Verifier};
