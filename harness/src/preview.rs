//! `drdrill plan`: connect to the scenario's target, resolve the plan, render it, and
//! check it against the blast-radius caps — everything a run does before injecting,
//! injecting nothing. Built on [`crate::plan`] (resolution and rendering) and
//! [`crate::blast`] (the caps), which do not depend on each other's callers.

/// `drdrill plan`: connects to the scenario's target, resolves the plan and renders it.
/// Injects nothing.
///
/// With a `blast_radius` section, the caps and each action's check are shown too, and a
/// cap exceeded is a [`PreviewError::BlastRadius`] carrying the rendered plan.
pub async fn preview(loaded: &crate::scenario::LoadedScenario) -> Result<String, PreviewError> {
    crate::plan::check_machine(&loaded.scenario)?;
    let connected = crate::target::connect(&loaded.scenario.target).await?;
    let local_dns = connected.local.as_ref().map(|l| l.dns_addr());
    let plan = crate::plan::resolve(loaded, &connected.clients, local_dns).await;
    connected.close().await;
    let plan = plan?;
    let mut text = crate::plan::render(&plan);
    if let Some(caps) = &loaded.scenario.blast_radius {
        text.push_str(&crate::blast::render(&plan, caps));
        if let Err(error) = crate::blast::check(&plan, caps) {
            return Err(PreviewError::BlastRadius { plan: text, error });
        }
    }
    Ok(text)
}

/// `drdrill plan` failed.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The target could not be reached.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// The plan could not be resolved.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The plan exceeds a blast-radius cap.
    #[error("{error}")]
    BlastRadius {
        /// The rendered plan, to show before the error.
        plan: String,
        /// The cap exceeded.
        #[source]
        error: crate::blast::BlastError,
    },
}
