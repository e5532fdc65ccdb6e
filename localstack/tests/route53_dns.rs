//! The local stack's DNS server as real resolvers see it: failover to the secondary after
//! the health check's failure threshold and back after recovery (hickory over UDP and TCP,
//! and `dig` when it is installed), record TTLs in answers, alias and weighted records by
//! health, negative answers, and the ground truth of health-check and answer changes.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::{str_of, t_ms, test_stack, wait_for, wait_until, Env};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};

/// The health check's probe interval, failure threshold and probe timeout in
/// `tests/stacks/route53.yaml`.
const INTERVAL_MS: i64 = 250;
const THRESHOLD: i64 = 4;
const TIMEOUT_MS: i64 = 400;
/// The soonest a health check can turn unhealthy after its endpoint fails: THRESHOLD
/// failing probes INTERVAL_MS apart, the first of which may have started up to a probe
/// timeout before the failure (50 ms for timer slack). One failed probe alone could not
/// take this long.
const EARLIEST_MS: i64 = (THRESHOLD - 1) * INTERVAL_MS - TIMEOUT_MS - 50;
const _: () = assert!(EARLIEST_MS > INTERVAL_MS);
/// The failover record's TTL in the stack file.
const APP_TTL: u32 = 7;
const PRIMARY: &str = "127.0.0.10";
const SECONDARY: &str = "127.0.0.20";

/// A resolver that asks only the stack's DNS server, over one protocol, caching nothing.
fn resolver(dns: SocketAddr, protocol: ProtocolConfig) -> TokioResolver {
    let mut conn = ConnectionConfig::new(protocol);
    conn.port = dns.port();
    let ns = NameServerConfig::new(dns.ip(), true, vec![conn]);
    let mut b = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    );
    let o = b.options_mut();
    o.cache_size = 0;
    o.use_hosts_file = ResolveHosts::Never;
    o.timeout = Duration::from_secs(3);
    o.attempts = 2;
    b.build().expect("resolver builds")
}

/// The A records (address, TTL) hickory resolves for `name` over `protocol`.
async fn lookup_a(dns: SocketAddr, protocol: ProtocolConfig, name: &str) -> Vec<(String, u32)> {
    let r = resolver(dns, protocol);
    let l = r
        .lookup(name, RecordType::A)
        .await
        .unwrap_or_else(|e| panic!("resolving {name}: {e}"));
    l.answers()
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::A(a) => Some((a.0.to_string(), rec.ttl)),
            _ => None,
        })
        .collect()
}

/// The addresses both hickory over UDP and hickory over TCP resolve, if they agree.
async fn resolve_both(dns: SocketAddr, name: &str) -> Option<Vec<String>> {
    let udp = lookup_a(dns, ProtocolConfig::Udp, name).await;
    let tcp = lookup_a(dns, ProtocolConfig::Tcp, name).await;
    let ips = |v: &[(String, u32)]| v.iter().map(|(ip, _)| ip.clone()).collect::<Vec<_>>();
    (ips(&udp) == ips(&tcp)).then(|| ips(&udp))
}

/// Waits (bounded) until hickory over UDP and TCP both answer exactly `want` for `name`.
async fn wait_answer(dns: SocketAddr, name: &str, want: &str, within: Duration) {
    wait_until(
        within,
        &format!("{name} resolves to {want} over UDP and TCP"),
        || async { resolve_both(dns, name).await == Some(vec![want.to_string()]) },
    )
    .await;
}

/// `dig` at the stack's DNS server, if installed: (address, TTL) of the A answers, over UDP
/// or TCP. `None` when dig is not there.
fn dig(dns: SocketAddr, name: &str, tcp: bool) -> Option<Vec<(String, u32)>> {
    if !std::path::Path::new("/usr/bin/dig").exists() {
        return None;
    }
    let mut cmd = Command::new("/usr/bin/dig");
    cmd.arg(format!("@{}", dns.ip())).args([
        "-p",
        &dns.port().to_string(),
        name,
        "A",
        "+noall",
        "+answer",
        "+time=3",
        "+tries=2",
    ]);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd.output().expect("dig runs");
    assert!(
        out.status.success(),
        "dig failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Some(
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 5 && f[3] == "A").then(|| (f[4].to_string(), f[1].parse().expect("TTL")))
            })
            .collect(),
    )
}

/// Checks what dig sees (UDP and TCP), or prints that dig is not installed.
fn check_dig(dns: SocketAddr, name: &str, want: &str, ttl: u32) {
    for tcp in [false, true] {
        match dig(dns, name, tcp) {
            None => {
                println!(
                    "note: /usr/bin/dig is not installed; skipping the dig check (apt-get install bind9-dnsutils)"
                );
                return;
            }
            Some(got) => assert_eq!(
                got,
                vec![(want.to_string(), ttl)],
                "dig (tcp: {tcp}) answers for {name}"
            ),
        }
    }
}

/// A raw query over UDP with hickory-proto, for response codes and flags.
async fn raw_query(dns: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let mut msg = Message::new(4242, MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("udp bind");
    sock.connect(dns).await.expect("udp connect");
    let bytes = msg.to_vec().expect("encode");
    let mut buf = vec![0u8; 4096];
    for _ in 0..5 {
        sock.send(&bytes).await.expect("udp send");
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await {
            return Message::from_vec(&buf[..n]).expect("decode answer");
        }
    }
    panic!("no DNS answer for {name} after 5 tries");
}

/// Every app instance's id.
fn instance_ids(env: &Env) -> Vec<String> {
    env.all_instances().into_iter().map(|(id, _)| id).collect()
}

/// The DNS server answers the failover name with the primary while its health check
/// passes, with the secondary once the load balancer it probes fails for `failure_threshold`
/// probes (all instances stopped: every target `unused`, the load balancer answers 503 as
/// an ALB does), and with the primary
/// again after the instances come back; hickory over UDP and TCP and dig agree, with the
/// record's TTL; the ground truth has the health-check and answer changes at times that
/// fit the threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_follows_the_health_check() {
    let env = Env::start(test_stack("route53")).await;
    let dns = env.ls.dns_addr();
    let name = "app.drill.test.";

    // Healthy: the primary, with the record's TTL, over every transport.
    wait_answer(dns, name, PRIMARY, Duration::from_secs(20)).await;
    assert_eq!(
        lookup_a(dns, ProtocolConfig::Udp, name).await,
        vec![(PRIMARY.to_string(), APP_TTL)]
    );
    assert_eq!(
        lookup_a(dns, ProtocolConfig::Tcp, name).await,
        vec![(PRIMARY.to_string(), APP_TTL)]
    );
    check_dig(dns, name, PRIMARY, APP_TTL);

    // Fail the load balancer's targets.
    let ids = instance_ids(&env);
    env.ls.world.stop_instances(&ids).expect("stop instances");
    wait_answer(dns, name, SECONDARY, Duration::from_secs(20)).await;
    assert_eq!(
        lookup_a(dns, ProtocolConfig::Udp, name).await,
        vec![(SECONDARY.to_string(), APP_TTL)]
    );
    check_dig(dns, name, SECONDARY, APP_TTL);

    // The status reports say why: unhealthy means no more than 18% of the checkers still
    // report healthy, and those that fail name the 503.
    let hc = env.ls.route53.get_health_check("hc-primary").expect("health check");
    assert!(!hc.healthy);
    let failing: Vec<&str> = hc
        .observations()
        .map(|(_, o)| o.status.as_str())
        .filter(|s| s.starts_with("Failure"))
        .collect();
    assert!(
        failing.len() * 100 >= hc.checkers.len() * 82,
        "{} of {} checkers fail",
        failing.len(),
        hc.checkers.len()
    );
    for status in failing {
        assert!(status.starts_with("Failure: HTTP Status Code 503"), "{status}");
    }

    // Ground truth: stopped → unhealthy after at least (threshold − 1) intervals → answer.
    let t_stop = env
        .truth_of("instance_state")
        .await
        .iter()
        .filter(|e| str_of(e, "state") == "stopped")
        .map(t_ms)
        .max()
        .expect("instances stopped in the truth");
    let unhealthy = wait_for(Duration::from_secs(5), "hc-primary unhealthy in the truth", || async {
        env.truth_of("health_check_status")
            .await
            .into_iter()
            .find(|e| str_of(e, "health_check") == "hc-primary" && str_of(e, "to") == "unhealthy")
    })
    .await;
    let t_unhealthy = t_ms(&unhealthy);
    let detection = t_unhealthy - t_stop;
    assert!(
        detection >= EARLIEST_MS,
        "unhealthy {detection} ms after the stop: sooner than {THRESHOLD} probes {INTERVAL_MS} ms apart allow"
    );
    assert!(detection <= 15_000, "unhealthy only {detection} ms after the stop");
    assert!(str_of(&unhealthy, "status").starts_with("Failure: "), "{unhealthy}");
    let answers = env.truth_of("dns_answer").await;
    let switched = answers
        .iter()
        .find(|e| str_of(e, "name") == name && e["answers"] == serde_json::json!([SECONDARY]))
        .expect("the switch to the secondary is in the truth");
    assert_eq!(switched["previous"], serde_json::json!([PRIMARY]), "{switched}");
    assert_eq!(str_of(switched, "record_type"), "A");
    let lag = t_ms(switched) - t_unhealthy;
    assert!(
        (0..=2_000).contains(&lag),
        "answer changed {lag} ms after the health check"
    );

    // Recovery: the primary again, after the same number of passing probes.
    let t_start = truth_now();
    env.ls.world.start_instances(&ids).expect("start instances");
    wait_answer(dns, name, PRIMARY, Duration::from_secs(30)).await;
    check_dig(dns, name, PRIMARY, APP_TTL);
    let healthy = env
        .truth_of("health_check_status")
        .await
        .into_iter()
        .find(|e| str_of(e, "health_check") == "hc-primary" && str_of(e, "to") == "healthy")
        .expect("hc-primary healthy again in the truth");
    assert!(
        t_ms(&healthy) >= t_start + (THRESHOLD - 1) * INTERVAL_MS - 100,
        "{healthy}"
    );
    assert!(
        str_of(&healthy, "status").starts_with("Success: HTTP Status Code 200"),
        "{healthy}"
    );
    let back = env
        .truth_of("dns_answer")
        .await
        .into_iter()
        .find(|e| {
            str_of(e, "name") == name && e["answers"] == serde_json::json!([PRIMARY]) && t_ms(e) >= t_ms(&healthy)
        })
        .expect("the switch back to the primary is in the truth");
    assert!(t_ms(&back) - t_ms(&healthy) <= 2_000, "{back}");
    env.ls.shutdown().await;
}

fn truth_now() -> i64 {
    drdrill_localstack::truth::now_unix_ms()
}

/// An alias evaluating target health answers the load balancer's address with the alias
/// TTL; the weighted name answers its weight-1 record while healthy and falls to the
/// weight-0 record when its health check fails; a simple alias whose load balancer has no
/// healthy target still answers (it has no alternative, as in Route 53).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_and_weighted_by_health() {
    let env = Env::start(test_stack("route53")).await;
    env.wait_all_healthy().await;
    let dns = env.ls.dns_addr();
    let lb_ip = env.lb().ip().to_string();
    let alias = lookup_a(dns, ProtocolConfig::Udp, "lb.drill.test.").await;
    assert_eq!(
        alias,
        vec![(lb_ip.clone(), 3)],
        "alias answers the load balancer with alias_ttl"
    );
    for _ in 0..20 {
        assert_eq!(
            resolve_both(dns, "www.drill.test.").await,
            Some(vec!["127.0.0.31".to_string()]),
            "weight 0 is never chosen while the weight-1 record is healthy"
        );
    }
    let ids = instance_ids(&env);
    env.ls.world.stop_instances(&ids).expect("stop instances");
    wait_answer(dns, "www.drill.test.", "127.0.0.32", Duration::from_secs(20)).await;
    // No alternative for the simple alias: it still answers.
    assert_eq!(lookup_a(dns, ProtocolConfig::Tcp, "lb.drill.test.").await[0].0, lb_ip);
    let truth = env.truth_of("dns_answer").await;
    assert!(
        truth
            .iter()
            .any(|e| str_of(e, "name") == "www.drill.test." && e["answers"] == serde_json::json!(["127.0.0.32"])),
        "weighted switch recorded: {truth:?}"
    );
    env.ls.shutdown().await;
}

/// Negative and odd answers: NXDOMAIN with the zone's SOA for an unknown name of the
/// zone, NOERROR without answers for a type the name lacks, REFUSED outside the zone, TXT
/// and SOA served from the zone, the authoritative flag set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_answers_and_other_types() {
    let env = Env::start(test_stack("route53")).await;
    let dns = env.ls.dns_addr();

    let nx = raw_query(dns, "nope.drill.test.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.metadata.authoritative);
    assert!(nx.answers.is_empty());
    assert!(
        nx.authorities.iter().any(|r| matches!(r.data, RData::SOA(_))),
        "NXDOMAIN carries the SOA: {nx:?}"
    );

    let nodata = raw_query(dns, "app.drill.test.", RecordType::AAAA).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());

    let refused = raw_query(dns, "example.org.", RecordType::A).await;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);

    let txt = raw_query(dns, "TXT.Drill.Test.", RecordType::TXT).await;
    assert_eq!(txt.metadata.response_code, ResponseCode::NoError);
    match &txt.answers[..] {
        [r] => {
            assert_eq!(r.ttl, 60);
            let RData::TXT(t) = &r.data else { panic!("{r:?}") };
            assert_eq!(t.to_string(), "drdrill local stack");
        }
        other => panic!("one TXT answer expected: {other:?}"),
    }

    let soa = raw_query(dns, "drill.test.", RecordType::SOA).await;
    assert!(
        matches!(soa.answers.first().map(|r| &r.data), Some(RData::SOA(_))),
        "{soa:?}"
    );
    let ns = raw_query(dns, "drill.test.", RecordType::NS).await;
    assert_eq!(ns.answers.len(), 4, "{ns:?}");

    // A resolver sees NXDOMAIN as such.
    let r = resolver(dns, ProtocolConfig::Udp);
    let err = r.lookup("nope.drill.test.", RecordType::A).await.unwrap_err();
    assert!(err.is_nx_domain(), "{err}");

    // Truth at start-up: the initial answers are recorded with no previous answers.
    let initial = env.truth_of("dns_answer").await;
    assert!(
        initial
            .iter()
            .any(|e| str_of(e, "name") == "txt.drill.test." && e["previous"] == serde_json::json!([])),
        "{initial:?}"
    );
    env.ls.shutdown().await;
}

/// Many concurrent lookups over UDP and TCP are all answered (the server neither drops
/// nor mixes up answers under load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_are_answered() {
    let env = Env::start(test_stack("route53")).await;
    let dns = env.ls.dns_addr();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            tokio::spawn(async move {
                let (proto, name) = if i % 2 == 0 {
                    (ProtocolConfig::Udp, "txt.drill.test.")
                } else {
                    (ProtocolConfig::Tcp, "lb.drill.test.")
                };
                let r = resolver(dns, proto);
                let rtype = if i % 2 == 0 { RecordType::TXT } else { RecordType::A };
                let l = r.lookup(name, rtype).await.map_err(|e| format!("{name}: {e}"))?;
                Ok::<usize, String>(l.answers().len())
            })
        })
        .collect();
    for t in tasks {
        let n = t.await.expect("task").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 1, "one record per answer");
    }
    env.ls.shutdown().await;
}
