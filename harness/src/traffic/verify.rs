//! The verify phase: read back every acknowledged write through the load
//! balancer and report the ones that are gone.
//!
//! A write is *lost* when, until the grace period ends, no read-back returns
//! an expected status with exactly the written body. A 404 means "not there
//! (yet)" and, like any other failure, is retried with backoff until the
//! grace period ends; every write is tried at least once.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use super::client::{self, HttpClient, HttpRequest, HttpResult};
use super::config::StatusExpectation;
use super::dns::DnsResolver;
use super::ledger::AckedWrite;
use super::{ConnectionPolicy, RequestSpec, TrafficError};

/// Read-backs in flight at once.
pub const VERIFY_CONCURRENCY: usize = 32;

/// The result of reading back every acknowledged write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOutcome {
    /// Writes read back with their content.
    pub verified: usize,
    /// Writes never read back with their content, ordered by acknowledgement time.
    pub lost: Vec<AckedWrite>,
}

/// Reads back every write in `acked` through `base_url` with the `read`
/// request, `VERIFY_CONCURRENCY` at a time (pulled from `acked` as slots free up, so
/// a list streamed from disk is never held in memory whole), each attempt bounded by `timeout`
/// and retries stopping once `grace` (counted from the call) has passed.
/// `expect` lists the statuses counted as success (`None` = any 2xx).
///
/// Connections are pooled keep-alive connections that live at most 5 s; DNS
/// goes through hickory honouring TTLs, like the prober.
pub async fn verify_writes(
    base_url: &str,
    read: &RequestSpec,
    expect: Option<&[u16]>,
    acked: impl IntoIterator<Item = AckedWrite>,
    grace: Duration,
    timeout: Duration,
) -> Result<VerifyOutcome, TrafficError> {
    verify_writes_resolving(base_url, None, read, expect, acked, grace, timeout).await
}

/// [`verify_writes`], resolving the base URL's host with `dns` when given (the
/// prober's resolver, so that reads go where the probes went).
pub async fn verify_writes_resolving(
    base_url: &str,
    dns: Option<&DnsResolver>,
    read: &RequestSpec,
    expect: Option<&[u16]>,
    acked: impl IntoIterator<Item = AckedWrite>,
    grace: Duration,
    timeout: Duration,
) -> Result<VerifyOutcome, TrafficError> {
    let method = read.parsed_method("read.method")?;
    let client = HttpClient::new(
        base_url,
        dns.cloned(),
        ConnectionPolicy::KeepAlive {
            max_age: Duration::from_secs(5),
        },
        VERIFY_CONCURRENCY,
    )?;
    let expect = StatusExpectation::new(expect);
    let grace_ends = Instant::now() + grace;
    let checker = Checker {
        client: &client,
        read,
        method: &method,
        expect: &expect,
        grace_ends,
        timeout,
    };
    let mut outcome = VerifyOutcome::default();
    let mut results = stream::iter(acked)
        .map(|write| {
            let checker = &checker;
            async move { (checker.read_back_until_grace(&write).await, write) }
        })
        .buffer_unordered(VERIFY_CONCURRENCY);
    while let Some((found, write)) = results.next().await {
        if found {
            outcome.verified += 1;
        } else {
            outcome.lost.push(write);
        }
    }
    outcome
        .lost
        .sort_by(|a, b| (a.acked_unix_ms, &a.id).cmp(&(b.acked_unix_ms, &b.id)));
    Ok(outcome)
}

struct Checker<'a> {
    client: &'a HttpClient,
    read: &'a RequestSpec,
    method: &'a hyper::Method,
    expect: &'a StatusExpectation,
    grace_ends: Instant,
    timeout: Duration,
}

impl Checker<'_> {
    /// Whether `write` was read back with its body before the grace ended.
    async fn read_back_until_grace(&self, write: &AckedWrite) -> bool {
        let path = self.read.render_path(&write.id);
        let body = self.read.render_body(&write.id).map(bytes::Bytes::from);
        let mut attempt = 0u32;
        loop {
            if self.read_back_once(&path, body.clone(), &write.body).await {
                return true;
            }
            let now = Instant::now();
            if now >= self.grace_ends {
                return false;
            }
            let pause = client::backoff(attempt).min(self.grace_ends - now);
            tokio::time::sleep(pause).await;
            attempt = attempt.saturating_add(1);
        }
    }

    async fn read_back_once(&self, path: &str, body: Option<bytes::Bytes>, expected: &str) -> bool {
        let request = HttpRequest {
            method: self.method.clone(),
            path,
            body,
        };
        match self
            .client
            .send(request, Some(expected.as_bytes()), Instant::now(), self.timeout)
            .await
        {
            HttpResult::Response {
                status, body_matches, ..
            } => self.expect.accepts(status) && body_matches == Some(true),
            HttpResult::Failed { .. } => false,
        }
    }
}
