//! `aws:network:disrupt-connectivity` cuts subnets as a deny-all network ACL would:
//! requests across the cut hang (the client times out), they are not refused, traffic the
//! scope allows passes, dropped requests arrive at TCP's retransmissions, and everything
//! works again afterwards.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{app_subnets_in, t_ms, wait_until, Env};
use serde_json::{json, Value};

/// While an AZ's app subnet is black-holed, a direct HTTP request to an instance there hangs
/// until the client's 500 ms timeout (a timeout error, not a refusal or a connect error),
/// instances in other zones answer at once, the load balancer keeps serving, and after the
/// PT3S duration the same request succeeds again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disrupted_subnet_hangs_then_recovers() {
    let env = Env::multi_az().await;
    let zone_c = env.zone_instances("us-east-1c");
    let zone_b = env.zone_instances("us-east-1b");
    let template = json!({
        "targets": {"Subnets": app_subnets_in("us-east-1c")},
        "actions": {"Cut": {"actionId": "aws:network:disrupt-connectivity",
                            "parameters": {"duration": "PT3S", "scope": "all"},
                            "targets": {"Subnets": "Subnets"}}}
    });
    let tid = env.create_template(&template).await;
    let eid = env.start_experiment(&tid).await;
    env.wait_fault_applied(&eid, "Cut", Duration::from_secs(2)).await;

    let short = common::client(Duration::from_millis(500));
    for (id, addr) in &zone_c {
        let began = Instant::now();
        let err = short
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .map(|r| r.status())
            .expect_err("a request into a black-holed subnet does not complete");
        let took = began.elapsed();
        assert!(err.is_timeout(), "{id}: a timeout, not {err:?}");
        assert!(!err.is_connect(), "{id}: not a connect error: {err:?}");
        assert!(
            took >= Duration::from_millis(450),
            "{id}: hung until the client's timeout ({took:?})"
        );
    }
    for (id, addr) in &zone_b {
        let r = short.get(format!("http://{addr}/health")).send().await;
        assert!(r.is_ok_and(|r| r.status() == 200), "{id} in another zone answers");
    }
    assert!(
        env.truth_of("fault_reverted").await.is_empty(),
        "checked inside the fault window"
    );

    wait_until(Duration::from_secs(6), "the zone answers again", || async {
        for (_, addr) in &zone_c {
            match short.get(format!("http://{addr}/health")).send().await {
                Ok(r) if r.status() == 200 => {}
                _ => return false,
            }
        }
        true
    })
    .await;
    env.wait_experiment(&eid, "completed", Duration::from_secs(2)).await;
    let reverted = env.truth_of("fault_reverted").await;
    assert_eq!(reverted.len(), 1);
    assert_eq!(reverted[0]["targets"], json!(["subnet-app-1c"]));
    assert_eq!(
        env.put_item("after-cut", "x").await,
        Some(201),
        "the load balancer serves"
    );
}

/// A client that sends from `ip` (an instance's address, so the stack takes it for that
/// instance's subnet) with a total timeout, no idle connections kept.
fn client_from(ip: IpAddr, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .expect("reqwest client")
}

fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64
}

/// Whether a GET of `/health` at `addr` from `ip` answers 200 within the client's timeout.
async fn answers(from: IpAddr, addr: SocketAddr) -> bool {
    let c = client_from(from, Duration::from_millis(500));
    c.get(format!("http://{addr}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// `scope: all` works as the deny-all network ACL FIS puts on the subnet: traffic inside the
/// subnet passes (another instance of subnet-app-1c reaches i-app1c1), traffic crossing its
/// boundary does not (from zone b's instance, or from outside). And the ACL drops packets
/// rather than holding them: a request sent 0.5 s into the 3 s cut on a new connection is
/// answered at TCP's retransmission 3 s after it was sent (timeout 1 s, doubling: 1, 3,
/// 7 s), i.e. about 0.5 s after the cut ends — not the moment it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_all_passes_inside_the_subnet_and_drops_what_crosses_it() {
    let env = Env::multi_az().await;
    let ip = |id: &str| env.ls.world.instance_addr(id).expect(id).ip();
    let target = env.ls.world.instance_addr("i-app1c1").expect("i-app1c1");
    let template = json!({
        "targets": {"Subnets": {"resourceType": "aws:ec2:subnet", "resourceArns": [
            "arn:aws:ec2:us-east-1:000000000000:subnet/subnet-app-1c"], "selectionMode": "ALL"}},
        "actions": {"Cut": {"actionId": "aws:network:disrupt-connectivity",
                            "parameters": {"duration": "PT3S", "scope": "all"},
                            "targets": {"Subnets": "Subnets"}}}
    });
    let tid = env.create_template(&template).await;
    let eid = env.start_experiment(&tid).await;
    let applied = env.wait_fault_applied(&eid, "Cut", Duration::from_secs(2)).await;

    assert!(
        answers(ip("i-app1c2"), target).await,
        "traffic inside the subnet passes"
    );
    assert!(
        !answers(ip("i-app1b1"), target).await,
        "from another zone's subnet: dropped"
    );

    let wait = (applied + 500 - unix_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let sent = unix_ms();
    let outside = common::client(Duration::from_secs(10));
    let r = outside.get(format!("http://{target}/health")).send().await;
    let answered = unix_ms();
    assert!(r.is_ok_and(|r| r.status() == 200), "answered once TCP retransmits");
    let reverted = env.truth_of("fault_reverted").await;
    assert_eq!(reverted.len(), 1, "the cut has ended");
    let open = t_ms(&reverted[0]);
    assert!(
        open - sent < 2_900,
        "sent {} ms before the cut ended (needs < 2.9 s for the expected schedule)",
        open - sent
    );
    // Retransmissions at sent + 1, 3, 7 s: the first at or after the cut's end is 3 s.
    let took = answered - sent;
    assert!(
        (3_000..4_500).contains(&took),
        "answered {took} ms after sending, at the 3 s retransmission"
    );
    assert!(
        answered - open >= 100,
        "answered {} ms after the cut ended: dropped and retransmitted, not held",
        answered - open
    );
}

/// `scope: availability-zone` denies intra-VPC traffic with other zones only: from zone b's
/// instance, i-app1a1 (in the cut subnet-app-1a) is out of reach; from the same zone and
/// from outside the VPC it answers, and its app still writes to the database writer in
/// its own zone (subnet-db-1a). Through the load balancer (one node per zone, cross-zone
/// routing), the nodes of zones b and c cannot reach zone a's two targets while zone a's
/// node can: 4 of the 18 (node, target) routes fail, so the ground truth's serving
/// fraction is 14/18 with 4 of 6 targets answering through every node; the health
/// checks (from each target's own zone's node) keep zone a's targets healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_availability_zone_cuts_other_zones_only() {
    let env = Env::multi_az().await;
    let ip = |id: &str| env.ls.world.instance_addr(id).expect(id).ip();
    let target = env.ls.world.instance_addr("i-app1a1").expect("i-app1a1");
    let template = json!({
        "targets": {"Subnets": {"resourceType": "aws:ec2:subnet", "resourceArns": [
            "arn:aws:ec2:us-east-1:000000000000:subnet/subnet-app-1a"], "selectionMode": "ALL"}},
        "actions": {"Cut": {"actionId": "aws:network:disrupt-connectivity",
                            "parameters": {"duration": "PT5S", "scope": "availability-zone"},
                            "targets": {"Subnets": "Subnets"}}}
    });
    let tid = env.create_template(&template).await;
    let eid = env.start_experiment(&tid).await;
    let applied = env.wait_fault_applied(&eid, "Cut", Duration::from_secs(2)).await;

    assert!(!answers(ip("i-app1b1"), target).await, "from another zone: dropped");
    assert!(answers(ip("i-app1a2"), target).await, "from the same zone: passes");
    let outside = common::client(Duration::from_secs(3));
    let r = outside.get(format!("http://{target}/health")).send().await;
    assert!(r.is_ok_and(|r| r.status() == 200), "from outside the VPC: passes");
    let put = outside
        .put(format!("http://{target}/items/az-scope"))
        .body("x")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .ok();
    assert_eq!(put, Some(201), "the app reaches the writer in its own zone");

    let fractions: Vec<Value> = env
        .truth_of("serving_fraction")
        .await
        .into_iter()
        .filter(|e| t_ms(e) >= applied)
        .collect();
    let first = fractions.first().expect("a serving fraction recorded at the cut");
    assert_eq!(first["serving_fraction"].as_f64(), Some(14.0 / 18.0), "{first}");
    assert_eq!(
        (first["answering"].as_u64(), first["routable"].as_u64()),
        (Some(4), Some(6))
    );
    assert!(
        env.truth_of("target_health")
            .await
            .iter()
            .filter(|e| t_ms(e) >= applied)
            .all(|e| e["to"] != "unhealthy"),
        "checked from their own zone's node, zone a's targets stay healthy"
    );
    env.wait_experiment(&eid, "completed", Duration::from_secs(8)).await;
    assert!(
        answers(ip("i-app1b1"), target).await,
        "after the cut, zone b reaches it again"
    );
}
