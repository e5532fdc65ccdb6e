//! The Resource Groups Tagging API's `GetResources` over awsJson1.1 (target prefix
//! `ResourceGroupsTaggingAPI_20170126`): the region's tagged resources — EC2 instances and
//! RDS DB instances — with their tags, filtered as AWS documents it.
//!
//! AWS: <https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html>.
//! Tag filters are ANDed; a filter's values are ORed, and a filter without values matches
//! any value of its key. A resource type filter is `service` or `service:type` as in the
//! resource's ARN (`rds:db`, `ec2:instance`). ARNs in `ResourceARNList` that name nothing
//! are left out, not an error. Untagged resources are not returned (AWS returns resources
//! that are or were tagged).
//!
//! Answers are paged ([`super::paging`]) by ARN: `ResourcesPerPage` (1–100) or the stack's
//! `tagging.page_size` resources a page, `PaginationToken` the next page's token or `""` on
//! the last (as AWS answers). A token this listing did not issue is
//! `InvalidParameterException`; one older than 15 minutes `PaginationTokenExpiredException`
//! ("A PaginationToken is valid for a maximum of 15 minutes", the API reference's Errors).

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::paging::{Pager, TokenError};
use super::{ApiRequest, ApiResponse, Services};
use crate::config::MAX_RESOURCES_PER_PAGE;
use crate::truth::now_unix_ms;
use crate::world::World;

/// The `X-Amz-Target` prefix of the Tagging API's operations.
pub const TARGET_PREFIX: &str = "ResourceGroupsTaggingAPI_20170126.";

/// AWS's limit on `TagFilters` entries.
const MAX_TAG_FILTERS: usize = 50;

/// AWS's limit on `ResourceTypeFilters` and `ResourceARNList` entries.
const MAX_LIST: usize = 100;

/// AWS's length limit on `PaginationToken` ("Maximum length of 2048").
const MAX_TOKEN_LEN: usize = 2048;

/// How long a `PaginationToken` may be used: "A PaginationToken is valid for a maximum of
/// 15 minutes" (PaginationTokenExpiredException in the API reference's Errors).
const TOKEN_LIFETIME_MS: i64 = 15 * 60_000;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetResourcesInput {
    #[serde(default)]
    tag_filters: Vec<TagFilter>,
    #[serde(default)]
    resource_type_filters: Vec<String>,
    #[serde(default, rename = "ResourceARNList")]
    resource_arn_list: Vec<String>,
    #[serde(default)]
    resources_per_page: Option<i64>,
    #[serde(default)]
    pagination_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagFilter {
    key: String,
    #[serde(default)]
    values: Vec<String>,
}

/// One taggable resource of the region: its ARN and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// Its ARN.
    pub arn: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Answers one Tagging API request (the operation from `X-Amz-Target`).
pub fn handle(s: &Services, req: &ApiRequest) -> ApiResponse {
    let target = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match target.strip_prefix(TARGET_PREFIX) {
        Some("GetResources") => get_resources(&s.world, &req.body),
        _ => error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!(
                "operation {:?} is not served by the local stack's Tagging API (GetResources is)",
                super::errors::shorten(target)
            ),
        ),
    }
}

/// An awsJson1.1 error: `{"__type", "Message"}` (the tagging API answers 400 for each of its
/// documented errors).
pub fn error(status: StatusCode, code: &str, message: &str) -> ApiResponse {
    ApiResponse {
        status,
        content_type: "application/x-amz-json-1.1",
        error_type: Some(code.to_string()),
        body: serde_json::to_vec(&json!({ "__type": code, "Message": message })).unwrap_or_default(),
    }
}

fn invalid(message: &str) -> ApiResponse {
    error(StatusCode::BAD_REQUEST, "InvalidParameterException", message)
}

/// GetResources: the region's tagged resources passing every filter given.
fn get_resources(world: &World, body: &[u8]) -> ApiResponse {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    let input: GetResourcesInput = match serde_json::from_slice(body) {
        Ok(i) => i,
        Err(e) => return invalid(&format!("invalid request body: {e}")),
    };
    if let Some(problem) = check_input(&input) {
        return invalid(&problem);
    }
    let matching = resources(world)
        .into_iter()
        .filter(|r| !r.tags.is_empty())
        .filter(|r| input.resource_arn_list.is_empty() || input.resource_arn_list.contains(&r.arn))
        .filter(|r| {
            input.resource_type_filters.is_empty()
                || input.resource_type_filters.iter().any(|t| type_matches(&r.arn, t))
        })
        .filter(|r| input.tag_filters.iter().all(|f| tag_matches(&r.tags, f)))
        .map(|r| (r.arn.clone(), r));
    let pager = Pager {
        scope: format!("GetResources/{}", world.stack.region),
        limit: input
            .resources_per_page
            .map_or(world.stack.tagging.page_size, |n| n as usize),
        token: input.pagination_token.clone(),
        lifetime_ms: Some(TOKEN_LIFETIME_MS),
    };
    let page = match pager.page(matching.collect(), now_unix_ms()) {
        Ok(p) => p,
        Err(e @ TokenError::Expired(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "PaginationTokenExpiredException",
                &e.to_string(),
            )
        }
        Err(e) => return invalid(&format!("PaginationToken: {e}")),
    };
    let list: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            let tags: Vec<Value> = r.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
            json!({ "ResourceARN": r.arn, "Tags": tags })
        })
        .collect();
    let token = page.next.unwrap_or_default();
    ApiResponse {
        status: StatusCode::OK,
        content_type: "application/x-amz-json-1.1",
        error_type: None,
        body: serde_json::to_vec(&json!({ "PaginationToken": token, "ResourceTagMappingList": list }))
            .unwrap_or_default(),
    }
}

/// What AWS would refuse in the input, by its documented limits.
fn check_input(input: &GetResourcesInput) -> Option<String> {
    if input.tag_filters.len() > MAX_TAG_FILTERS {
        return Some(format!(
            "TagFilters has {} entries; at most {MAX_TAG_FILTERS} are allowed",
            input.tag_filters.len()
        ));
    }
    if input.resource_type_filters.len() > MAX_LIST || input.resource_arn_list.len() > MAX_LIST {
        return Some(format!(
            "ResourceTypeFilters and ResourceARNList take at most {MAX_LIST} entries"
        ));
    }
    if let Some(f) = input.tag_filters.iter().find(|f| f.key.is_empty() || f.key.len() > 128) {
        return Some(format!("TagFilters: key {:?} must be 1 to 128 characters", f.key));
    }
    if input.pagination_token.as_ref().is_some_and(|t| t.len() > MAX_TOKEN_LEN) {
        return Some(format!("PaginationToken is longer than {MAX_TOKEN_LEN} characters"));
    }
    let max = MAX_RESOURCES_PER_PAGE as i64;
    match input.resources_per_page {
        Some(n) if !(1..=max).contains(&n) => Some(format!("ResourcesPerPage {n} is not within 1..={max}")),
        _ => None,
    }
}

/// Whether `arn` is of the resource type `filter` (`service` or `service:type`).
fn type_matches(arn: &str, filter: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2).unwrap_or_default();
    let resource = parts.nth(2).unwrap_or_default();
    let kind = resource.split([':', '/']).next().unwrap_or_default();
    match filter.split_once(':') {
        Some((s, t)) => s == service && t == kind,
        None => filter == service,
    }
}

/// Whether `tags` pass one tag filter: the key present, with one of the values if any.
fn tag_matches(tags: &BTreeMap<String, String>, f: &TagFilter) -> bool {
    tags.get(&f.key)
        .is_some_and(|v| f.values.is_empty() || f.values.contains(v))
}

/// The region's taggable resources: its EC2 instances and its database's primary DB
/// instance, each with the stack file's tags (the database section's `tags:` are the
/// primary's, as AWS Backup's selections by tag read them).
pub fn resources(world: &World) -> Vec<Tagged> {
    let arn = crate::fis::resolve::arn;
    let mut out: Vec<Tagged> = world
        .instances()
        .into_iter()
        .map(|i| Tagged {
            arn: arn(world, "aws:ec2:instance", &i.id),
            tags: i.tags.clone(),
        })
        .collect();
    let db = &world.stack.database;
    out.push(Tagged {
        arn: arn(world, "aws:rds:db", &db.primary.id),
        tags: db.tags.clone(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resource types compare with the service and type embedded in the ARN, as AWS
    /// documents `ResourceTypeFilters`.
    #[test]
    fn type_filters_follow_the_arn() {
        let db = "arn:aws:rds:us-east-1:000000000000:db:east-db-1";
        let ec2 = "arn:aws:ec2:us-east-1:000000000000:instance/i-1";
        assert!(type_matches(db, "rds"));
        assert!(type_matches(db, "rds:db"));
        assert!(!type_matches(db, "rds:cluster"));
        assert!(type_matches(ec2, "ec2:instance"));
        assert!(!type_matches(ec2, "rds"));
    }

    /// A filter without values matches any value of its key; with values, one of them.
    #[test]
    fn tag_filter_values_are_ored() {
        let tags: BTreeMap<String, String> = [("Backup".to_string(), "daily".to_string())].into();
        let f = |key: &str, values: &[&str]| TagFilter {
            key: key.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert!(tag_matches(&tags, &f("Backup", &[])));
        assert!(tag_matches(&tags, &f("Backup", &["weekly", "daily"])));
        assert!(!tag_matches(&tags, &f("Backup", &["weekly"])));
        assert!(!tag_matches(&tags, &f("Owner", &[])));
    }
}
