//! The restore drill's part of the plan: which recovery point `fault.restore` would
//! restore now (the run picks again when it starts the restore job: a newer one may
//! exist by then).

use serde::Serialize;

use super::PlanError;
use crate::aws::backup::{self, BackupError, RecoveryPoint};
use crate::aws::Clients;
use crate::scenario::restore::Restore;

/// The restore a drill would start.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRestore {
    /// The region of the AWS Backup calls.
    pub region: String,
    /// What the scenario asks for, in words.
    pub choice: String,
    /// The recovery point it would restore now; `None` when none is COMPLETED yet.
    pub recovery_point: Option<RecoveryPoint>,
}

/// Resolves the restore of `spec` in `region` (the scenario's, or the target's). A call
/// AWS refuses is a plan error; no recovery point yet is shown, not refused (a stack
/// started for the run has taken none yet).
pub(super) async fn resolve(spec: &Restore, clients: &Clients, region: &str) -> Result<PlannedRestore, PlanError> {
    let client = clients.backup_in(region);
    let recovery_point = match backup::choose(&client, spec, region).await {
        Ok(p) => Some(p),
        Err(BackupError::NoRecoveryPoint { .. }) => None,
        Err(e) => return Err(PlanError::Missing(format!("fault.restore: {e}"))),
    };
    Ok(PlannedRestore {
        region: region.to_owned(),
        choice: backup::describe_choice(spec),
        recovery_point,
    })
}

/// The plan's restore lines.
pub(super) fn render(s: &mut String, r: &PlannedRestore) {
    use std::fmt::Write as _;
    let _ = writeln!(s, "restore (AWS Backup, {}): {}", r.region, r.choice);
    match &r.recovery_point {
        Some(p) => {
            let created = humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(p.creation_unix_ms.max(0) as u64),
            );
            let _ = writeln!(
                s,
                "  recovery point now: {} (vault {}, created {created})",
                p.arn, p.vault
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  recovery point now: none COMPLETED yet (the run picks when it starts the restore job)"
            );
        }
    }
}
