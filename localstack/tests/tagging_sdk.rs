//! The Resource Groups Tagging API's `GetResources` of the local stack, driven by the
//! official `aws-sdk-resourcegroupstagging` client: filters as AWS documents them
//! (<https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html>),
//! per region, and AWS's error shape for bad input.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_resourcegroupstagging::error::ProvideErrorMetadata;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_resourcegroupstagging::Client;
use common::{sdk_loader, shipped_stack, Env};

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
