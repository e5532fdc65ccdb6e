//! Access the stack refuses on purpose (`access:`): IAM actions it answers with AWS's
//! access-denied error, and credentials that expire a set time after they are first
//! used (each access key on its own, as each STS session expires on its own: fresh
//! credentials from the caller's chain are accepted again), in each service's error
//! shape. A test sees exactly what a user sees when the harness's
//! role lacks a permission or its session token runs out mid-drill.
//!
//! Error codes and statuses are AWS's: EC2 `UnauthorizedOperation`, FIS, AWS Backup and
//! Resource Groups Tagging `AccessDeniedException` (the JSON protocols' common error, e.g.
//! <https://docs.aws.amazon.com/aws-backup/latest/devguide/CommonErrors.html>), the other
//! services `AccessDenied`, all HTTP 403, with the
//! message naming the IAM action as IAM's "is not authorized to perform" does; an expired
//! session token is `ExpiredToken` (FIS `ExpiredTokenException`), HTTP 403 ("The security
//! token included in the request is expired", the common errors of the ELB, EC2 and RDS
//! API references, e.g.
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/CommonErrors.html>).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub use crate::config::iam_prefix;
use crate::config::AccessConfig;

/// Why a call is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The IAM action is denied: its name, `service:Operation`.
    Denied(String),
    /// The session token has expired.
    Expired,
}

/// The stack's access rules, with when each access key was first seen.
#[derive(Debug)]
pub struct Access {
    deny: Vec<String>,
    expire_after: Option<std::time::Duration>,
    first_seen: Mutex<HashMap<String, Instant>>,
}

impl Access {
    /// The rules of `config` (none without one).
    pub fn new(config: Option<&AccessConfig>) -> Access {
        Access {
            deny: config.map(|c| c.deny.clone()).unwrap_or_default(),
            expire_after: config.and_then(|c| c.credentials_expire_after.as_ref()).map(|d| d.0),
            first_seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the session of `access_key` (from the request's signature; unsigned
    /// requests share one) has expired: `expire_after` since the key was first seen.
    fn expired(&self, access_key: &str) -> bool {
        let Some(after) = self.expire_after else {
            return false;
        };
        let mut seen = self.first_seen.lock().unwrap_or_else(|p| p.into_inner());
        let first = *seen.entry(access_key.to_string()).or_insert_with(Instant::now);
        first.elapsed() >= after
    }

    /// Whether a call of `operation` on `service` (its signing name) is refused, and why; an
    /// expired token is refused before any permission is looked at, as AWS authenticates
    /// first.
    pub fn check(&self, service: &str, operation: &str, access_key: &str) -> Option<Refusal> {
        if self.expired(access_key) {
            return Some(Refusal::Expired);
        }
        let action = format!("{}:{operation}", iam_prefix(service));
        self.deny.contains(&action).then_some(Refusal::Denied(action))
    }
}

/// The code and message AWS answers a refused call of `service` with.
pub fn error(service: &str, account_id: &str, refusal: &Refusal) -> (&'static str, String) {
    match refusal {
        Refusal::Denied(action) => {
            let code = match service {
                "ec2" => "UnauthorizedOperation",
                // The JSON protocols' common error (FIS, AWS Backup, Resource Groups Tagging).
                "fis" | "backup" | "tagging" => "AccessDeniedException",
                _ => "AccessDenied",
            };
            let message = format!(
                "User: arn:aws:iam::{account_id}:user/drdrill is not authorized to perform: {action} because no identity-based policy allows the {action} action"
            );
            (code, message)
        }
        Refusal::Expired => (
            if matches!(service, "fis" | "backup" | "tagging") {
                "ExpiredTokenException"
            } else {
                "ExpiredToken"
            },
            "The security token included in the request is expired".to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use std::time::Duration;

    /// A denied action is refused with the service's code naming the action; others pass;
    /// an expired token is refused before permissions are looked at.
    #[test]
    fn denies_named_actions_and_expired_tokens() {
        let config = AccessConfig {
            deny: vec!["elasticloadbalancing:DescribeTargetHealth".into()],
            credentials_expire_after: None,
        };
        let a = Access::new(Some(&config));
        let r = a
            .check("elasticloadbalancing", "DescribeTargetHealth", "AKID1")
            .expect("denied");
        let (code, message) = error("elasticloadbalancing", "123456789012", &r);
        assert_eq!(code, "AccessDenied");
        assert!(message.contains("not authorized to perform: elasticloadbalancing:DescribeTargetHealth"));
        assert_eq!(a.check("elasticloadbalancing", "DescribeLoadBalancers", "AKID1"), None);
        assert_eq!(a.check("ec2", "DescribeTargetHealth", "AKID1"), None);
        assert_eq!(error("ec2", "1", &r).0, "UnauthorizedOperation");
        assert_eq!(error("fis", "1", &r).0, "AccessDeniedException");
        assert_eq!(error("backup", "1", &r).0, "AccessDeniedException");

        let expired = AccessConfig {
            deny: config.deny.clone(),
            credentials_expire_after: Some(Dur(Duration::ZERO)),
        };
        let a = Access::new(Some(&expired));
        assert_eq!(
            a.check("elasticloadbalancing", "DescribeTargetHealth", "AKID1"),
            Some(Refusal::Expired)
        );
        assert_eq!(a.check("sts", "GetCallerIdentity", "AKID1"), Some(Refusal::Expired));
        assert_eq!(error("fis", "1", &Refusal::Expired).0, "ExpiredTokenException");
        assert_eq!(Access::new(None).check("fis", "StartExperiment", "AKID1"), None);
    }

    /// A denied action is named by its IAM prefix, which for CloudWatch and the tagging API
    /// is not their signing name.
    #[test]
    fn actions_use_the_iam_prefix_not_the_signing_name() {
        let a = Access::new(Some(&AccessConfig {
            deny: vec!["tag:GetResources".into(), "cloudwatch:DescribeAlarms".into()],
            credentials_expire_after: None,
        }));
        assert_eq!(
            a.check("tagging", "GetResources", "AKID1"),
            Some(Refusal::Denied("tag:GetResources".into()))
        );
        assert_eq!(
            a.check("monitoring", "DescribeAlarms", "AKID1"),
            Some(Refusal::Denied("cloudwatch:DescribeAlarms".into()))
        );
        assert_eq!(a.check("monitoring", "PutMetricData", "AKID1"), None);
    }

    /// Each access key's session expires on its own, counted from its first call: a key
    /// first seen later is accepted until its own time is up.
    #[test]
    fn each_key_expires_on_its_own() {
        let a = Access::new(Some(&AccessConfig {
            deny: Vec::new(),
            credentials_expire_after: Some(Dur(Duration::from_millis(200))),
        }));
        assert_eq!(a.check("fis", "GetExperiment", "AKID1"), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(a.check("fis", "GetExperiment", "AKID1"), Some(Refusal::Expired));
        assert_eq!(
            a.check("fis", "GetExperiment", "AKID2"),
            None,
            "a fresh key is accepted"
        );
    }
}
