//! Scenario files for drills against a local stack: the scenario the safety tests run
//! ([`Drill`], one text with parameters), the `target:` section reaching the stack as an
//! AWS account, writing a scenario next to its FIS templates, and the templates.

use std::path::{Path, PathBuf};

use super::repo;

/// The drill scenario of the safety tests, against the local stack's `drill-alb`: probes
/// writing and reading `/items/{id}`, a fault from `fis/<template>`, the steady state,
/// objectives and timings. `TARGET` stands where [`write_scenario`] puts the target.
#[derive(Debug, Clone)]
pub struct Drill<'a> {
    /// `name:`.
    pub name: &'a str,
    /// What each write's body starts with (`<body> {id}`).
    pub body: &'a str,
    /// The FIS template's file under `fis/`.
    pub template: &'a str,
    /// Probes per second.
    pub rate: u32,
    /// `steady_state.success_ratio`, as written.
    pub success_ratio: &'a str,
    /// `objectives:`, each `name: value`.
    pub objectives: &'a [(&'a str, &'a str)],
    /// Whether the run keeps a dead man's switch (heartbeat every 1 s, firing after 3 s).
    pub dead_man_switch: bool,
    /// `timings.baseline`.
    pub baseline: &'a str,
    /// `timings.stable_for`.
    pub stable_for: &'a str,
    /// `timings.max_fault_duration`.
    pub max_fault_duration: &'a str,
    /// `timings.recovery_timeout`.
    pub recovery_timeout: &'a str,
    /// `timings.verification_grace`.
    pub verification_grace: &'a str,
}

impl<'a> Drill<'a> {
    /// A quick drill: 20 probes/s, steady at 50% success, no availability objective to
    /// speak of, short baseline and recovery; no dead man's switch.
    pub fn quick(name: &'a str, body: &'a str, template: &'a str, max_fault_duration: &'a str) -> Drill<'a> {
        Drill {
            name,
            body,
            template,
            rate: 20,
            success_ratio: "0.5",
            objectives: &[("availability_during_fault", "0")],
            dead_man_switch: false,
            baseline: "200ms",
            stable_for: "200ms",
            max_fault_duration,
            recovery_timeout: "5s",
            verification_grace: "1s",
        }
    }

    /// A drill of one AWS-fault cell (`fis/cell.json`): 40 probes/s, steady at 90%
    /// success, an RTO of 30 s, a dead man's switch and a longer baseline and recovery.
    pub fn cell(
        name: &'a str,
        body: &'a str,
        objectives: &'a [(&'a str, &'a str)],
        max_fault_duration: &'a str,
    ) -> Drill<'a> {
        Drill {
            name,
            body,
            template: "cell.json",
            rate: 40,
            success_ratio: "0.9",
            objectives,
            dead_man_switch: true,
            baseline: "1s",
            stable_for: "500ms",
            max_fault_duration,
            recovery_timeout: "15s",
            verification_grace: "2s",
        }
    }

    /// The same drill with a dead man's switch.
    pub fn with_dead_man_switch(self) -> Drill<'a> {
        Drill {
            dead_man_switch: true,
            ..self
        }
    }

    /// The scenario's YAML.
    pub fn yaml(&self) -> String {
        let objectives: String = self.objectives.iter().map(|(k, v)| format!("  {k}: {v}\n")).collect();
        let switch = if self.dead_man_switch {
            "dead_man_switch: { heartbeat_every: 1s, fires_after: 3s }\n"
        } else {
            ""
        };
        format!(
            r#"name: {name}
TARGET
app:
  load_balancer: drill-alb
probe:
  write: {{ method: PUT, path: "/items/{{id}}", body: "{body} {{id}}" }}
  read: {{ method: GET, path: "/items/{{id}}" }}
  health: {{ path: "/health" }}
traffic:
  rate: {rate}/s
  write_ratio: 0.5
  timeout: 300ms
  connection: {{ policy: fresh }}
fault:
  template_file: fis/{template}
steady_state:
  success_ratio: {success_ratio}
objectives:
{objectives}{switch}timings:
  baseline: {baseline}
  stable_for: {stable_for}
  max_fault_duration: {max_fault_duration}
  recovery_timeout: {recovery_timeout}
  verification_grace: {verification_grace}
"#,
            name = self.name,
            body = self.body,
            rate = self.rate,
            template = self.template,
            success_ratio = self.success_ratio,
            baseline = self.baseline,
            stable_for = self.stable_for,
            max_fault_duration = self.max_fault_duration,
            recovery_timeout = self.recovery_timeout,
            verification_grace = self.verification_grace,
        )
    }
}

/// The `target:` section reaching `endpoint` as an AWS account.
pub fn aws_target(endpoint: &str, account: &str) -> String {
    format!("target:\n  aws: {{ region: us-east-1, endpoint_url: \"{endpoint}\", account_ids: [\"{account}\"] }}\n")
}

/// Writes `scenario.yaml` (with `TARGET` replaced by `target`) and each template under
/// `dir/fis/`.
pub fn write_scenario(dir: &Path, scenario: &str, target: &str, templates: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir.join("fis")).unwrap();
    for (name, text) in templates {
        std::fs::write(dir.join("fis").join(name), text).unwrap();
    }
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, scenario.replace("TARGET\n", target)).unwrap();
    path
}

/// An FIS template that stops the `Tier: app` instances of us-east-1a, restarting them
/// after `duration` (ISO 8601, e.g. `PT10S`).
pub fn stop_az_template(duration: &str) -> String {
    stop_az(&format!("Stop one AZ's app instances for {duration}"), duration).to_string()
}

/// An FIS template that stops the `Tier: app` instances of us-east-1a (restarted after
/// `duration`, ISO 8601) and black-holes the AZ's app subnet for as long.
pub fn stop_and_cut_az_template(description: &str, duration: &str) -> String {
    let mut t = stop_az(description, duration);
    t["targets"]["Subnets"] = serde_json::json!({
        "resourceType": "aws:ec2:subnet",
        "resourceTags": { "Tier": "app" },
        "filters": [{ "path": "AvailabilityZone", "values": ["us-east-1a"] }],
        "selectionMode": "ALL"
    });
    t["actions"]["Cut"] = serde_json::json!({
        "actionId": "aws:network:disrupt-connectivity",
        "parameters": { "duration": duration, "scope": "all" },
        "targets": { "Subnets": "Subnets" }
    });
    t.to_string()
}

/// The template of [`stop_az_template`], described as `description`.
fn stop_az(description: &str, duration: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "targets": {
            "Instances": {
                "resourceType": "aws:ec2:instance",
                "resourceTags": { "Tier": "app" },
                "filters": [{ "path": "Placement.AvailabilityZone", "values": ["us-east-1a"] }],
                "selectionMode": "ALL"
            }
        },
        "actions": {
            "Stop": {
                "actionId": "aws:ec2:stop-instances",
                "parameters": { "startInstancesAfterDuration": duration },
                "targets": { "Instances": "Instances" }
            }
        },
        "stopConditions": [{ "source": "none" }],
        "roleArn": "arn:aws:iam::000000000000:role/drdrill-fis"
    })
}

/// Copies the repository's template `name` (under `scenarios/fis/`).
pub fn repo_template(name: &str) -> String {
    std::fs::read_to_string(repo().join("scenarios/fis").join(name)).unwrap()
}
