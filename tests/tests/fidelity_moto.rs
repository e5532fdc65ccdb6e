//! The local stack checked against an AWS implementation we did not write: moto
//! (`moto[server]` from PyPI, started on loopback). The same world is built in both —
//! in moto through the SDK's create calls, in the local stack from
//! `tests/stacks/fidelity.yaml` — and every read the harness makes is sent to both with
//! the official SDK; the raw answers are compared field by field
//! (`fidelity_common::diff`). A difference fails unless `tests/fidelity/allow-list.yaml`
//! lists it with the AWS documentation page that says which answer AWS gives. The
//! harness's plan is then resolved against both worlds and must come out the same.
//!
//! Only AWS API calls go to moto; nothing dials or resolves the names it invents.
//!
//! Needs `moto_server` on PATH (`scripts/install-test-deps.sh` installs it). Without it
//! each test writes `SKIPPED: <reason>` to stderr and returns, unless
//! `DRDRILL_MOTO_TESTS=require` (set by `scripts/test.sh` once moto is installed), which
//! turns a missing moto into a failure.

mod fidelity_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::sync::Once;
use std::time::Duration;

use drdrill_localstack::LocalStack;
use fidelity_common::diff::{self, Allowed, Diff, Doc};
use fidelity_common::moto::Moto;
use fidelity_common::side::{Raw, Side};
use fidelity_common::world;

/// Static credentials for the `aws:` target of the plan test (read by the SDK's default
/// chain), and no instance-metadata lookups. Set once, first thing in every test, before
/// any test of this binary reads the environment.
fn aws_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::remove_var("AWS_PROFILE");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
}

/// Both worlds, with a client side for each.
struct Env {
    moto: Moto,
    local: LocalStack,
    m: Side,
    l: Side,
}

/// Starts moto and the local stack and builds the world in moto; `None` when moto is
/// not installed (the test is skipped).
async fn setup(test: &str) -> Option<Env> {
    aws_env();
    let moto = Moto::start(test)?;
    let local = world::start_local().await;
    let mut m = Side::new("moto", &moto.url).await;
    let mut l = Side::new("local", &local.endpoint_url()).await;
    world::build_in_moto(&m).await;
    m.learn_ids().await;
    l.learn_ids().await;
    assert_eq!(m.ids.instances.len(), 6, "moto's world has six instances");
    assert_eq!(l.ids.instances.len(), 6, "the local world has six instances");
    Some(Env { moto, local, m, l })
}

/// Collects the differences of a series of calls and judges them against the
/// allow-list.
struct Referee {
    allowed: Vec<Allowed>,
    found: Vec<Diff>,
    labels: BTreeSet<String>,
}

impl Referee {
    fn new() -> Referee {
        Referee {
            allowed: diff::allow_list(),
            found: Vec::new(),
            labels: BTreeSet::new(),
        }
    }

    fn record(&mut self, label: &str, m: Raw, l: Raw) {
        assert!(self.labels.insert(label.to_string()), "{label} compared twice");
        self.found
            .extend(diff::compare(label, &Doc::parse(&m), &Doc::parse(&l)));
    }

    /// Fails on any difference the allow-list does not cover, and on any entry for an
    /// operation compared here that covered nothing (a stale entry).
    fn verdict(self) {
        let mut used = BTreeSet::new();
        let bad = diff::unallowed(&self.found, &self.allowed, &mut used);
        let stale: Vec<String> = self
            .allowed
            .iter()
            .enumerate()
            .filter(|(i, a)| self.labels.iter().any(|l| a.names(l)) && !used.contains(i))
            .map(|(_, a)| format!("  {} {} [{}]", a.operation, a.path, a.difference))
            .collect();
        let mut msg = String::new();
        if !bad.is_empty() {
            msg.push_str(&format!(
                "{} difference(s) between moto and the local stack are not in {}:\n",
                bad.len(),
                diff::allow_list_path().display()
            ));
            for d in &bad {
                msg.push_str(&format!("  {d}\n"));
            }
        }
        if !stale.is_empty() {
            msg.push_str(&format!(
                "allow-list entries that matched no difference (remove them):\n{}\n",
                stale.join("\n")
            ));
        }
        assert!(msg.is_empty(), "{msg}");
        let _ = writeln!(
            std::io::stderr(),
            "fidelity: {} call(s) compared with moto; {} difference(s), all in the allow-list",
            self.labels.len(),
            self.found.len()
        );
    }
}

/// Sends the same call (built by `$call` from the side `$s`) to moto and to the local
/// stack and records the difference between their raw answers under `$label`.
macro_rules! both {
    ($env:expr, $referee:expr, $label:expr, |$s:ident| $call:expr) => {{
        let $s = &$env.m;
        let _ = $call.send().await;
        let m = $s.take();
        let $s = &$env.l;
        let _ = $call.send().await;
        let l = $s.take();
        $referee.record($label, m, l);
    }};
}

/// Proves that every read the harness makes (plan: load balancer, listeners, target
/// groups, target health, instances, subnets, clusters, DB instances; observers: target
/// health, Route 53 zones, record sets, health checks and their status; the target
/// check: STS GetCallerIdentity) gets the same answer, field by field, from the local
/// stack as from moto once both worlds are settled (every target healthy), except for
/// the reviewed differences of the allow-list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_answer_as_moto_does() {
    let Some(env) = setup("reads_answer_as_moto_does").await else {
        return;
    };
    world::wait_healthy(&env.m, Duration::from_secs(5)).await;
    world::wait_healthy(&env.l, Duration::from_secs(20)).await;
    world::wait_checkers_reported(&env.l, Duration::from_secs(20)).await;
    let mut r = Referee::new();
    use aws_sdk_ec2::types::Filter;
    both!(env, r, "DescribeLoadBalancers", |s| s
        .elb
        .describe_load_balancers()
        .names("drill-alb"));
    both!(env, r, "DescribeListeners", |s| s
        .elb
        .describe_listeners()
        .load_balancer_arn(&s.ids.lb_arn));
    both!(env, r, "DescribeTargetGroups", |s| s
        .elb
        .describe_target_groups()
        .target_group_arns(&s.ids.tg_arn));
    both!(env, r, "DescribeTargetHealth", |s| s
        .elb
        .describe_target_health()
        .target_group_arn(&s.ids.tg_arn));
    both!(env, r, "DescribeInstances", |s| s.ec2.describe_instances());
    both!(env, r, "DescribeInstances(ids)", |s| s
        .ec2
        .describe_instances()
        .set_instance_ids(Some(s.ids.instances.clone())));
    both!(env, r, "DescribeInstances(tag and zone filters)", |s| s
        .ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag:AzImpairmentPower")
                .values("StopInstances")
                .build()
        )
        .filters(
            Filter::builder().name("availability-zone").values("us-east-1a").build()
        ));
    both!(env, r, "DescribeSubnets(tag filter)", |s| s
        .ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("tag:AzImpairmentPower")
                .values("DisruptSubnet")
                .build()
        ));
    both!(env, r, "DescribeDBClusters", |s| s.rds.describe_db_clusters());
    both!(env, r, "DescribeDBInstances", |s| s.rds.describe_db_instances());
    both!(env, r, "ListHostedZones", |s| s.route53.list_hosted_zones());
    both!(env, r, "ListResourceRecordSets", |s| s
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&s.ids.zone_id));
    both!(env, r, "ListHealthChecks", |s| s.route53.list_health_checks());
    both!(env, r, "GetHealthCheckStatus", |s| s
        .route53
        .get_health_check_status()
        .health_check_id(&s.ids.health_check_id));
    both!(env, r, "GetCallerIdentity", |s| s.sts.get_caller_identity());
    r.verdict();
    drop(env.moto);
    env.local.shutdown().await;
}

/// Proves that errors (code, type, HTTP status) and pagination (page sizes, markers,
/// tokens, truncation flags) are answered by the local stack as by moto: unknown load
/// balancer, target group, instance, cluster, DB instance, hosted zone and health check;
/// pages of instances, record sets, health checks, hosted zones, load balancers and
/// target groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_pages_answer_as_moto_does() {
    let Some(env) = setup("errors_and_pages_answer_as_moto_does").await else {
        return;
    };
    let mut r = Referee::new();
    let unknown_tg = |s: &Side| s.ids.tg_arn.replace("drill-app", "no-such-tg");
    both!(env, r, "DescribeLoadBalancers(unknown name)", |s| s
        .elb
        .describe_load_balancers()
        .names("no-such-lb"));
    both!(env, r, "DescribeTargetHealth(unknown target group)", |s| s
        .elb
        .describe_target_health()
        .target_group_arn(unknown_tg(s)));
    both!(env, r, "DescribeTargetGroups(unknown ARN)", |s| s
        .elb
        .describe_target_groups()
        .target_group_arns(unknown_tg(s)));
    both!(env, r, "DescribeInstances(unknown id)", |s| s
        .ec2
        .describe_instances()
        .instance_ids("i-0123456789abcdef0"));
    both!(env, r, "DescribeDBClusters(unknown id)", |s| s
        .rds
        .describe_db_clusters()
        .db_cluster_identifier("no-such-cluster"));
    both!(env, r, "DescribeDBInstances(unknown id)", |s| s
        .rds
        .describe_db_instances()
        .db_instance_identifier("no-such-db"));
    both!(env, r, "ListResourceRecordSets(unknown zone)", |s| s
        .route53
        .list_resource_record_sets()
        .hosted_zone_id("Z0000000000000000000"));
    both!(env, r, "GetHealthCheckStatus(unknown id)", |s| s
        .route53
        .get_health_check_status()
        .health_check_id("00000000-0000-4000-8000-000000000000"));

    // Pages. EC2's smallest page is 5 (6 instances: 5, then 1 with no token).
    both!(env, r, "DescribeInstances(MaxResults=5)", |s| s
        .ec2
        .describe_instances()
        .max_results(5));
    let token = |s: &Side| {
        let s = s.ec2.clone();
        async move {
            let out = s.describe_instances().max_results(5).send().await;
            out.ok().and_then(|o| o.next_token().map(str::to_string))
        }
    };
    let (mt, lt) = (token(&env.m).await, token(&env.l).await);
    let _ = (env.m.take(), env.l.take());
    let tokens = [(&env.m, mt), (&env.l, lt)];
    let mut second = Vec::new();
    for (side, t) in &tokens {
        let _ = side
            .ec2
            .describe_instances()
            .max_results(5)
            .set_next_token(t.clone())
            .send()
            .await;
        second.push(side.take());
    }
    let l2 = second.pop().expect("local page");
    let m2 = second.pop().expect("moto page");
    r.record("DescribeInstances(second page)", m2, l2);
    both!(env, r, "ListResourceRecordSets(maxitems=1)", |s| s
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&s.ids.zone_id)
        .max_items(1));
    both!(env, r, "ListHealthChecks(maxitems=1)", |s| s
        .route53
        .list_health_checks()
        .max_items(1));
    both!(env, r, "ListHostedZones(maxitems=1)", |s| s
        .route53
        .list_hosted_zones()
        .max_items(1));
    both!(env, r, "DescribeLoadBalancers(PageSize=1)", |s| s
        .elb
        .describe_load_balancers()
        .page_size(1));
    both!(env, r, "DescribeTargetGroups(PageSize=1)", |s| s
        .elb
        .describe_target_groups()
        .page_size(1));
    r.verdict();
    drop(env.moto);
    env.local.shutdown().await;
}

/// The FIS reads the harness makes. moto 5.2's FIS has only experiment-template
/// creation, deletion and tags, so these are not refereed.
const FIS_READS: [&str; 4] = [
    "ListExperiments",
    "ListExperimentTemplates",
    "GetExperimentTemplate",
    "GetExperiment",
];

/// Proves which FIS reads moto cannot referee: each is answered by moto with something
/// other than an FIS answer (an HTML 404 or 500, no `x-amzn-errortype`), while the local
/// stack answers it in FIS's restJson1. If a moto upgrade starts answering one of them,
/// this test fails so that the read is moved into the compared ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fis_reads_moto_lacks_are_named() {
    aws_env();
    let Some(moto) = Moto::start("fis_reads_moto_lacks_are_named") else {
        return;
    };
    let local = world::start_local().await;
    let m = Side::new("moto", &moto.url).await;
    let l = Side::new("local", &local.endpoint_url()).await;
    for (i, op) in FIS_READS.iter().enumerate() {
        let mut answers = Vec::new();
        for s in [&m, &l] {
            match i {
                0 => drop(s.fis.list_experiments().send().await),
                1 => drop(s.fis.list_experiment_templates().send().await),
                2 => drop(s.fis.get_experiment_template().id("EXT0000000000000").send().await),
                _ => drop(s.fis.get_experiment().id("EXP0000000000000").send().await),
            }
            answers.push(s.take());
        }
        let (ma, la) = (&answers[0], &answers[1]);
        let fis_answer =
            |a: &Raw| a.content_type.contains("json") && serde_json::from_slice::<serde_json::Value>(&a.body).is_ok();
        assert!(
            !fis_answer(ma) && ma.status >= 400,
            "moto now answers {op} (HTTP {} {}): compare it in reads_answer_as_moto_does instead",
            ma.status,
            ma.content_type
        );
        assert!(
            fis_answer(la),
            "the local stack answers {op} with HTTP {} {}: {}",
            la.status,
            la.content_type,
            la.text()
        );
        let _ = writeln!(
            std::io::stderr(),
            "NOT REFEREED: FIS {op}: moto 5.2 answers HTTP {} ({}), not FIS",
            ma.status,
            ma.content_type
        );
    }
    drop(moto);
    local.shutdown().await;
}

/// One plan reduced to what must not depend on the implementation: targets per zone, the
/// listener, and per action its FIS action, how many resources match per zone, and how
/// many FIS would pick.
#[derive(Debug, PartialEq, Eq)]
struct PlanShape {
    targets_per_zone: BTreeMap<String, usize>,
    listener: (String, i32),
    actions: BTreeMap<String, (String, bool, BTreeMap<String, usize>, usize)>,
    aws_rejections: usize,
}

fn shape_of(plan: &drdrill::plan::Plan) -> PlanShape {
    let zone = |z: &Option<String>| z.clone().unwrap_or_else(|| "?".to_string());
    let mut targets_per_zone = BTreeMap::new();
    for t in &plan.targets {
        *targets_per_zone.entry(zone(&t.zone)).or_insert(0) += 1;
    }
    let actions = plan
        .actions
        .iter()
        .map(|a| {
            let mut per_zone = BTreeMap::new();
            for r in &a.resources {
                *per_zone.entry(zone(&r.zone)).or_insert(0) += 1;
            }
            (a.name.clone(), (a.action_id.clone(), a.previewed, per_zone, a.selected))
        })
        .collect();
    PlanShape {
        targets_per_zone,
        listener: (plan.listener.protocol.clone(), plan.listener.port),
        actions,
        aws_rejections: plan.aws_rejections.len(),
    }
}

/// Proves that `drdrill plan`'s resolution (`drdrill::plan::resolve`) gives the same plan
/// against moto's world — through an `aws:` target in us-east-1, account 123456789012,
/// whose endpoint is moto — as against the equivalent local stack: every target with its
/// zone (from EC2 placement; AWS gives no zone for instance targets), the listener that
/// forwards to the app, and every action's matches per zone and FIS's selection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_against_moto_matches_local_plan() {
    use drdrill::scenario::{AwsTarget, Target};
    let Some(env) = setup("plan_against_moto_matches_local_plan").await else {
        return;
    };
    let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/fidelity-plan.yaml");
    let local_loaded = drdrill::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut aws_loaded = drdrill::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    aws_loaded.scenario.target = Target::Aws(AwsTarget {
        region: "us-east-1".into(),
        profile: None,
        endpoint_url: Some(env.moto.url.clone()),
        account_ids: vec!["123456789012".into()],
    });
    let on_moto = drdrill::target::connect(&aws_loaded.scenario.target)
        .await
        .expect("moto as an aws: target");
    let moto_plan = drdrill::plan::resolve(&aws_loaded, &on_moto.clients, None).await;
    on_moto.close().await;
    let on_local = drdrill::target::connect(&local_loaded.scenario.target)
        .await
        .expect("local target");
    let local_dns = on_local.local.as_ref().map(|l| l.dns_addr());
    let local_plan = drdrill::plan::resolve(&local_loaded, &on_local.clients, local_dns).await;
    on_local.close().await;
    let moto_plan = moto_plan.unwrap_or_else(|e| panic!("plan against moto: {e}"));
    let local_plan = local_plan.unwrap_or_else(|e| panic!("plan against the local stack: {e}"));
    let (ms, ls) = (shape_of(&moto_plan), shape_of(&local_plan));
    let texts = format!(
        "plan against moto:\n{}\nplan against the local stack:\n{}",
        drdrill::plan::render(&moto_plan),
        drdrill::plan::render(&local_plan)
    );
    // What the world holds, independently of either implementation.
    let zones: BTreeMap<String, usize> = [("us-east-1a", 2), ("us-east-1b", 2), ("us-east-1c", 2)]
        .into_iter()
        .map(|(z, n)| (z.to_string(), n))
        .collect();
    assert_eq!(ms.targets_per_zone, zones, "moto's targets per zone\n{texts}");
    assert_eq!(ms.listener, ("HTTP".to_string(), 80), "{texts}");
    let stop_1a = &ms.actions["Stop-1a"];
    assert_eq!(stop_1a.2, [("us-east-1a".to_string(), 2)].into(), "{texts}");
    assert_eq!(ms.actions["Stop-half"].3, 3, "PERCENT(50) of six instances\n{texts}");
    assert_eq!(
        ms.actions["Cut-1b"].2,
        [("us-east-1b".to_string(), 1)].into(),
        "{texts}"
    );
    assert_eq!(
        ms.actions["Failover"].3, 1,
        "the cluster whose writer is in us-east-1a\n{texts}"
    );
    assert_eq!(ms, ls, "the plans differ\n{texts}");
    drop(env.moto);
    env.local.shutdown().await;
}
