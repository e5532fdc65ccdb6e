//! HTTP clients under an explicit connection policy, and one timed request.
//!
//! DNS: every client resolves names with hickory-dns, whose cache honours
//! record TTLs, so a DNS failover becomes visible to new connections once the
//! old answer expires: either reqwest's own (`hickory_dns(true)`, the system
//! configuration, one cache per client) or a given [`DnsResolver`] shared by
//! every client of the pool (one cache for the whole run). IP-literal base URLs
//! skip DNS.
//!
//! Connections ([`ConnectionPolicy`]):
//! - `Fresh`: one client with no idle pool (`pool_max_idle_per_host(0)`), so
//!   every request opens a new TCP connection.
//! - `KeepAlive { max_age }`: pooled connections, but every `max_age` the pool
//!   hands out a brand-new `reqwest::Client` (new pool; a new resolver cache
//!   unless a shared [`DnsResolver`] is given, whose cache honours TTLs anyway).
//!   Requests already in flight keep the old client alive; it (and its pooled
//!   connections) is dropped when the last of them ends. So no connection is
//!   used for a request dispatched more than `max_age` after the connection's
//!   client was created, and a dead target cannot stay pinned.
//!
//! Proxies from the environment are ignored and redirects are not followed:
//! the prober must measure the load balancer itself.

use std::time::{Duration, Instant};

use super::dns::DnsResolver;
use super::probe::FailureKind;
use super::{ConnectionPolicy, TrafficError};

/// The largest response body read for a body comparison; larger bodies
/// count as a mismatch.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// Builds a client for `policy`, resolving names with `dns` (or reqwest's hickory
/// resolver with the system configuration when `None`).
pub(crate) fn build_client(
    policy: ConnectionPolicy,
    dns: Option<&DnsResolver>,
) -> Result<reqwest::Client, TrafficError> {
    let builder = match dns {
        Some(resolver) => reqwest::Client::builder().dns_resolver(resolver.clone()),
        None => reqwest::Client::builder().hickory_dns(true),
    };
    let builder = builder
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("drdrill/", env!("CARGO_PKG_VERSION")));
    let builder = match policy {
        ConnectionPolicy::Fresh => builder.pool_max_idle_per_host(0),
        ConnectionPolicy::KeepAlive { max_age } => builder.pool_idle_timeout(max_age),
    };
    builder.build().map_err(TrafficError::Client)
}

/// Hands out the client to use for each request, rotating it per the policy.
#[derive(Debug)]
pub(crate) struct ClientPool {
    policy: ConnectionPolicy,
    dns: Option<DnsResolver>,
    current: reqwest::Client,
    created: Instant,
    rotations: u64,
}

impl ClientPool {
    /// Builds the first client (so configuration errors surface at start); every
    /// client of the pool resolves names with `dns` when given.
    pub(crate) fn new(policy: ConnectionPolicy, dns: Option<DnsResolver>) -> Result<Self, TrafficError> {
        Ok(Self {
            policy,
            current: build_client(policy, dns.as_ref())?,
            dns,
            created: Instant::now(),
            rotations: 0,
        })
    }

    /// The client for a request dispatched at `now`: a new one once the
    /// current one is older than `max_age` (keep-alive policy only).
    pub(crate) fn client(&mut self, now: Instant) -> reqwest::Client {
        if let ConnectionPolicy::KeepAlive { max_age } = self.policy {
            if now.saturating_duration_since(self.created) >= max_age {
                match build_client(self.policy, self.dns.as_ref()) {
                    Ok(client) => {
                        self.current = client;
                        self.created = now;
                        self.rotations += 1;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not rotate the HTTP client; keeping the old one");
                    }
                }
            }
        }
        self.current.clone()
    }

    /// How many times the client was replaced.
    pub(crate) fn rotations(&self) -> u64 {
        self.rotations
    }
}

/// One request to send.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest<'a> {
    /// The method.
    pub method: reqwest::Method,
    /// The full URL.
    pub url: &'a str,
    /// The body, if any.
    pub body: Option<&'a str>,
}

/// What came back from one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HttpResult {
    /// A complete response.
    Response {
        /// Its status.
        status: u16,
        /// Its `served-by` header.
        served_by: Option<String>,
        /// Whether the body equals the expected body (`None` when none was expected).
        body_matches: Option<bool>,
    },
    /// No complete response.
    Failed {
        /// Why.
        kind: FailureKind,
        /// The error text.
        message: String,
        /// The `served-by` header, if headers arrived before the failure.
        served_by: Option<String>,
        /// The status, if headers arrived before the failure.
        status: Option<u16>,
    },
}

/// Sends `req` and reads the whole response, giving up at `deadline`.
/// When `expected_body` is set, the body is compared with it.
pub(crate) async fn send(
    client: &reqwest::Client,
    req: HttpRequest<'_>,
    expected_body: Option<&str>,
    deadline: tokio::time::Instant,
) -> HttpResult {
    let mut served_by = None;
    let mut status = None;
    let exchange = exchange(client, req, expected_body, &mut served_by, &mut status);
    match tokio::time::timeout_at(deadline, exchange).await {
        Ok(Ok((status, body_matches))) => HttpResult::Response {
            status,
            served_by,
            body_matches,
        },
        Ok(Err(error)) => HttpResult::Failed {
            kind: classify(&error),
            message: error_chain(&error),
            served_by,
            status,
        },
        Err(_) => HttpResult::Failed {
            kind: FailureKind::Timeout,
            message: match status {
                Some(_) => "timed out reading the response body".to_owned(),
                None => "timed out waiting for the response".to_owned(),
            },
            served_by,
            status,
        },
    }
}

/// The request/response exchange; fills `served_by` and `status` as soon as
/// headers arrive so that a later timeout still reports them.
async fn exchange(
    client: &reqwest::Client,
    req: HttpRequest<'_>,
    expected_body: Option<&str>,
    served_by: &mut Option<String>,
    status: &mut Option<u16>,
) -> Result<(u16, Option<bool>), reqwest::Error> {
    let mut builder = client.request(req.method, req.url);
    if let Some(body) = req.body {
        builder = builder.body(body.to_owned());
    }
    let mut response = builder.send().await?;
    let code = response.status().as_u16();
    *status = Some(code);
    *served_by = response
        .headers()
        .get(drdrill_probe_contract::SERVED_BY_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let Some(expected) = expected_body else {
        // Drain so a keep-alive connection can be reused.
        while response.chunk().await?.is_some() {}
        return Ok((code, None));
    };
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Ok((code, Some(false)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((code, Some(body == expected.as_bytes())))
}

/// Maps a reqwest error onto a failure class.
fn classify(error: &reqwest::Error) -> FailureKind {
    if error.is_timeout() {
        FailureKind::Timeout
    } else if error.is_connect() || error.is_dns() {
        FailureKind::Connect
    } else {
        FailureKind::Other
    }
}

/// The error and all its sources on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], " ")
}

/// The delay before retry number `attempt` (0-based): 50 ms doubling, capped at 1 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(5))).min(Duration::from_secs(1))
}
