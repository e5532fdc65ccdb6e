//! Error values of the query services, the restJson1 answers (a JSON document, or an error
//! with `x-amzn-errortype`), shared by every service module; also the cut of echoed input in
//! messages.

use http::StatusCode;

use super::ApiResponse;

/// A restJson1 answer: 200 with `v` as its JSON document (FIS, AWS Backup).
pub fn json_ok(v: serde_json::Value) -> ApiResponse {
    ApiResponse {
        status: StatusCode::OK,
        content_type: "application/json",
        error_type: None,
        body: serde_json::to_vec(&v).unwrap_or_default(),
    }
}

/// A restJson1 error: `{"message"}` with `x-amzn-errortype`.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> ApiResponse {
    ApiResponse {
        status,
        content_type: "application/json",
        error_type: Some(code.to_string()),
        body: serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap_or_default(),
    }
}

/// An AWS error as a query service answers it: HTTP status, code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// HTTP status.
    pub status: StatusCode,
    /// The AWS error code, e.g. `LoadBalancerNotFound`.
    pub code: String,
    /// A human-readable message.
    pub message: String,
}

impl QueryError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> QueryError {
        QueryError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// A 400 error (the caller's fault).
    pub fn bad(code: &str, message: impl Into<String>) -> QueryError {
        QueryError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A 404 error.
    pub fn not_found(code: &str, message: impl Into<String>) -> QueryError {
        QueryError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// `InvalidAction` naming the action.
    pub fn invalid_action(service: &str, action: &str) -> QueryError {
        QueryError::bad(
            "InvalidAction",
            format!(
                "The action {} is not valid for this web service ({service}).",
                shorten(action)
            ),
        )
    }

    /// `MissingParameter` naming the parameter.
    pub fn missing(name: &str) -> QueryError {
        QueryError::bad(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }
}

/// Echoed input is cut to this many characters in messages.
const ECHO_LIMIT: usize = 100;

/// Cuts echoed request input to a readable length.
pub fn shorten(s: &str) -> String {
    if s.chars().count() <= ECHO_LIMIT {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(ECHO_LIMIT).collect();
        out.push('…');
        out
    }
}
