//! The FIS actions the local stack supports: their target keys, resource types and
//! parameters, as `ListActions`/`GetAction` describe them.

/// A parameter an action accepts.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// Parameter name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Whether the template must give it.
    pub required: bool,
}

/// One supported action.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    /// FIS action id, e.g. `aws:ec2:stop-instances`.
    pub id: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Target key (e.g. `Instances`) and the resource type it takes.
    pub target: Option<(&'static str, &'static str)>,
    /// Accepted parameters.
    pub parameters: &'static [ParamSpec],
}

const fn p(name: &'static str, description: &'static str, required: bool) -> ParamSpec {
    ParamSpec {
        name,
        description,
        required,
    }
}

/// Every supported action.
pub const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        id: "aws:ec2:stop-instances",
        description: "Stop the specified EC2 instances.",
        target: Some(("Instances", "aws:ec2:instance")),
        parameters: &[
            p(
                "startInstancesAfterDuration",
                "The time to wait before restarting the instances (ISO 8601 duration).",
                false,
            ),
            p(
                "completeIfInstancesTerminated",
                "Whether the action completes if the instances are terminated.",
                false,
            ),
        ],
    },
    ActionSpec {
        id: "aws:ec2:terminate-instances",
        description: "Terminate the specified EC2 instances.",
        target: Some(("Instances", "aws:ec2:instance")),
        parameters: &[],
    },
    ActionSpec {
        id: "aws:network:disrupt-connectivity",
        description: "Deny traffic to and from the specified subnets, as a deny-all network ACL: packets are dropped; with scope all, traffic inside the subnet passes.",
        target: Some(("Subnets", "aws:ec2:subnet")),
        parameters: &[
            p("duration", "The duration of the disruption (ISO 8601 duration).", true),
            p("scope", "The traffic to deny: all or availability-zone.", false),
        ],
    },
    ActionSpec {
        id: "aws:network:route-table-disrupt-cross-region-connectivity",
        description: "Block traffic from the specified subnets to another region (cross-region replication cut).",
        target: Some(("Subnets", "aws:ec2:subnet")),
        parameters: &[
            p("duration", "The duration of the disruption (ISO 8601 duration).", true),
            p(
                "region",
                "The region to isolate from (every other region when absent).",
                false,
            ),
        ],
    },
    ActionSpec {
        id: "aws:rds:failover-db-cluster",
        description: "Fail over the specified Aurora/Multi-AZ DB clusters.",
        target: Some(("Clusters", "aws:rds:cluster")),
        parameters: &[],
    },
    ActionSpec {
        id: "aws:rds:reboot-db-instances",
        description: "Reboot the specified DB instances.",
        target: Some(("DBInstances", "aws:rds:db")),
        parameters: &[p(
            "forceFailover",
            "Whether to fail over to the standby (true or false).",
            false,
        )],
    },
    ActionSpec {
        id: "aws:ssm:start-automation-execution",
        description: "Run an SSM Automation document (locally: one of the stack's built-in documents); the action completes when the automation completes.",
        target: None,
        parameters: &[
            p("documentArn", "The ARN of the Automation document.", true),
            p(
                "documentParameters",
                "The document's parameters as a JSON object (string or list-of-strings values).",
                false,
            ),
            p(
                "maxDuration",
                "How long the automation may run before the action fails (ISO 8601 duration).",
                true,
            ),
        ],
    },
    ActionSpec {
        id: "aws:fis:wait",
        description: "Wait for the specified duration.",
        target: None,
        parameters: &[p("duration", "The time to wait (ISO 8601 duration).", true)],
    },
];

/// Looks an action up by id.
pub fn find(id: &str) -> Option<&'static ActionSpec> {
    ACTIONS.iter().find(|a| a.id == id)
}

/// AWS's shortest action duration where the FIS actions reference documents one.
pub const MIN_DURATION: std::time::Duration = std::time::Duration::from_secs(60);
/// AWS's longest action duration.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// The range AWS accepts for an ISO-8601 duration parameter of an action, where the FIS
/// actions reference (<https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html>)
/// documents one: `startInstancesAfterDuration` of `aws:ec2:stop-instances`, `duration`
/// of `aws:network:disrupt-connectivity` and of `aws:fis:wait` each take "from one
/// minute to 12 hours" (PT1M to PT12H). The reference gives no range for
/// `aws:network:route-table-disrupt-cross-region-connectivity`'s `duration`, so none is
/// enforced for it. `maxDuration` of `aws:ssm:start-automation-execution` also takes
/// "from one minute to 12 hours".
pub fn duration_range(action_id: &str, param: &str) -> Option<(std::time::Duration, std::time::Duration)> {
    match (action_id, param) {
        ("aws:ec2:stop-instances", "startInstancesAfterDuration")
        | ("aws:network:disrupt-connectivity", "duration")
        | ("aws:fis:wait", "duration")
        | ("aws:ssm:start-automation-execution", "maxDuration") => Some((MIN_DURATION, MAX_DURATION)),
        _ => None,
    }
}

/// Parses an ISO-8601 duration as FIS writes them (`PT10M`, `PT30S`, `PT1.5S`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let ok_chars = s.starts_with('P') && s.bytes().all(|b| b.is_ascii_digit() || b"PTYMWDHS.,".contains(&b));
    if !ok_chars || s.len() > 40 {
        return Err(format!("{s:?} is not an ISO 8601 duration (e.g. PT10M)"));
    }
    iso8601::duration(s)
        .map(std::time::Duration::from)
        .map_err(|_| format!("{s:?} is not an ISO 8601 duration (e.g. PT10M)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ISO-8601 durations parse; garbage is refused with the value named.
    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT10S").unwrap().as_secs(), 10);
        assert_eq!(parse_duration("PT2M").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("PT1.5S").unwrap().as_millis(), 1500);
        assert!(parse_duration("10s").unwrap_err().contains("10s"));
        assert!(parse_duration("PTxS").is_err());
    }
}
