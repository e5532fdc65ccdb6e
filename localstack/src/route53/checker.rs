//! Health checkers: one task per checker of a health check (one per region of its
//! `Regions`) that really probes the endpoint every request interval (HTTP GET of the
//! resource path, or a TCP connect) and hands each result to `Route53::record_probe`,
//! which applies the failure threshold per checker and the 18% rule across them.
//! Checkers do not probe in lock step: of `n` checkers, checker `k` starts `k/n` of the
//! interval after the first.
//!
//! Status texts follow Route 53's: `Success: HTTP Status Code 200, OK`,
//! `Failure: HTTP Status Code 502, Bad Gateway`, `Failure: Connection refused. …`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::model::{is_local, CheckKind, HealthCheckConfig};
use super::{LoadBalancerLookup, Route53};

/// The outcome of one probe: whether it succeeded and the text after `Success: `/`Failure: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Whether the endpoint answered as healthy (before `Inverted`).
    pub ok: bool,
    /// What happened, e.g. `HTTP Status Code 200, OK`.
    pub detail: String,
}

/// Starts the checkers of one health check, one task each at staggered times; they stop
/// when `cancel` fires or the health check is gone. A disabled health check is not probed.
pub(crate) fn spawn(
    r53: Arc<Route53>,
    id: String,
    generation: u64,
    config: HealthCheckConfig,
    cancel: CancellationToken,
) {
    if config.disabled {
        return;
    }
    let n = config.checker_regions().len();
    let config = Arc::new(config);
    for k in 0..n {
        let offset = stagger(config.request_interval, k, n);
        tokio::spawn(run_checker(
            r53.clone(),
            id.clone(),
            generation,
            k,
            offset,
            config.clone(),
            cancel.clone(),
        ));
    }
}

/// When checker `k` of `n` first probes, after the health check starts: `k/n` of the
/// request interval.
pub fn stagger(interval: Duration, k: usize, n: usize) -> Duration {
    if n == 0 {
        return Duration::ZERO;
    }
    interval.mul_f64(k as f64 / n as f64)
}

/// One checker: probes every interval from `offset` on and reports each result.
async fn run_checker(
    r53: Arc<Route53>,
    id: String,
    generation: u64,
    checker: usize,
    offset: Duration,
    config: Arc<HealthCheckConfig>,
    cancel: CancellationToken,
) {
    let start = tokio::time::Instant::now() + offset;
    let mut every = tokio::time::interval_at(start, config.request_interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = every.tick() => {}
        }
        let probe = tokio::select! {
            _ = cancel.cancelled() => return,
            p = probe(r53.lookup().as_ref(), &config) => p,
        };
        let ok = probe.ok != config.inverted;
        let detail = if config.inverted {
            format!("{} (inverted)", probe.detail)
        } else {
            probe.detail
        };
        if !r53.record_probe(&id, generation, checker, ok, &detail) {
            return;
        }
    }
}

/// Where a health check's probes go now, or why there is nowhere to go.
pub fn endpoint(lookup: &dyn LoadBalancerLookup, config: &HealthCheckConfig) -> Result<SocketAddr, String> {
    if let Some(ip) = config.ip_address {
        return Ok(SocketAddr::new(ip, config.port.unwrap_or(80)));
    }
    let name = match (&config.load_balancer, &config.fqdn) {
        (Some(lb), _) => lb,
        (None, Some(fqdn)) => {
            if let Ok(ip) = fqdn.trim_end_matches('.').parse::<IpAddr>() {
                return Ok(SocketAddr::new(ip, config.port.unwrap_or(80)));
            }
            fqdn
        }
        (None, None) => return Err("No endpoint: neither IPAddress nor FullyQualifiedDomainName is set".into()),
    };
    let view = lookup
        .load_balancer(name)
        .ok_or_else(|| format!("DNS resolution failed for {name}"))?;
    let addr = view
        .addr
        .ok_or_else(|| format!("Load balancer {} is not listening yet", view.name))?;
    Ok(SocketAddr::new(addr.ip(), config.port.unwrap_or(addr.port())))
}

/// Probes once, within the configured timeout. Addresses off this machine are never
/// contacted.
pub async fn probe(lookup: &dyn LoadBalancerLookup, config: &HealthCheckConfig) -> Probe {
    let addr = match endpoint(lookup, config) {
        Ok(a) if is_local(a.ip()) => a,
        Ok(a) => {
            return Probe {
                ok: false,
                detail: format!(
                    "{} is not on this machine; the local stack probes loopback addresses only",
                    a.ip()
                ),
            }
        }
        Err(detail) => return Probe { ok: false, detail },
    };
    let host = config.fqdn.clone().unwrap_or_else(|| addr.to_string());
    let attempt = async {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Probe {
                    ok: false,
                    detail: format!(
                        "Connection refused. The endpoint or the network is down, or requests are being blocked. Resolved IP: {}",
                        addr.ip()
                    ),
                }
            }
            Err(e) => {
                return Probe {
                    ok: false,
                    detail: format!("Failed to connect to {}: {e}", addr),
                }
            }
        };
        match config.kind {
            CheckKind::Tcp => Probe {
                ok: true,
                detail: format!("TCP connection established to {}", addr),
            },
            CheckKind::Http => http_get(stream, &config.resource_path, &host, addr).await,
        }
    };
    match tokio::time::timeout(config.timeout, attempt).await {
        Ok(p) => p,
        Err(_) => Probe {
            ok: false,
            detail: format!(
                "Connection timed out. The endpoint or the network is down, or requests are being blocked. Resolved IP: {}",
                addr.ip()
            ),
        },
    }
}

async fn http_get(stream: TcpStream, path: &str, host: &str, addr: SocketAddr) -> Probe {
    let closed = || Probe {
        ok: false,
        detail: format!("Resolved IP: {}. The connection was closed by the endpoint.", addr.ip()),
    };
    let Ok((mut send, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
        return closed();
    };
    tokio::spawn(conn);
    let Ok(req) = Request::get(path)
        .header(http::header::HOST, host)
        .header(
            http::header::USER_AGENT,
            "Amazon-Route53-Health-Check-Service (drdrill local stack)",
        )
        .body(Empty::<Bytes>::new())
    else {
        return Probe {
            ok: false,
            detail: format!("Invalid resource path {path:?}"),
        };
    };
    match send.send_request(req).await {
        Ok(resp) => {
            let status = resp.status();
            Probe {
                ok: status.is_success() || status.is_redirection(),
                detail: status_text(status),
            }
        }
        Err(_) => closed(),
    }
}

/// `HTTP Status Code 200, OK`.
fn status_text(status: StatusCode) -> String {
    format!(
        "HTTP Status Code {}, {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Unknown")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53::LoadBalancerView;

    struct OneLb(SocketAddr);
    impl LoadBalancerLookup for OneLb {
        fn load_balancer(&self, name: &str) -> Option<LoadBalancerView> {
            (name == "alb").then(|| LoadBalancerView {
                name: "alb".into(),
                dns_name: self.0.ip().to_string(),
                addr: Some(self.0),
                healthy: true,
            })
        }
        fn subscribe(&self) -> Vec<tokio::sync::watch::Receiver<u64>> {
            Vec::new()
        }
    }

    fn cfg() -> HealthCheckConfig {
        HealthCheckConfig {
            ip_address: None,
            port: None,
            fqdn: None,
            load_balancer: Some("alb".into()),
            kind: CheckKind::Http,
            resource_path: "/health".into(),
            request_interval: Duration::from_millis(100),
            failure_threshold: 1,
            timeout: Duration::from_millis(500),
            inverted: false,
            disabled: false,
            regions: None,
        }
    }

    /// A refused connection is a failure naming the address; an unknown load balancer too.
    #[tokio::test]
    async fn refused_and_unknown() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let p = probe(&OneLb(addr), &cfg()).await;
        assert!(!p.ok && p.detail.starts_with("Connection refused"), "{p:?}");
        let mut c = cfg();
        c.load_balancer = Some("other".into());
        let p = probe(&OneLb(addr), &c).await;
        assert!(!p.ok && p.detail.contains("DNS resolution failed"), "{p:?}");
    }

    /// A listener that accepts but never answers is a timeout.
    #[tokio::test]
    async fn silent_endpoint_times_out() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let p = probe(&OneLb(addr), &cfg()).await;
        assert!(!p.ok && p.detail.starts_with("Connection timed out"), "{p:?}");
        let mut c = cfg();
        c.kind = CheckKind::Tcp;
        assert!(probe(&OneLb(addr), &c).await.ok);
        drop(l);
    }

    /// An address off this machine is never contacted.
    #[tokio::test]
    async fn remote_addresses_are_not_probed() {
        let mut c = cfg();
        c.load_balancer = None;
        c.ip_address = Some("192.0.2.10".parse().unwrap());
        c.port = Some(80);
        let p = probe(&OneLb("127.0.0.1:9".parse().unwrap()), &c).await;
        assert!(!p.ok && p.detail.contains("loopback addresses only"), "{p:?}");
    }

    /// Checkers start spread evenly over the interval, the first at once.
    #[test]
    fn checkers_are_staggered() {
        let every = Duration::from_millis(800);
        let starts: Vec<Duration> = (0..8).map(|k| stagger(every, k, 8)).collect();
        assert_eq!(starts[0], Duration::ZERO);
        assert_eq!(starts[1], Duration::from_millis(100));
        assert_eq!(starts[7], Duration::from_millis(700));
        assert_eq!(stagger(every, 0, 0), Duration::ZERO);
    }

    /// Status texts name the code and reason.
    #[test]
    fn status_texts() {
        assert_eq!(status_text(StatusCode::OK), "HTTP Status Code 200, OK");
        assert_eq!(
            status_text(StatusCode::BAD_GATEWAY),
            "HTTP Status Code 502, Bad Gateway"
        );
    }
}
