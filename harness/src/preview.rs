//! `drdrill plan`: connect to the scenario's target, resolve the plan, render it, and
//! check it against the blast-radius caps — everything a run does before injecting,
//! injecting nothing. Built on [`crate::plan`] (resolution and rendering) and
//! [`crate::blast`] (the caps), which do not depend on each other's callers. The run's
//! connect phase goes through [`connect`] and [`resolve_checked`] too, so the two never
//! disagree.

use std::fmt;
use std::net::SocketAddr;

use crate::aws::Clients;
use crate::plan::Plan;
use crate::scenario::{LoadedScenario, Scenario};

/// `drdrill plan`: connects to the scenario's target, resolves the plan and renders it.
/// Injects nothing.
///
/// With a `blast_radius` section, the caps and each action's check are shown too, and a
/// cap exceeded is a [`PreviewError::BlastRadius`] carrying the rendered plan.
///
/// With `objectives.backup_coverage`, the backup coverage gate runs too and its section
/// follows the plan; a gate with findings is a [`PreviewError::Coverage`] carrying the
/// whole text (`drdrill plan` exits 1, as for a missed objective).
pub async fn preview(loaded: &LoadedScenario) -> Result<String, PreviewError> {
    let connected = connect(&loaded.scenario).await?;
    let local_dns = connected.local.as_ref().map(|l| l.dns_addr());
    let checked = resolve_checked(loaded, &connected.clients, local_dns).await;
    let gate = loaded
        .scenario
        .objectives
        .backup_coverage
        .as_ref()
        .filter(|g| g.enabled());
    let coverage = match (&checked, gate) {
        (Ok(_), Some(g)) => Some(crate::coverage::evaluate(g, &connected, &loaded.scenario.target).await),
        _ => None,
    };
    connected.close().await;
    let mut text = checked?.rendered.to_string();
    if let Some(coverage) = coverage {
        let coverage = coverage?;
        text.push_str(&crate::coverage::render(&coverage));
        if !coverage.pass() {
            return Err(PreviewError::Coverage {
                plan: text,
                findings: coverage.findings.len(),
            });
        }
    }
    Ok(text)
}

/// Checks that this machine can drive the scenario's traffic, then connects to its target
/// (starting the embedded local stack, or checking the AWS account).
pub async fn connect(scenario: &Scenario) -> Result<crate::target::Connected, PreviewError> {
    crate::plan::check_machine(scenario)?;
    Ok(crate::target::connect(&scenario.target).await?)
}

/// A plan resolved, rendered and within its blast-radius caps.
#[derive(Debug)]
pub struct Checked {
    /// The plan.
    pub plan: Plan,
    /// The plan as text, with the blast-radius check when the scenario has caps.
    pub rendered: Rendered,
}

/// A plan as text: the plan itself and, with a `blast_radius` section, the caps and each
/// action's check. Displays as the two one after the other.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// [`crate::plan::render`]'s text.
    pub plan: String,
    /// [`crate::blast::render`]'s text, when the scenario has caps.
    pub blast: Option<String>,
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.plan)?;
        f.write_str(self.blast.as_deref().unwrap_or_default())
    }
}

/// Resolves the plan with these clients (`local_dns`: the local stack's DNS server),
/// renders it, and checks it against the scenario's blast-radius caps. A cap exceeded is
/// a [`PreviewError::BlastRadius`] carrying the rendered plan.
pub async fn resolve_checked(
    loaded: &LoadedScenario,
    clients: &Clients,
    local_dns: Option<SocketAddr>,
) -> Result<Checked, PreviewError> {
    let plan = crate::plan::resolve(loaded, clients, local_dns).await?;
    let mut rendered = Rendered {
        plan: crate::plan::render(&plan),
        blast: None,
    };
    if let Some(caps) = &loaded.scenario.blast_radius {
        rendered.blast = Some(crate::blast::render(&plan, caps));
        if let Err(error) = crate::blast::check(&plan, caps) {
            return Err(PreviewError::BlastRadius { plan: rendered, error });
        }
    }
    Ok(Checked { plan, rendered })
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
    /// The backup coverage gate could not be evaluated.
    #[error(transparent)]
    CoverageUnknown(#[from] crate::coverage::CoverageError),
    /// The backup coverage gate found resources without a recent enough recovery point,
    /// a missing copy or a retention that differs from the plan (a missed objective).
    #[error("backup coverage: {findings} finding(s)")]
    Coverage {
        /// The plan and the coverage section, to show before the error.
        plan: String,
        /// How many findings.
        findings: usize,
    },
    /// The plan exceeds a blast-radius cap.
    #[error("{error}")]
    BlastRadius {
        /// The rendered plan, to show before the error.
        plan: Rendered,
        /// The cap exceeded.
        #[source]
        error: crate::blast::BlastError,
    },
}
