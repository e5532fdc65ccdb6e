//! `aws:ssm:start-automation-execution`: runs an SSM Automation document and completes
//! when the automation completes, failing when it fails or outlasts `maxDuration`
//! (<https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#ssm-actions-reference>).
//!
//! The local stack has no SSM service: the documents it can run are the built-in ones
//! of [`crate::regions::SWITCH_TO_RESTORED_DATABASE`]'s module, found by the name part of
//! `documentArn` (`arn:aws:ssm:{region}:{account}:document/{name}`).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::engine::Fis;
use super::template::ActionDef;
use crate::regions::DocumentParameters;

/// The document name of an SSM document ARN, or an error naming the ARN.
pub(super) fn document_name(arn: &str) -> Result<&str, String> {
    let rest = arn.strip_prefix("arn:aws:ssm:").ok_or_else(|| {
        format!("documentArn {arn:?} is not an SSM document ARN (arn:aws:ssm:REGION:ACCOUNT:document/NAME)")
    })?;
    match rest.split_once(":document/") {
        Some((_, name)) if !name.is_empty() && !name.contains('/') => Ok(name),
        _ => Err(format!(
            "documentArn {arn:?} is not an SSM document ARN (arn:aws:ssm:REGION:ACCOUNT:document/NAME)"
        )),
    }
}

/// `documentParameters` as SSM takes them: a JSON object whose values are strings or
/// lists of strings (a string becomes a one-element list). Absent: no parameters.
pub(super) fn document_parameters(text: Option<&str>) -> Result<DocumentParameters, String> {
    let Some(text) = text else {
        return Ok(DocumentParameters::new());
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("documentParameters is not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or("documentParameters must be a JSON object of parameter names to values")?;
    let mut out = DocumentParameters::new();
    for (name, v) in object {
        let values = match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("documentParameters.{name}: every value must be a string"))?,
            _ => {
                return Err(format!(
                    "documentParameters.{name} must be a string or a list of strings"
                ))
            }
        };
        out.insert(name.clone(), values);
    }
    Ok(out)
}

/// Runs the action: `Ok(true)` when the automation completed within `max`, `Ok(false)`
/// when the experiment was stopped meanwhile (the automation is cancelled with it), `Err`
/// when the document is unknown, its parameters are wrong, a step failed, or it ran
/// longer than `max`.
pub(super) async fn run(
    fis: &Arc<Fis>,
    action: &ActionDef,
    max: Duration,
    stop: &CancellationToken,
) -> Result<bool, String> {
    let arn = action
        .parameters
        .get("documentArn")
        .map(String::as_str)
        .unwrap_or_default();
    let document = document_name(arn)?;
    let params = document_parameters(action.parameters.get("documentParameters").map(String::as_str))?;
    let regions = fis
        .regions
        .get()
        .cloned()
        .ok_or("this stack runs no Automation documents")?;
    let region = fis.world.stack.region.clone();
    tokio::select! {
        _ = stop.cancelled() => Ok(false),
        r = tokio::time::timeout(max, regions.run_automation(&region, document, &params)) => match r {
            Ok(Ok(())) => Ok(true),
            Ok(Err(e)) => Err(format!("Automation execution of {document} failed: {e}")),
            Err(_) => Err(format!(
                "Automation execution of {document} did not complete within maxDuration ({max:?})"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document name is the part after `document/`; anything else is refused naming the ARN.
    #[test]
    fn document_arns() {
        assert_eq!(
            document_name("arn:aws:ssm:us-west-2:000000000000:document/drdrill-SwitchToRestoredDatabase"),
            Ok("drdrill-SwitchToRestoredDatabase")
        );
        assert!(document_name("drdrill-SwitchToRestoredDatabase")
            .unwrap_err()
            .contains("not an SSM document ARN"));
        assert!(document_name("arn:aws:ssm:us-west-2:000000000000:parameter/x").is_err());
    }

    /// SSM parameters: strings become one-element lists, lists of strings stay, others are refused.
    #[test]
    fn parameters() {
        let p = document_parameters(Some(r#"{"DnsName":"app.drill.test","Region":["us-west-2"]}"#)).unwrap();
        assert_eq!(p["DnsName"], vec!["app.drill.test"]);
        assert_eq!(p["Region"], vec!["us-west-2"]);
        assert!(document_parameters(None).unwrap().is_empty());
        assert!(document_parameters(Some(r#"{"DnsName":3}"#))
            .unwrap_err()
            .contains("DnsName"));
        assert!(document_parameters(Some("[1]")).is_err());
    }
}
