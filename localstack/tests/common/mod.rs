//! Shared helpers for the fault tests: a running local stack with an official FIS SDK
//! client, plain HTTP clients for the data plane, the ground truth, and polling with a
//! deadline (no fixed sleeps wait for a state).

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_fis::error::ProvideErrorMetadata;
use aws_sdk_fis::types::{
    CreateExperimentTemplateActionInput, CreateExperimentTemplateStopConditionInput,
    CreateExperimentTemplateTargetInput, Experiment, ExperimentAction, ExperimentTemplateTargetInputFilter,
    ResolvedTarget,
};
use drdrill_localstack::world::InstanceState;
use drdrill_localstack::{LocalStack, Options, Stack};
use serde_json::Value;

/// The role every test template names (not checked locally).
pub const ROLE: &str = "arn:aws:iam::000000000000:role/drdrill-fis";

/// A stack file shipped with the crate (`localstack/stacks/NAME.yaml`).
pub fn shipped_stack(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("stacks")
        .join(format!("{name}.yaml"))
}

/// A stack file only the tests use (`localstack/tests/stacks/NAME.yaml`).
pub fn test_stack(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/stacks")
        .join(format!("{name}.yaml"))
}

/// A file of the workspace (e.g. `scenarios/fis/az-power-interruption.json`).
pub fn workspace_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// One running stack with the clients a test needs.
pub struct Env {
    /// The stack.
    pub ls: LocalStack,
    /// The official FIS client, pointed at the stack's endpoint.
    pub fis: aws_sdk_fis::Client,
    /// Plain HTTP to stable endpoints (ground truth, load balancer), 5 s timeout.
    pub http: reqwest::Client,
}

impl Env {
    /// Starts the stack from `path` on an ephemeral endpoint port.
    pub async fn start(path: PathBuf) -> Env {
        Env::start_stack(Stack::load(&path).unwrap_or_else(|e| panic!("{e}"))).await
    }

    /// Starts `stack` (loaded, and perhaps changed, by the test) on an ephemeral endpoint port.
    pub async fn start_stack(stack: Stack) -> Env {
        let opts = Options {
            endpoint: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        };
        let ls = LocalStack::start(stack, opts).await.expect("local stack starts");
        let conf = sdk_loader(&ls).load().await;
        let fis = aws_sdk_fis::Client::new(&conf);
        Env {
            ls,
            fis,
            http: pooled_client(),
        }
    }

    /// Starts the shipped multi-AZ stack and waits until every target is healthy.
    pub async fn multi_az() -> Env {
        let env = Env::start(shipped_stack("multi-az")).await;
        env.wait_all_healthy().await;
        env
    }

    /// The load balancer's address.
    pub fn lb(&self) -> SocketAddr {
        self.ls.world.lb_addr().expect("load balancer listens")
    }

    /// Every instance of a zone: (id, address).
    pub fn zone_instances(&self, zone: &str) -> Vec<(String, SocketAddr)> {
        self.ls
            .world
            .instances()
            .into_iter()
            .filter(|i| i.zone == zone)
            .map(|i| (i.id, i.addr))
            .collect()
    }

    /// Every instance: (id, address).
    pub fn all_instances(&self) -> Vec<(String, SocketAddr)> {
        self.ls.world.instances().into_iter().map(|i| (i.id, i.addr)).collect()
    }

    /// Whether every instance is `running`.
    pub fn all_running(&self) -> bool {
        self.ls
            .world
            .instances()
            .iter()
            .all(|i| i.state == InstanceState::Running)
    }

    /// The ground truth, read over HTTP from `GET /_drdrill/events`.
    pub async fn truth(&self) -> Vec<Value> {
        let url = format!("{}/_drdrill/events", self.ls.endpoint_url());
        let body = self
            .http
            .get(url)
            .send()
            .await
            .expect("ground truth answers")
            .bytes()
            .await
            .expect("ground truth body");
        let v: Value = serde_json::from_slice(&body).expect("ground truth is JSON");
        v["events"].as_array().cloned().expect("events array")
    }

    /// Ground-truth events of one kind.
    pub async fn truth_of(&self, kind: &str) -> Vec<Value> {
        self.truth().await.into_iter().filter(|e| e["kind"] == kind).collect()
    }

    /// The latest ground-truth `serving` value.
    pub async fn serving(&self) -> Option<bool> {
        self.truth_of("serving")
            .await
            .last()
            .and_then(|e| e["serving"].as_bool())
    }

    /// Waits (10 s at most) until the ground truth has marked every registered target healthy
    /// and no later event marked it otherwise.
    pub async fn wait_all_healthy(&self) {
        let targets: BTreeSet<String> = self.ls.world.targets().into_iter().map(|t| t.id).collect();
        wait_until(
            Duration::from_secs(10),
            "every target is healthy in the ground truth",
            || async {
                let mut last: HashMap<String, String> = HashMap::new();
                for e in self.truth_of("target_health").await {
                    last.insert(str_of(&e, "target"), str_of(&e, "to"));
                }
                targets
                    .iter()
                    .all(|t| last.get(t).map(String::as_str) == Some("healthy"))
            },
        )
        .await;
    }

    /// `PUT /items/{id}` through the load balancer; the status, or `None` on a transport error.
    pub async fn put_item(&self, id: &str, body: &str) -> Option<u16> {
        let url = format!("http://{}/items/{id}", self.lb());
        self.http
            .put(url)
            .body(body.to_string())
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    }

    /// `GET /items/{id}` through the load balancer: (status, body).
    pub async fn get_item(&self, id: &str) -> Option<(u16, String)> {
        let url = format!("http://{}/items/{id}", self.lb());
        let r = self.http.get(url).send().await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// Creates a template from raw FIS JSON (targets/actions as in AWS's template files).
    pub async fn create_template(&self, json: &Value) -> String {
        let out = template_request(&self.fis, json)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create template: {e:?}"));
        out.experiment_template()
            .and_then(|t| t.id())
            .expect("template id")
            .to_string()
    }

    /// Starts an experiment of `template` and returns its id.
    pub async fn start_experiment(&self, template: &str) -> String {
        let out = self
            .fis
            .start_experiment()
            .experiment_template_id(template)
            .send()
            .await
            .unwrap_or_else(|e| panic!("start experiment: {e:?}"));
        out.experiment()
            .and_then(|e| e.id())
            .expect("experiment id")
            .to_string()
    }

    /// The experiment's status name.
    pub async fn experiment_status(&self, id: &str) -> String {
        self.get_experiment(id)
            .await
            .and_then(|e| e.state().and_then(|s| s.status()).map(|s| s.as_str().to_string()))
            .expect("experiment status")
    }

    /// Waits until the experiment's status is `want` (failing at once on a different end state).
    pub async fn wait_experiment(&self, id: &str, want: &str, within: Duration) {
        wait_until(within, &format!("experiment {id} is {want}"), || async {
            let s = self.experiment_status(id).await;
            if s != want && matches!(s.as_str(), "completed" | "stopped" | "failed" | "cancelled") {
                panic!("experiment {id} ended {s}, expected {want}");
            }
            s == want
        })
        .await;
    }

    /// Status name of each action of the experiment.
    pub async fn action_statuses(&self, id: &str) -> HashMap<String, String> {
        self.get_experiment(id)
            .await
            .and_then(|e| {
                e.actions()
                    .map(|m| m.iter().map(|(k, a)| (k.clone(), action_status(a))).collect())
            })
            .unwrap_or_default()
    }

    /// GetExperiment's experiment (none when the answer has none).
    pub async fn get_experiment(&self, id: &str) -> Option<Experiment> {
        let out = self
            .fis
            .get_experiment()
            .id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get experiment: {e:?}"));
        out.experiment().cloned()
    }

    /// Starts an experiment of `template` and waits until it is running; returns its id.
    pub async fn start_running(&self, template: &str) -> String {
        let eid = self.start_experiment(template).await;
        self.wait_experiment(&eid, "running", Duration::from_secs(2)).await;
        eid
    }

    /// ListExperimentResolvedTargets of experiment `eid`.
    pub async fn resolved_targets(&self, eid: &str) -> Vec<ResolvedTarget> {
        self.fis
            .list_experiment_resolved_targets()
            .experiment_id(eid)
            .send()
            .await
            .unwrap()
            .resolved_targets()
            .to_vec()
    }

    /// Waits until the ground truth shows `fault_applied` for `action` of experiment `exp`;
    /// returns the event's timestamp.
    pub async fn wait_fault_applied(&self, exp: &str, action: &str, within: Duration) -> i64 {
        wait_for(within, &format!("fault {action} of {exp} is applied"), || async {
            self.truth_of("fault_applied")
                .await
                .into_iter()
                .find(|e| e["experiment"] == exp && e["action"] == action)
                .map(|e| t_ms(&e))
        })
        .await
    }
}

/// Asserts that an SDK call (`what`) failed with error code `code`; returns the error.
pub fn expect_code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, E>,
    what: &str,
    code: &str,
) -> E {
    let err = result.expect_err(what);
    assert_eq!(ProvideErrorMetadata::code(&err), Some(code));
    err
}

/// An experiment action's status name (empty when it has none).
pub fn action_status(a: &ExperimentAction) -> String {
    a.state()
        .and_then(|s| s.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// The SDK's configuration for `ls`: its endpoint, us-east-1 and static test
/// credentials (a test may change more, e.g. retries, before loading it).
pub fn sdk_loader(ls: &LocalStack) -> aws_config::ConfigLoader {
    let creds = aws_credential_types::Credentials::from_keys("AKIDDRDRILLTEST", "drdrill-test-secret", None);
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(ls.endpoint_url())
        .credentials_provider(creds)
}

/// The route53 test stack with `section` (a `quotas:` or `access:` section, say) appended
/// to its file, started, and an SDK config for it without retries (each call is one
/// request).
pub async fn route53_stack_with(section: &str) -> (LocalStack, aws_config::SdkConfig) {
    let path = test_stack("route53");
    let text = std::fs::read_to_string(&path).expect("stack file") + section;
    let stack = Stack::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let ls = Env::start_stack(stack).await.ls;
    let conf = sdk_loader(&ls)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    (ls, conf)
}

/// A plain-HTTP client with a total request timeout that keeps no idle connections (so a
/// stopped or restarted server is always reached afresh).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .expect("reqwest client")
}

/// A plain-HTTP client for endpoints that stay up (keep-alive allowed), 5 s timeout.
pub fn pooled_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client")
}

/// Polls `cond` every 20 ms until it holds; panics naming `what` after `within`.
pub async fn wait_until<F, Fut>(within: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if cond().await {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `f` every 20 ms until it returns `Some`; panics naming `what` after `within`.
pub async fn wait_for<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A string field of a ground-truth event (empty when absent).
pub fn str_of(e: &Value, key: &str) -> String {
    e[key].as_str().unwrap_or_default().to_string()
}

/// The timestamp of a ground-truth event.
pub fn t_ms(e: &Value) -> i64 {
    e["t_unix_ms"].as_i64().expect("t_unix_ms")
}

/// Builds a CreateExperimentTemplate request from a template in AWS's JSON format.
pub fn template_request(
    fis: &aws_sdk_fis::Client,
    json: &Value,
) -> aws_sdk_fis::operation::create_experiment_template::builders::CreateExperimentTemplateFluentBuilder {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut req = fis
        .create_experiment_template()
        .description(json["description"].as_str().unwrap_or("drdrill test"))
        .role_arn(json["roleArn"].as_str().unwrap_or(ROLE));
    for (name, t) in json["targets"].as_object().into_iter().flatten() {
        let mut b = CreateExperimentTemplateTargetInput::builder()
            .resource_type(s(&t["resourceType"]))
            .selection_mode(s(&t["selectionMode"]));
        for arn in t["resourceArns"].as_array().into_iter().flatten() {
            b = b.resource_arns(s(arn));
        }
        for (k, v) in t["resourceTags"].as_object().into_iter().flatten() {
            b = b.resource_tags(k, s(v));
        }
        for f in t["filters"].as_array().into_iter().flatten() {
            let values = f["values"].as_array().into_iter().flatten().map(s).collect();
            let filter = ExperimentTemplateTargetInputFilter::builder()
                .path(s(&f["path"]))
                .set_values(Some(values))
                .build()
                .expect("filter");
            b = b.filters(filter);
        }
        req = req.targets(name, b.build().expect("target"));
    }
    for (name, a) in json["actions"].as_object().into_iter().flatten() {
        let mut b = CreateExperimentTemplateActionInput::builder().action_id(s(&a["actionId"]));
        if let Some(d) = a["description"].as_str() {
            b = b.description(d);
        }
        for (k, v) in a["parameters"].as_object().into_iter().flatten() {
            b = b.parameters(k, s(v));
        }
        for (k, v) in a["targets"].as_object().into_iter().flatten() {
            b = b.targets(k, s(v));
        }
        for after in a["startAfter"].as_array().into_iter().flatten() {
            b = b.start_after(s(after));
        }
        req = req.actions(name, b.build().expect("action"));
    }
    let conditions = json["stopConditions"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![serde_json::json!({"source": "none"})]);
    for c in &conditions {
        let mut b = CreateExperimentTemplateStopConditionInput::builder().source(s(&c["source"]));
        if let Some(v) = c["value"].as_str() {
            b = b.value(v);
        }
        req = req.stop_conditions(b.build().expect("stop condition"));
    }
    for (k, v) in json["tags"].as_object().into_iter().flatten() {
        req = req.tags(k, s(v));
    }
    req
}

/// An instance target: resources tagged `Tier=app` in `zone`.
pub fn instances_in(zone: &str) -> Value {
    serde_json::json!({
        "resourceType": "aws:ec2:instance",
        "resourceTags": {"Tier": "app"},
        "filters": [{"path": "Placement.AvailabilityZone", "values": [zone]}],
        "selectionMode": "ALL"
    })
}

/// A subnet target: app subnets (`Tier=app`) in `zone`.
pub fn app_subnets_in(zone: &str) -> Value {
    serde_json::json!({
        "resourceType": "aws:ec2:subnet",
        "resourceTags": {"Tier": "app"},
        "filters": [{"path": "AvailabilityZone", "values": [zone]}],
        "selectionMode": "ALL"
    })
}

/// The database cluster target.
pub fn db_cluster() -> Value {
    serde_json::json!({
        "resourceType": "aws:rds:cluster",
        "resourceArns": ["arn:aws:rds:us-east-1:000000000000:cluster:drill-db"],
        "selectionMode": "ALL"
    })
}

/// A write the application acknowledged (2xx through the load balancer).
#[derive(Debug, Clone)]
pub struct Ack {
    /// Item id.
    pub id: String,
    /// Body written.
    pub body: String,
    /// When the acknowledgement arrived (unix ms).
    pub t_ms: i64,
}

/// One writer through the load balancer: sequential `PUT /items/{prefix}-{n}` (5 s client
/// timeout) until told to stop, keeping every acknowledged write.
pub struct Writer {
    stop: tokio_util::sync::CancellationToken,
    acked: std::sync::Arc<std::sync::Mutex<Vec<Ack>>>,
    task: tokio::task::JoinHandle<usize>,
}

impl Writer {
    /// Starts writing through `lb` with a fresh client.
    pub fn start(lb: SocketAddr, prefix: &str) -> Writer {
        let stop = tokio_util::sync::CancellationToken::new();
        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, log, prefix) = (stop.clone(), acked.clone(), prefix.to_string());
        let http = pooled_client();
        let task = tokio::spawn(async move {
            let mut n = 0usize;
            while !flag.is_cancelled() {
                let id = format!("{prefix}-{n}");
                let body = format!("body of {id}");
                n += 1;
                let r = http
                    .put(format!("http://{lb}/items/{id}"))
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let t_ms = drdrill_localstack::truth::now_unix_ms();
                        log.lock().unwrap().push(Ack { id, body, t_ms });
                    }
                    // Do not spin on fast failures (refusals, 503s).
                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                }
                // Pace the writes (about 300 a second) so reading them back stays quick.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            n
        });
        Writer { stop, acked, task }
    }

    /// The acknowledged writes so far.
    pub fn acked(&self) -> Vec<Ack> {
        self.acked.lock().unwrap().clone()
    }

    /// Stops writing; returns every acknowledged write and the number of attempts.
    pub async fn finish(self) -> (Vec<Ack>, usize) {
        self.stop.cancel();
        let n = self.task.await.expect("writer task");
        let acked = self.acked.lock().unwrap().clone();
        (acked, n)
    }
}

/// Reads every acknowledged write back through the load balancer (8 at a time); returns
/// the ids that are missing (404) and panics on any other answer or a changed body.
pub async fn read_back(env: &Env, acked: &[Ack]) -> BTreeSet<String> {
    use futures::StreamExt;
    /// (id, what a GET answered, the body that was written)
    type ReadBack = (String, Option<(u16, String)>, String);
    let results: Vec<ReadBack> = futures::stream::iter(acked)
        .map(|a| async move { (a.id.clone(), env.get_item(&a.id).await, a.body.clone()) })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut missing = BTreeSet::new();
    for (id, got, body) in results {
        match got {
            Some((200, b)) => assert_eq!(b, body, "{id} reads back with its content"),
            Some((404, _)) => {
                missing.insert(id);
            }
            other => panic!("reading {id} back: {other:?}"),
        }
    }
    missing
}
