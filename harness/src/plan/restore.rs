//! The restore drill's part of the plan: which recovery point `fault.restore` would
//! restore now (the run picks again when it starts the restore job: a newer one may
//! exist by then), and the switch that would run after it.

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
    /// The switch's actions, one line each (`name (actionId) key=value …`, with
    /// `{{restored_resource_arn}}` still to be filled); empty without a switch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switch: Vec<String>,
}

/// Resolves the restore of `spec` in `region` (the scenario's, or the target's). A call
/// AWS refuses is a plan error; no recovery point yet is shown, not refused (a stack
/// started for the run has taken none yet).
/// `switch` is the loaded switch template.
pub(super) async fn resolve(
    spec: &Restore,
    switch: Option<&serde_json::Value>,
    clients: &Clients,
    region: &str,
) -> Result<PlannedRestore, PlanError> {
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
        switch: switch.map(switch_lines).unwrap_or_default(),
    })
}

/// One line per action of the switch template: name, action id and parameters.
fn switch_lines(template: &serde_json::Value) -> Vec<String> {
    let Some(actions) = template.get("actions").and_then(serde_json::Value::as_object) else {
        return Vec::new();
    };
    actions
        .iter()
        .map(|(name, a)| {
            let id = a.get("actionId").and_then(serde_json::Value::as_str).unwrap_or("?");
            let params: Vec<String> = a
                .get("parameters")
                .and_then(serde_json::Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect();
            format!("{name} ({id}) {}", params.join(" ")).trim_end().to_owned()
        })
        .collect()
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
    if r.switch.is_empty() {
        let _ = writeln!(s, "  switch: none (nothing points the app at the restored resource)");
    }
    for line in &r.switch {
        let _ = writeln!(s, "  switch (FIS, {}): {line}", r.region);
    }
}
