//! Plan: resolve everything a run needs before anything is injected — the load
//! balancer and its address, the app's Route 53 name (its resolver, answer, zone and
//! health checks) when it is reached by one, the target group and its targets per zone,
//! the FIS template and the resources each action would hit — and show it.
//!
//! [`resolve`] asks in that order through `load_balancer`, `actions` (with
//! [`fis_targets`]) and `dns`; [`render`] shows the result; [`check_machine`] runs
//! before anything is started.

use std::net::SocketAddr;

mod actions;
mod aws_limits;
mod dns;
pub mod fis_targets;
mod load_balancer;
mod machine;
mod model;
mod render;
pub mod restore;

pub use aws_limits::{check_template, AwsRejection};
pub use machine::{check_machine, MAX_PROBER_RATE, MAX_RATE_PER_CORE};
pub use model::{DnsEntry, ListenerInfo, LoadBalancerInfo, Plan, PlannedAction, PlannedResource, TargetInfo};
pub use render::render;

use crate::aws::{describe_error, Clients};
use crate::scenario::LoadedScenario;

/// Why a plan could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An AWS call failed.
    #[error("{call} failed: {message}")]
    Aws {
        /// The call, e.g. `DescribeLoadBalancers(drill-alb)`.
        call: String,
        /// The error.
        message: String,
    },
    /// Something named by the scenario does not exist or is not usable.
    #[error("{0}")]
    Missing(String),
    /// The traffic asked for is more than this machine can send.
    #[error("{0}")]
    Machine(String),
    /// The FIS template asks for something FIS does not define, or that the preview
    /// cannot evaluate (an unknown filter path or target parameter).
    #[error("fault template: {0}")]
    Template(String),
}

/// Maps a failed AWS call named `call` to a [`PlanError::Aws`] with AWS's error text.
fn aws_err<E>(
    call: impl Into<String>,
) -> impl FnOnce(aws_sdk_fis::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> PlanError
where
    E: aws_sdk_fis::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let call = call.into();
    move |e| PlanError::Aws {
        call,
        message: describe_error(&e),
    }
}

/// Resolves the plan of a loaded scenario with these clients; `local_dns` is the local
/// stack's DNS server (for `app.route53.resolver: local`). The load balancer's side is
/// asked first, then the fault's template and its actions' targets, then the Route 53
/// name.
pub async fn resolve(
    loaded: &LoadedScenario,
    clients: &Clients,
    local_dns: Option<SocketAddr>,
) -> Result<Plan, PlanError> {
    let sc = &loaded.scenario;
    let lb = load_balancer::resolve(clients, &sc.app.load_balancer, sc.app.scheme.as_str()).await?;
    // A restore test has no disaster template: no fault actions, nothing injected.
    let (template, existing_template_id, actions) = match &loaded.fault {
        Some(fault) => {
            let (template, id) = actions::template(fault, clients).await?;
            let actions = actions::plan_actions(&template, clients).await?;
            (template, id, actions)
        }
        None => (serde_json::Value::Null, None, Vec::new()),
    };
    let mut aws_rejections = lb.aws_rejections;
    if !template.is_null() {
        aws_rejections.extend(aws_limits::check_template(&template));
    }
    let dns = match &sc.app.route53 {
        Some(r53) => Some(
            dns::resolve_dns(
                sc,
                r53,
                lb.load_balancer.port,
                &lb.load_balancer.dns_name,
                clients,
                local_dns,
            )
            .await?,
        ),
        None => None,
    };
    let restore = match &sc.fault.restore {
        Some(spec) => {
            let region = spec
                .region
                .clone()
                .or_else(|| clients.sdk.region().map(|r| r.to_string()))
                .unwrap_or_default();
            Some(restore::resolve(spec, loaded.switch.as_ref(), clients, &region).await?)
        }
        None => None,
    };
    Ok(Plan {
        restore,
        scenario: sc.name.clone(),
        dns,
        load_balancer: lb.load_balancer,
        target_group_arn: lb.target_group_arn,
        targets: lb.targets,
        template,
        existing_template_id,
        actions,
        listener: lb.listener,
        aws_rejections,
    })
}
