//! App instances: real HTTP servers on their own loopback addresses serving the probe
//! contract of `drdrill-probe-contract` (`GET /health`, `PUT /items/{id}`,
//! `GET /items/{id}`), each answer carrying `served-by: instance-id/az/region`.
//!
//! A stopped instance closes its listener and every connection (clients see refusals).
//! Across a network cut ([`crate::network`]) requests and answers are dropped: the
//! instance keeps accepting, but a request from a peer the cut denies reaches it only at
//! TCP's first retransmission after the cut ends, and so does its answer (clients see
//! hangs). Peers are told apart by their source address ([`Host::peer_of`]).
//!
//! The fleet's state (which instances exist, their EC2 states) is [`fleet`]; the server
//! reaches the rest of the stack (the network, the database) through [`Host`], which the
//! world implements, so the app does not name the world.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use drdrill_probe_contract::{item_id, ServedBy, HEALTH_PATH, MAX_ITEM_BODY, SERVED_BY_HEADER};

use crate::config::Stack;
use crate::database::DbError;
use crate::network::{Peer, RTO_INITIAL, RTO_MIN};

pub mod fleet;

/// What an app server needs from the stack it runs in.
pub trait Host: Send + Sync + 'static {
    /// The stack file (for the `served-by` header's zone and region).
    fn stack(&self) -> &Stack;
    /// Who sends from this address.
    fn peer_of(&self, ip: IpAddr) -> Peer;
    /// Carries a segment between `from` and subnet `to` through the network cuts.
    fn deliver(&self, from: &Peer, to: &str, rto: Duration) -> impl Future<Output = ()> + Send;
    /// Writes item `id` from app instance `app` to the database.
    fn db_write(&self, app: &str, id: &str, body: &str) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Reads item `id` from the database for app instance `app`.
    fn db_read(&self, app: &str, id: &str) -> impl Future<Output = Result<Option<String>, DbError>> + Send;
}

/// Serves one instance until `token` is cancelled, then drops every connection.
pub fn spawn<H: Host>(host: Arc<H>, id: String, subnet: String, listener: TcpListener, token: CancellationToken) {
    let ctx = Arc::new(Ctx {
        served_by: ServedBy {
            instance: id.clone(),
            az: host.stack().subnet_zone(&subnet).unwrap_or_default().to_string(),
            region: host.stack().region.clone(),
        }
        .to_string(),
        host,
        instance: id,
        subnet,
    });
    tokio::spawn(async move {
        loop {
            let Some(stream) = crate::network::accept(&listener, &token, "accept").await else {
                return;
            };
            let ctx = ctx.clone();
            let token = token.clone();
            let peer = stream.peer_addr().map_or(Peer::Outside, |a| ctx.host.peer_of(a.ip()));
            let conn = Arc::new(Conn {
                peer,
                fresh: AtomicBool::new(true),
            });
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let (ctx, conn) = (ctx.clone(), conn.clone());
                    async move { Ok::<_, Infallible>(ctx.handle(&conn, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = conn => {}
                }
            });
        }
    });
}

/// One accepted connection: who is on the other end, and whether it has carried a request
/// yet (a new connection's first segments retransmit on TCP's initial 1 s timeout).
struct Conn {
    peer: Peer,
    fresh: AtomicBool,
}

struct Ctx<H> {
    host: Arc<H>,
    instance: String,
    subnet: String,
    served_by: String,
}

impl<H: Host> Ctx<H> {
    async fn handle(&self, conn: &Conn, req: Request<Incoming>) -> Response<Full<Bytes>> {
        // A cut drops the request on its way in and the answer on its way out.
        let rto = if conn.fresh.swap(false, Ordering::Relaxed) {
            RTO_INITIAL
        } else {
            RTO_MIN
        };
        self.host.deliver(&conn.peer, &self.subnet, rto).await;
        let resp = self.route(req).await;
        self.host.deliver(&conn.peer, &self.subnet, RTO_MIN).await;
        resp
    }

    async fn route(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        if path == HEALTH_PATH && method == Method::GET {
            return self.reply(StatusCode::OK, "ok");
        }
        let Some(id) = item_id(&path) else {
            return self.reply(StatusCode::NOT_FOUND, "no such route");
        };
        let id = id.to_string();
        match method {
            Method::PUT | Method::POST => {
                let body = match Limited::new(req.into_body(), MAX_ITEM_BODY).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(_) => return self.reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
                };
                let Ok(body) = String::from_utf8(body.to_vec()) else {
                    return self.reply(StatusCode::BAD_REQUEST, "body must be UTF-8");
                };
                match self.host.db_write(&self.instance, &id, &body).await {
                    Ok(()) => self.reply(StatusCode::CREATED, "stored"),
                    Err(e) => self.db_error(e),
                }
            }
            Method::GET => match self.host.db_read(&self.instance, &id).await {
                Ok(Some(body)) => self.reply(StatusCode::OK, body),
                Ok(None) => self.reply(StatusCode::NOT_FOUND, "no such item"),
                Err(e) => self.db_error(e),
            },
            _ => self.reply(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        }
    }

    fn db_error(&self, e: DbError) -> Response<Full<Bytes>> {
        match e {
            DbError::Unavailable(o) => {
                self.reply(StatusCode::SERVICE_UNAVAILABLE, format!("database unavailable: {o:?}"))
            }
            DbError::Unreachable => self.reply(StatusCode::GATEWAY_TIMEOUT, "database unreachable"),
        }
    }

    fn reply(&self, status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
        let mut resp = Response::new(Full::new(body.into()));
        *resp.status_mut() = status;
        if let Ok(v) = http::HeaderValue::from_str(&self.served_by) {
            resp.headers_mut().insert(SERVED_BY_HEADER, v);
        }
        resp
    }
}
