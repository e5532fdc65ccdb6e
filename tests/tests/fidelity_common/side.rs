//! One side of the comparison (moto or the local stack): the official SDK clients pointed
//! at its endpoint, each with an interceptor that keeps the raw answer of the last call,
//! and the ids of its world that calls name.

use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The raw answer of one call: HTTP status, `content-type` and body.
#[derive(Debug, Clone)]
pub struct Raw {
    /// HTTP status.
    pub status: u16,
    /// The `content-type` header, when there is one.
    pub content_type: String,
    /// The body as received.
    pub body: Vec<u8>,
}

impl Raw {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Keeps the raw answer of the last call of every client it is attached to. The SDK has
/// read a non-streaming body into memory by the time deserialization is done, so the
/// bytes are there, unchanged.
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Option<Raw>>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "FidelityCapture"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let r = context.response();
        let raw = Raw {
            status: r.status().as_u16(),
            content_type: r.headers().get("content-type").unwrap_or_default().to_string(),
            body: r.body().bytes().map(<[u8]>::to_vec).unwrap_or_default(),
        };
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(raw);
        Ok(())
    }
}

/// The ids of one side's world that requests name (each side invents its own).
#[derive(Debug, Clone, Default)]
pub struct Ids {
    /// The load balancer's ARN.
    pub lb_arn: String,
    /// The target group's ARN.
    pub tg_arn: String,
    /// The instances, sorted by their `Name` tag (`app-1a-1`, …).
    pub instances: Vec<String>,
    /// The hosted zone's id (without `/hostedzone/`).
    pub zone_id: String,
    /// The health check's id.
    pub health_check_id: String,
}

/// One side: clients and the world's ids.
pub struct Side {
    /// `moto` or `local`.
    pub name: &'static str,
    /// The endpoint URL.
    pub endpoint: String,
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// ELBv2.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// RDS.
    pub rds: aws_sdk_rds::Client,
    /// Route 53.
    pub route53: aws_sdk_route53::Client,
    /// STS.
    pub sts: aws_sdk_sts::Client,
    /// FIS.
    pub fis: aws_sdk_fis::Client,
    /// The world's ids (filled in by [`Side::learn_ids`]).
    pub ids: Ids,
    capture: Capture,
}

impl Side {
    /// Clients for `endpoint` in us-east-1 with static credentials and no retries (a
    /// retried call would hide the first answer).
    pub async fn new(name: &'static str, endpoint: &str) -> Side {
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "fidelity"))
            .retry_config(RetryConfig::disabled())
            .load()
            .await;
        let capture = Capture::default();
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(&conf)
                        .interceptor(capture.clone())
                        .build(),
                )
            };
        }
        Side {
            name,
            endpoint: endpoint.to_string(),
            ec2: client!(aws_sdk_ec2),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            rds: client!(aws_sdk_rds),
            route53: client!(aws_sdk_route53),
            sts: client!(aws_sdk_sts),
            fis: client!(aws_sdk_fis),
            ids: Ids::default(),
            capture,
        }
    }

    /// The raw answer of the last call (and forgets it).
    pub fn take(&self) -> Raw {
        self.capture
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| panic!("{}: no answer was captured (transport failure?)", self.name))
    }

    /// Finds the world's ids through the API (the same calls on both sides).
    pub async fn learn_ids(&mut self) {
        let who = self.name;
        let lbs = self.elb.describe_load_balancers().names("drill-alb").send().await;
        let lbs = lbs.unwrap_or_else(|e| panic!("{who}: DescribeLoadBalancers: {e:?}"));
        let lb_arn = lbs.load_balancers()[0]
            .load_balancer_arn()
            .unwrap_or_default()
            .to_string();
        let tgs = self.elb.describe_target_groups().names("drill-app").send().await;
        let tgs = tgs.unwrap_or_else(|e| panic!("{who}: DescribeTargetGroups: {e:?}"));
        let tg_arn = tgs.target_groups()[0]
            .target_group_arn()
            .unwrap_or_default()
            .to_string();
        let out = self.ec2.describe_instances().send().await;
        let out = out.unwrap_or_else(|e| panic!("{who}: DescribeInstances: {e:?}"));
        let mut named: Vec<(String, String)> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                let name = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("Name"))
                    .and_then(|t| t.value());
                (
                    name.unwrap_or_default().to_string(),
                    i.instance_id().unwrap_or_default().to_string(),
                )
            })
            .collect();
        named.sort();
        let zones = self.route53.list_hosted_zones().send().await;
        let zones = zones.unwrap_or_else(|e| panic!("{who}: ListHostedZones: {e:?}"));
        let zone_id = zones.hosted_zones()[0]
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string();
        let checks = self.route53.list_health_checks().send().await;
        let checks = checks.unwrap_or_else(|e| panic!("{who}: ListHealthChecks: {e:?}"));
        self.ids = Ids {
            lb_arn,
            tg_arn,
            instances: named.into_iter().map(|(_, id)| id).collect(),
            zone_id,
            health_check_id: checks.health_checks()[0].id().to_string(),
        };
        let _ = self.capture.0.lock().map(|mut c| c.take());
    }
}
