//! Route 53 for an app name: find the health checks of the name's records
//! ([`discover`]: ListHostedZones, ListResourceRecordSets, following aliases to other
//! names of the account's zones), and poll their status ([`watch_health_checks`]:
//! GetHealthCheckStatus) onto the journal.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::RrType;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use serde::Serialize;

use super::{timed, Budget, Observers, CALL_TIMEOUT};
use crate::aws::describe_error;
use crate::journal::{now_unix_ms, EventKind, Journal};
use crate::scenario::Cadence;
use crate::status::HealthCheckStatus;

/// Aliases are followed this many names deep at most.
const MAX_ALIAS_DEPTH: usize = 8;
/// Pages of record sets read per name at most.
const MAX_PAGES: usize = 20;

/// What Route 53 holds for a name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NameRoute53 {
    /// The hosted zone the name is in (the longest matching zone name), if the account
    /// has one.
    pub zone_id: Option<String>,
    /// That zone's name.
    pub zone_name: Option<String>,
    /// Health checks of the name's record sets and of the records its aliases lead to,
    /// and those probing the app's load balancer (which a runbook may watch even when no
    /// record names them, e.g. behind a simple record).
    pub health_check_ids: Vec<String>,
}

/// A Route 53 call failed.
#[derive(Debug, thiserror::Error)]
#[error("{call} failed: {message}")]
pub struct DiscoverError {
    /// The call, e.g. `ListHostedZones`.
    pub call: String,
    /// The error.
    pub message: String,
}

impl DiscoverError {
    /// Maps a failure of `call` to a [`DiscoverError`] with AWS's error text.
    fn of<E>(call: impl Into<String>) -> impl FnOnce(SdkError<E, HttpResponse>) -> DiscoverError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let call = call.into();
        move |e| DiscoverError {
            call,
            message: describe_error(&e),
        }
    }
}

/// `name` lower-cased with exactly one trailing dot.
fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether `name` is `zone` or below it (both absolute).
fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// Finds the zone of `name`, the health checks that decide its answers and those whose
/// target (domain name or IP address) is one of `probing` (the load balancer's DNS name).
pub async fn discover(
    client: &aws_sdk_route53::Client,
    name: &str,
    probing: &[String],
) -> Result<NameRoute53, DiscoverError> {
    let zones = list_zones(client).await?;
    let name = absolute(name);
    let zone_of = |n: &str| {
        zones
            .iter()
            .filter(|(_, zone)| in_zone(n, zone))
            .max_by_key(|(_, zone)| zone.len())
            .cloned()
    };
    let Some((zone_id, zone_name)) = zone_of(&name) else {
        return Ok(NameRoute53::default());
    };
    let mut ids = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec![(name, zone_id.clone(), 0usize)];
    while let Some((n, zone, depth)) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        for (health_check, alias) in record_sets(client, &zone, &n).await? {
            ids.extend(health_check);
            let Some(alias) = alias.map(|a| absolute(&a)) else {
                continue;
            };
            if depth < MAX_ALIAS_DEPTH {
                if let Some((alias_zone, _)) = zone_of(&alias) {
                    todo.push((alias, alias_zone, depth + 1));
                }
            }
        }
    }
    ids.extend(probing_health_checks(client, probing).await?);
    Ok(NameRoute53 {
        zone_id: Some(zone_id),
        zone_name: Some(zone_name),
        health_check_ids: ids.into_iter().collect(),
    })
}

/// Ids of the health checks whose domain name or IP address is one of `targets`.
async fn probing_health_checks(
    client: &aws_sdk_route53::Client,
    targets: &[String],
) -> Result<Vec<String>, DiscoverError> {
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let targets: Vec<String> = targets.iter().map(|t| norm(t)).filter(|t| !t.is_empty()).collect();
    let mut ids = Vec::new();
    if targets.is_empty() {
        return Ok(ids);
    }
    let all = client.list_health_checks().into_paginator().items().send();
    let all = all.try_collect().await.map_err(DiscoverError::of("ListHealthChecks"))?;
    for h in all {
        let Some(c) = h.health_check_config() else { continue };
        let hits = [c.fully_qualified_domain_name(), c.ip_address()]
            .into_iter()
            .flatten()
            .any(|t| targets.contains(&norm(t)));
        if hits {
            ids.push(h.id().to_string());
        }
    }
    Ok(ids)
}

/// Every hosted zone: (id without `/hostedzone/`, absolute lower-case name).
async fn list_zones(client: &aws_sdk_route53::Client) -> Result<Vec<(String, String)>, DiscoverError> {
    let zones = client.list_hosted_zones().into_paginator().items().send();
    let zones = zones
        .try_collect()
        .await
        .map_err(DiscoverError::of("ListHostedZones"))?;
    Ok(zones
        .iter()
        .map(|z| {
            (
                z.id().trim_start_matches("/hostedzone/").to_string(),
                absolute(z.name()),
            )
        })
        .collect())
}

/// The record sets named `name` in `zone`: (health check id, alias target DNS name).
async fn record_sets(
    client: &aws_sdk_route53::Client,
    zone: &str,
    name: &str,
) -> Result<Vec<(Option<String>, Option<String>)>, DiscoverError> {
    let mut found = Vec::new();
    let mut start: (String, Option<RrType>, Option<String>) = (name.to_string(), None, None);
    for _ in 0..MAX_PAGES {
        let out = client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(&start.0)
            .set_start_record_type(start.1.take())
            .set_start_record_identifier(start.2.take())
            .send()
            .await
            .map_err(DiscoverError::of(format!("ListResourceRecordSets({zone}, {name})")))?;
        let mut past = false;
        for set in out.resource_record_sets() {
            if absolute(set.name()) != name {
                past = true;
                break;
            }
            found.push((
                set.health_check_id().map(str::to_string),
                set.alias_target().map(|a| a.dns_name().to_string()),
            ));
        }
        match out.next_record_name() {
            Some(next) if out.is_truncated() && !past && absolute(next) == name => {
                start = (
                    next.to_string(),
                    out.next_record_type().cloned(),
                    out.next_record_identifier().map(str::to_string),
                );
            }
            _ => break,
        }
    }
    Ok(found)
}

/// The status Route 53 derives from the checkers' reports: `healthy` when more than
/// 18% of them report success, `unhealthy` otherwise; `None` without any report yet.
/// Also returns the latest report text.
pub fn health_status<'a>(reports: impl IntoIterator<Item = &'a str>) -> Option<(&'static str, String)> {
    let reports: Vec<&str> = reports.into_iter().collect();
    if reports.is_empty() {
        return None;
    }
    let ok = reports.iter().filter(|r| r.starts_with("Success")).count();
    let status = if ok as f64 / reports.len() as f64 > 0.18 {
        "healthy"
    } else {
        "unhealthy"
    };
    Some((status, reports[0].to_string()))
}

/// Polls GetHealthCheckStatus for every id in turn, one call every `cadence.route53`
/// (so each check every `ids.len()` × that; backing off while a check's calls fail), and
/// journals [`EventKind::Route53HealthCheck`]: the first status seen, then each change —
/// and every failed call, and each check's blind stretches.
pub fn watch_health_checks(
    client: &aws_sdk_route53::Client,
    ids: Vec<String>,
    journal: &Journal,
    cadence: &Cadence,
) -> Observers {
    let (client, journal) = (client.clone(), journal.clone());
    let budget = Budget::new(
        &journal,
        "route53",
        "route53",
        "GetHealthCheckStatus",
        cadence.route53,
        cadence.max_backoff,
    );
    Observers::spawn(move |stop| async move {
        let mut budgets: Vec<Budget> = ids.iter().map(|_| budget.clone()).collect();
        let mut last: BTreeMap<String, HealthCheckStatus> = BTreeMap::new();
        let close_all = |budgets: &mut Vec<Budget>| {
            let now = now_unix_ms();
            budgets.iter_mut().for_each(|b| b.close(now));
        };
        loop {
            for (id, budget) in ids.iter().zip(budgets.iter_mut()) {
                let sent = now_unix_ms();
                let call = client.get_health_check_status().health_check_id(id).send();
                let answer = tokio::select! {
                    _ = stop.cancelled() => break,
                    a = timed("route53", "GetHealthCheckStatus", CALL_TIMEOUT, call) => a,
                };
                let wait = match answer {
                    Ok(out) => {
                        budget.succeeded();
                        let reports = out
                            .health_check_observations()
                            .iter()
                            .filter_map(|o| o.status_report().and_then(|r| r.status()));
                        if let Some((status, report)) = health_status(reports) {
                            let status = HealthCheckStatus::from(status);
                            if last.get(id) != Some(&status) {
                                journal.record(EventKind::Route53HealthCheck {
                                    health_check_id: id.clone(),
                                    previous: last.insert(id.clone(), status.clone()),
                                    status,
                                    report: Some(report),
                                });
                            }
                        }
                        budget.wait()
                    }
                    Err(e) => {
                        budget.failed(sent, &e);
                        budget.wait()
                    }
                };
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            if stop.is_cancelled() {
                return close_all(&mut budgets);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Route 53's rule: healthy when more than 18% of the checkers report success.
    #[test]
    fn status_from_reports() {
        assert_eq!(health_status([]), None);
        let ok = "Success: HTTP Status Code 200, OK";
        let bad = "Failure: HTTP Status Code 502, Bad Gateway";
        assert_eq!(health_status([ok]).map(|s| s.0), Some("healthy"));
        assert_eq!(health_status([bad]).map(|s| s.0), Some("unhealthy"));
        let mostly_bad = [ok, bad, bad, bad, bad, bad];
        assert_eq!(
            health_status(mostly_bad).map(|s| s.0),
            Some(/* 1/6 < 18% */ "unhealthy")
        );
        let some_ok = [ok, bad, bad, bad, bad];
        assert_eq!(health_status(some_ok).map(|s| s.0), Some(/* 1/5 > 18% */ "healthy"));
        assert_eq!(health_status([bad, ok]).map(|s| s.1), Some(bad.to_string()));
    }

    /// Zone matching is by whole labels.
    #[test]
    fn zone_matching() {
        assert!(in_zone("app.drill.test.", "drill.test."));
        assert!(in_zone("drill.test.", "drill.test."));
        assert!(!in_zone("app.xdrill.test.", "drill.test."));
        assert_eq!(absolute("App.Drill.Test"), "app.drill.test.");
    }
}
