//! The AWS SDK clients a drill uses, configured for the embedded local stack or for an
//! AWS account (region, profile, endpoint and the standard `AWS_*` variables honoured),
//! each recording its calls into one [`CallLog`]; and what a failed call tells the user.

pub mod backup;
mod calls;
mod credentials;
mod error;

pub use calls::{AwsCall, CallLog, EXPIRED_CODES};
pub use credentials::{RenewingCredentials, EXPIRY_MARGIN};
pub use error::{describe_error, AwsCallError, POLICY_FILE};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;

/// Every client a drill needs.
#[derive(Clone, Debug)]
pub struct Clients {
    /// FIS: templates and experiments.
    pub fis: aws_sdk_fis::Client,
    /// ELBv2: load balancers, target groups, target health.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// EC2: instances and subnets.
    pub ec2: aws_sdk_ec2::Client,
    /// RDS: clusters and instances.
    pub rds: aws_sdk_rds::Client,
    /// STS: which account we are in.
    pub sts: aws_sdk_sts::Client,
    /// Route 53: zones, record sets and health-check status of the app's name.
    pub route53: aws_sdk_route53::Client,
    /// CloudWatch: the dead man's switch (heartbeat metric and its alarm).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Every call the clients above made (`aws-calls.jsonl`).
    pub calls: CallLog,
    /// The SDK configuration the clients were built from, for clients of another region
    /// ([`Clients::backup_in`], [`Clients::fis_in`]).
    pub sdk: aws_config::SdkConfig,
    /// For an AWS target: the credentials, renewed from the chain after `ExpiredToken`
    /// (with notes for the journal).
    pub credentials: Option<std::sync::Arc<RenewingCredentials>>,
}

impl Clients {
    /// Clients of every service drdrill calls, built from one SDK configuration (its
    /// endpoint, region, credentials and retry policy), all recording into a new
    /// [`CallLog`].
    pub fn from_conf(conf: &aws_config::SdkConfig) -> Clients {
        Clients::with_log(conf, CallLog::default(), None)
    }

    fn with_log(
        conf: &aws_config::SdkConfig,
        calls: CallLog,
        credentials: Option<std::sync::Arc<RenewingCredentials>>,
    ) -> Clients {
        // Each client records its calls under its IAM service prefix.
        macro_rules! client {
            ($krate:ident, $prefix:literal) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(conf)
                        .interceptor(calls.interceptor($prefix))
                        .build(),
                )
            };
        }
        Clients {
            fis: client!(aws_sdk_fis, "fis"),
            elb: client!(aws_sdk_elasticloadbalancingv2, "elasticloadbalancing"),
            ec2: client!(aws_sdk_ec2, "ec2"),
            rds: client!(aws_sdk_rds, "rds"),
            sts: client!(aws_sdk_sts, "sts"),
            route53: client!(aws_sdk_route53, "route53"),
            cloudwatch: client!(aws_sdk_cloudwatch, "cloudwatch"),
            calls,
            credentials,
            sdk: conf.clone(),
        }
    }

    /// An AWS Backup client for `region` (the vault's region: restore jobs run there),
    /// recording into the same [`CallLog`].
    pub fn backup_in(&self, region: &str) -> aws_sdk_backup::Client {
        aws_sdk_backup::Client::from_conf(
            aws_sdk_backup::config::Builder::from(&self.sdk)
                .region(aws_config::Region::new(region.to_string()))
                .interceptor(self.calls.interceptor("backup"))
                .build(),
        )
    }

    /// An FIS client for `region` (the switch experiment runs where the restore did),
    /// recording into the same [`CallLog`].
    pub fn fis_in(&self, region: &str) -> aws_sdk_fis::Client {
        aws_sdk_fis::Client::from_conf(
            aws_sdk_fis::config::Builder::from(&self.sdk)
                .region(aws_config::Region::new(region.to_string()))
                .interceptor(self.calls.interceptor("fis"))
                .build(),
        )
    }

    /// Clients for the local stack at `endpoint_url`, with static test credentials.
    pub async fn local(endpoint_url: &str, region: &str) -> Clients {
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint_url)
            .region(aws_config::Region::new(region.to_string()))
            .credentials_provider(Credentials::new("drdrill", "drdrill", None, None, "drdrill-local"))
            .load()
            .await;
        Clients::from_conf(&conf)
    }

    /// Clients for an AWS account: the default credential chain (or `profile`), the given
    /// region, and `endpoint_url` when set (else `AWS_ENDPOINT_URL` and the service-specific
    /// endpoint variables, which the SDK reads itself).
    ///
    /// The credentials come from the chain through [`RenewingCredentials`]: after an
    /// `ExpiredToken` answer the next call resolves the chain again.
    pub async fn aws(region: &str, profile: Option<&str>, endpoint_url: Option<&str>) -> Clients {
        let region = aws_config::Region::new(region.to_string());
        let mut chain =
            aws_config::default_provider::credentials::DefaultCredentialsChain::builder().region(region.clone());
        if let Some(p) = profile {
            chain = chain.profile_name(p);
        }
        let calls = CallLog::default();
        let credentials = std::sync::Arc::new(RenewingCredentials::new(
            aws_credential_types::provider::SharedCredentialsProvider::new(chain.build().await),
            calls.clone(),
        ));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            // The provider caches (and renews) itself; the SDK's cache would keep a token
            // AWS already refused.
            .identity_cache(aws_config::identity::IdentityCache::no_cache())
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                credentials::SharedRenewing(credentials.clone()),
            ));
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        if let Some(e) = endpoint_url {
            loader = loader.endpoint_url(e);
        }
        Clients::with_log(&loader.load().await, calls, Some(credentials))
    }
}
