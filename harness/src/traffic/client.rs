//! The prober's HTTP client: one timed HTTP/1.1 exchange ([`HttpClient::send`]) over
//! the connections of a [`ConnectionPool`], spoken by the `wire` module.
//!
//! DNS: a host name is resolved with hickory-dns for every new connection, by one
//! [`DnsResolver`] for the whole client (the given one, or one with the system
//! configuration), whose cache honours record TTLs, so a DNS failover reaches new
//! connections once the old answer expires. IP-literal base URLs skip DNS.
//!
//! Connections follow the [`ConnectionPolicy`] (see the `pool` module): `Fresh` opens one
//! per request; `KeepAlive { max_age }` reuses one only for requests dispatched less
//! than `max_age` after it was opened.
//!
//! There is no proxy and no redirect: the prober measures the load balancer itself.

use std::time::{Duration, Instant};

use std::ops::ControlFlow;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::http::uri::PathAndQuery;
use hyper::Method;

use super::dns::{DnsResolver, Nameserver};
use super::pool::{ConnectError, ConnectionPool, Endpoint};
use super::probe::FailureKind;
use super::wire::WireError;
use super::{ConnectionPolicy, TrafficError};

/// The largest response body read for a body comparison; larger bodies
/// count as a mismatch.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// The `user-agent` of every request.
const AGENT: &str = concat!("drdrill/", env!("CARGO_PKG_VERSION"));

/// Sends requests to one base URL; cheap to clone (clones share the connections).
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    pool: ConnectionPool,
    /// The `host` header: the URL's host, and its port when not 80.
    host: String,
    /// The base URL's path (`/` when it has none).
    path_prefix: String,
}

/// One request to send.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest<'a> {
    /// The method.
    pub method: Method,
    /// The path (and query) under the base URL, with or without a leading `/`.
    pub path: &'a str,
    /// The body, if any.
    pub body: Option<Bytes>,
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

/// Why an exchange ended without a complete response.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("invalid request path {path:?}: {source}")]
    Path {
        path: String,
        #[source]
        source: hyper::http::uri::InvalidUri,
    },
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl HttpClient {
    /// A client for `base_url` (an absolute `http://` URL, see
    /// [`validate_base_url`](super::config::validate_base_url)) keeping at most `limit`
    /// connections, resolving its host with `dns` (or the system configuration).
    pub(crate) fn new(
        base_url: &str,
        dns: Option<DnsResolver>,
        policy: ConnectionPolicy,
        limit: usize,
    ) -> Result<Self, TrafficError> {
        let uri = super::config::validate_base_url(base_url)?;
        let invalid = |reason: String| TrafficError::InvalidConfig {
            field: "base_url",
            reason,
        };
        let authority = uri
            .authority()
            .ok_or_else(|| invalid(format!("{base_url:?}: no host")))?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host();
        let endpoint = match host.trim_start_matches('[').trim_end_matches(']').parse() {
            Ok(ip) => Endpoint::Ip(std::net::SocketAddr::new(ip, port)),
            Err(_) => Endpoint::Name {
                host: host.to_owned(),
                port,
                resolver: match dns {
                    Some(resolver) => resolver,
                    None => DnsResolver::new(Nameserver::System).map_err(TrafficError::Resolver)?,
                },
            },
        };
        let host_header = match authority.port_u16() {
            Some(port) if port != 80 => format!("{host}:{port}"),
            _ => host.to_owned(),
        };
        Ok(Self {
            pool: ConnectionPool::new(endpoint, policy, limit),
            host: HeaderValue::from_str(&host_header)
                .map(|_| host_header)
                .map_err(|e| invalid(format!("{base_url:?}: {e}")))?,
            path_prefix: uri.path().to_owned(),
        })
    }

    /// Connections a request could have now without waiting: idle ones, and those that
    /// may be opened at once.
    pub(crate) fn connections_free(&self) -> usize {
        self.pool.free()
    }

    /// Connections opened so far.
    pub(crate) fn connections_opened(&self) -> u64 {
        self.pool.opened()
    }

    /// Connections closed because they reached the policy's `max_age`.
    pub(crate) fn connections_aged_out(&self) -> u64 {
        self.pool.aged_out()
    }

    /// Sends `req`, dispatched at `dispatched`, and reads the whole response, giving up
    /// `timeout` after `dispatched` (which covers waiting for a connection and opening
    /// it). When `expected_body` is set, the body is compared with it.
    pub(crate) async fn send(
        &self,
        req: HttpRequest<'_>,
        expected_body: Option<&[u8]>,
        dispatched: Instant,
        timeout: Duration,
    ) -> HttpResult {
        let deadline = tokio::time::Instant::from_std(dispatched + timeout);
        let mut served_by = None;
        let mut status = None;
        let exchange = self.exchange(req, expected_body, dispatched, &mut served_by, &mut status);
        match tokio::time::timeout_at(deadline, exchange).await {
            Ok(Ok((status, body_matches))) => HttpResult::Response {
                status,
                served_by,
                body_matches,
            },
            Ok(Err(error)) => HttpResult::Failed {
                kind: match error {
                    ExchangeError::Connect(_) => FailureKind::Connect,
                    ExchangeError::Path { .. } | ExchangeError::Wire(_) => FailureKind::Other,
                },
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
        &self,
        req: HttpRequest<'_>,
        expected_body: Option<&[u8]>,
        dispatched: Instant,
        served_by: &mut Option<String>,
        status: &mut Option<u16>,
    ) -> Result<(u16, Option<bool>), ExchangeError> {
        let target = self.target(req.path)?;
        let mut connection = self.pool.checkout(dispatched).await?;
        let wire = &mut connection.wire;
        let body = req.body.unwrap_or_default();
        wire.write_request(&req.method, target.as_str(), &self.host, AGENT, &body)
            .await?;
        let head = wire.read_head(&req.method).await?;
        *status = Some(head.status);
        served_by.clone_from(&head.served_by);
        let mut compare = expected_body.map(BodyComparison::new);
        let mut read = 0usize;
        let mut too_long = false;
        let reusable = wire
            .read_body(&head, |chunk| {
                read += chunk.len();
                if read > MAX_BODY_BYTES {
                    too_long = true;
                    return ControlFlow::Break(());
                }
                if let Some(compare) = &mut compare {
                    compare.feed(chunk);
                }
                ControlFlow::Continue(())
            })
            .await?;
        if reusable {
            // Read whole: the connection can carry the next request.
            self.pool.give_back(connection);
        }
        let body_matches = match compare {
            // Not read whole: the connection is dropped with the body.
            Some(_) if too_long => Some(false),
            compare => compare.map(BodyComparison::matches),
        };
        Ok((head.status, body_matches))
    }

    /// The request target: `path` joined to the base URL's, checked to be a valid
    /// origin-form path and query.
    fn target(&self, path: &str) -> Result<PathAndQuery, ExchangeError> {
        let path = super::config::join_path(&self.path_prefix, path);
        PathAndQuery::try_from(path.as_str()).map_err(|source| ExchangeError::Path { path, source })
    }
}

/// Compares a body arriving in chunks with the expected bytes, without keeping it.
struct BodyComparison<'a> {
    expected: &'a [u8],
    seen: usize,
    equal: bool,
}

impl<'a> BodyComparison<'a> {
    fn new(expected: &'a [u8]) -> Self {
        Self {
            expected,
            seen: 0,
            equal: true,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let end = self.seen + chunk.len();
        self.equal = self.equal && self.expected.get(self.seen..end) == Some(chunk);
        self.seen = end;
    }

    fn matches(self) -> bool {
        self.equal && self.seen == self.expected.len()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A body split anywhere matches exactly the expected bytes, nothing shorter or
    /// longer.
    #[test]
    fn a_chunked_body_is_compared_whole() {
        let expected = b"hello world";
        for split in 0..=expected.len() {
            let mut same = BodyComparison::new(expected);
            same.feed(&expected[..split]);
            same.feed(&expected[split..]);
            assert!(same.matches(), "split at {split}");
        }
        let mut short = BodyComparison::new(expected);
        short.feed(b"hello");
        assert!(!short.matches());
        let mut long = BodyComparison::new(expected);
        long.feed(b"hello world!");
        assert!(!long.matches());
        let mut other = BodyComparison::new(expected);
        other.feed(b"hello");
        other.feed(b" there");
        assert!(!other.matches());
    }
}
