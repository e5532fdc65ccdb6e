//! The load balancer: a real reverse proxy with ALB semantics (round robin over healthy
//! targets, fail-open over the unhealthy ones when none is healthy, 503 when no target is
//! healthy or unhealthy — all `initial`, `unused` or `draining` — and 502/504 like ALB)
//! and the active health checkers that decide which targets are healthy.
//!
//! Like an ALB, it has one node per zone ([`Host::lb_node_source`]): each client
//! connection is handled by one node (round robin over the zones, as clients spread over
//! the nodes' addresses), which routes to targets in every zone (cross-zone load
//! balancing) from its own source address; a target is health-checked from the node in
//! its own zone. So a network cut sees which node traffic crosses it from.
//!
//! The target group's state (registered targets, their health) is [`target_group`]; the
//! proxy and checkers reach it and the instances through [`Host`], which the world
//! implements, so the load balancer does not name the world.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::config::Stack;

pub mod target_group;

use target_group::CheckResult;

/// What the load balancer needs from the stack it runs in.
pub trait Host: Send + Sync + 'static {
    /// The stack file (zones, idle timeout, health-check settings).
    fn stack(&self) -> &Stack;
    /// Cancelled when the stack shuts down.
    fn shutdown(&self) -> &CancellationToken;
    /// The targets a request would be routed to now, with their addresses.
    fn routable(&self) -> Vec<(String, SocketAddr)>;
    /// The source address of the node in the zone at `zone` in the stack's zone list.
    fn lb_node_source(&self, zone: usize) -> IpAddr;
    /// The generation of target `id`'s registration, if it is registered.
    fn target_generation(&self, id: &str) -> Option<u64>;
    /// Instance `id`'s address.
    fn instance_addr(&self, id: &str) -> Option<SocketAddr>;
    /// The position in the stack's zone list of instance `id`'s zone.
    fn instance_zone_index(&self, id: &str) -> Option<usize>;
    /// Applies one health-check result to registration `generation` of target `id`.
    fn record_check(&self, id: &str, generation: u64, result: CheckResult);
}

/// Largest request or response body the proxy forwards.
const MAX_BODY: usize = 1024 * 1024;
/// How long the proxy tries to connect to a target.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves the listener until `cancel`.
pub fn spawn_proxy<H: Host>(world: Arc<H>, listener: TcpListener, cancel: CancellationToken) {
    let rr = Arc::new(AtomicUsize::new(0));
    let next_node = AtomicUsize::new(0);
    tokio::spawn(async move {
        loop {
            let Some(stream) = crate::network::accept(&listener, &cancel, "load balancer accept").await else {
                return;
            };
            let (world, rr, cancel) = (world.clone(), rr.clone(), cancel.clone());
            let zones = world.stack().zones.len().max(1);
            let node = Some(world.lb_node_source(next_node.fetch_add(1, Ordering::Relaxed) % zones));
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let (world, rr) = (world.clone(), rr.clone());
                    async move { Ok::<_, Infallible>(proxy(world.as_ref(), &rr, node, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = conn => {}
                }
            });
        }
    });
}

fn lb_error(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    ))));
    *r.status_mut() = status;
    r
}

async fn proxy<H: Host>(
    world: &H,
    rr: &AtomicUsize,
    node: Option<IpAddr>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let targets = world.routable();
    if targets.is_empty() {
        return lb_error(StatusCode::SERVICE_UNAVAILABLE);
    }
    let (_, addr) = &targets[rr.fetch_add(1, Ordering::Relaxed) % targets.len()];
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await.map(|b| b.to_bytes()) else {
        return lb_error(StatusCode::BAD_REQUEST);
    };
    let mut up = Request::from_parts(parts, Full::new(body));
    up.headers_mut().remove(http::header::CONNECTION);
    let idle = world.stack().load_balancer.idle_timeout.0;
    match tokio::time::timeout(idle, forward(node, *addr, up)).await {
        Err(_) => lb_error(StatusCode::GATEWAY_TIMEOUT),
        Ok(Err(Upstream::Timeout)) => lb_error(StatusCode::GATEWAY_TIMEOUT),
        Ok(Err(Upstream::Failed)) => lb_error(StatusCode::BAD_GATEWAY),
        Ok(Ok(resp)) => resp,
    }
}

enum Upstream {
    Timeout,
    Failed,
}

/// Connects to `addr` from `source` (a load balancer node's address) when given and
/// bindable, else from wherever the OS picks.
async fn connect_from(source: Option<IpAddr>, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let bound = source.and_then(|ip| {
        let socket = if ip.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .ok()?;
        socket.bind(SocketAddr::new(ip, 0)).ok()?;
        Some(socket)
    });
    match bound {
        Some(socket) => socket.connect(addr).await,
        None => TcpStream::connect(addr).await,
    }
}

async fn forward(
    node: Option<IpAddr>,
    addr: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, Upstream> {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect_from(node, addr)).await {
        Err(_) => return Err(Upstream::Timeout),
        Ok(Err(_)) => return Err(Upstream::Failed),
        Ok(Ok(s)) => s,
    };
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Upstream::Failed)?;
    tokio::spawn(conn);
    let resp = send.send_request(req).await.map_err(|_| Upstream::Failed)?;
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| Upstream::Failed)?
        .to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// One HTTP GET with a total timeout, sent from `source` when given (see
/// `connect_from`): the health check (200 passes; another status is a
/// [`CheckResult::Mismatch`], no answer a timeout, a refused or broken connection a
/// failure).
pub async fn check(source: Option<IpAddr>, addr: SocketAddr, path: &str, timeout: Duration) -> CheckResult {
    let attempt = async {
        let stream = connect_from(source, addr).await.ok()?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.ok()?;
        tokio::spawn(conn);
        let req = Request::get(path)
            .header(http::header::HOST, addr.to_string())
            .body(Empty::<Bytes>::new())
            .ok()?;
        let resp = send.send_request(req).await.ok()?;
        Some(resp.status())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => CheckResult::Timeout,
        Ok(Some(StatusCode::OK)) => CheckResult::Pass,
        Ok(Some(status)) => CheckResult::Mismatch(status.as_u16()),
        Ok(None) => CheckResult::Fail,
    }
}

/// Checks one registered target every interval until it is deregistered.
pub fn spawn_health_checker<H: Host>(world: Arc<H>, id: String, generation: u64) {
    tokio::spawn(async move {
        let hc = world.stack().load_balancer.target_group.health_check.clone();
        let mut every = tokio::time::interval(hc.interval.0);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = world.shutdown().cancelled() => return,
                _ = every.tick() => {}
            }
            if world.target_generation(&id) != Some(generation) {
                return;
            }
            let Some(addr) = world.instance_addr(&id) else { return };
            let node = world.instance_zone_index(&id).map(|z| world.lb_node_source(z));
            let result = check(node, addr, &hc.path, hc.timeout.0).await;
            world.record_check(&id, generation, result);
        }
    });
}
