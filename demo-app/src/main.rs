//! `drdrill-demo-app`: the probe contract served from PostgreSQL (see the crate docs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::http::HeaderValue;
use clap::Parser;
use drdrill_demo_app::{config, serve, Store, StoreOptions};

/// The demo app of drdrill's reference AWS stack: `GET /health` (200 when the database
/// answers and accepts writes), `PUT`/`POST /items/{id}` (201 once the transaction
/// committed), `GET /items/{id}` (200 with the body, 404 when absent), a `served-by` header
/// on every answer. Database failures answer 503, or 504 when it did not answer in time.
///
/// The database is `--database-url` (URL or `key=value` form), else libpq's PGHOST,
/// PGPORT, PGDATABASE, PGUSER and PGPASSWORD (or --database-password-file). The connection is not encrypted (no TLS).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "DRDRILL_DEMO_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// PostgreSQL connection string; when absent the PG* variables are used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// File holding the database password (e.g. a systemd credential); wins over the
    /// password in the URL or PGPASSWORD.
    #[arg(long, env = "DRDRILL_DB_PASSWORD_FILE")]
    database_password_file: Option<std::path::PathBuf>,
    /// The whole `served-by` value; when absent it is `INSTANCE_ID/AZ/REGION`.
    #[arg(long, env = "DRDRILL_SERVED_BY")]
    served_by: Option<String>,
    /// Instance id in `served-by`.
    #[arg(long, env = "DRDRILL_INSTANCE_ID", default_value = "demo-app")]
    instance_id: String,
    /// Availability zone in `served-by`.
    #[arg(long, env = "DRDRILL_AZ", default_value = "local")]
    az: String,
    /// Region in `served-by`.
    #[arg(long, env = "AWS_REGION", default_value = "local")]
    region: String,
    /// Upper bound of each database call (e.g. `2s`, `500ms`).
    #[arg(long, env = "DRDRILL_DB_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    db_timeout: Duration,
    /// Most database connections held open at once.
    #[arg(long, env = "DRDRILL_DB_POOL_SIZE", default_value_t = 16)]
    db_pool_size: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let served_by = args.served_by.clone().unwrap_or_else(|| {
        drdrill_probe_contract::ServedBy::new(&args.instance_id, &args.az, &args.region).to_string()
    });
    let served_by = HeaderValue::from_str(&served_by)
        .with_context(|| format!("served-by {served_by:?} is not a valid header value"))?;
    let mut db = config::database_config(args.database_url.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(path) = &args.database_password_file {
        db.password(config::read_password_file(path)?);
    }
    let store = Arc::new(Store::new(
        db,
        &StoreOptions {
            timeout: args.db_timeout,
            max_connections: args.db_pool_size,
        },
    )?);
    // The table is created now if the database answers, else on the first request.
    if let Err(e) = store.ensure_schema().await {
        tracing::warn!(error = %e, "database not ready yet; serving 503 until it is");
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // On stdout, for whoever started the binary (tests bind port 0).
    println!("drdrill-demo-app listening on http://{addr}");
    tracing::info!(%addr, "serving the probe contract");
    serve(listener, store, served_by, shutdown_signal())
        .await
        .context("the server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM (systemd's stop).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
