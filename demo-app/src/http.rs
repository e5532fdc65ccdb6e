//! The probe contract over HTTP, as the local stack's app instances serve it:
//! `GET /health`, `PUT`/`POST /items/{id}` (201 once committed), `GET /items/{id}` (200 with
//! the body, 404 when absent); every answer carries `served-by: instance/az/region`.
//! Database failures answer 503 (refused or failed) or 504 (no answer in time), with the
//! reason in the body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::store::{Store, StoreError};

/// Largest item body accepted (as the local stack's instances).
pub const MAX_BODY: usize = 64 * 1024;

/// The header naming the instance that answered.
pub const SERVED_BY: &str = "served-by";

/// The router serving the probe contract from `store`, answering with `served_by`.
pub fn router(store: Arc<Store>, served_by: HeaderValue) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/items/{id}", get(read).put(write).post(write))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(store)
        .layer(axum::middleware::map_response(move |mut resp: Response| {
            let served_by = served_by.clone();
            async move {
                resp.headers_mut().insert(SERVED_BY, served_by);
                resp
            }
        }))
}

async fn health(State(store): State<Arc<Store>>) -> Response {
    match store.health().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(e) => db_error(e),
    }
}

async fn write(State(store): State<Arc<Store>>, Path(id): Path<String>, body: Bytes) -> Response {
    if !valid_id(&id) {
        return (StatusCode::NOT_FOUND, "no such route").into_response();
    }
    let Ok(body) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "body must be UTF-8").into_response();
    };
    match store.write(&id, body).await {
        Ok(()) => (StatusCode::CREATED, "stored").into_response(),
        Err(e) => db_error(e),
    }
}

async fn read(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    if !valid_id(&id) {
        return (StatusCode::NOT_FOUND, "no such route").into_response();
    }
    match store.read(&id).await {
        Ok(Some(body)) => (StatusCode::OK, body).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such item").into_response(),
        Err(e) => db_error(e),
    }
}

fn db_error(e: StoreError) -> Response {
    tracing::warn!(error = %e, "database call failed");
    let status = match e {
        StoreError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        StoreError::Unavailable(_) | StoreError::Setup(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, e.to_string()).into_response()
}

/// The ids the local stack accepts: 1 to 256 of `[A-Za-z0-9._-]`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids follow the local stack's rule: no slashes, spaces or empty ids, at most 256.
    #[test]
    fn ids_as_the_local_stack_accepts_them() {
        assert!(valid_id("w-123_a.b"));
        assert!(!valid_id(""));
        assert!(!valid_id("a b"));
        assert!(!valid_id("a%2Fb"));
        assert!(valid_id(&"x".repeat(256)) && !valid_id(&"x".repeat(257)));
    }
}
