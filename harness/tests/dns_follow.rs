//! The prober's resolver follows DNS changes: against the embedded local stack's DNS
//! server (real UDP/TCP), a record changed with the Route 53 API (the official SDK)
//! mid-run sends new requests to the new address within TTL + maximum connection age,
//! and the DNS observer journals the change.

mod support;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use drdrill::aws::Clients;
use drdrill::journal::{now_unix_ms, EventKind, Journal};
use drdrill::observe;
use drdrill::traffic::{ConnectionPolicy, DnsResolver, Nameserver, Prober, RunClock, TrafficConfig};
use drdrill_localstack::{LocalStack, Options, Stack};
use support::wait::wait_for;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const NAME: &str = "svc.follow.test";
const OLD: Ipv4Addr = Ipv4Addr::new(127, 0, 61, 1);
const NEW: Ipv4Addr = Ipv4Addr::new(127, 0, 61, 2);
/// The record's TTL in the stack file and in the change.
const TTL: Duration = Duration::from_secs(1);
const MAX_AGE: Duration = Duration::from_millis(500);

type Store = Arc<Mutex<HashMap<String, String>>>;

/// A tiny HTTP/1.1 server of the probe contract (keep-alive; `PUT`/`GET /items/{id}`),
/// counting the requests it answers and naming itself in `served-by`.
async fn serve(listener: TcpListener, served_by: &'static str, store: Store, hits: Arc<AtomicU64>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(connection(stream, served_by, store.clone(), hits.clone()));
    }
}

async fn connection(stream: TcpStream, served_by: &'static str, store: Store, hits: Arc<AtomicU64>) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((key, value)) = line.split_once(':') {
                if key.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let id = path.strip_prefix("/items/").unwrap_or("").to_string();
        let (status, answer) = {
            let mut items = store.lock().unwrap();
            match method {
                "PUT" => {
                    items.insert(id, String::from_utf8_lossy(&body).into_owned());
                    ("200 OK", String::new())
                }
                "GET" => match items.get(&id) {
                    Some(found) => ("200 OK", found.clone()),
                    None => ("404 Not Found", String::new()),
                },
                _ => ("405 Method Not Allowed", String::new()),
            }
        };
        hits.fetch_add(1, Ordering::SeqCst);
        let response = format!(
            "HTTP/1.1 {status}\r\nserved-by: {served_by}\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if stream.get_mut().write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Listeners on OLD and NEW with the same port (like two load balancers of two regions).
async fn bind_pair() -> (TcpListener, TcpListener) {
    for _ in 0..20 {
        let old = TcpListener::bind(SocketAddr::new(IpAddr::V4(OLD), 0))
            .await
            .expect("bind old");
        let port = old.local_addr().expect("addr").port();
        if let Ok(new) = TcpListener::bind(SocketAddr::new(IpAddr::V4(NEW), port)).await {
            return (old, new);
        }
    }
    panic!("no port free on both {OLD} and {NEW}");
}

fn config(base_url: String) -> TrafficConfig {
    support::traffic::config(base_url, 100.0, ConnectionPolicy::KeepAlive { max_age: MAX_AGE })
}

async fn upsert(clients: &Clients, ip: Ipv4Addr) {
    let zones = clients
        .route53
        .list_hosted_zones()
        .send()
        .await
        .expect("ListHostedZones");
    let zone = zones.hosted_zones().first().expect("the stack's zone").id().to_string();
    let set = ResourceRecordSet::builder()
        .name(NAME)
        .r#type(RrType::A)
        .ttl(TTL.as_secs() as i64)
        .resource_records(ResourceRecord::builder().value(ip.to_string()).build().unwrap())
        .build()
        .unwrap();
    let change = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(set)
        .build()
        .unwrap();
    clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .expect("ChangeResourceRecordSets");
}

/// With keep-alive connections rotated every 500 ms and a 1 s TTL, every request
/// scheduled later than the change + TTL + max age (+ 300 ms for scheduling) reaches the
/// new address; none fails (both addresses serve, sharing one store); none reached the
/// new address before the change; and the DNS observer journals old → new soon after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prober_follows_a_changed_record_within_ttl_plus_max_age() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stacks/dns-follow.yaml");
    let stack = Stack::load(&file).expect("stack file");
    let local = LocalStack::start(
        stack,
        Options {
            endpoint: SocketAddr::from(([127, 0, 0, 1], 0)),
        },
    )
    .await
    .expect("local stack");
    let (old, new) = bind_pair().await;
    let port = old.local_addr().unwrap().port();
    let store = Store::default();
    let (old_hits, new_hits) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    tokio::spawn(serve(old, "old/az-old/r", store.clone(), old_hits.clone()));
    tokio::spawn(serve(new, "new/az-new/r", store.clone(), new_hits.clone()));

    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::create(dir.path()).unwrap();
    let nameserver = Nameserver::At(local.dns_addr());
    let observer = observe::watch_dns(DnsResolver::uncached(nameserver).unwrap(), NAME.into(), &journal);
    let resolver = DnsResolver::new(nameserver).unwrap();
    let prober = Prober::start_resolving(
        config(format!("http://{NAME}:{port}")),
        Some(resolver),
        RunClock::start(),
        dir.path(),
    )
    .expect("prober");
    wait_for("requests at the old address", Duration::from_secs(10), || async {
        old_hits.load(Ordering::SeqCst) >= 30
    })
    .await;

    let clients = Clients::local(&local.endpoint_url(), "us-east-1").await;
    let switch = now_unix_ms();
    upsert(&clients, NEW).await;
    let bound = switch + (TTL + MAX_AGE + Duration::from_millis(300)).as_millis() as i64;
    wait_for(
        "requests at the new address",
        TTL + MAX_AGE + Duration::from_secs(5),
        || async { new_hits.load(Ordering::SeqCst) >= 30 },
    )
    .await;
    wait_for(
        "a second of traffic after the bound",
        Duration::from_secs(10),
        || async { now_unix_ms() >= bound + 1_000 },
    )
    .await;
    let outcome = prober.stop().await;
    observer.stop().await;

    assert_eq!(
        outcome.probes.failed,
        0,
        "{:?}",
        outcome.probes.buckets.iter().map(|b| &b.failures).collect::<Vec<_>>()
    );
    // Per probe, from the raw log: (scheduled unix ms, served-by).
    let probes: Vec<(i64, String)> =
        support::traffic::csv_rows(&outcome.probe_log.as_ref().expect("probe log").probes_path)
            .into_iter()
            .map(|r| (r[3].parse::<i64>().expect("scheduled_unix_us") / 1000, r[9].clone()))
            .collect();
    let count = |from: i64, to: i64, who: &str| -> u64 {
        probes
            .iter()
            .filter(|(t, by)| *t >= from && *t < to && by == who)
            .count() as u64
    };
    // The per-100 ms served-by counts agree with the log.
    assert_eq!(
        outcome.probes.served_by.count_within("new/az-new/r", 0, i64::MAX),
        count(0, i64::MAX, "new/az-new/r")
    );
    assert_eq!(
        count(0, switch, "new/az-new/r"),
        0,
        "nothing reached the new address before the change"
    );
    assert_eq!(
        count(bound, i64::MAX, "old/az-old/r"),
        0,
        "requests scheduled after change + TTL + max age still reached the old address"
    );
    assert!(count(bound, i64::MAX, "new/az-new/r") >= 50);

    // The new address joins the observed set at once; the old one leaves it after the
    // observer's few polls without it (see `observe::dns`).
    let changes: Vec<(i64, Vec<String>, Vec<String>)> = journal
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::DnsAnswerChanged {
                previous: Some(previous),
                answers,
                ..
            } => Some((e.t_unix_ms, previous, answers)),
            _ => None,
        })
        .collect();
    let (t, previous, answers) = changes.first().cloned().expect("the DNS observer saw the change");
    assert_eq!(previous, vec![OLD.to_string()]);
    assert!(answers.contains(&NEW.to_string()), "{answers:?}");
    assert!(
        t >= switch && t <= switch + 1_000,
        "observed {} ms after the change",
        t - switch
    );
    let settled = changes
        .iter()
        .find(|(_, _, a)| a == &vec![NEW.to_string()])
        .expect("the old address left the observed answers");
    assert!(
        settled.0 <= t + 1_000,
        "old address left {} ms after the new one joined",
        settled.0 - t
    );
    local.shutdown().await;
}
