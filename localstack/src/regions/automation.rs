//! The SSM Automation documents the local stack knows, run by FIS's
//! `aws:ssm:start-automation-execution` action: each is a short sequence of the runbook
//! steps this module's parent already runs (start a region's instances, wait until they
//! are healthy targets, point a Route 53 name at a load balancer).
//!
//! AWS runs any Automation document of the account; the local stack knows only
//! [`SWITCH_TO_RESTORED_DATABASE`]. Any other document fails the action, as FIS fails an
//! action whose `StartAutomationExecution` is refused (`InvalidDocument`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{wait_db_writable, Regions};

/// The document that hands traffic over to a region whose database was restored:
/// waits until the region's database accepts writes, starts the region's stopped app
/// instances, waits until they are healthy targets, and points `DnsName` at the
/// region's load balancer.
///
/// Parameters (SSM's form: each a list of strings; the first value is used):
/// `DnsName` (required), `Region` (default: the experiment's region),
/// `LoadBalancerName` (default: the region's load balancer), `RestoredResourceArn`
/// (accepted and recorded; the restored database is the region's).
pub const SWITCH_TO_RESTORED_DATABASE: &str = "drdrill-SwitchToRestoredDatabase";

/// Longest the switch waits for the region's database to accept writes.
const DB_TIMEOUT: Duration = Duration::from_secs(120);

/// An automation document's parameters, as SSM takes them: name → values.
pub type DocumentParameters = BTreeMap<String, Vec<String>>;

impl Regions {
    /// Runs the built-in automation document `document` (its name: the part of a
    /// document ARN after `document/`) in `region` with `params`. `Err` names the unknown
    /// document, a missing parameter, or the step that failed.
    pub async fn run_automation(
        &self,
        region: &str,
        document: &str,
        params: &DocumentParameters,
    ) -> Result<(), String> {
        match document {
            SWITCH_TO_RESTORED_DATABASE => self.switch_to_restored(region, params).await,
            other => Err(format!(
                "InvalidDocument: the local stack has no Automation document {other:?} (it knows {SWITCH_TO_RESTORED_DATABASE})"
            )),
        }
    }

    async fn switch_to_restored(&self, region: &str, params: &DocumentParameters) -> Result<(), String> {
        let first = |k: &str| params.get(k).and_then(|v| v.first()).cloned();
        let name = first("DnsName").ok_or_else(|| {
            format!("InvalidAutomationExecutionParameters: {SWITCH_TO_RESTORED_DATABASE} requires DnsName")
        })?;
        let region = first("Region").unwrap_or_else(|| region.to_string());
        let world = self.step_world(&region)?;
        let lb = first("LoadBalancerName").unwrap_or_else(|| world.stack.load_balancer.name.clone());
        tokio::time::timeout(DB_TIMEOUT, wait_db_writable(&world))
            .await
            .map_err(|_| format!("the database of {region} did not accept writes within {DB_TIMEOUT:?}"))?;
        self.start_instances(&region).await?;
        self.switch_dns(&name, &lb)
    }
}
