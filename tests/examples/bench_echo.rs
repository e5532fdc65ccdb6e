//! `bench_echo`: the plain HTTP server the benchmarks in `bench/` load.
//!
//! Serves the probe contract (see `support/echo.rs`) on one address, optionally with
//! one item seeded so that tools that only send `GET` (oha, wrk) read the same kind of
//! answer as drdrill's read probes. Prints `listening on ADDR` once bound; runs until
//! killed (the benchmark scripts stop it by its pid).

#[path = "support/echo.rs"]
mod echo;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;

/// A plain HTTP server of the probe contract, for benchmarks.
#[derive(Debug, Parser)]
struct Args {
    /// Address to bind (loopback); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Value of the `served-by` header (`instance/az/region`).
    #[arg(long, default_value = "echo/bench/local")]
    served_by: String,
    /// Items to store before serving, as `ID=BODY` (repeatable).
    #[arg(long)]
    seed: Vec<String>,
    /// Tokio worker threads; 1 uses a single-threaded runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .context("starting the Tokio runtime")?;
    runtime.block_on(async {
        let store = Arc::new(echo::Store::default());
        for seed in &args.seed {
            let (id, body) = seed.split_once('=').context("--seed takes ID=BODY")?;
            store.put(id, Bytes::from(body.to_owned()));
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        println!("listening on {}", listener.local_addr()?);
        echo::serve(listener, args.served_by, store).await;
        Ok(())
    })
}
