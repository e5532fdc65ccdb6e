//! The awsQuery-style services (ELBv2, RDS, STS) and EC2's query protocol, plus the
//! shared error helpers.
//!
//! A request is `POST /` with an `application/x-www-form-urlencoded` body
//! (`Action=…&Version=…&Names.member.1=…`), or a `GET` carrying the same parameters in
//! its query string. This module checks the method, parses the form strictly, finds the
//! `Action`, hands it to the service module, and renders failures as the error document
//! of the service's protocol.

use std::collections::BTreeMap;

use http::{Method, StatusCode};

use super::{ec2, elbv2, rds, sts, xml, ApiRequest, ApiResponse, Services};
use crate::world::World;

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

/// The parameters of one query request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Parses a form (`a=1&b=x+y&c=%2F`) strictly: the text must be UTF-8, every pair
    /// needs an `=`, every `%` two hex digits, and names must not be empty.
    pub fn parse(raw: &[u8]) -> Result<Params, QueryError> {
        let mut p = Params::default();
        p.extend(raw)?;
        Ok(p)
    }

    fn extend(&mut self, raw: &[u8]) -> Result<(), QueryError> {
        let text = std::str::from_utf8(raw).map_err(|_| malformed("the parameters are not UTF-8 text".into()))?;
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(malformed(format!("parameter {:?} has no '='", shorten(pair))));
            };
            let key = decode(k)?;
            if key.is_empty() {
                return Err(malformed("a parameter has an empty name".into()));
            }
            self.map.insert(key, decode(v)?);
        }
        Ok(())
    }

    /// One parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// One parameter that must be there and not be empty.
    pub fn required(&self, key: &str) -> Result<&str, QueryError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| QueryError::missing(key))
    }

    /// The indexed entries under `prefix` (`prefix.1…`, `prefix.2.Name…`), in index
    /// order, each with the keys below its index (a plain value has the key `""`).
    pub fn items(&self, prefix: &str) -> Vec<Params> {
        let head = format!("{prefix}.");
        let mut by_index: BTreeMap<u64, Params> = BTreeMap::new();
        for (k, v) in self.map.range(head.clone()..) {
            let Some(rest) = k.strip_prefix(&head) else {
                break;
            };
            let (index, sub) = rest.split_once('.').unwrap_or((rest, ""));
            let Ok(index) = index.parse::<u64>() else {
                continue;
            };
            by_index
                .entry(index)
                .or_default()
                .map
                .insert(sub.to_string(), v.clone());
        }
        by_index.into_values().collect()
    }

    /// The plain values of a list: awsQuery `Names.member.N` is `list("Names.member")`,
    /// EC2's `InstanceId.N` is `list("InstanceId")`.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.items(prefix)
            .into_iter()
            .filter_map(|p| p.map.get("").cloned())
            .collect()
    }

    /// Whether a boolean parameter is `true`.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn malformed(why: String) -> QueryError {
    QueryError::bad(
        "MalformedQueryString",
        format!("The request is not a valid form: {why}"),
    )
}

/// Percent-decodes one form component (`+` is a space).
fn decode(s: &str) -> Result<String, QueryError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let byte = hex
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| malformed("a '%' is not followed by two hex digits".into()))?;
                out.push(byte);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| malformed("a parameter does not decode to UTF-8 text".into()))
}

/// How a service renders errors.
#[derive(Debug, Clone, Copy)]
enum Protocol {
    /// awsQuery with this namespace.
    Query(&'static str),
    /// EC2 query.
    Ec2,
}

fn protocol(service: &str) -> Protocol {
    match service {
        "ec2" => Protocol::Ec2,
        "rds" => Protocol::Query(rds::NS),
        "sts" => Protocol::Query(sts::NS),
        _ => Protocol::Query(elbv2::NS),
    }
}

/// An error of query service `service` as its protocol renders it (awsQuery
/// `<ErrorResponse>` or EC2 `<Response><Errors>`), with `text/xml`.
pub fn error_response(service: &str, err: &QueryError) -> ApiResponse {
    let rid = uuid::Uuid::new_v4().to_string();
    render_error(protocol(service), err, &rid)
}

fn render_error(proto: Protocol, err: &QueryError, rid: &str) -> ApiResponse {
    let body = match proto {
        Protocol::Query(ns) => xml::query_error(ns, !err.status.is_server_error(), &err.code, &err.message, rid),
        Protocol::Ec2 => xml::ec2_error(&err.code, &err.message, rid),
    };
    ApiResponse {
        status: err.status,
        content_type: "text/xml",
        error_type: None,
        body,
    }
}

/// Answers one query-protocol request for service `name`.
pub fn handle(name: &str, s: &Services, req: &ApiRequest) -> ApiResponse {
    let rid = uuid::Uuid::new_v4().to_string();
    let result = params(req).and_then(|p| {
        let Some(action) = p.get("Action").filter(|a| !a.is_empty()) else {
            return Err(QueryError::bad(
                "MissingAction",
                "The request must contain the parameter Action",
            ));
        };
        check_integer_params(name, action, &p)?;
        match name {
            "elasticloadbalancing" => elbv2::handle(s, action, &p, &rid),
            "ec2" => ec2::handle(s, action, &p, &rid),
            "rds" => rds::handle(s, action, &p, &rid),
            "sts" => sts::handle(s, action, &p, &rid),
            other => Err(QueryError::bad(
                "UnknownService",
                format!("service {} is not served here", shorten(other)),
            )),
        }
    });
    match result {
        Ok(body) => ApiResponse {
            status: StatusCode::OK,
            content_type: "text/xml",
            error_type: None,
            body,
        },
        Err(e) => {
            tracing::debug!(service = name, code = %e.code, message = %e.message, "query error");
            render_error(protocol(name), &e, &rid)
        }
    }
}

/// The integer parameters of the operations served, with the range each API reference
/// documents: ELBv2 `PageSize` 1–400 (DescribeLoadBalancers, DescribeTargetGroups,
/// DescribeListeners), RDS `MaxRecords` 20–100 (DescribeDBClusters, DescribeDBInstances),
/// EC2 `MaxResults` 5–1000 (DescribeInstances, DescribeSubnets).
fn integer_params(service: &str, action: &str) -> &'static [(&'static str, i64, i64)] {
    match (service, action) {
        ("elasticloadbalancing", "DescribeLoadBalancers" | "DescribeTargetGroups" | "DescribeListeners") => {
            &[("PageSize", 1, 400)]
        }
        ("rds", "DescribeDBClusters" | "DescribeDBInstances") => &[("MaxRecords", 20, 100)],
        ("ec2", "DescribeInstances" | "DescribeSubnets") => &[("MaxResults", 5, 1000)],
        _ => &[],
    }
}

/// Refuses a malformed or out-of-range integer parameter (`PageSize=notanumber`) as the
/// service does, naming the parameter: ELBv2 answers `ValidationError` for both, RDS
/// `ValidationError` for a value that is not a number and `InvalidParameterValue` for one
/// out of range, EC2 `InvalidParameterValue` for both (the Common Errors of the ELBv2 and
/// RDS API references: "ValidationError — The input fails to satisfy the constraints
/// specified by an AWS service", "InvalidParameterValue — An invalid or out-of-range value
/// was supplied for the input parameter"; HTTP 400).
fn check_integer_params(service: &str, action: &str, p: &Params) -> Result<(), QueryError> {
    let (malformed, out_of_range) = match service {
        "ec2" => ("InvalidParameterValue", "InvalidParameterValue"),
        "rds" => ("ValidationError", "InvalidParameterValue"),
        _ => ("ValidationError", "ValidationError"),
    };
    for (key, min, max) in integer_params(service, action) {
        let Some(raw) = p.get(key) else { continue };
        let value = raw.trim().parse::<i64>().map_err(|_| {
            QueryError::bad(
                malformed,
                format!(
                    "Value '{}' for parameter {key} is invalid: it must be an integer from {min} to {max}",
                    shorten(raw)
                ),
            )
        })?;
        if !(*min..=*max).contains(&value) {
            return Err(QueryError::bad(
                out_of_range,
                format!("Value '{value}' for parameter {key} is invalid: it must be from {min} to {max}"),
            ));
        }
    }
    Ok(())
}

/// The request's parameters: a POST's query string and form body, or a GET's query.
fn params(req: &ApiRequest) -> Result<Params, QueryError> {
    let mut p = Params::default();
    match req.method {
        Method::POST => {
            if let Some(ct) = req.headers.get(http::header::CONTENT_TYPE) {
                let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
                if !req.body.is_empty() && !ct.starts_with("application/x-www-form-urlencoded") {
                    return Err(QueryError::bad(
                        "InvalidParameterValue",
                        format!(
                            "The body must be application/x-www-form-urlencoded, not {}",
                            shorten(&ct)
                        ),
                    ));
                }
            }
            p.extend(req.query.as_bytes())?;
            p.extend(&req.body)?;
        }
        Method::GET if !req.query.is_empty() => p.extend(req.query.as_bytes())?,
        Method::GET => {
            return Err(QueryError::bad(
                "MissingAction",
                "The request must contain the parameter Action: a GET carries the parameters in its query string (or POST them as a form)",
            ))
        }
        ref m => {
            return Err(QueryError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("The HTTP method {} is not allowed; send a POST with a form body", shorten(m.as_str())),
            ))
        }
    }
    Ok(p)
}

/// A stable 64-bit FNV-1a hash, for ids and ARN suffixes derived from names.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `n` lowercase hex digits derived from `seed` (n ≤ 32).
pub fn stable_hex(seed: &str, n: usize) -> String {
    let a = stable_hash(seed);
    let b = stable_hash(&format!("{seed}#2"));
    let mut s = format!("{a:016x}{b:016x}");
    s.truncate(n);
    s
}

/// The stack's one VPC id.
pub fn vpc_id(world: &World) -> String {
    format!("vpc-{}", stable_hex(&format!("vpc/{}", world.stack.name), 17))
}

/// When the stack's resources claim to have been created: the first time this process
/// was asked (the world keeps no start time).
pub fn created_unix_ms() -> i64 {
    static CREATED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *CREATED.get_or_init(crate::truth::now_unix_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists and structures are read back in index order, not string order.
    #[test]
    fn lists_in_index_order() {
        let p = Params::parse(b"Names.member.10=j&Names.member.2=b&Names.member.1=a&Filter.1.Name=tag%3AName&Filter.1.Value.1=x+y&Filter.1.Value.2=z").unwrap();
        assert_eq!(p.list("Names.member"), vec!["a", "b", "j"]);
        let f = p.items("Filter");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].get("Name"), Some("tag:Name"));
        assert_eq!(f[0].list("Value"), vec!["x y", "z"]);
    }

    /// Malformed forms are errors, never panics.
    #[test]
    fn malformed_forms() {
        for bad in [
            &b"Action"[..],
            b"Action=%zz",
            b"Action=%4",
            b"=x",
            b"\xff\xfe",
            b"Action=%ff",
            b"a=%+1",
        ] {
            let e = Params::parse(bad).unwrap_err();
            assert_eq!(e.code, "MalformedQueryString", "{bad:?}");
        }
        assert!(Params::parse(b"").unwrap().get("Action").is_none());
    }

    /// Derived ids are stable and of the asked length.
    #[test]
    fn stable_ids() {
        assert_eq!(stable_hex("a", 16), stable_hex("a", 16));
        assert_ne!(stable_hex("a", 16), stable_hex("b", 16));
        assert_eq!(stable_hex("a", 17).len(), 17);
    }
}
