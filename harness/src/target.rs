//! Targets: where a drill runs. The embedded local stack is started in-process; an AWS
//! account is checked against the scenario's allow-list (STS GetCallerIdentity).

use crate::aws::{describe_error, Clients};
use crate::scenario::Target;

/// A target ready for AWS calls.
pub struct Connected {
    /// The clients.
    pub clients: Clients,
    /// The embedded local stack, when the target is `local` (stopped with [`Connected::close`]).
    pub local: Option<drdrill_localstack::LocalStack>,
    /// The account the drill runs against: STS's answer for an AWS target, the stack
    /// file's for a local one.
    pub account_id: String,
    /// The region the drill runs against.
    pub region: String,
}

impl Connected {
    /// Stops the embedded local stack, if any (reverting whatever faults remain).
    pub async fn close(self) {
        if let Some(local) = self.local {
            local.shutdown().await;
        }
    }
}

/// Why a target could not be reached or is not allowed.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The local stack file is invalid.
    #[error(transparent)]
    Stack(#[from] drdrill_localstack::StackError),
    /// The local stack could not start.
    #[error("cannot start the local stack: {0}")]
    Start(#[from] drdrill_localstack::StartError),
    /// STS failed.
    #[error("GetCallerIdentity failed: {0}")]
    Identity(String),
    /// The account is not in the allow-list.
    #[error("account {account} is not in target.aws.account_ids ({allowed}); refusing to run")]
    NotAllowed {
        /// The account the credentials belong to.
        account: String,
        /// The allow-list.
        allowed: String,
    },
}

/// Connects to the target: starts the local stack, or checks the AWS account.
pub async fn connect(target: &Target) -> Result<Connected, TargetError> {
    match target {
        Target::Local { stack } => {
            let stack = drdrill_localstack::Stack::load(stack)?;
            let region = stack.region.clone();
            let opts = drdrill_localstack::Options {
                endpoint: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            };
            let account_id = stack.account_id.clone();
            let local = drdrill_localstack::LocalStack::start(stack, opts).await?;
            let clients = Clients::local(&local.endpoint_url(), &region).await;
            Ok(Connected {
                clients,
                local: Some(local),
                account_id,
                region,
            })
        }
        Target::Aws(aws) => {
            let clients = Clients::aws(&aws.region, aws.profile.as_deref(), aws.endpoint_url.as_deref()).await;
            let who = clients
                .sts
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| TargetError::Identity(describe_error(&e)))?;
            let account = who.account().unwrap_or_default().to_string();
            if !aws.account_ids.contains(&account) {
                return Err(TargetError::NotAllowed {
                    account,
                    allowed: aws.account_ids.join(", "),
                });
            }
            Ok(Connected {
                clients,
                local: None,
                account_id: account,
                region: aws.region.clone(),
            })
        }
    }
}
