//! The query-protocol services (ELBv2, EC2, RDS) of the local stack, called with the
//! official AWS SDK crates: every operation's output is parsed by the SDK's own
//! deserializer and checked against the running stack, and error codes come back as the
//! SDK's modelled errors.

#[path = "../common/mod.rs"]
mod common;
mod ec2;
mod elbv2;
mod rds;

use std::net::SocketAddr;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, InstanceStateName};
use aws_sdk_elasticloadbalancingv2::types::{
    ActionTypeEnum, ProtocolEnum, TargetDescription, TargetHealthStateEnum, TargetTypeEnum,
};
use common::{expect_code, wait_until};
use drdrill_localstack::LocalStack;

/// Starts the shipped multi-AZ stack on an ephemeral endpoint port with an SDK config
/// pointed at it.
async fn start() -> (LocalStack, SdkConfig) {
    let ls = common::Env::start(common::shipped_stack("multi-az")).await.ls;
    let conf = common::sdk_loader(&ls).load().await;
    (ls, conf)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn addr_of(ls: &LocalStack, id: &str) -> SocketAddr {
    ls.world
        .instances()
        .into_iter()
        .find(|i| i.id == id)
        .map(|i| i.addr)
        .expect("instance exists")
}
