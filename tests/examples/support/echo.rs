//! A minimal HTTP/1.1 server of the probe contract, for benchmarks: `GET /health`,
//! `PUT /items/{id}` (stores the body), `GET /items/{id}` (returns it, 404 when
//! unknown), every answer carrying a `served-by` header. Nothing else: no database,
//! no faults, so that a benchmark measures the load generator, not the server.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Largest body accepted on a write.
const MAX_BODY: usize = 64 * 1024;
/// Most items kept; writes beyond it are answered 507 so memory stays bounded.
const MAX_ITEMS: usize = 20_000_000;

/// The items written so far, shared by every connection.
#[derive(Debug, Default)]
pub struct Store {
    items: Mutex<HashMap<String, Bytes>>,
}

impl Store {
    /// Stores `body` under `id`; `false` when the store is full.
    pub fn put(&self, id: &str, body: Bytes) -> bool {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        if items.len() >= MAX_ITEMS && !items.contains_key(id) {
            return false;
        }
        items.insert(id.to_owned(), body);
        true
    }

    /// The body stored under `id`.
    pub fn get(&self, id: &str) -> Option<Bytes> {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }
}

/// Accepts connections on `listener` forever, answering with `served_by` in every
/// response. Accept errors are logged to stderr and skipped.
pub async fn serve(listener: TcpListener, served_by: String, store: Arc<Store>) {
    let served_by = HeaderValue::from_str(&served_by).unwrap_or_else(|_| HeaderValue::from_static("echo/bench/local"));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let store = Arc::clone(&store);
        let served_by = served_by.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let store = Arc::clone(&store);
                let served_by = served_by.clone();
                async move { Ok::<_, Infallible>(handle(req, &store, served_by).await) }
            });
            // A client closing mid-request is normal under load: nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(req: Request<Incoming>, store: &Store, served_by: HeaderValue) -> Response<Full<Bytes>> {
    let (status, body) = route(req, store).await;
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert("served-by", served_by);
    response
}

async fn route(req: Request<Incoming>, store: &Store) -> (StatusCode, Bytes) {
    let path = req.uri().path().to_owned();
    if path == "/health" {
        return (StatusCode::OK, Bytes::from_static(b"ok"));
    }
    let Some(id) = path.strip_prefix("/items/").filter(|id| !id.is_empty()) else {
        return (StatusCode::NOT_FOUND, Bytes::from_static(b"no such route"));
    };
    match *req.method() {
        Method::GET => match store.get(id) {
            Some(body) => (StatusCode::OK, body),
            None => (StatusCode::NOT_FOUND, Bytes::from_static(b"no such item")),
        },
        Method::PUT | Method::POST => {
            let id = id.to_owned();
            let Ok(body) = Limited::new(req.into_body(), MAX_BODY).collect().await else {
                return (StatusCode::PAYLOAD_TOO_LARGE, Bytes::from_static(b"body too large"));
            };
            // A copy: the collected body may share (and would pin) the connection's read buffer.
            if store.put(&id, Bytes::copy_from_slice(&body.to_bytes())) {
                (StatusCode::CREATED, Bytes::from_static(b"stored"))
            } else {
                (StatusCode::INSUFFICIENT_STORAGE, Bytes::from_static(b"store full"))
            }
        }
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            Bytes::from_static(b"method not allowed"),
        ),
    }
}
