//! The backup coverage gate (`objectives.backup_coverage`): for every AWS Backup plan of
//! the region (or those named), every rule and every resource its selections cover, the
//! newest `COMPLETED` recovery point in the rule's vault must be younger than the
//! longest gap between two firings of the rule's schedule plus its start and completion
//! windows; each copy action's destination vault must hold one under the same bound; and
//! every recovery point's retention must match the plan's. Injects nothing.
//!
//! [`gather`](mod@gather) reads the inputs from AWS Backup and the Resource Groups Tagging API,
//! [`check`](mod@check) judges them (pure: plain data, a time and a time factor), [`render`](mod@render) shows
//! the result. On the local stack, times are compressed by its `backup.time_factor`
//! (seconds of AWS time per real second): the bounds are divided by it.

pub mod bound;
pub mod check;
pub mod gather;
pub mod model;
pub mod render;
pub mod select;
#[cfg(test)]
mod tests;

pub use check::{check, Coverage, Finding, Problem};
pub use gather::{gather, GateClients};
pub use render::{objective_result, render};

use crate::scenario::{BackupCoverage, Target};

/// Why the gate could not judge (as opposed to a finding, which is a judgement).
#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    /// An AWS call failed.
    #[error("backup coverage: {call} failed: {message}")]
    Aws {
        /// The call, e.g. `GetBackupPlan(id)`.
        call: String,
        /// AWS's error.
        message: String,
    },
    /// A plan the scenario names does not exist in the region.
    #[error("backup coverage: no backup plan named {plan:?} in {region} (objectives.backup_coverage.plans)")]
    NoSuchPlan {
        /// The name or id as the scenario gives it.
        plan: String,
        /// The region asked.
        region: String,
    },
}

/// The SDK configuration for the gate's clients on `target`, in `region`: for the
/// embedded local stack its endpoint with static credentials (as the run's clients); for
/// an AWS target the default credential chain (or its profile) and its `endpoint_url`.
pub async fn sdk_config(connected: &crate::target::Connected, target: &Target) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(connected.region.clone()));
    match (target, &connected.local) {
        (_, Some(local)) => {
            loader =
                loader
                    .endpoint_url(local.endpoint_url())
                    .credentials_provider(aws_credential_types::Credentials::new(
                        "drdrill",
                        "drdrill",
                        None,
                        None,
                        "drdrill-local",
                    ));
        }
        (Target::Aws(aws), None) => {
            if let Some(p) = &aws.profile {
                loader = loader.profile_name(p);
            }
            if let Some(e) = &aws.endpoint_url {
                loader = loader.endpoint_url(e);
            }
        }
        _ => {}
    }
    loader.load().await
}

/// Seconds of AWS time per real second on this target: the local stack's
/// `backup.time_factor`, 1 on AWS.
pub fn time_factor(connected: &crate::target::Connected) -> f64 {
    connected
        .local
        .as_ref()
        .and_then(|l| l.world.stack.backup_config())
        .map_or(1.0, |b| b.time_factor)
}

/// Longest the gate waits for a freshly started local stack's plans to run (see
/// [`evaluate`]).
pub const MAX_LOCAL_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the gate as the scenario's `backup_coverage` asks, against a connected target, now.
///
/// On the embedded local stack, which has only just started, the plans may not have run
/// yet: the gate judges again every [`LOCAL_POLL`] until it passes or the longest rule's age
/// bound on the wall clock has gone by (the time within which a working plan must have
/// produced a recovery point, at most [`MAX_LOCAL_WAIT`]), and gives the last judgement.
/// On AWS it judges once, at once.
pub async fn evaluate(
    options: &BackupCoverage,
    connected: &crate::target::Connected,
    target: &Target,
) -> Result<Coverage, CoverageError> {
    let clients = GateClients::new(sdk_config(connected, target).await);
    let region = options.region().unwrap_or(&connected.region).to_string();
    let factor = time_factor(connected);
    let started = tokio::time::Instant::now();
    let inputs = gather(&clients, &region, options.plans(), now_ms(), factor).await?;
    let wait = match connected.local {
        Some(_) => local_wait(&inputs, factor),
        None => std::time::Duration::ZERO,
    };
    let mut judged = check(&inputs);
    while !judged.pass() && started.elapsed() < wait {
        tokio::time::sleep(LOCAL_POLL.min(wait.saturating_sub(started.elapsed()))).await;
        judged = check(&gather(&clients, &region, options.plans(), now_ms(), factor).await?);
    }
    Ok(judged)
}

/// How often the gate judges again while a fresh local stack's plans catch up.
pub const LOCAL_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The longest rule's age bound on the wall clock (at most [`MAX_LOCAL_WAIT`]): how long a
/// fresh local stack may take before every working plan has produced a recovery point.
fn local_wait(inputs: &model::Inputs, factor: f64) -> std::time::Duration {
    let longest = inputs
        .plans
        .iter()
        .flat_map(|p| &p.rules)
        .filter_map(|r| {
            bound::age_bound(
                &r.schedule,
                r.start_window_minutes,
                r.completion_window_minutes,
                now_ms(),
            )
            .ok()
        })
        .map(|b| b.wall_ms(factor).max(0) as u64)
        .max()
        .unwrap_or(0);
    std::time::Duration::from_millis(longest).min(MAX_LOCAL_WAIT)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
