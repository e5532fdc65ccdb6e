//! The probe contract over HTTP (`drdrill-probe-contract`), as the local stack's app
//! instances serve it: `GET /health`, `PUT`/`POST /items/{id}` (201 once committed),
//! `GET /items/{id}` (200 with the body, 404 when absent); every answer carries
//! `served-by: instance/az/region`.
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

use drdrill_probe_contract::{valid_id, HEALTH_PATH, ITEM_PATH_TEMPLATE, MAX_ITEM_BODY, SERVED_BY_HEADER};

/// The router serving the probe contract from `store`, answering with `served_by`.
pub fn router(store: Arc<Store>, served_by: HeaderValue) -> Router {
    Router::new()
        .route(HEALTH_PATH, get(health))
        .route(ITEM_PATH_TEMPLATE, get(read).put(write).post(write))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(MAX_ITEM_BODY))
        .with_state(store)
        .layer(axum::middleware::map_response(move |mut resp: Response| {
            let served_by = served_by.clone();
            async move {
                resp.headers_mut().insert(SERVED_BY_HEADER, served_by);
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
