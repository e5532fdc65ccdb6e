//! The AWS SDK configuration a user gives to any AWS tool reaches drdrill's clients:
//! `AWS_ENDPOINT_URL`, the service-specific `AWS_ENDPOINT_URL_<SERVICE>` variables, and a
//! named profile (`AWS_PROFILE`, `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`) with
//! its own `endpoint_url`. `drdrill::aws::Clients::aws` is what an `aws:` target uses; the
//! stack behind the endpoint here is a local stack on loopback.
//!
//! One test in this binary: it changes the process environment, step by step.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use drdrill::aws::Clients;
use drdrill_localstack::{LocalStack, Options, Stack};

/// Every variable this test sets, cleared between steps.
const VARS: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
];

fn clear() {
    for v in VARS {
        std::env::remove_var(v);
    }
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
}

/// Whether STS and ELBv2 calls through clients built from the environment alone (no
/// endpoint, no profile given to `Clients::aws`) reach the stack: `(sts_ok, elb_ok)`.
async fn reach() -> (bool, bool) {
    let c = Clients::aws("us-east-1", None, None).await;
    let sts = c.sts.get_caller_identity().send().await;
    let sts_ok = matches!(&sts, Ok(who) if who.account() == Some("000000000000"));
    let elb = c.elb.describe_load_balancers().names("drill-alb").send().await;
    let elb_ok = matches!(&elb, Ok(out) if out.load_balancers().len() == 1);
    (sts_ok, elb_ok)
}

/// `AWS_ENDPOINT_URL` points every client at the stack; a service-specific variable wins
/// over it for its service only; a profile's `endpoint_url` and credentials are used when
/// `AWS_PROFILE` names it. A dead endpoint (port 1, refused at once) shows which client
/// went where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_endpoint_and_profile_variables_reach_the_clients() {
    let stack =
        Stack::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../localstack/stacks/multi-az.yaml")).unwrap();
    let ls = LocalStack::start(
        stack,
        Options {
            endpoint: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        },
    )
    .await
    .unwrap();
    let endpoint = ls.endpoint_url();
    let dead = "http://127.0.0.1:1";

    // 1. The global variable, with static credentials from the environment.
    clear();
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    assert_eq!(reach().await, (true, true), "AWS_ENDPOINT_URL");

    // 2. A service-specific variable wins over the global one, for its service only.
    std::env::set_var("AWS_ENDPOINT_URL", dead);
    std::env::set_var("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", &endpoint);
    assert_eq!(
        reach().await,
        (false, true),
        "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"
    );
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    std::env::set_var("AWS_ENDPOINT_URL_STS", dead);
    std::env::remove_var("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2");
    assert_eq!(reach().await, (false, true), "AWS_ENDPOINT_URL_STS");

    // 3. A named profile carries the endpoint and the credentials.
    clear();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &config,
        format!("[profile drill]\nregion = us-east-1\nendpoint_url = {endpoint}\n"),
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[drill]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    std::env::set_var("AWS_CONFIG_FILE", &config);
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &credentials);
    std::env::set_var("AWS_PROFILE", "drill");
    assert_eq!(reach().await, (true, true), "AWS_PROFILE with endpoint_url");

    // 4. An explicit endpoint (a scenario's `endpoint_url`) wins over the environment.
    std::env::set_var("AWS_ENDPOINT_URL", dead);
    let c = Clients::aws("us-east-1", Some("drill"), Some(&endpoint)).await;
    let who = c.sts.get_caller_identity().send().await.unwrap();
    assert_eq!(who.account(), Some("000000000000"));

    clear();
    ls.shutdown().await;
}
