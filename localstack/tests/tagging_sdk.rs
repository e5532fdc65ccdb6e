//! The Resource Groups Tagging API's `GetResources` of the local stack, driven by the
//! official `aws-sdk-resourcegroupstagging` client: filters as AWS documents them
//! (<https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html>),
//! per region, AWS's error shape for bad input, and pagination (`ResourcesPerPage`,
//! `PaginationToken`, `""` on the last page).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_sdk_resourcegroupstagging::error::ProvideErrorMetadata;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_resourcegroupstagging::Client;
use common::{expect_code, sdk_loader, shipped_stack, Env};
use drdrill_localstack::Stack;

/// Every resource's ARN and tags from one GetResources answer.
fn mapping(
    out: &aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput,
) -> BTreeMap<String, BTreeMap<String, String>> {
    out.resource_tag_mapping_list()
        .iter()
        .map(|m| {
            let tags = m
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            (m.resource_arn().unwrap_or_default().to_string(), tags)
        })
        .collect()
}

fn arns(out: &aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput) -> BTreeSet<String> {
    mapping(out).into_keys().collect()
}

fn instance_arn(region: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:000000000000:instance/{id}")
}

/// GetResources lists the region's tagged instances with the tags of the stack file; tag
/// filters are ANDed, a filter's values ORed, a filter without values matches any value;
/// resource type filters and ARN lists restrict the answer; unknown ARNs are left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_resources_filters_as_aws_documents() {
    let env = Env::start(shipped_stack("multi-az")).await;
    let tagging = Client::new(&sdk_loader(&env.ls).load().await);
    let all = tagging.get_resources().send().await.unwrap();
    let listed = mapping(&all);
    // The stack file's six instances, each with its tags.
    let ids = ["i-app1a1", "i-app1a2", "i-app1b1", "i-app1b2", "i-app1c1", "i-app1c2"];
    for id in ids {
        let tags = &listed[&instance_arn("us-east-1", id)];
        assert_eq!(tags["Tier"], "app");
        assert_eq!(tags["AzImpairmentPower"], "StopInstances");
    }
    assert_eq!(listed[&instance_arn("us-east-1", "i-app1b2")]["Name"], "app-1b-2");

    // Values ORed within a filter, filters ANDed.
    let by_name = tagging
        .get_resources()
        .tag_filters(
            TagFilter::builder()
                .key("Name")
                .values("app-1a-1")
                .values("app-1c-2")
                .build(),
        )
        .tag_filters(TagFilter::builder().key("Tier").build())
        .send()
        .await
        .unwrap();
    let want: BTreeSet<String> = ["i-app1a1", "i-app1c2"]
        .iter()
        .map(|i| instance_arn("us-east-1", i))
        .collect();
    assert_eq!(arns(&by_name), want);
    let none = tagging
        .get_resources()
        .tag_filters(TagFilter::builder().key("Name").values("app-1a-1").build())
        .tag_filters(TagFilter::builder().key("Tier").values("db").build())
        .send()
        .await
        .unwrap();
    assert!(arns(&none).is_empty());

    // Resource types as embedded in ARNs.
    let ec2 = tagging
        .get_resources()
        .resource_type_filters("ec2:instance")
        .send()
        .await
        .unwrap();
    assert_eq!(arns(&ec2).len(), ids.len());
    let rds_only = tagging
        .get_resources()
        .resource_type_filters("rds:cluster")
        .send()
        .await
        .unwrap();
    assert!(arns(&rds_only).iter().all(|a| a.starts_with("arn:aws:rds:")));

    // ARN list: unknown ARNs are not an error, just absent.
    let picked = tagging
        .get_resources()
        .resource_arn_list(instance_arn("us-east-1", "i-app1b1"))
        .resource_arn_list(instance_arn("us-east-1", "i-nothere"))
        .send()
        .await
        .unwrap();
    assert_eq!(arns(&picked), BTreeSet::from([instance_arn("us-east-1", "i-app1b1")]));

    // Bad input: AWS's InvalidParameterException.
    let err = tagging
        .get_resources()
        .resources_per_page(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterException"), "{err:?}");
    assert!(err.is_invalid_parameter_exception());
}

/// GetResources is regional: signed for us-west-2 it lists that region's instances, not
/// us-east-1's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_resources_answers_for_the_signing_region() {
    let env = Env::start(shipped_stack("strategy-backup-restore")).await;
    let west = Client::new(
        &sdk_loader(&env.ls)
            .region(aws_config::Region::new("us-west-2"))
            .load()
            .await,
    );
    let out = west
        .get_resources()
        .resource_type_filters("ec2:instance")
        .send()
        .await
        .unwrap();
    let want: BTreeSet<String> = ["i-west-a", "i-west-b", "i-west-c"]
        .iter()
        .map(|i| instance_arn("us-west-2", i))
        .collect();
    assert_eq!(arns(&out), want);
}

/// The database's `tags:` are its primary DB instance's (the resource AWS Backup
/// selections name): a tag filter finds exactly that ARN with the stack file's tags, and
/// not the standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_tags_are_the_primary_instances() {
    let env = Env::start(shipped_stack("backup-plans")).await;
    let tagging = Client::new(&sdk_loader(&env.ls).load().await);
    let out = tagging
        .get_resources()
        .tag_filters(TagFilter::builder().key("Backup").values("drill").build())
        .send()
        .await
        .unwrap();
    let listed = mapping(&out);
    let primary = "arn:aws:rds:us-east-1:000000000000:db:east-db-1";
    assert_eq!(listed.keys().collect::<Vec<_>>(), [primary]);
    assert_eq!(listed[primary]["App"], "drdrill-demo");
    let rds = tagging
        .get_resources()
        .resource_type_filters("rds:db")
        .send()
        .await
        .unwrap();
    assert!(!arns(&rds).contains("arn:aws:rds:us-east-1:000000000000:db:east-db-2"));
}

/// With `tagging: { page_size: 2 }` the six instances of the Multi-AZ stack span three
/// pages: the SDK's paginator lists each once, in ARN order, and stops at the last page's
/// `PaginationToken: ""`; `ResourcesPerPage` bounds a page; `ResourcesPerPage` outside
/// 1..=100 and a token GetResources did not issue are `InvalidParameterException`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_resources_pages_as_aws_documents() {
    let text = std::fs::read_to_string(shipped_stack("multi-az")).unwrap() + "tagging: { page_size: 2 }\n";
    let env = Env::start_stack(Stack::parse(Path::new("paged.yaml"), &text).unwrap()).await;
    let tagging = Client::new(&sdk_loader(&env.ls).load().await);
    let mut want: Vec<String> = ["i-app1a1", "i-app1a2", "i-app1b1", "i-app1b2", "i-app1c1", "i-app1c2"]
        .iter()
        .map(|i| instance_arn("us-east-1", i))
        .collect();
    want.sort();
    let ec2 = || tagging.get_resources().resource_type_filters("ec2:instance");
    let pages: Vec<_> = ec2().into_paginator().send().try_collect().await.unwrap();
    assert_eq!(
        pages
            .iter()
            .map(|p| p.resource_tag_mapping_list().len())
            .collect::<Vec<_>>(),
        [2, 2, 2]
    );
    assert_eq!(pages[2].pagination_token(), Some(""));
    assert!(pages[..2]
        .iter()
        .all(|p| p.pagination_token().is_some_and(|t| !t.is_empty())));
    let listed: Vec<String> = pages
        .iter()
        .flat_map(|p| p.resource_tag_mapping_list())
        .filter_map(|m| m.resource_arn().map(str::to_string))
        .collect();
    assert_eq!(listed, want);

    // ResourcesPerPage bounds a page; the token continues after it.
    let first = ec2().resources_per_page(4).send().await.unwrap();
    assert_eq!(first.resource_tag_mapping_list().len(), 4);
    let token = first.pagination_token().unwrap().to_string();
    let rest = ec2()
        .resources_per_page(4)
        .pagination_token(&token)
        .send()
        .await
        .unwrap();
    let arns: Vec<&str> = rest
        .resource_tag_mapping_list()
        .iter()
        .filter_map(|m| m.resource_arn())
        .collect();
    assert_eq!(arns, want[4..].iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(rest.pagination_token(), Some(""));

    const BAD: &str = "InvalidParameterException";
    for n in [0, 101] {
        expect_code(ec2().resources_per_page(n).send().await, "ResourcesPerPage", BAD);
    }
    expect_code(ec2().pagination_token("garbage").send().await, "a garbled token", BAD);
    let mut altered = token.clone();
    altered.replace_range(0..1, if token.starts_with('0') { "1" } else { "0" });
    expect_code(ec2().pagination_token(altered).send().await, "an altered token", BAD);
}
