//! What AWS would reject in a plan: FIS action parameters outside the ranges the FIS
//! actions reference documents, and load-balancer health-check settings outside ELB's.
//! The local stack may accept them (its fast stacks relax AWS's limits explicitly); the
//! plan names each one so that a drill that runs locally is not mistaken for one that
//! would run on an account.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// One value AWS would reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwsRejection {
    /// Where: `action Stop-Instances: startInstancesAfterDuration`, `target group …: health-check interval`.
    pub at: String,
    /// The value as given.
    pub value: String,
    /// What AWS requires.
    pub requires: String,
}

impl std::fmt::Display for AwsRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: AWS requires {}", self.at, self.value, self.requires)
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const TWELVE_HOURS: Duration = Duration::from_secs(12 * 3600);

/// The ISO-8601 duration parameters of the FIS actions drdrill uses and their allowed
/// range, from the FIS actions reference
/// (<https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html>): each
/// of these takes "PT1M to PT12H".
fn duration_parameters(action_id: &str) -> &'static [&'static str] {
    match action_id {
        "aws:ec2:stop-instances" => &["startInstancesAfterDuration"],
        "aws:network:disrupt-connectivity" | "aws:fis:wait" => &["duration"],
        _ => &[],
    }
}

/// Parses an ISO-8601 duration (`PT5S`, `PT1M30S`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    iso8601::duration(text).ok().map(Into::into)
}

/// The action parameters of an FIS template (AWS's JSON) that AWS would reject.
pub fn check_template(template: &Value) -> Vec<AwsRejection> {
    let mut out = Vec::new();
    let Some(actions) = template.get("actions").and_then(Value::as_object) else {
        return out;
    };
    for (name, action) in actions {
        let action_id = action.get("actionId").and_then(Value::as_str).unwrap_or_default();
        for param in duration_parameters(action_id) {
            let Some(value) = action
                .get("parameters")
                .and_then(|p| p.get(*param))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let at = format!("action {name} ({action_id}): {param}");
            let requires = "a duration from PT1M to PT12H".to_string();
            match parse_duration(value) {
                Some(d) if (MINUTE..=TWELVE_HOURS).contains(&d) => {}
                _ => out.push(AwsRejection {
                    at,
                    value: value.to_string(),
                    requires,
                }),
            }
        }
    }
    out
}

/// ALB health-check settings AWS would reject, from ELB's CreateTargetGroup reference
/// (<https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html>):
/// interval 5–300 s, timeout 2–120 s, healthy and unhealthy thresholds 2–10.
pub fn check_health_check(target_group: &str, hc: &HealthCheckSettings) -> Vec<AwsRejection> {
    let mut out = Vec::new();
    let mut check = |what: &str, value: Option<i32>, lo: i32, hi: i32, unit: &str| {
        if let Some(v) = value.filter(|v| !(lo..=hi).contains(v)) {
            out.push(AwsRejection {
                at: format!("target group {target_group}: {what}"),
                value: format!("{v}{unit}"),
                requires: format!("{lo} to {hi}{unit}"),
            });
        }
    };
    check("health-check interval", hc.interval_s, 5, 300, " s");
    check("health-check timeout", hc.timeout_s, 2, 120, " s");
    check("healthy threshold", hc.healthy_threshold, 2, 10, "");
    check("unhealthy threshold", hc.unhealthy_threshold, 2, 10, "");
    out
}

/// A target group's health-check settings as DescribeTargetGroups gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheckSettings {
    /// `HealthCheckIntervalSeconds`.
    pub interval_s: Option<i32>,
    /// `HealthCheckTimeoutSeconds`.
    pub timeout_s: Option<i32>,
    /// `HealthyThresholdCount`.
    pub healthy_threshold: Option<i32>,
    /// `UnhealthyThresholdCount`.
    pub unhealthy_threshold: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Durations below a minute or above twelve hours are named with AWS's range; valid
    /// ones and parameters of other actions pass.
    #[test]
    fn fis_durations_outside_aws_range() {
        let t = json!({"actions": {
            "Stop": {"actionId": "aws:ec2:stop-instances", "parameters": {"startInstancesAfterDuration": "PT5S"}},
            "Cut": {"actionId": "aws:network:disrupt-connectivity", "parameters": {"duration": "PT3M", "scope": "all"}},
            "Wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT13H"}},
            "Bad": {"actionId": "aws:fis:wait", "parameters": {"duration": "soon"}},
            "Failover": {"actionId": "aws:rds:failover-db-cluster"},
        }});
        let found: Vec<String> = check_template(&t).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            vec![
                "action Bad (aws:fis:wait): duration: soon: AWS requires a duration from PT1M to PT12H",
                "action Stop (aws:ec2:stop-instances): startInstancesAfterDuration: PT5S: AWS requires a duration from PT1M to PT12H",
                "action Wait (aws:fis:wait): duration: PT13H: AWS requires a duration from PT1M to PT12H",
            ]
        );
    }

    /// Sub-minimum health-check settings are named; AWS's own defaults pass.
    #[test]
    fn health_checks_outside_elb_range() {
        let aws_default = HealthCheckSettings {
            interval_s: Some(30),
            timeout_s: Some(5),
            healthy_threshold: Some(5),
            unhealthy_threshold: Some(2),
        };
        assert!(check_health_check("tg", &aws_default).is_empty());
        let fast = HealthCheckSettings {
            interval_s: Some(1),
            healthy_threshold: Some(1),
            ..aws_default
        };
        let found: Vec<String> = check_health_check("tg", &fast)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            vec![
                "target group tg: health-check interval: 1 s: AWS requires 5 to 300 s",
                "target group tg: healthy threshold: 1: AWS requires 2 to 10",
            ]
        );
    }
}
