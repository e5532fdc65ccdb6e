//! Route 53 operations round-trip with the official aws-sdk-route53 crate against a local
//! stack on an ephemeral port: hosted zones, record-set changes and listings, changes,
//! health checks and their status; AWS-shaped errors for bad input.

#[path = "../common/mod.rs"]
mod common;
mod errors;
mod health_checks;
mod zones;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, HealthCheckConfig, HealthCheckRegion,
    HealthCheckType, HostedZoneConfig, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use aws_sdk_route53::Client;
use common::{str_of, test_stack, wait_for, wait_until, Env};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// A Route 53 client pointed at the stack.
async fn route53(env: &Env) -> Client {
    let creds = aws_credential_types::Credentials::from_keys("AKIDDRDRILLTEST", "drdrill-test-secret", None);
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(env.ls.endpoint_url())
        .credentials_provider(creds)
        .load()
        .await;
    Client::new(&conf)
}

/// A record set with values.
fn rrset(
    name: &str,
    rtype: RrType,
    ttl: i64,
    values: &[&str],
) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    let mut b = ResourceRecordSet::builder().name(name).r#type(rtype).ttl(ttl);
    for v in values {
        b = b.resource_records(ResourceRecord::builder().value(*v).build().expect("record"));
    }
    b
}

/// One change of a batch.
fn change(action: ChangeAction, set: aws_sdk_route53::types::builders::ResourceRecordSetBuilder) -> Change {
    Change::builder()
        .action(action)
        .resource_record_set(set.build().expect("record set"))
        .build()
        .expect("change")
}

/// A batch of changes.
fn batch(changes: Vec<Change>) -> ChangeBatch {
    ChangeBatch::builder()
        .comment("drdrill test")
        .set_changes(Some(changes))
        .build()
        .expect("batch")
}

/// The zone id without the `/hostedzone/` prefix.
fn bare(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// A raw A query over UDP to the stack's DNS server.
async fn query_a(dns: SocketAddr, name: &str) -> Message {
    let mut msg = Message::new(7, MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), RecordType::A));
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.connect(dns).await.expect("connect");
    let bytes = msg.to_vec().expect("encode");
    let mut buf = vec![0u8; 4096];
    for _ in 0..5 {
        sock.send(&bytes).await.expect("send");
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await {
            return Message::from_vec(&buf[..n]).expect("decode");
        }
    }
    panic!("no DNS answer for {name}");
}
