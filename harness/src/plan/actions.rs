//! The fault's template (as given, or fetched for an existing id) and what each of its
//! actions would hit, resolved through [`super::fis_targets`].

use serde_json::Value;

use super::fis_targets::{self, string_map, strings};
use super::{aws_err, PlanError, PlannedAction, PlannedResource};
use crate::aws::Clients;
use crate::scenario::ResolvedFault;

/// The fault's template (as given, or fetched for an existing id) and that id.
pub(super) async fn template(fault: &ResolvedFault, clients: &Clients) -> Result<(Value, Option<String>), PlanError> {
    Ok(match fault {
        ResolvedFault::Template(t) => (t.clone(), None),
        ResolvedFault::TemplateId(id) => (fetch_template(clients, id).await?, Some(id.clone())),
    })
}

/// The existing template `id` as FIS gives it, in the JSON a template file has.
async fn fetch_template(clients: &Clients, id: &str) -> Result<Value, PlanError> {
    let out = clients.fis.get_experiment_template().id(id).send().await;
    let out = out.map_err(aws_err(format!("GetExperimentTemplate({id})")))?;
    let t = out
        .experiment_template()
        .ok_or_else(|| PlanError::Missing(format!("experiment template {id} not found")))?;
    let mut targets = serde_json::Map::new();
    for (name, tgt) in t.targets().into_iter().flatten() {
        let filters: Vec<Value> = tgt
            .filters()
            .iter()
            .map(|f| serde_json::json!({"path": f.path(), "values": f.values()}))
            .collect();
        targets.insert(
            name.clone(),
            serde_json::json!({
                "resourceType": tgt.resource_type(), "resourceArns": tgt.resource_arns(),
                "resourceTags": tgt.resource_tags(), "filters": filters, "selectionMode": tgt.selection_mode(),
            }),
        );
    }
    let mut actions = serde_json::Map::new();
    for (name, a) in t.actions().into_iter().flatten() {
        actions.insert(
            name.clone(),
            serde_json::json!({
                "actionId": a.action_id(), "parameters": a.parameters(), "targets": a.targets(),
                "startAfter": a.start_after(),
            }),
        );
    }
    Ok(serde_json::json!({"description": t.description(), "targets": targets, "actions": actions}))
}

/// What each of the template's actions would do and hit.
pub(super) async fn plan_actions(template: &Value, clients: &Clients) -> Result<Vec<PlannedAction>, PlanError> {
    let targets = template.get("targets").cloned().unwrap_or(Value::Null);
    let mut out = Vec::new();
    let empty = serde_json::Map::new();
    for (name, action) in template.get("actions").and_then(Value::as_object).unwrap_or(&empty) {
        out.push(plan_action(name, action, &targets, clients).await?);
    }
    Ok(out)
}

/// What the action `name` would do, and the resources its target matches now.
async fn plan_action(
    name: &str,
    action: &Value,
    targets: &Value,
    clients: &Clients,
) -> Result<PlannedAction, PlanError> {
    let target_name = action
        .get("targets")
        .and_then(Value::as_object)
        .and_then(|m| m.values().next())
        .and_then(Value::as_str)
        .map(str::to_string);
    let spec = target_name.as_ref().and_then(|t| targets.get(t)).cloned();
    let spec_str = |key: &str| spec.as_ref().and_then(|s| s.get(key)).and_then(Value::as_str);
    let (resources, previewed) = match &spec {
        Some(spec) => match fis_targets::resolve(
            target_name.as_deref().unwrap_or_default(),
            &fis_targets::TargetSpec::from_json(spec),
            clients,
        )
        .await?
        {
            Some(resources) => (resources, true),
            None => (Vec::new(), false),
        },
        None => (Vec::new(), true),
    };
    let hits = if previewed {
        resources.iter().map(PlannedResource::describe).collect()
    } else {
        vec![format!(
            "(resources of type {} are not previewed)",
            spec_str("resourceType").unwrap_or("?")
        )]
    };
    let selection = spec_str("selectionMode").map(str::to_string);
    Ok(PlannedAction {
        selected: fis_targets::selected(resources.len(), selection.as_deref()),
        name: name.to_string(),
        action_id: action
            .get("actionId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        resource_type: spec_str("resourceType").map(str::to_string),
        selection,
        target: target_name,
        hits,
        resources,
        previewed,
        parameters: string_map(action.get("parameters").unwrap_or(&Value::Null)),
        start_after: strings(action.get("startAfter").unwrap_or(&Value::Null)),
    })
}
