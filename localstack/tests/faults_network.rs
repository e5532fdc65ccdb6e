//! `aws:network:disrupt-connectivity` black-holes a zone's subnets: requests hang (the
//! client times out), they are not refused, and everything works again afterwards.

mod common;

use std::time::{Duration, Instant};

use common::{app_subnets_in, wait_until, Env};
use serde_json::json;

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
