//! The awsQuery-style services (ELBv2, RDS, STS) and EC2's query protocol: dispatch of a
//! request to its service and rendering of its errors. The helpers the services share sit
//! in leaf modules ([`super::errors`], [`super::params`], [`super::ids`]).
//!
//! A request is `POST /` with an `application/x-www-form-urlencoded` body
//! (`Action=…&Version=…&Names.member.1=…`), or a `GET` carrying the same parameters in
//! its query string. This module checks the method, parses the form strictly, finds the
//! `Action`, hands it to the service module, and renders failures as the error document
//! of the service's protocol.

use http::StatusCode;

use super::errors::{shorten, QueryError};
use super::params::{request_params, Params};
use super::{ec2, elbv2, rds, sts, xml, ApiRequest, ApiResponse, Services};

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
    let result = request_params(req).and_then(|p| {
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
