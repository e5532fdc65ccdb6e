//! `bench_dns_follow`: does drdrill's prober follow a DNS failover?
//!
//! Starts, in this process, two plain HTTP servers of the probe contract on two loopback
//! addresses (same port, one shared store, like two copies of one app) and a tiny
//! authoritative DNS responder that answers the app name with the first address. The
//! prober (`drdrill::traffic::Prober`, exactly as `drdrill run` configures it) sends
//! open-loop traffic to `http://<name>:<port>`; after `--before` the DNS answer flips to
//! the second address. The figure is the share of requests scheduled later than
//! `switch + TTL + max connection age + 1 s` that reached the new address (goal: 100%).
//!
//! The prober resolves through the system resolver configuration, so this must run
//! where `/etc/resolv.conf` names the responder's address (`bench/run` bind-mounts one
//! in a private mount namespace with `unshare`). Loopback only; bounded in time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[path = "support/echo.rs"]
mod echo;

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};
use drdrill::traffic::{ConnectionPolicy, Prober, RequestSpec, RunClock, TrafficConfig};
use serde_json::json;
use tokio::net::{TcpListener, UdpSocket};

/// Measures how fast drdrill's prober follows a DNS failover (loopback only).
#[derive(Debug, Parser)]
struct Args {
    /// Where the DNS responder listens; `/etc/resolv.conf` must name this address.
    #[arg(long, default_value = "127.0.53.53:53")]
    dns: SocketAddr,
    /// The app's DNS name.
    #[arg(long, default_value = "app.drill.test")]
    name: String,
    /// Address served before the failover.
    #[arg(long, default_value = "127.0.0.10")]
    old: Ipv4Addr,
    /// Address served after the failover.
    #[arg(long, default_value = "127.0.0.11")]
    new: Ipv4Addr,
    /// TTL of the DNS answers.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// Connection policy of the prober.
    #[arg(long, value_enum, default_value_t = Connection::KeepAlive)]
    connection: Connection,
    /// Longest reuse of a keep-alive client.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    max_age: Duration,
    /// Requests per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Traffic before the DNS answer changes.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    before: Duration,
    /// Traffic after the deadline (switch + TTL + max age + 1 s).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    after_deadline: Duration,
    /// Folder for the prober's logs (default: a temporary folder).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// `--connection` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Connection {
    /// A new TCP connection per request.
    Fresh,
    /// Pooled connections, rotated every `--max-age`.
    KeepAlive,
}

const OLD_SERVED_BY: &str = "srv-old/az-old/local";
const NEW_SERVED_BY: &str = "srv-new/az-new/local";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the Tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    check_resolver(args.dns.ip())?;
    let store = Arc::new(echo::Store::default());
    let (old, new) = bind_pair(args.old, args.new).await?;
    let port = old.local_addr()?.port();
    tokio::spawn(echo::serve(old, OLD_SERVED_BY.into(), Arc::clone(&store)));
    tokio::spawn(echo::serve(new, NEW_SERVED_BY.into(), Arc::clone(&store)));

    let answer = Arc::new(AtomicU32::new(u32::from(args.old)));
    let queries = Arc::new(AtomicU64::new(0));
    let socket = UdpSocket::bind(args.dns)
        .await
        .with_context(|| format!("binding the DNS responder on {}", args.dns))?;
    let ttl_s = u32::try_from(args.ttl.as_secs()).unwrap_or(u32::MAX);
    tokio::spawn(dns_responder(
        socket,
        args.name.to_ascii_lowercase(),
        ttl_s,
        Arc::clone(&answer),
        Arc::clone(&queries),
    ));

    let temp = tempfile::tempdir()?;
    let out = args.out.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let max_age = args.max_age;
    let cfg = TrafficConfig {
        base_url: format!("http://{}:{port}", args.name),
        rate_per_sec: args.rate,
        write_ratio: 0.1,
        timeout: Duration::from_secs(1),
        connection: match args.connection {
            Connection::Fresh => ConnectionPolicy::Fresh,
            Connection::KeepAlive => ConnectionPolicy::KeepAlive { max_age },
        },
        write: RequestSpec {
            method: "PUT".into(),
            path_template: "/items/{id}".into(),
            body_template: Some("drdrill write {id}".into()),
        },
        read: RequestSpec {
            method: "GET".into(),
            path_template: "/items/{id}".into(),
            body_template: None,
        },
        expect_status: None,
        reads_only_id: None,
    };
    let prober = Prober::start(cfg, RunClock::start(), &out)?;
    tokio::time::sleep(args.before).await;
    answer.store(u32::from(args.new), Ordering::SeqCst);
    let switch_ms = now_unix_ms();
    let bound = args.ttl
        + match args.connection {
            Connection::Fresh => Duration::ZERO,
            Connection::KeepAlive => max_age,
        }
        + Duration::from_secs(1);
    let deadline_ms = switch_ms + i64::try_from(bound.as_millis())?;
    tokio::time::sleep(bound + args.after_deadline).await;
    let outcome = prober.stop().await;

    let (mut old_after, mut new_after, mut other_after) = (0u64, 0u64, 0u64);
    let mut last_old_ms = None;
    let mut first_new_ms = None;
    // Per probe, from the raw log (every line is a finished probe): scheduled time, served-by.
    let log = outcome
        .probe_log
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the probe log was lost"))?;
    for line in std::fs::read_to_string(&log.probes_path)?.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let scheduled_ms = fields
            .get(3)
            .ok_or_else(|| anyhow::anyhow!("short probes.csv line: {line}"))?
            .parse::<i64>()?
            / 1000;
        let served_by = fields.get(9).copied().unwrap_or("");
        let (old_n, new_n) = (
            u64::from(served_by == OLD_SERVED_BY),
            u64::from(served_by == NEW_SERVED_BY),
        );
        if old_n > 0 {
            last_old_ms = last_old_ms.max(Some(scheduled_ms));
        }
        if new_n > 0 {
            first_new_ms = Some(first_new_ms.map_or(scheduled_ms, |t: i64| t.min(scheduled_ms)));
        }
        if scheduled_ms >= deadline_ms {
            old_after += old_n;
            new_after += new_n;
            other_after += 1 - old_n - new_n;
        }
    }
    let reached = old_after + new_after + other_after;
    let share = if reached == 0 {
        0.0
    } else {
        new_after as f64 / reached as f64
    };
    let report = json!({
        "connection": format!("{:?}", args.connection),
        "ttl_ms": args.ttl.as_millis(),
        "max_age_ms": if args.connection == Connection::KeepAlive { max_age.as_millis() } else { 0 },
        "rate": args.rate,
        "bound_ms": bound.as_millis(),
        "switch_unix_ms": switch_ms,
        "dns_queries": queries.load(Ordering::Relaxed),
        "sent": outcome.probes.sent,
        "failed": outcome.probes.failed,
        "connections_opened": outcome.connections_opened,
        "connections_aged_out": outcome.connections_aged_out,
        "after_bound": { "new": new_after, "old": old_after, "other": other_after },
        "share_new_after_bound": share,
        "first_new_after_switch_ms": first_new_ms.map(|t| t - switch_ms),
        "last_old_after_switch_ms": last_old_ms.map(|t| t - switch_ms),
        "goal_met": reached > 0 && new_after == reached,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if reached == 0 {
        bail!("no request completed after the bound: the prober did not reach the servers");
    }
    Ok(())
}

/// Fails unless `/etc/resolv.conf` names `dns` as its (first) nameserver.
fn check_resolver(dns: IpAddr) -> anyhow::Result<()> {
    let conf = std::fs::read_to_string("/etc/resolv.conf").context("reading /etc/resolv.conf")?;
    let first = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(str::trim)
        .next();
    if first != Some(dns.to_string().as_str()) {
        bail!(
            "/etc/resolv.conf must name {dns} as its nameserver (found {first:?}); \
             run through bench/run, which bind-mounts one in a private mount namespace"
        );
    }
    Ok(())
}

/// Binds both addresses on one port (the URL names one port).
async fn bind_pair(old: Ipv4Addr, new: Ipv4Addr) -> anyhow::Result<(TcpListener, TcpListener)> {
    for _ in 0..20 {
        let first = TcpListener::bind((old, 0))
            .await
            .with_context(|| format!("binding {old}"))?;
        let port = first.local_addr()?.port();
        if let Ok(second) = TcpListener::bind((new, port)).await {
            return Ok((first, second));
        }
    }
    bail!("no port free on both {old} and {new}")
}

fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Answers `A` queries for `name` with the current address, `AAAA` with no data, and
/// every other name with NXDOMAIN (both with an SOA giving the TTL as the negative
/// caching time). Malformed packets are ignored.
async fn dns_responder(socket: UdpSocket, name: String, ttl_s: u32, answer: Arc<AtomicU32>, queries: Arc<AtomicU64>) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(query) = Query::parse(&buf[..len]) else {
            continue;
        };
        queries.fetch_add(1, Ordering::Relaxed);
        let address = Ipv4Addr::from(answer.load(Ordering::SeqCst));
        let reply = query.reply(&buf[..len], &name, ttl_s, address);
        let _ = socket.send_to(&reply, peer).await;
    }
}

/// The parts of a DNS query this responder needs.
struct Query {
    /// Offset just past the question section.
    question_end: usize,
    /// The queried name, lower case, without the trailing dot.
    name: String,
    /// The query type (1 = A, 28 = AAAA).
    qtype: u16,
}

impl Query {
    /// Parses a standard query with one question (RFC 1035 §4.1).
    fn parse(packet: &[u8]) -> Option<Self> {
        if packet.len() < 12 || packet[2] & 0x80 != 0 || u16::from_be_bytes([packet[4], packet[5]]) != 1 {
            return None;
        }
        let mut at = 12;
        let mut labels = Vec::new();
        loop {
            let len = usize::from(*packet.get(at)?);
            at += 1;
            if len == 0 {
                break;
            }
            if len > 63 {
                return None;
            }
            labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).to_ascii_lowercase());
            at += len;
        }
        let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
        packet.get(at + 3)?;
        Some(Self {
            question_end: at + 4,
            name: labels.join("."),
            qtype,
        })
    }

    /// The authoritative answer to this query.
    fn reply(&self, packet: &[u8], name: &str, ttl_s: u32, address: Ipv4Addr) -> Vec<u8> {
        let known = self.name == name;
        let answers: u16 = u16::from(known && self.qtype == 1);
        let rcode: u8 = if known { 0 } else { 3 };
        let mut out = Vec::with_capacity(self.question_end + 16);
        out.extend_from_slice(&packet[0..2]);
        // QR, opcode 0, AA, RD copied; RA clear; RCODE.
        out.push(0x84 | (packet[2] & 0x01));
        out.push(rcode);
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&answers.to_be_bytes());
        // No answer: an SOA in the authority section, so resolvers cache the negative
        // answer for the TTL as they would with a real zone.
        out.extend_from_slice(&(1 - answers).to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&packet[12..self.question_end]);
        if answers == 1 {
            // Name as a pointer to the question's name at offset 12.
            out.extend_from_slice(&[0xC0, 0x0C]);
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&ttl_s.to_be_bytes());
            out.extend_from_slice(&4u16.to_be_bytes());
            out.extend_from_slice(&address.octets());
        } else {
            // Owner, MNAME and RNAME all point at the question's name (offset 12).
            out.extend_from_slice(&[0xC0, 0x0C]);
            out.extend_from_slice(&6u16.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&ttl_s.to_be_bytes());
            out.extend_from_slice(&24u16.to_be_bytes());
            out.extend_from_slice(&[0xC0, 0x0C, 0xC0, 0x0C]);
            // Serial, refresh, retry, expire, minimum (the negative-caching TTL).
            for value in [1, 3600, 600, 86_400, ttl_s] {
                out.extend_from_slice(&u32::to_be_bytes(value));
            }
        }
        out
    }
}
