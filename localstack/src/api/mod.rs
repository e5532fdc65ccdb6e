//! The one AWS endpoint: routes each request by its SigV4 signing name to the service
//! that answers it, plus `/_localstack/health` and the ground truth at `/_drdrill/events`.

pub mod ec2;
pub mod elbv2;
pub mod fis;
pub mod query;
pub mod rds;
pub mod route53;
pub mod sts;
pub mod xml;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::fis::Fis;
use crate::world::World;

/// Largest request body the endpoint reads; larger ones get an AWS error.
pub const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// Longest time a request body may take to arrive; a client that trickles or stalls
/// longer gets an AWS `RequestTimeout` error (408) and its connection closed.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the endpoint needs to answer.
pub struct Services {
    /// The stack's state.
    pub world: Arc<World>,
    /// The FIS engine.
    pub fis: Arc<Fis>,
    /// Route 53 (global: zones, health checks, DNS answers).
    pub route53: Arc<crate::route53::Route53>,
}

/// A request as the service handlers see it.
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path, percent-decoded segments are up to the handler.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// A finished answer.
pub struct ApiResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Content type.
    pub content_type: &'static str,
    /// `x-amzn-errortype` for restJson1 errors.
    pub error_type: Option<String>,
    /// Body.
    pub body: Vec<u8>,
}

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.body).into_response();
        let h = r.headers_mut();
        if let Ok(v) = http::HeaderValue::from_str(self.content_type) {
            h.insert(http::header::CONTENT_TYPE, v);
        }
        h.insert(
            "x-amzn-requestid",
            http::HeaderValue::from_static("00000000-0000-4000-8000-000000000000"),
        );
        if let Some(t) = self.error_type.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
            h.insert("x-amzn-errortype", t);
        }
        r
    }
}

/// The SigV4 credential scope's parts from an `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/fis/aws4_request, ...`).
fn credential_scope(headers: &HeaderMap) -> Option<Vec<String>> {
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let scope = cred.split([',', ' ']).next()?;
    let parts: Vec<String> = scope.split('/').map(str::to_string).collect();
    (parts.len() == 5).then_some(parts)
}

/// The SigV4 signing name from an `Authorization` header.
pub fn signing_name(headers: &HeaderMap) -> Option<String> {
    credential_scope(headers).map(|mut p| p.swap_remove(3))
}

/// The SigV4 signing region from an `Authorization` header.
pub fn signing_region(headers: &HeaderMap) -> Option<String> {
    credential_scope(headers).map(|mut p| p.swap_remove(2))
}

/// Every region's services, the top-level region first.
pub type Regions = Vec<Arc<Services>>;

/// Serves the endpoint on `listener` until `shutdown`; each request goes to the region its
/// signature names (regional services) or to the top-level region (Route 53, STS).
pub async fn serve(listener: TcpListener, services: Regions, shutdown: CancellationToken) -> std::io::Result<()> {
    let app = axum::Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(services);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn handle(State(regions): State<Regions>, req: Request) -> ApiResponse {
    let services = regions[0].clone();
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_REQUEST)).await;
    let body = match read {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            let too_long = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if too_long {
                return too_large(signing_name(&parts.headers).as_deref());
            }
            return body_error(
                signing_name(&parts.headers).as_deref(),
                StatusCode::BAD_REQUEST,
                "MalformedRequest",
                format!("the request body could not be read: {e}"),
            );
        }
        Err(_) => {
            return body_error(
                signing_name(&parts.headers).as_deref(),
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            )
        }
    };
    let req = ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    if req.method == Method::GET && req.path == "/_localstack/health" {
        return health();
    }
    if req.method == Method::GET && req.path == "/_drdrill/events" {
        let events = services.world.truth.snapshot();
        return ApiResponse {
            status: StatusCode::OK,
            content_type: "application/json",
            error_type: None,
            body: serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap_or_default(),
        };
    }
    let service = signing_name(&req.headers);
    tracing::debug!(method = %req.method, path = %req.path, service = ?service, "aws request");
    let regional = matches!(service.as_deref(), Some("fis" | "elasticloadbalancing" | "ec2" | "rds"));
    let services = match signing_region(&req.headers) {
        Some(r) if regional && regions.len() > 1 => match regions.iter().find(|s| s.world.stack.region == r) {
            Some(s) => s.clone(),
            None => {
                let known: Vec<&str> = regions.iter().map(|s| s.world.stack.region.as_str()).collect();
                let message = format!("region {r} is not in this stack (regions: {})", known.join(", "));
                return body_error(
                    service.as_deref(),
                    StatusCode::BAD_REQUEST,
                    "InvalidClientTokenId",
                    message,
                );
            }
        },
        _ => services,
    };
    match service.as_deref() {
        Some("fis") => fis::handle(&services, &req),
        Some("route53") => route53::handle(&services, &req),
        Some(name @ ("elasticloadbalancing" | "ec2" | "rds" | "sts")) => query::handle(name, &services, &req),
        Some(other) => query::json_error(
            StatusCode::BAD_REQUEST,
            "UnknownServiceException",
            &format!("service {other} is not served by the local stack"),
        ),
        None => query::json_error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: requests must be SigV4-signed",
        ),
    }
}

/// A body over [`MAX_REQUEST`], answered in the protocol of the service it was for.
fn too_large(service: Option<&str>) -> ApiResponse {
    let message = format!("request body larger than {MAX_REQUEST} bytes");
    body_error(service, StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", message)
}

/// A request whose body could not be read (too large, malformed, too slow), answered
/// in the protocol of the service it was for.
fn body_error(service: Option<&str>, status: StatusCode, code: &str, message: String) -> ApiResponse {
    match service {
        Some("route53") => route53::error_response(&crate::route53::Route53Error::InvalidInput(message)),
        Some(name @ ("elasticloadbalancing" | "ec2" | "rds" | "sts")) => {
            query::error_response(name, &query::QueryError::new(status, code, message))
        }
        _ => query::json_error(status, code, &message),
    }
}

fn health() -> ApiResponse {
    let body = serde_json::json!({
        "services": {"fis": "running", "elasticloadbalancing": "running", "ec2": "running", "rds": "running", "sts": "running", "route53": "running"},
        "edition": "drdrill",
        "version": env!("CARGO_PKG_VERSION"),
    });
    ApiResponse {
        status: StatusCode::OK,
        content_type: "application/json",
        error_type: None,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signing name is read from the credential scope.
    #[test]
    fn signing_name_from_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=abc"
                .parse()
                .unwrap(),
        );
        assert_eq!(signing_name(&h).as_deref(), Some("elasticloadbalancing"));
        h.insert(http::header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(signing_name(&h), None);
    }
}
