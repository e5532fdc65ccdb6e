//! Reaching the app by a Route 53 name: the `app.route53` section and its resolver.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The app's Route 53 name and the resolver the prober asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route53App {
    /// The DNS name clients use, e.g. `app.example.com` (a trailing dot is allowed).
    pub name: String,
    /// Which DNS server resolves it: `local` (the local stack's DNS server; the default for
    /// a `local` target), `system` (this machine's resolver configuration; the default for
    /// an `aws` target) or `IP:PORT` of a DNS server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<ResolverSpec>,
    /// The port probes go to (1-65535); default: the listener port of `app.load_balancer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
}

impl Route53App {
    /// The name without a trailing dot, lower-cased.
    pub fn host(&self) -> String {
        self.name.trim_end_matches('.').to_ascii_lowercase()
    }
}

/// Which DNS server resolves the app's name. Written as `local`, `system` or `IP:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub enum ResolverSpec {
    /// The local stack's DNS server (only with a `local` target).
    Local,
    /// This machine's resolver configuration (`/etc/resolv.conf`).
    System,
    /// This DNS server (UDP, falling back to TCP).
    Address(SocketAddr),
}

/// A resolver value that is none of `local`, `system` or `IP:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a resolver: use local, system or IP:PORT (e.g. 10.0.0.2:53)")]
pub struct ResolverParseError(String);

impl FromStr for ResolverSpec {
    type Err = ResolverParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "local" => Ok(Self::Local),
            "system" => Ok(Self::System),
            other => other
                .parse::<SocketAddr>()
                .map(Self::Address)
                .map_err(|_| ResolverParseError(s.to_owned())),
        }
    }
}

impl TryFrom<String> for ResolverSpec {
    type Error = ResolverParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ResolverSpec> for String {
    fn from(spec: ResolverSpec) -> Self {
        spec.to_string()
    }
}

impl fmt::Display for ResolverSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::System => f.write_str("system"),
            Self::Address(addr) => write!(f, "{addr}"),
        }
    }
}

/// Why a DNS name is not usable, or `None` when it is: 1 to 253 characters, at least two
/// labels, each 1 to 63 letters, digits or `-`, not starting or ending with `-`.
pub fn name_problem(name: &str) -> Option<String> {
    let host = name.strip_suffix('.').unwrap_or(name);
    if host.is_empty() || host.len() > 253 {
        return Some("must be 1 to 253 characters".into());
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Some("is an IP address, not a DNS name".into());
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Some("must have at least two labels (e.g. app.example.com)".into());
    }
    for label in labels {
        let ok = (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Some(format!(
                "label {label:?} must be 1 to 63 letters, digits or '-', not starting or ending with '-'"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three resolver forms parse, and anything else is refused with the accepted forms.
    #[test]
    fn resolver_forms() {
        assert_eq!("local".parse::<ResolverSpec>().unwrap(), ResolverSpec::Local);
        assert_eq!("system".parse::<ResolverSpec>().unwrap(), ResolverSpec::System);
        assert_eq!(
            "127.0.0.1:5353".parse::<ResolverSpec>().unwrap(),
            ResolverSpec::Address("127.0.0.1:5353".parse().unwrap())
        );
        let e = "8.8.8.8".parse::<ResolverSpec>().unwrap_err().to_string();
        assert!(e.contains("IP:PORT"), "{e}");
        assert!("dns.local:53".parse::<ResolverSpec>().is_err());
        assert_eq!(
            ResolverSpec::Address("[::1]:53".parse().unwrap()).to_string(),
            "[::1]:53"
        );
    }

    /// DNS names: two labels at least, label rules, length, no IP literals.
    #[test]
    fn name_rules() {
        assert_eq!(name_problem("app.drill.test"), None);
        assert_eq!(name_problem("app.drill.test."), None);
        assert!(name_problem("localhost").is_some());
        assert!(name_problem("127.0.0.1").is_some());
        assert!(name_problem("-a.test").is_some());
        assert!(name_problem("a..test").is_some());
        assert!(name_problem("a_b.test").is_some());
        assert!(name_problem(&format!("{}.test", "a".repeat(64))).is_some());
        assert!(name_problem("").is_some());
    }
}
