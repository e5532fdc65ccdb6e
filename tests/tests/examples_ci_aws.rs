//! The examples users copy: the CI workflows under `examples/ci/` parse and hang
//! together, the reference CloudFormation stack under `examples/aws/` passes cfn-lint and
//! carries the names and tags the example scenarios and FIS templates select on, and the
//! harness policy file says what the template's policy says.
//!
//! cfn-lint comes from PyPI (`scripts/test.sh` installs it when missing and sets
//! `DRDRILL_CFN_LINT=require`); without it the lint test writes `SKIPPED: <reason>`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `scenarios/…yaml` or `examples/…yaml` path a CI file names.
fn scenario_paths(text: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '$')
        .filter(|w| (w.starts_with("scenarios/") || w.starts_with("examples/")) && w.ends_with(".yaml"))
        .map(str::to_string)
        .collect()
}

/// The GitHub Actions workflows parse; every job has a runner and steps that each use an
/// action or run a command; every scenario they name exists and loads.
#[test]
fn github_workflows_parse_and_name_real_scenarios() {
    for file in [
        "examples/ci/github/resilience-gate.yml",
        "examples/ci/github/game-day.yml",
    ] {
        let w = yaml(file);
        assert!(w.get("on").is_some(), "{file}: no triggers");
        let jobs = w["jobs"].as_object().unwrap_or_else(|| panic!("{file}: no jobs"));
        assert!(!jobs.is_empty(), "{file}: no jobs");
        for (name, job) in jobs {
            assert!(job["runs-on"].is_string(), "{file}: job {name} has no runs-on");
            let steps = job["steps"]
                .as_array()
                .unwrap_or_else(|| panic!("{file}: job {name} has no steps"));
            for (i, step) in steps.iter().enumerate() {
                assert!(
                    step.get("uses").is_some() != step.get("run").is_some(),
                    "{file}: job {name} step {i} needs exactly one of uses, run"
                );
            }
        }
        let text = std::fs::read_to_string(repo(file)).unwrap();
        let paths = scenario_paths(&text);
        assert!(!paths.is_empty(), "{file}: names no scenario");
        for p in paths {
            drdrill::scenario::load(&repo(&p)).unwrap_or_else(|e| panic!("{file}: {p}: {e}"));
        }
    }
}

/// The GitLab pipeline parses; every job belongs to a declared stage, needs only jobs that
/// exist, and has a script; every scenario it names exists and loads.
#[test]
fn gitlab_pipeline_parses_and_hangs_together() {
    let file = "examples/ci/gitlab/.gitlab-ci.yml";
    let p = yaml(file);
    let stages: Vec<&str> = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let reserved = ["stages", "default", "variables", "include", "workflow"];
    let jobs: BTreeMap<&String, &Value> = p
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !reserved.contains(&k.as_str()))
        .collect();
    assert!(jobs.len() >= 3, "{file}: jobs {:?}", jobs.keys());
    for (name, job) in &jobs {
        let stage = job["stage"].as_str().unwrap_or_else(|| panic!("{name}: no stage"));
        assert!(stages.contains(&stage), "{name}: stage {stage} not in {stages:?}");
        assert!(
            job["script"].as_array().is_some_and(|s| !s.is_empty()),
            "{name}: no script"
        );
        for need in job["needs"].as_array().into_iter().flatten() {
            let need = need.as_str().unwrap();
            assert!(
                jobs.keys().any(|k| k.as_str() == need),
                "{name}: needs unknown job {need}"
            );
        }
    }
    for s in scenario_paths(&std::fs::read_to_string(repo(file)).unwrap()) {
        drdrill::scenario::load(&repo(&s)).unwrap_or_else(|e| panic!("{file}: {s}: {e}"));
    }
}

/// cfn-lint (errors and warnings, informational checks included) finds nothing in the
/// reference stack.
#[test]
fn reference_stack_passes_cfn_lint() {
    let template = repo("examples/aws/drdrill-reference-stack.yaml");
    let out = match Command::new("cfn-lint")
        .arg(&template)
        .args(["--include-checks", "I"])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            if std::env::var("DRDRILL_CFN_LINT").as_deref() == Ok("require") {
                panic!("DRDRILL_CFN_LINT=require but cfn-lint cannot run: {e}");
            }
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: reference_stack_passes_cfn_lint: cfn-lint: {e}"
            );
            return;
        }
    };
    assert!(
        out.status.success(),
        "cfn-lint: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tags of a resource's `Tags` list (or a launch template's instance tags) as a map.
fn tags(list: &Value) -> BTreeMap<String, String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["Key"].as_str()?.to_string(), t["Value"].as_str()?.to_string())))
        .collect()
}

/// The reference stack has what the AWS scenario and its FIS template select: the load
/// balancer's name, app and database subnets tagged for disruption in three AZs, instances
/// tagged for stopping, the database cluster by its tag; and the FIS role goes to the
/// scenario as a parameter.
#[test]
fn reference_stack_matches_the_aws_scenario() {
    let t = yaml("examples/aws/drdrill-reference-stack.yaml");
    let resources = t["Resources"].as_object().unwrap();
    let loaded = drdrill::scenario::load(&repo("examples/aws/az-power-interruption.yaml")).unwrap();
    assert_eq!(
        t["Parameters"]["LoadBalancerName"]["Default"],
        loaded.scenario.app.load_balancer.as_str()
    );
    assert!(loaded.scenario.fault.parameters.contains_key("fis_role_arn"));
    assert!(t["Outputs"]["FisRoleArn"].is_object());

    let fis = json("examples/aws/fis/az-power-interruption.json");
    // The template is meant for an account: nothing in it is outside AWS's documented
    // ranges, and the stopped instances' action completes if Auto Scaling terminates them.
    assert_eq!(drdrill::plan::check_template(&fis), vec![]);
    let stop = fis["actions"]
        .as_object()
        .unwrap()
        .values()
        .find(|a| a["actionId"] == "aws:ec2:stop-instances")
        .expect("a stop-instances action");
    assert_eq!(stop["parameters"]["completeIfInstancesTerminated"], "true");
    for (name, target) in fis["targets"].as_object().unwrap() {
        let wanted: BTreeMap<String, String> = target["resourceTags"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let (kind, tagged): (&str, Vec<BTreeMap<String, String>>) = match target["resourceType"].as_str().unwrap() {
            "aws:ec2:subnet" => ("AWS::EC2::Subnet", vec![]),
            "aws:rds:cluster" => ("AWS::RDS::DBCluster", vec![]),
            "aws:ec2:instance" => {
                let lt = &resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"];
                let specs = lt["TagSpecifications"].as_array().unwrap();
                ("", specs.iter().map(|s| tags(&s["Tags"])).collect())
            }
            other => panic!("target {name}: unexpected resource type {other}"),
        };
        let tagged: Vec<BTreeMap<String, String>> = if kind.is_empty() {
            tagged
        } else {
            resources
                .values()
                .filter(|r| r["Type"] == kind)
                .map(|r| tags(&r["Properties"]["Tags"]))
                .collect()
        };
        let matching = tagged
            .iter()
            .filter(|t| wanted.iter().all(|(k, v)| t.get(k) == Some(v)))
            .count();
        assert!(
            matching > 0,
            "FIS target {name}: nothing in the stack has tags {wanted:?}"
        );
        if name == "Subnets" {
            assert_eq!(
                matching, 6,
                "app and database subnets of three AZs are tagged for disruption"
            );
        }
    }
}

/// `examples/aws/drdrill-harness-policy.json` grants what the template's HarnessPolicy
/// grants: the same statements (by Sid) with the same actions.
#[test]
fn harness_policy_file_matches_the_template() {
    fn actions(statements: &Value) -> BTreeMap<String, BTreeSet<String>> {
        statements
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let a = match &s["Action"] {
                    Value::String(one) => BTreeSet::from([one.clone()]),
                    many => many
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                };
                (s["Sid"].as_str().unwrap().to_string(), a)
            })
            .collect()
    }
    let t = yaml("examples/aws/drdrill-reference-stack.yaml");
    let in_template = actions(&t["Resources"]["HarnessPolicy"]["Properties"]["PolicyDocument"]["Statement"]);
    let file = json("examples/aws/drdrill-harness-policy.json");
    assert_eq!(actions(&file["Statement"]), in_template);
    // Least privilege: no wildcard action, and every write is conditioned on drdrill's tag.
    for s in file["Statement"].as_array().unwrap() {
        let text = s["Action"].to_string();
        assert!(!text.contains('*'), "wildcard action in {}", s["Sid"]);
        if s["Sid"] != "Describe" {
            assert!(s.get("Condition").is_some(), "{} has no condition", s["Sid"]);
        }
    }
}
