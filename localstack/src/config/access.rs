//! The `access:` section of a stack file: IAM actions answered access-denied and how long
//! each access key's session lasts; [`crate::access`] enforces it.

use serde::Deserialize;

use super::Dur;

/// A stack file's `access:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// IAM actions the caller lacks, `prefix:Operation` with the service's IAM prefix
    /// (`elasticloadbalancing:DescribeTargetHealth`, `fis:StartExperiment`,
    /// `cloudwatch:PutMetricData`, `tag:GetResources`).
    #[serde(default)]
    pub deny: Vec<String>,
    /// Each access key's session expires this long after the stack first sees the key;
    /// every call signed with it after that is refused as expired.
    #[serde(default)]
    pub credentials_expire_after: Option<Dur>,
}

/// Checks the section: every denied action is `service:Operation` for a service the
/// stack serves. Returns the key and what is wrong.
pub fn validate(config: &AccessConfig) -> Result<(), (String, String)> {
    for (i, action) in config.deny.iter().enumerate() {
        let prefixes: Vec<&str> = crate::quotas::SERVICES.iter().map(|s| iam_prefix(s)).collect();
        let ok = action.split_once(':').is_some_and(|(prefix, op)| {
            prefixes.contains(&prefix) && !op.is_empty() && op.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if !ok {
            return Err((
                format!("access.deny[{i}]"),
                format!(
                    "{action:?} is not an IAM action `prefix:Operation` of a service the stack serves ({})",
                    prefixes.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The IAM action prefix of the service whose SigV4 signing name is `signing`: the signing
/// name itself for every service the stack serves but CloudWatch (`monitoring` →
/// `cloudwatch`, as in `cloudwatch:PutMetricData`) and the Resource Groups Tagging API
/// (`tagging` → `tag`, as in `tag:GetResources`), per the Service Authorization Reference
/// (<https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html>).
pub fn iam_prefix(signing: &str) -> &str {
    match signing {
        "monitoring" => "cloudwatch",
        "tagging" => "tag",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Actions must be `service:Operation` of a served service; the key names the entry.
    #[test]
    fn validation_names_the_bad_entry() {
        let bad = AccessConfig {
            deny: vec!["fis:StartExperiment".into(), "iam:PassRole".into()],
            credentials_expire_after: None,
        };
        let (key, message) = validate(&bad).expect_err("iam is not served");
        assert_eq!(key, "access.deny[1]");
        assert!(message.contains("\"iam:PassRole\""), "{message}");
        let bad = AccessConfig {
            deny: vec!["DescribeInstances".into()],
            credentials_expire_after: None,
        };
        assert_eq!(validate(&bad).expect_err("no service").0, "access.deny[0]");
        // IAM prefixes, not signing names: CloudWatch is `cloudwatch`, tagging is `tag`.
        let iam = AccessConfig {
            deny: vec![
                "cloudwatch:PutMetricData".into(),
                "tag:GetResources".into(),
                "backup:StartRestoreJob".into(),
            ],
            credentials_expire_after: None,
        };
        assert_eq!(validate(&iam), Ok(()));
        let signing = AccessConfig {
            deny: vec!["monitoring:PutMetricData".into()],
            credentials_expire_after: None,
        };
        assert_eq!(validate(&signing).expect_err("a signing name").0, "access.deny[0]");
    }
}
