//! The synthetic traffic: rate, read/write mix, timeout and connection policy.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::DurationStr;
use super::rate::Rate;

/// The open-loop traffic sent through the load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Requests per unit of time, e.g. `"50/s"`; above 0 and at most 100000/s.
    pub rate: Rate,
    /// Share of requests that are writes, `0..=1`; the rest are reads of earlier writes.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub write_ratio: f64,
    /// Per-request timeout; above 0 and below 10m.
    pub timeout: DurationStr,
    /// Whether connections are reused.
    pub connection: ConnectionPolicy,
}

/// How the prober uses connections. Written `{ policy: fresh }` or
/// `{ policy: keep-alive, max_age: 5s }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "ConnectionSpec", into = "ConnectionSpec")]
pub enum ConnectionPolicy {
    /// A new connection (and DNS lookup honouring TTL) for every request.
    Fresh,
    /// Connections are reused, but never for longer than `max_age`.
    KeepAlive {
        /// Longest time one connection is reused; above 0.
        max_age: Duration,
    },
}

/// The name of a connection policy in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum PolicyKind {
    /// A new connection per request.
    Fresh,
    /// Reuse connections up to `max_age`.
    KeepAlive,
}

/// The file form of [`ConnectionPolicy`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("if" = {"properties": {"policy": {"const": "keep-alive"}}},
                  "then" = {"required": ["max_age"]},
                  "else" = {"not": {"required": ["max_age"]}}))]
struct ConnectionSpec {
    /// `fresh` or `keep-alive`.
    policy: PolicyKind,
    /// Required for `keep-alive` (above 0); not allowed for `fresh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age: Option<DurationStr>,
}

impl TryFrom<ConnectionSpec> for ConnectionPolicy {
    type Error = &'static str;

    fn try_from(spec: ConnectionSpec) -> Result<Self, Self::Error> {
        match (spec.policy, spec.max_age) {
            (PolicyKind::Fresh, None) => Ok(Self::Fresh),
            (PolicyKind::Fresh, Some(_)) => Err("max_age is only allowed with policy: keep-alive"),
            (PolicyKind::KeepAlive, Some(max_age)) => Ok(Self::KeepAlive { max_age: max_age.get() }),
            (PolicyKind::KeepAlive, None) => Err("policy: keep-alive needs max_age (e.g. max_age: 5s)"),
        }
    }
}

impl From<ConnectionPolicy> for ConnectionSpec {
    fn from(policy: ConnectionPolicy) -> Self {
        match policy {
            ConnectionPolicy::Fresh => Self {
                policy: PolicyKind::Fresh,
                max_age: None,
            },
            ConnectionPolicy::KeepAlive { max_age } => Self {
                policy: PolicyKind::KeepAlive,
                max_age: Some(max_age.into()),
            },
        }
    }
}
