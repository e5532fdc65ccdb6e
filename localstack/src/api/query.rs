//! The awsQuery-style services (ELBv2, RDS, STS) and EC2's query protocol, plus the
//! shared error helpers.

use http::StatusCode;

use super::{ApiRequest, ApiResponse, Services};

/// A restJson1 error: `{"message"}` with `x-amzn-errortype`.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> ApiResponse {
    ApiResponse {
        status,
        content_type: "application/json",
        error_type: Some(code.to_string()),
        body: serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap_or_default(),
    }
}

/// Answers one query-protocol request for service `name`.
pub fn handle(name: &str, _s: &Services, _req: &ApiRequest) -> ApiResponse {
    json_error(StatusCode::NOT_IMPLEMENTED, "NotImplemented", &format!("{name} is not implemented yet"))
}
