//! `drdrill-localstack`: serves the local stack alone (`--stack FILE --port 4566`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use drdrill_localstack::{LocalStack, Options, Stack};

/// Serve a drdrill local stack: AWS endpoints (FIS, ELBv2, EC2, RDS) and a real data plane.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Stack file (see localstack/stacks/).
    #[arg(long, env = "DRDRILL_STACK")]
    stack: PathBuf,
    /// Port of the AWS endpoint on 127.0.0.1 (0 picks a free one).
    #[arg(long, env = "DRDRILL_PORT", default_value_t = 4566)]
    port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    // Listen for signals before announcing the endpoint, so none is missed.
    let signals = Signals::new()?;
    let stack = Stack::load(&args.stack)?;
    let opts = Options {
        endpoint: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port),
    };
    let ls = LocalStack::start(stack, opts)
        .await
        .context("starting the local stack")?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the stack: announcing is best effort.
        let _ = writeln!(out, "endpoint {}", ls.endpoint_url());
        if let Some(lb) = ls.world.lb_addr() {
            let _ = writeln!(out, "load balancer {lb}");
        }
        let _ = out.flush();
    }
    signals.wait().await;
    tracing::info!("shutting down: stopping experiments");
    ls.shutdown().await;
    Ok(())
}

/// SIGINT and SIGTERM, listened for from start-up.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
