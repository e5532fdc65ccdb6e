//! What an AWS call that failed tells the user: service, operation, HTTP status, AWS
//! error code and message, request id — and, for the errors a user can act on
//! (AccessDenied, an expired token), what to do.

use aws_sdk_fis::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_types::request_id::RequestId;

/// The reference IAM policy a harness role needs (in the repository).
pub const POLICY_FILE: &str = "examples/aws/drdrill-harness-policy.json";

/// One failed AWS call, as the user is shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCallError {
    /// The IAM service prefix (`elasticloadbalancing`, `fis`, …), when known.
    pub service: Option<String>,
    /// The operation (`DescribeTargetHealth`), when known.
    pub operation: Option<String>,
    /// The HTTP status of the answer; `None` when no answer came (a transport failure).
    pub status: Option<u16>,
    /// AWS's error code (`AccessDenied`, `Throttling`), when the answer carried one.
    pub code: Option<String>,
    /// AWS's message, or the SDK's description when there was no AWS error.
    pub message: String,
    /// The request id AWS gave the call.
    pub request_id: Option<String>,
}

impl AwsCallError {
    /// Reads an SDK error: the operation and service come from the error's type (the SDK
    /// names it `<crate>::operation::<op>::<Op>Error`), the rest from the error and its raw
    /// answer.
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> AwsCallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (service, operation) = operation_of::<E>();
        let status = err.raw_response().map(|r| r.status().as_u16());
        let request_id = err.request_id().map(str::to_string);
        match err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                AwsCallError {
                    service,
                    operation,
                    status,
                    code: e.code().map(str::to_string),
                    message: e.message().map_or_else(|| e.to_string(), str::to_string),
                    request_id,
                }
            }
            other => AwsCallError {
                service,
                operation,
                status,
                code: None,
                message: error_chain(other),
                request_id,
            },
        }
    }

    /// The IAM action the call needs (`elasticloadbalancing:DescribeTargetHealth`).
    pub fn iam_action(&self) -> Option<String> {
        Some(format!("{}:{}", self.service.as_deref()?, self.operation.as_deref()?))
    }

    /// Whether no answer came at all (connect refused, timeout, DNS): the endpoint is
    /// unreachable, as opposed to answering with an error.
    pub fn is_transport(&self) -> bool {
        self.status.is_none()
    }

    /// What the user can do about it, for the errors that have a known remedy.
    pub fn hint(&self) -> Option<String> {
        let code = self.code.as_deref()?;
        if code.starts_with("AccessDenied") || code == "UnauthorizedOperation" {
            let action = self.iam_action().unwrap_or_else(|| "the action".into());
            return Some(format!(
                "the credentials lack the IAM permission {action}; grant it (the reference policy {POLICY_FILE} lists every permission drdrill needs)"
            ));
        }
        if matches!(code, "ExpiredToken" | "ExpiredTokenException" | "RequestExpired") {
            return Some(
                "the session credentials have expired; refresh them (e.g. `aws sso login --profile …`, or new AWS_SESSION_TOKEN values) and run again"
                    .into(),
            );
        }
        if matches!(
            code,
            "InvalidClientTokenId" | "UnrecognizedClientException" | "SignatureDoesNotMatch"
        ) {
            return Some(
                "the credentials are not valid for this endpoint; check the profile and AWS_* variables".into(),
            );
        }
        None
    }
}

impl std::fmt::Display for AwsCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.service, &self.operation) {
            (Some(s), Some(o)) => write!(f, "{s} {o}: ")?,
            (None, Some(o)) => write!(f, "{o}: ")?,
            _ => {}
        }
        match self.status {
            Some(status) => write!(f, "HTTP {status}")?,
            None => write!(f, "no answer")?,
        }
        match &self.code {
            Some(code) => write!(f, " {code}: {}", self.message)?,
            None if self.status.is_some() => write!(f, " (no AWS error code in the answer): {}", self.message)?,
            None => write!(f, ": {}", self.message)?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        if let Some(hint) = self.hint() {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// The description of an SDK error as one line: service, operation, HTTP status, AWS
/// error code and message, request id, and a hint when there is one.
pub fn describe_error<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsCallError::from_sdk(err).to_string()
}

/// The error and its sources, joined (the SDK's own `Display` says only "dispatch failure").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut src = err.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

/// The IAM service prefix and the operation of an SDK operation error type, from its
/// path: `aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthError`
/// → (`elasticloadbalancing`, `DescribeTargetHealth`).
fn operation_of<E>() -> (Option<String>, Option<String>) {
    parse_error_type(std::any::type_name::<E>())
}

fn parse_error_type(path: &str) -> (Option<String>, Option<String>) {
    let mut parts = path.split("::");
    let service = parts.next().and_then(|krate| krate.strip_prefix("aws_sdk_")).map(|s| {
        match s {
            // IAM's service prefixes where they differ from the crate's name.
            "elasticloadbalancingv2" => "elasticloadbalancing",
            other => other,
        }
        .to_string()
    });
    let operation = path
        .rsplit("::")
        .next()
        .and_then(|name| name.strip_suffix("Error"))
        .filter(|op| !op.is_empty() && path.contains("::operation::"))
        .map(str::to_string);
    (service, operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operation and IAM prefix come from the SDK's own type path, which names the
    /// operation and the crate; ELBv2's IAM prefix is `elasticloadbalancing`.
    #[test]
    fn operation_and_service_from_the_error_type() {
        let (service, op) = operation_of::<
            aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthError,
        >();
        assert_eq!(service.as_deref(), Some("elasticloadbalancing"));
        assert_eq!(op.as_deref(), Some("DescribeTargetHealth"));
        let (service, op) = operation_of::<aws_sdk_fis::operation::list_experiments::ListExperimentsError>();
        assert_eq!(
            (service.as_deref(), op.as_deref()),
            (Some("fis"), Some("ListExperiments"))
        );
        assert_eq!(parse_error_type("std::io::Error"), (None, None));
    }

    /// AccessDenied names the IAM action and the reference policy; an expired token says
    /// how to refresh; other errors carry no hint.
    #[test]
    fn hints_for_errors_a_user_can_act_on() {
        let mut e = AwsCallError {
            service: Some("fis".into()),
            operation: Some("StartExperiment".into()),
            status: Some(400),
            code: Some("AccessDeniedException".into()),
            message: "User is not authorized".into(),
            request_id: Some("abc-123".into()),
        };
        let text = e.to_string();
        assert!(
            text.contains("fis StartExperiment: HTTP 400 AccessDeniedException: User is not authorized"),
            "{text}"
        );
        assert!(text.contains("(request id abc-123)"), "{text}");
        assert!(
            text.contains("fis:StartExperiment") && text.contains(POLICY_FILE),
            "{text}"
        );
        e.code = Some("ExpiredToken".into());
        assert!(e.to_string().contains("refresh"), "{e}");
        e.code = Some("ValidationException".into());
        assert_eq!(e.hint(), None);
        e.code = None;
        e.status = Some(404);
        assert!(
            e.to_string().contains("HTTP 404 (no AWS error code in the answer)"),
            "{e}"
        );
        e.status = None;
        assert!(e.is_transport() && e.to_string().contains("no answer"), "{e}");
    }
}
