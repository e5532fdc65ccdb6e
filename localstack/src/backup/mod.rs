//! AWS Backup as the local stack serves it: vaults, plans with scheduled rules, selections,
//! backup jobs that snapshot a region's database, recovery points with lifecycles and
//! cross-region copies, and restore jobs that create a database from a recovery point,
//! each restore recorded as ground truth ([`crate::truth::Truth::RestoreJob`]).
//!
//! [`schedule`] (AWS Backup's `cron(...)` schedule expressions, shared with the harness)
//! and [`model`] (AWS's documents and errors) live in [`crate::backup_model`], which the
//! stack file reads too. [`clock`]: the compressed clock (`backup.time_factor`). [`engine`]: the state and the configuration operations; [`jobs`]: backup,
//! copy and restore jobs and the lifecycle, driven by [`Backup::run`].

pub mod clock;
pub mod engine;
pub mod jobs;

pub use crate::backup_model::{model, schedule, vault_arn};

pub use engine::{Backup, BackupJob, JobState, Plan, RecoveryPoint, RestoreJob, Selection, Vault};
pub use model::BackupError;

/// A backup plan's ARN: `arn:aws:backup:{region}:{account}:backup-plan:{id}`.
pub fn plan_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:backup:{region}:{account}:backup-plan:{id}")
}

/// An RDS DB instance's ARN: `arn:aws:rds:{region}:{account}:db:{id}`.
pub fn db_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:{account}:db:{id}")
}

/// The region of an ARN (its fourth field), if it has one.
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}
