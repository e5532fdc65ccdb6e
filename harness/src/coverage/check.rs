//! The gate's checks over plain data ([`Inputs`]): for every plan, rule, selection and
//! resource — the newest `COMPLETED` recovery point in the rule's vault is younger than
//! the rule's [`AgeBound`]; each copy action's destination vault holds one under the same
//! bound; and retention matches the plan (each recovery point's `Lifecycle` equals the
//! rule's, and none has outlived `DeleteAfterDays`). Every failure is a [`Finding`]
//! naming the resource, the plan and the rule.

use serde::Serialize;

use super::bound::{age_bound, AgeBound};
use super::model::{vault_of_arn, Inputs, Lifecycle, Plan, RecoveryPoint, Rule};

/// What is wrong with one resource under one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// No `COMPLETED` recovery point of the resource in the vault.
    NoRecoveryPoint {
        /// `region/vault`.
        vault: String,
    },
    /// The newest `COMPLETED` recovery point is older than the bound.
    TooOld {
        /// `region/vault`.
        vault: String,
        /// The recovery point.
        recovery_point: String,
        /// Its age on the wall clock, ms.
        age_ms: i64,
        /// The bound on the wall clock, ms.
        allowed_ms: i64,
        /// The bound's parts, in AWS time.
        bound: AgeBound,
    },
    /// A recovery point's lifecycle differs from the rule's (or the copy action's).
    Retention {
        /// The recovery point.
        recovery_point: String,
        /// What it has.
        found: Option<Lifecycle>,
        /// What the plan says.
        expected: Option<Lifecycle>,
    },
    /// A recovery point older than its `DeleteAfterDays` still exists.
    Overdue {
        /// The recovery point.
        recovery_point: String,
        /// Its age in AWS time, ms.
        age_aws_ms: i64,
        /// `DeleteAfterDays`.
        delete_after_days: i64,
    },
    /// The vault could not be listed.
    VaultMissing {
        /// `region/vault`.
        vault: String,
        /// AWS's error.
        error: String,
    },
    /// The rule's schedule gives no bound (does not parse, or hardly ever fires).
    Schedule {
        /// Why.
        reason: String,
    },
    /// A copy action's destination is not a backup vault ARN.
    BadDestination {
        /// The ARN as the plan gives it.
        arn: String,
    },
    /// A selection covers no resource at all.
    EmptySelection {
        /// The selection's name.
        selection: String,
    },
}

/// One failure of the gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The plan's name.
    pub plan: String,
    /// The rule's name.
    pub rule: String,
    /// The resource, when the failure is about one.
    pub resource: Option<String>,
    /// For a copy action: its destination vault ARN.
    pub copy_to: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

/// The gate's verdict on the inputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Each (plan, rule, resource) checked, with its newest recovery point's age
    /// (wall clock, ms) when it has one.
    pub checked: Vec<Checked>,
    /// Every failure; the gate passes when there is none.
    pub findings: Vec<Finding>,
}

/// One resource checked under one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    /// Plan name.
    pub plan: String,
    /// Rule name.
    pub rule: String,
    /// Resource ARN.
    pub resource: String,
    /// The newest `COMPLETED` recovery point in the rule's vault.
    pub newest: Option<String>,
    /// Its age, wall clock ms.
    pub age_ms: Option<i64>,
    /// The bound, wall clock ms.
    pub allowed_ms: Option<i64>,
}

impl Coverage {
    /// Whether the gate passes (no finding).
    pub fn pass(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks every plan of `inputs`.
pub fn check(inputs: &Inputs) -> Coverage {
    let mut out = Coverage::default();
    for plan in &inputs.plans {
        for sel in plan.selections.iter().filter(|s| s.resources.is_empty()) {
            for rule in &plan.rules {
                out.findings.push(finding(
                    plan,
                    rule,
                    None,
                    None,
                    Problem::EmptySelection {
                        selection: sel.name.clone(),
                    },
                ));
            }
        }
        for rule in &plan.rules {
            check_rule(inputs, plan, rule, &mut out);
        }
    }
    out
}

fn finding(plan: &Plan, rule: &Rule, resource: Option<&str>, copy_to: Option<&str>, problem: Problem) -> Finding {
    Finding {
        plan: plan.name.clone(),
        rule: rule.name.clone(),
        resource: resource.map(str::to_string),
        copy_to: copy_to.map(str::to_string),
        problem,
    }
}

/// The distinct resources of a plan's selections, in order.
fn resources(plan: &Plan) -> Vec<&str> {
    let mut all: Vec<&str> = plan
        .selections
        .iter()
        .flat_map(|s| s.resources.iter().map(String::as_str))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Where a rule's recovery points must be: the copy destination's ARN (`None`: the
/// rule's own vault), the vault as `(region, name)`, and the lifecycle they must carry.
type Destination<'a> = (Option<&'a str>, (String, String), Option<Lifecycle>);
fn check_rule(inputs: &Inputs, plan: &Plan, rule: &Rule, out: &mut Coverage) {
    let aws_now = inputs.now_ms;
    let bound = match age_bound(
        &rule.schedule,
        rule.start_window_minutes,
        rule.completion_window_minutes,
        aws_now,
    ) {
        Ok(b) => Some(b),
        Err(e) => {
            out.findings.push(finding(
                plan,
                rule,
                None,
                None,
                Problem::Schedule { reason: e.to_string() },
            ));
            None
        }
    };
    let home = (plan.region.clone(), rule.vault.clone());
    let mut places: Vec<Destination<'_>> = vec![(None, home, rule.lifecycle)];
    for copy in &rule.copy_actions {
        match vault_of_arn(&copy.destination_vault_arn) {
            Some(v) => places.push((Some(copy.destination_vault_arn.as_str()), v, copy.lifecycle)),
            None => out.findings.push(finding(
                plan,
                rule,
                None,
                Some(&copy.destination_vault_arn),
                Problem::BadDestination {
                    arn: copy.destination_vault_arn.clone(),
                },
            )),
        }
    }
    for (copy_to, vault, lifecycle) in places {
        if let Some(error) = inputs.missing_vaults.get(&vault) {
            out.findings.push(finding(
                plan,
                rule,
                None,
                copy_to,
                Problem::VaultMissing {
                    vault: format!("{}/{}", vault.0, vault.1),
                    error: error.clone(),
                },
            ));
            continue;
        }
        let points = inputs
            .recovery_points
            .get(&vault)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for resource in resources(plan) {
            let place = Place {
                plan,
                rule,
                resource,
                copy_to,
                vault: &vault,
                lifecycle,
                bound,
            };
            check_resource(inputs, &place, points, out);
        }
    }
}

/// One resource in one vault under one rule.
struct Place<'a> {
    plan: &'a Plan,
    rule: &'a Rule,
    resource: &'a str,
    copy_to: Option<&'a str>,
    vault: &'a (String, String),
    lifecycle: Option<Lifecycle>,
    bound: Option<AgeBound>,
}

fn check_resource(inputs: &Inputs, p: &Place<'_>, points: &[RecoveryPoint], out: &mut Coverage) {
    let vault_name = format!("{}/{}", p.vault.0, p.vault.1);
    let push = |out: &mut Coverage, problem| {
        out.findings
            .push(finding(p.plan, p.rule, Some(p.resource), p.copy_to, problem));
    };
    let mine: Vec<&RecoveryPoint> = points
        .iter()
        .filter(|rp| rp.resource_arn == p.resource && rp.status == "COMPLETED")
        .collect();
    let newest = mine.iter().max_by_key(|rp| rp.creation_ms);
    let allowed_ms = p.bound.map(|b| b.wall_ms(inputs.time_factor));
    let age_ms = newest.map(|rp| inputs.now_ms - rp.creation_ms);
    if p.copy_to.is_none() {
        out.checked.push(Checked {
            plan: p.plan.name.clone(),
            rule: p.rule.name.clone(),
            resource: p.resource.to_string(),
            newest: newest.map(|rp| rp.arn.clone()),
            age_ms,
            allowed_ms,
        });
    }
    match (newest, p.bound) {
        (None, _) => push(
            out,
            Problem::NoRecoveryPoint {
                vault: vault_name.clone(),
            },
        ),
        (Some(rp), Some(bound)) if inputs.now_ms - rp.creation_ms > bound.wall_ms(inputs.time_factor) => push(
            out,
            Problem::TooOld {
                vault: vault_name.clone(),
                recovery_point: rp.arn.clone(),
                age_ms: inputs.now_ms - rp.creation_ms,
                allowed_ms: bound.wall_ms(inputs.time_factor),
                bound,
            },
        ),
        _ => {}
    }
    // Retention: every recovery point this rule made (or made on demand into its vault).
    let rule_id = p.rule.id.as_deref();
    for rp in mine
        .iter()
        .filter(|rp| rp.created_by_rule.is_none() || rp.created_by_rule.as_deref() == rule_id)
    {
        if !same_retention(rp.lifecycle, p.lifecycle) {
            push(
                out,
                Problem::Retention {
                    recovery_point: rp.arn.clone(),
                    found: rp.lifecycle,
                    expected: p.lifecycle,
                },
            );
        }
        let age_aws_ms = ((inputs.now_ms - rp.creation_ms) as f64 * inputs.time_factor) as i64;
        if let Some(days) = rp.lifecycle.and_then(|l| l.delete_after_days) {
            if age_aws_ms > days * 86_400_000 {
                push(
                    out,
                    Problem::Overdue {
                        recovery_point: rp.arn.clone(),
                        age_aws_ms,
                        delete_after_days: days,
                    },
                );
            }
        }
    }
}

/// Whether two lifecycles keep recovery points alike (no lifecycle = keep forever).
fn same_retention(a: Option<Lifecycle>, b: Option<Lifecycle>) -> bool {
    a.unwrap_or_default() == b.unwrap_or_default()
}
