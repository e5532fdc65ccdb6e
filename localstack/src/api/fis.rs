//! FIS over restJson1: paths and methods to engine calls; errors as `{"message"}` with
//! `x-amzn-errortype`.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::{query::json_error, ApiRequest, ApiResponse, Services};
use crate::fis::template::TemplateInput;
use crate::fis::FisError;

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

fn ok(v: Value) -> ApiResponse {
    ApiResponse {
        status: StatusCode::OK,
        content_type: "application/json",
        error_type: None,
        body: serde_json::to_vec(&v).unwrap_or_default(),
    }
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
        (&Method::POST, ["experimentTemplates"]) => fis.create_template(parse::<TemplateInput>(&req.body)?),
        (&Method::GET, ["experimentTemplates"]) => Ok(fis.list_templates()),
        (&Method::GET, ["experimentTemplates", id]) => fis.get_template(id),
        (&Method::DELETE, ["experimentTemplates", id]) => fis.delete_template(id),
        (&Method::POST, ["experiments"]) => {
            let input: StartInput = parse(&req.body)?;
            fis.start_experiment(&input.experiment_template_id, input.tags)
        }
        (&Method::GET, ["experiments"]) => {
            let t = query_values(&req.query, "experimentTemplateId").into_iter().next();
            Ok(fis.list_experiments(t.as_deref()))
        }
        (&Method::GET, ["experiments", id]) => fis.get_experiment(id),
        (&Method::DELETE, ["experiments", id]) => fis.stop_experiment(id),
        (&Method::GET, ["experiments", id, "resolvedTargets"]) => {
            let t = query_values(&req.query, "targetName").into_iter().next();
            fis.resolved_targets(id, t.as_deref())
        }
        (&Method::GET, ["actions"]) => Ok(list_actions(s)),
        (&Method::GET, ["actions", id]) => get_action(s, &decode(id)),
        (&Method::GET, ["tags", arn]) => fis.tags(&decode(arn)),
        (&Method::POST, ["tags", arn]) => fis.retag(&decode(arn), parse::<TagInput>(&req.body)?.tags, &[]),
        (&Method::DELETE, ["tags", arn]) => {
            fis.retag(&decode(arn), BTreeMap::new(), &query_values(&req.query, "tagKeys"))
        }
        _ => {
            return Err(json_error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                &format!("no FIS operation for {} {}", req.method, req.path),
            ))
        }
    };
    Ok(res.map(ok).unwrap_or_else(fis_error))
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
