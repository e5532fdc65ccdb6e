//! The one AWS endpoint: routes each request by its SigV4 signing name to the service
//! that answers it, plus `/_localstack/health` and the ground truth at `/_drdrill/events`.
//!
//! Before a service sees a request, the stack's API quotas ([`crate::quotas`]) are
//! checked for its service and operation; a throttled request is answered here, in its
//! service's error shape: ELBv2/RDS/STS `Throttling` (400, awsQuery `<ErrorResponse>`),
//! EC2 `RequestLimitExceeded` (503, `<Response><Errors>`), FIS `ThrottlingException`
//! (429, restJson1 with `x-amzn-errortype`), Route 53 `Throttling` (400, restXml).
//!
//! Before that, the Chaos API's rules and effects ([`crate::chaos`], controlled at
//! `/_localstack/chaos/faults` and `/_localstack/chaos/effects`) may delay the answer or
//! fail the request with their error, in the same service error shapes.

pub mod backup;
pub mod cloudwatch;
pub mod ec2;
pub mod elbv2;
pub mod errors;
pub mod fis;
pub mod ids;
pub mod paging;
pub mod params;
pub mod query;
pub mod rds;
pub mod route53;
pub mod sts;
pub mod tagging;
pub mod xml;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::chaos::Chaos;
use crate::fis::Fis;
use crate::quotas::Quotas;
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
    /// CloudWatch (this region's metrics and alarms).
    pub cloudwatch: Arc<crate::cloudwatch::CloudWatch>,
    /// AWS Backup (one for every region; calls are answered for this region).
    pub backup: Arc<crate::backup::Backup>,
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
    /// `x-amzn-errortype` for restJson1 errors; for RPC v2 CBOR answers (CloudWatch) the
    /// `Code;Sender` of `x-amzn-query-error` instead.
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
        // Every answer its own request id, as AWS's are (a UUID).
        if let Ok(id) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            h.insert("x-amzn-requestid", id);
        }
        let cbor = self.content_type == cloudwatch::CONTENT_TYPE;
        if cbor {
            h.insert("smithy-protocol", http::HeaderValue::from_static("rpc-v2-cbor"));
        }
        if let Some(t) = self.error_type.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
            h.insert(if cbor { "x-amzn-query-error" } else { "x-amzn-errortype" }, t);
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
pub async fn serve(
    listener: TcpListener,
    services: Regions,
    chaos: Arc<Chaos>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // AWS throttles per account and region: one set of buckets per region, all from the
    // top-level stack's `quotas:` section (Route 53, being global, uses the first).
    let config = services.first().and_then(|s| s.world.stack.quotas.clone());
    let quotas = services
        .iter()
        .map(|_| Arc::new(Quotas::new(config.as_ref())))
        .collect();
    // One caller for the whole endpoint: its permissions and its token's expiry.
    let access = Arc::new(Access::new(
        services.first().and_then(|s| s.world.stack.access.as_ref()),
    ));
    let state = Endpoint {
        regions: services,
        quotas,
        access,
        chaos,
    };
    let app = axum::Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// The endpoint's shared state: every region's services and API quotas, index-aligned.
#[derive(Clone)]
struct Endpoint {
    regions: Regions,
    quotas: Vec<Arc<Quotas>>,
    access: Arc<Access>,
    chaos: Arc<Chaos>,
}

/// Answers one request to the AWS endpoint: limits the body, answers the local stack's
/// own endpoints, applies the Chaos API's faults, access refusals and quotas, then hands
/// it to its service by protocol — in that order for every service.
async fn handle(State(endpoint): State<Endpoint>, req: Request) -> ApiResponse {
    let req = match read_request(req).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    if let Some(local) = local_endpoint(&endpoint, &req) {
        return local;
    }
    let service = signing_name(&req.headers);
    tracing::debug!(method = %req.method, path = %req.path, service = ?service, "aws request");
    let (services, quotas) = match region_of(&endpoint, service.as_deref(), &req) {
        Ok(region) => region,
        Err(refused) => return refused,
    };
    if let Some(name) = service.as_deref() {
        if let Some(refused) = gates(&endpoint, name, &req, &services, &quotas).await {
            return refused;
        }
    }
    dispatch(service.as_deref(), &services, &req)
}

/// Reads the request's body within [`BODY_READ_TIMEOUT`] and [`MAX_REQUEST`] bytes; the
/// error answer when it cannot be read.
async fn read_request(req: Request) -> Result<ApiRequest, ApiResponse> {
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_REQUEST)).await;
    let body = match read {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            let too_long = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if too_long {
                return Err(too_large(signing_name(&parts.headers).as_deref()));
            }
            return Err(body_error(
                signing_name(&parts.headers).as_deref(),
                StatusCode::BAD_REQUEST,
                "MalformedRequest",
                format!("the request body could not be read: {e}"),
            ));
        }
        Err(_) => {
            return Err(body_error(
                signing_name(&parts.headers).as_deref(),
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            ))
        }
    };
    Ok(ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    })
}

/// The local stack's own endpoints: LocalStack's health, the ground truth, the Chaos
/// API's control. None for an AWS call.
fn local_endpoint(endpoint: &Endpoint, req: &ApiRequest) -> Option<ApiResponse> {
    if req.method == Method::GET && req.path == "/_localstack/health" {
        return Some(health());
    }
    if req.method == Method::GET && req.path == "/_drdrill/events" {
        let events = endpoint.regions[0].world.truth.snapshot();
        return Some(ApiResponse {
            status: StatusCode::OK,
            content_type: "application/json",
            error_type: None,
            body: serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap_or_default(),
        });
    }
    let kind = req.path.strip_prefix("/_localstack/chaos/")?;
    Some(chaos_control(&endpoint.chaos, kind, req))
}

/// The region a call to `service` is for, with its quotas: the signing region's for a
/// regional service of a stack with several regions, else the top-level region's. A
/// signing region not in the stack is refused.
fn region_of(
    endpoint: &Endpoint,
    service: Option<&str>,
    req: &ApiRequest,
) -> Result<(Arc<Services>, Arc<Quotas>), ApiResponse> {
    let regions = &endpoint.regions;
    let regional = matches!(
        service,
        Some("fis" | "elasticloadbalancing" | "ec2" | "rds" | "monitoring" | "backup" | "tagging")
    );
    match signing_region(&req.headers) {
        Some(r) if regional && regions.len() > 1 => match regions.iter().position(|s| s.world.stack.region == r) {
            Some(i) => Ok((regions[i].clone(), endpoint.quotas[i].clone())),
            None => {
                let known: Vec<&str> = regions.iter().map(|s| s.world.stack.region.as_str()).collect();
                let message = format!("region {r} is not in this stack (regions: {})", known.join(", "));
                Err(body_error(
                    service,
                    StatusCode::BAD_REQUEST,
                    "InvalidClientTokenId",
                    message,
                ))
            }
        },
        _ => Ok((regions[0].clone(), endpoint.quotas[0].clone())),
    }
}

/// The gates a call to service `name` passes before its service sees it: the Chaos API's
/// latency and faults, then access refusals, then quotas (AWS authenticates and
/// authorizes a call before it counts against a quota). The refusal, if any.
async fn gates(
    endpoint: &Endpoint,
    name: &str,
    req: &ApiRequest,
    services: &Services,
    quotas: &Quotas,
) -> Option<ApiResponse> {
    let latency = endpoint.chaos.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let op = operation(name, req);
    let region = signing_region(&req.headers).unwrap_or_else(|| services.world.stack.region.clone());
    if let Some(fault) = endpoint.chaos.fault_for(name, &region, op.as_deref()) {
        tracing::debug!(?fault, "failed by the chaos API");
        let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let message = format!(
            "{} failed: a fault injected by the Chaos API",
            op.as_deref().unwrap_or("the request")
        );
        return Some(service_error(name, status, &fault.code, &message));
    }
    let op = op?;
    let key = credential_scope(&req.headers)
        .and_then(|scope| scope.into_iter().next())
        .unwrap_or_default();
    if let Some(refusal) = endpoint.access.check(name, &op, &key) {
        let (code, message) = crate::access::error(name, &services.world.stack.account_id, &refusal);
        return Some(service_error(name, StatusCode::FORBIDDEN, code, &message));
    }
    if let Err(t) = quotas.take(name, &op) {
        tracing::debug!(%t, "throttled");
        return Some(throttled(name));
    }
    None
}

/// Hands the call to its service by signing name.
fn dispatch(service: Option<&str>, services: &Services, req: &ApiRequest) -> ApiResponse {
    match service {
        Some("fis") => fis::handle(services, req),
        Some("backup") => backup::handle(services, req),
        Some("route53") => route53::handle(services, req),
        Some("monitoring") => cloudwatch::handle(services, req),
        Some("tagging") => tagging::handle(services, req),
        Some(name @ ("elasticloadbalancing" | "ec2" | "rds" | "sts")) => query::handle(name, services, req),
        Some(other) => errors::json_error(
            StatusCode::BAD_REQUEST,
            "UnknownServiceException",
            &format!("service {other} is not served by the local stack"),
        ),
        None => errors::json_error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: requests must be SigV4-signed",
        ),
    }
}

/// The Chaos API's control endpoint: `faults` (GET lists the rules, POST replaces them,
/// PATCH appends, DELETE removes the rules given; each answers the rules then in force)
/// and `effects` (GET shows them, POST sets them). A refused document is a 400 whose
/// JSON `error` says what and where.
fn chaos_control(chaos: &Chaos, kind: &str, req: &ApiRequest) -> ApiResponse {
    let json = |status: StatusCode, value: serde_json::Value| ApiResponse {
        status,
        content_type: "application/json",
        error_type: None,
        body: serde_json::to_vec(&value).unwrap_or_default(),
    };
    let refuse =
        |e: crate::chaos::ChaosError| json(StatusCode::BAD_REQUEST, serde_json::json!({ "error": e.to_string() }));
    let rules = |c: &Chaos| json(StatusCode::OK, serde_json::to_value(c.rules()).unwrap_or_default());
    match (kind, &req.method) {
        ("faults", &Method::GET) => rules(chaos),
        ("faults", m @ (&Method::POST | &Method::PATCH | &Method::DELETE)) => {
            match crate::chaos::parse_rules(&req.body) {
                Ok(given) => {
                    match *m {
                        Method::POST => chaos.set_rules(given),
                        Method::PATCH => chaos.add_rules(given),
                        _ => chaos.remove_rules(&given),
                    }
                    rules(chaos)
                }
                Err(e) => refuse(e),
            }
        }
        ("effects", &Method::GET) => json(
            StatusCode::OK,
            serde_json::to_value(chaos.effects()).unwrap_or_default(),
        ),
        ("effects", &Method::POST) => match crate::chaos::parse_effects(&req.body) {
            Ok(effects) => {
                chaos.set_effects(effects);
                json(
                    StatusCode::OK,
                    serde_json::to_value(chaos.effects()).unwrap_or_default(),
                )
            }
            Err(e) => refuse(e),
        },
        (kind, method) => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": format!("chaos: no {method} /_localstack/chaos/{kind} (faults: GET, POST, PATCH, DELETE; effects: GET, POST)") }),
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
        Some("monitoring") => cloudwatch::error(status, code, &message),
        Some(name @ ("elasticloadbalancing" | "ec2" | "rds" | "sts")) => {
            query::error_response(name, &errors::QueryError::new(status, code, message))
        }
        _ => errors::json_error(status, code, &message),
    }
}

/// The AWS operation a request calls, as AWS names it (`DescribeTargetHealth`,
/// `GetExperiment`, `GetHealthCheckStatus`), or `None` when it names none (the service
/// then answers the request with its own error).
/// Long: one dispatch table, every served service's operations by method and path.
pub fn operation(service: &str, req: &ApiRequest) -> Option<String> {
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let m = &req.method;
    let op = match service {
        "fis" => match (m, segs.as_slice()) {
            (&Method::POST, ["experimentTemplates"]) => "CreateExperimentTemplate",
            (&Method::GET, ["experimentTemplates"]) => "ListExperimentTemplates",
            (&Method::GET, ["experimentTemplates", _]) => "GetExperimentTemplate",
            (&Method::DELETE, ["experimentTemplates", _]) => "DeleteExperimentTemplate",
            (&Method::POST, ["experiments"]) => "StartExperiment",
            (&Method::GET, ["experiments"]) => "ListExperiments",
            (&Method::GET, ["experiments", _]) => "GetExperiment",
            (&Method::DELETE, ["experiments", _]) => "StopExperiment",
            (&Method::GET, ["experiments", _, "resolvedTargets"]) => "ListExperimentResolvedTargets",
            (&Method::GET, ["actions"]) => "ListActions",
            (&Method::GET, ["actions", _]) => "GetAction",
            (&Method::GET, ["tags", _]) => "ListTagsForResource",
            (&Method::POST, ["tags", _]) => "TagResource",
            (&Method::DELETE, ["tags", _]) => "UntagResource",
            _ => return None,
        },
        "backup" => match (m, segs.as_slice()) {
            (&Method::PUT, ["backup-vaults", _]) => "CreateBackupVault",
            (&Method::GET, ["backup-vaults"]) => "ListBackupVaults",
            (&Method::PUT, ["backup", "plans"]) => "CreateBackupPlan",
            (&Method::GET, ["backup", "plans"]) => "ListBackupPlans",
            (&Method::GET, ["backup", "plans", _]) => "GetBackupPlan",
            (&Method::PUT, ["backup", "plans", _, "selections"]) => "CreateBackupSelection",
            (&Method::GET, ["backup", "plans", _, "selections"]) => "ListBackupSelections",
            (&Method::GET, ["backup", "plans", _, "selections", _]) => "GetBackupSelection",
            (&Method::PUT, ["backup-jobs"]) => "StartBackupJob",
            (&Method::GET, ["backup-jobs", _]) => "DescribeBackupJob",
            (&Method::GET, ["backup-vaults", _, "recovery-points"]) => "ListRecoveryPointsByBackupVault",
            (&Method::GET, ["resources", _, "recovery-points"]) => "ListRecoveryPointsByResource",
            (&Method::GET, ["backup-vaults", _, "recovery-points", _]) => "DescribeRecoveryPoint",
            (&Method::GET, ["backup-vaults", _, "recovery-points", _, "restore-metadata"]) => {
                "GetRecoveryPointRestoreMetadata"
            }
            (&Method::PUT, ["restore-jobs"]) => "StartRestoreJob",
            (&Method::GET, ["restore-jobs", _]) => "DescribeRestoreJob",
            (&Method::GET, ["tags", _]) => "ListTags",
            _ => return None,
        },
        "monitoring" => return req.path.strip_prefix(cloudwatch::PATH_PREFIX).map(str::to_string),
        "tagging" => {
            return req
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| t.strip_prefix(tagging::TARGET_PREFIX))
                .map(str::to_string)
        }
        "route53" => match (m, segs.as_slice()) {
            (&Method::POST, ["2013-04-01", "hostedzone"]) => "CreateHostedZone",
            (&Method::GET, ["2013-04-01", "hostedzone"]) => "ListHostedZones",
            (&Method::GET, ["2013-04-01", "hostedzone", _]) => "GetHostedZone",
            (&Method::DELETE, ["2013-04-01", "hostedzone", _]) => "DeleteHostedZone",
            (&Method::POST, ["2013-04-01", "hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
            (&Method::GET, ["2013-04-01", "hostedzone", _, "rrset"]) => "ListResourceRecordSets",
            (&Method::GET, ["2013-04-01", "change", _]) => "GetChange",
            (&Method::POST, ["2013-04-01", "healthcheck"]) => "CreateHealthCheck",
            (&Method::GET, ["2013-04-01", "healthcheck"]) => "ListHealthChecks",
            (&Method::GET, ["2013-04-01", "healthcheck", _]) => "GetHealthCheck",
            (&Method::DELETE, ["2013-04-01", "healthcheck", _]) => "DeleteHealthCheck",
            (&Method::GET, ["2013-04-01", "healthcheck", _, "status"]) => "GetHealthCheckStatus",
            (&Method::GET, ["2013-04-01", "healthcheck", _, "lastfailurereason"]) => "GetHealthCheckLastFailureReason",
            _ => return None,
        },
        _ => {
            // Query protocols: `Action` in the query string or the form body.
            let from = |raw: &[u8]| {
                std::str::from_utf8(raw).ok().and_then(|t| {
                    t.split('&')
                        .find_map(|p| p.strip_prefix("Action="))
                        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric()))
                        .map(str::to_string)
                })
            };
            return from(req.query.as_bytes()).or_else(|| from(&req.body));
        }
    };
    Some(op.to_string())
}

/// An error answered in `service`'s protocol: restJson1 for FIS and AWS Backup (each its
/// own body), CloudWatch's CBOR, the tagging API's awsJson1.1, Route 53's REST-XML
/// `ErrorResponse` (type `Sender`), the others' query-protocol XML.
fn service_error(service: &str, status: StatusCode, code: &str, message: &str) -> ApiResponse {
    match service {
        "fis" => errors::json_error(status, code, message),
        "backup" => backup::error(status, code, message),
        "tagging" => tagging::error(status, code, message),
        "monitoring" => cloudwatch::error(status, code, message),
        "route53" => {
            let mut x = xml::Xml::new();
            x.elem_ns("ErrorResponse", route53::NS, |x| {
                x.elem("Error", |x| {
                    x.text("Type", "Sender");
                    x.text("Code", code);
                    x.text("Message", message);
                });
                x.text("RequestId", uuid::Uuid::new_v4().to_string());
            });
            ApiResponse {
                status,
                content_type: "text/xml",
                error_type: None,
                body: x.into_bytes(),
            }
        }
        name => query::error_response(name, &errors::QueryError::new(status, code, message.to_string())),
    }
}

fn throttled(service: &str) -> ApiResponse {
    let (status, code, message) = match service {
        "fis" => (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException", "Rate exceeded"),
        // AWS Backup's common errors: `ThrottlingException`, 400
        // (https://docs.aws.amazon.com/aws-backup/latest/devguide/CommonErrors.html).
        "backup" => (StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded"),
        // The Resource Groups Tagging API's own `ThrottledException`, 400 (GetResources,
        // "Errors", https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html).
        "tagging" => (StatusCode::BAD_REQUEST, "ThrottledException", "Rate exceeded"),
        "ec2" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        ),
        _ => (StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded"),
    };
    service_error(service, status, code, message)
}

fn health() -> ApiResponse {
    let body = serde_json::json!({
        "services": {"fis": "running", "elasticloadbalancing": "running", "ec2": "running", "rds": "running", "sts": "running", "route53": "running", "monitoring": "running", "backup": "running"},
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
