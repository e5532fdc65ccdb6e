//! The demo app of the reference AWS stack: an HTTP server speaking drdrill's probe
//! contract (health, write by id, read by id, a `served-by` header), storing writes in
//! PostgreSQL and acknowledging a write only after its transaction committed. The
//! `drdrill-demo-app` binary wires [`config`], [`store`] and [`http`] together; tests bind
//! [`serve`] to port 0.

pub mod config;
pub mod http;
pub mod store;

use std::future::Future;
use std::sync::Arc;

use axum::http::HeaderValue;
use tokio::net::TcpListener;

pub use store::{Store, StoreError, StoreOptions};

/// Serves the probe contract on `listener` until `shutdown` completes, then lets requests
/// in flight finish.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    served_by: HeaderValue,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, http::router(store, served_by))
        .with_graceful_shutdown(shutdown)
        .await
}
