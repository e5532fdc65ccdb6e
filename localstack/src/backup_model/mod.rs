//! AWS Backup's documents, as both the stack file (`crate::config`) and the service
//! (`crate::backup`) read them: [`model`] (plans, rules, selections, lifecycles, errors,
//! in AWS's member names), [`schedule`] (`cron(...)` schedule expressions, shared with the
//! harness's coverage gate) and the vault ARN. Kept apart from the service so that the
//! stack file's checks do not depend on the service that runs them.

pub mod model;
pub mod schedule;

/// A vault's ARN: `arn:aws:backup:{region}:{account}:backup-vault:{name}`.
pub fn vault_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:backup:{region}:{account}:backup-vault:{name}")
}
