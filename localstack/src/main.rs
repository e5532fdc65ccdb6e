//! `drdrill-localstack`: serves the local stack alone (`--stack FILE --port 4566`).
//!
//! Every option also reads an environment variable, as LocalStack is configured
//! (`DRDRILL_STACK`, `DRDRILL_PORT`, `DRDRILL_BIND`, `GATEWAY_LISTEN`, `DRDRILL_LB_BIND`,
//! `DRDRILL_LB_PORT`, `DRDRILL_LB_ADVERTISE`): the container image (docker/Dockerfile)
//! sets them to listen on 0.0.0.0. Outside a container everything stays on loopback.

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
    /// Port of the AWS endpoint (0 picks a free one).
    #[arg(long, env = "DRDRILL_PORT", default_value_t = 4566)]
    port: u16,
    /// Address of the AWS endpoint. Loopback by default; `0.0.0.0` in a container, so that
    /// a published port reaches it.
    #[arg(long, env = "DRDRILL_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// `HOST:PORT` (or `:PORT`) of the AWS endpoint, as LocalStack's `GATEWAY_LISTEN`
    /// (the first of a comma-separated list); wins over `--bind` and `--port`.
    #[arg(long, env = "GATEWAY_LISTEN")]
    listen: Option<String>,
    /// Address the load balancer's listener binds, instead of the stack file's
    /// (`load_balancer.bind`, default 127.0.200.1).
    #[arg(long, env = "DRDRILL_LB_BIND")]
    lb_bind: Option<IpAddr>,
    /// Port of the load balancer's listener, instead of the stack file's `listener_port`.
    #[arg(long, env = "DRDRILL_LB_PORT")]
    lb_port: Option<u16>,
    /// `HOST[:PORT]` that DescribeLoadBalancers/DescribeListeners report for the load
    /// balancer: where clients outside a container reach its published port.
    #[arg(long, env = "DRDRILL_LB_ADVERTISE")]
    lb_advertise: Option<String>,
}

impl Args {
    /// The AWS endpoint's address: `--listen`/`GATEWAY_LISTEN`, else `--bind` and `--port`.
    fn endpoint(&self) -> anyhow::Result<SocketAddr> {
        let Some(listen) = &self.listen else {
            return Ok(SocketAddr::new(self.bind, self.port));
        };
        let first = listen.split(',').next().unwrap_or_default().trim();
        let (host, port) = first
            .rsplit_once(':')
            .with_context(|| format!("GATEWAY_LISTEN {listen:?}: expected HOST:PORT or :PORT"))?;
        let port = port
            .parse()
            .with_context(|| format!("GATEWAY_LISTEN {listen:?}: bad port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip = if host.is_empty() {
            self.bind
        } else {
            host.parse()
                .with_context(|| format!("GATEWAY_LISTEN {listen:?}: {host:?} is not an IP address"))?
        };
        Ok(SocketAddr::new(ip, port))
    }
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
    let mut stack = Stack::load(&args.stack)?;
    let lb = &mut stack.load_balancer;
    lb.bind = args.lb_bind.or(lb.bind);
    lb.listener_port = args.lb_port.unwrap_or(lb.listener_port);
    lb.advertise = args.lb_advertise.clone().or(lb.advertise.take());
    let opts = Options {
        endpoint: args.endpoint()?,
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
        for w in ls.worlds.iter().skip(1) {
            if let Some(lb) = w.lb_addr() {
                let _ = writeln!(out, "region {} load balancer {lb}", w.stack.region);
            }
        }
        let _ = writeln!(out, "dns {}", ls.dns_addr());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(args: &[&str]) -> anyhow::Result<SocketAddr> {
        let mut argv = vec!["drdrill-localstack", "--stack", "s.yaml"];
        argv.extend_from_slice(args);
        Args::try_parse_from(argv)?.endpoint()
    }

    /// Loopback unless told otherwise; `--listen` (GATEWAY_LISTEN) wins over `--bind`/`--port`
    /// and takes LocalStack's forms: `HOST:PORT`, `:PORT`, a comma-separated list, `[::]:PORT`.
    #[test]
    fn endpoint_from_bind_port_and_gateway_listen() {
        assert_eq!(endpoint(&[]).unwrap(), "127.0.0.1:4566".parse().unwrap());
        assert_eq!(
            endpoint(&["--bind", "0.0.0.0", "--port", "0"]).unwrap(),
            "0.0.0.0:0".parse().unwrap()
        );
        assert_eq!(
            endpoint(&["--listen", "0.0.0.0:4567"]).unwrap(),
            "0.0.0.0:4567".parse().unwrap()
        );
        assert_eq!(
            endpoint(&["--bind", "0.0.0.0", "--listen", ":4568,:443"]).unwrap(),
            "0.0.0.0:4568".parse().unwrap()
        );
        assert_eq!(
            endpoint(&["--listen", "[::]:4566"]).unwrap(),
            "[::]:4566".parse().unwrap()
        );
        assert!(endpoint(&["--listen", "localhost:4566"]).is_err());
        assert!(endpoint(&["--listen", "4566"]).is_err());
    }
}
