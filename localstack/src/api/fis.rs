//! FIS over restJson1: paths and methods to engine calls, the engine's answers
//! ([`crate::fis::view`]) rendered as FIS's documents; errors as `{"message"}` with
//! `x-amzn-errortype`.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{json_error, json_ok};
use super::{ApiRequest, ApiResponse, Services};
use crate::fis::template::TemplateInput;
use crate::fis::view::{ExperimentView, ResolvedTarget, RunState, TemplateView};
use crate::fis::{Fis, FisError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartInput {
    experiment_template_id: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct TagInput {
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

fn fis_error(e: FisError) -> ApiResponse {
    match e {
        FisError::Validation(m) => json_error(StatusCode::BAD_REQUEST, "ValidationException", &m),
        FisError::NotFound(m) => json_error(StatusCode::NOT_FOUND, "ResourceNotFoundException", &m),
        FisError::Conflict(m) => json_error(StatusCode::CONFLICT, "ConflictException", &m),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiResponse> {
    serde_json::from_slice(body).map_err(|e| {
        json_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            &format!("invalid request body: {e}"),
        )
    })
}

fn query_values(query: &str, key: &str) -> Vec<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect()
}

fn decode(segment: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("x={segment}"))
        .ok()
        .and_then(|v| v.into_iter().next())
        .map(|(_, v)| v)
        .unwrap_or_else(|| segment.to_string())
}

/// Answers one FIS request.
pub fn handle(s: &Services, req: &ApiRequest) -> ApiResponse {
    match route(s, req) {
        Ok(r) | Err(r) => r,
    }
}

fn route(s: &Services, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let fis = &s.fis;
    let res = match (&req.method, segs.as_slice()) {
        (&Method::POST, ["experimentTemplates"]) => fis
            .create_template(parse::<TemplateInput>(&req.body)?)
            .map(|t| json!({ "experimentTemplate": template_json(&t) })),
        (&Method::GET, ["experimentTemplates"]) => Ok(fis.list_templates()),
        (&Method::GET, ["experimentTemplates", id]) => fis
            .get_template(id)
            .map(|t| json!({ "experimentTemplate": template_json(&t) })),
        (&Method::DELETE, ["experimentTemplates", id]) => fis
            .delete_template(id)
            .map(|t| json!({ "experimentTemplate": template_json(&t) })),
        (&Method::POST, ["experiments"]) => {
            let input: StartInput = parse(&req.body)?;
            fis.start_experiment(&input.experiment_template_id, input.tags)
                .map(|e| json!({ "experiment": experiment_json(&e) }))
        }
        (&Method::GET, ["experiments"]) => {
            let t = query_values(&req.query, "experimentTemplateId").into_iter().next();
            Ok(fis.list_experiments(t.as_deref()))
        }
        (&Method::GET, ["experiments", id]) => fis
            .get_experiment(id)
            .map(|e| json!({ "experiment": experiment_json(&e) })),
        (&Method::DELETE, ["experiments", id]) => fis
            .stop_experiment(id)
            .map(|e| json!({ "experiment": experiment_json(&e) })),
        (&Method::GET, ["experiments", id, "resolvedTargets"]) => {
            let t = query_values(&req.query, "targetName").into_iter().next();
            fis.resolved_targets(id, t.as_deref())
                .map(|list| json!({ "resolvedTargets": list.iter().map(resolved_target_json).collect::<Vec<_>>() }))
        }
        (&Method::GET, ["actions"]) => Ok(list_actions(s)),
        (&Method::GET, ["actions", id]) => get_action(s, &decode(id)),
        (&Method::GET, ["tags", arn]) => fis.tags(&decode(arn)).map(|tags| json!({ "tags": tags })),
        (&Method::POST, ["tags", arn]) => fis
            .retag(&decode(arn), parse::<TagInput>(&req.body)?.tags, &[])
            .map(|()| json!({})),
        (&Method::DELETE, ["tags", arn]) => fis
            .retag(&decode(arn), BTreeMap::new(), &query_values(&req.query, "tagKeys"))
            .map(|()| json!({})),
        _ => {
            return Err(json_error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                &format!("no FIS operation for {} {}", req.method, req.path),
            ))
        }
    };
    Ok(res.map(json_ok).unwrap_or_else(fis_error))
}

fn action_arn(s: &Services, id: &str) -> String {
    format!(
        "arn:aws:fis:{}:{}:action/{id}",
        s.world.stack.region, s.world.stack.account_id
    )
}

fn action_json(s: &Services, a: &crate::fis::catalog::ActionSpec, full: bool) -> Value {
    let targets: BTreeMap<&str, Value> = a
        .target
        .iter()
        .map(|(k, t)| (*k, serde_json::json!({ "resourceType": t })))
        .collect();
    let mut v = serde_json::json!({"id": a.id, "arn": action_arn(s, a.id), "description": a.description, "targets": targets, "tags": {}});
    if full {
        let params: BTreeMap<&str, Value> = a
            .parameters
            .iter()
            .map(|p| {
                (
                    p.name,
                    serde_json::json!({"description": p.description, "required": p.required}),
                )
            })
            .collect();
        v["parameters"] = serde_json::json!(params);
    }
    v
}

fn list_actions(s: &Services) -> Value {
    let list: Vec<Value> = crate::fis::catalog::ACTIONS
        .iter()
        .map(|a| action_json(s, a, false))
        .collect();
    serde_json::json!({ "actions": list })
}

fn get_action(s: &Services, id: &str) -> Result<Value, FisError> {
    let a =
        crate::fis::catalog::find(id).ok_or_else(|| FisError::NotFound(format!("The action {id} does not exist.")))?;
    Ok(serde_json::json!({ "action": action_json(s, a, true) }))
}

impl Fis {
    /// ListExperimentTemplates' answer, `{"experimentTemplates": [...]}` (also what tests
    /// read from a running stack).
    pub fn list_templates(&self) -> Value {
        let list: Vec<Value> = self.templates().iter().map(template_summary_json).collect();
        json!({ "experimentTemplates": list })
    }

    /// ListExperiments' answer, `{"experiments": [...]}`, optionally for one template (also
    /// what tests read from a running stack).
    pub fn list_experiments(&self, template_id: Option<&str>) -> Value {
        let list: Vec<Value> = self
            .experiments(template_id)
            .iter()
            .map(experiment_summary_json)
            .collect();
        json!({ "experiments": list })
    }
}

/// An ExperimentTemplate document: the template's input with its id, ARN and times.
fn template_json(t: &TemplateView) -> Value {
    let mut v = serde_json::to_value(&t.input).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(t.id));
        m.insert("arn".into(), json!(t.arn));
        m.insert("creationTime".into(), json!(t.created));
        m.insert("lastUpdateTime".into(), json!(t.updated));
    }
    v
}

/// An ExperimentTemplateSummary document (ListExperimentTemplates).
fn template_summary_json(t: &TemplateView) -> Value {
    json!({"id": t.id, "arn": t.arn, "description": t.input.description,
           "creationTime": t.created, "lastUpdateTime": t.updated, "tags": t.input.tags})
}

/// An ExperimentState or ExperimentActionState document: the status, and the reason
/// when there is one.
fn state_json(state: &RunState) -> Value {
    let mut v = json!({ "status": state.status });
    if let Some(r) = &state.reason {
        v["reason"] = json!(r);
    }
    v
}

/// An Experiment document: the template's targets, actions (each with its state and
/// times) and stop conditions, with the experiment's state and times.
fn experiment_json(e: &ExperimentView) -> Value {
    let targets: BTreeMap<&String, Value> = e
        .input
        .targets
        .iter()
        .map(|(k, t)| (k, serde_json::to_value(t).unwrap_or(Value::Null)))
        .collect();
    let actions: BTreeMap<&String, Value> = e
        .input
        .actions
        .iter()
        .map(|(k, a)| {
            let run = e.actions.get(k);
            let mut v = json!({
                "actionId": a.action_id, "parameters": a.parameters, "targets": a.targets,
                "startAfter": a.start_after,
                "state": run.map(|r| state_json(&r.state)),
            });
            if let Some(d) = &a.description {
                v["description"] = json!(d);
            }
            if let Some(t) = run.and_then(|r| r.start) {
                v["startTime"] = json!(t);
            }
            if let Some(t) = run.and_then(|r| r.end) {
                v["endTime"] = json!(t);
            }
            (k, v)
        })
        .collect();
    let mut v = json!({
        "id": e.id, "arn": e.arn, "experimentTemplateId": e.template_id,
        "roleArn": e.input.role_arn, "state": state_json(&e.state),
        "targets": targets, "actions": actions, "stopConditions": e.input.stop_conditions,
        "creationTime": e.created, "tags": e.tags,
    });
    if let Some(t) = e.start {
        v["startTime"] = json!(t);
    }
    if let Some(t) = e.end {
        v["endTime"] = json!(t);
    }
    v
}

/// An ExperimentSummary document (ListExperiments).
fn experiment_summary_json(e: &ExperimentView) -> Value {
    json!({"id": e.id, "arn": e.arn, "experimentTemplateId": e.template_id,
           "state": state_json(&e.state), "creationTime": e.created, "tags": e.tags})
}

/// A ResolvedTarget document (ListExperimentResolvedTargets).
fn resolved_target_json(r: &ResolvedTarget) -> Value {
    json!({"resourceType": r.resource.resource_type, "targetName": r.target_name,
           "targetInformation": {"arn": r.resource.arn, "identifier": r.resource.id}})
}
