//! App instances: real HTTP servers on their own loopback addresses serving the probe
//! contract (`GET /health`, `PUT /items/{id}`, `GET /items/{id}`), each answer carrying
//! `served-by: instance-id/az/region`.
//!
//! A stopped instance closes its listener and every connection (clients see refusals);
//! a black-holed one keeps accepting but never answers (clients see hangs).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::database::DbError;
use crate::world::World;

/// Largest item body accepted.
const MAX_BODY: usize = 64 * 1024;

/// Binds an instance's listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves one instance until `token` is cancelled, then drops every connection.
pub fn spawn(world: Arc<World>, id: String, subnet: String, listener: TcpListener, token: CancellationToken) {
    let ctx = Arc::new(Ctx {
        served_by: format!(
            "{id}/{}/{}",
            world.stack.subnet_zone(&subnet).unwrap_or_default(),
            world.stack.region
        ),
        world,
        subnet,
    });
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = token.cancelled() => return,
                r = listener.accept() => match r {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                },
            };
            let ctx = ctx.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let ctx = ctx.clone();
                    async move { Ok::<_, Infallible>(ctx.handle(req).await) }
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

struct Ctx {
    world: Arc<World>,
    subnet: String,
    served_by: String,
}

impl Ctx {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        // A black-holed subnet neither answers nor lets answers out.
        self.world.wait_reachable(&self.subnet).await;
        let resp = self.route(req).await;
        self.world.wait_reachable(&self.subnet).await;
        resp
    }

    async fn route(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        if path == "/health" && method == Method::GET {
            return self.reply(StatusCode::OK, "ok");
        }
        let Some(id) = path.strip_prefix("/items/").filter(|id| valid_id(id)) else {
            return self.reply(StatusCode::NOT_FOUND, "no such route");
        };
        let id = id.to_string();
        match method {
            Method::PUT | Method::POST => {
                let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(_) => return self.reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
                };
                let Ok(body) = String::from_utf8(body.to_vec()) else {
                    return self.reply(StatusCode::BAD_REQUEST, "body must be UTF-8");
                };
                match self.world.db_write(&id, &body).await {
                    Ok(()) => self.reply(StatusCode::CREATED, "stored"),
                    Err(e) => self.db_error(e),
                }
            }
            Method::GET => match self.world.db_read(&id).await {
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
            resp.headers_mut().insert("served-by", v);
        }
        resp
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
