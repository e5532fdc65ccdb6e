//! Where the drill runs: the bundled local stack or an AWS account.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The environment a scenario runs against. Written as exactly one of `local:` or `aws:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "TargetSpec", into = "TargetSpec")]
pub enum Target {
    /// The bundled local stack described by a stack file.
    Local {
        /// The stack file. As written in the file it is relative to the scenario file's
        /// directory; [`crate::scenario::load`] replaces it with the joined path.
        stack: PathBuf,
    },
    /// An AWS account (or an AWS-compatible endpoint such as LocalStack).
    Aws(AwsTarget),
}

/// An AWS target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsTarget {
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// Named profile from the AWS config files; the default credential chain when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Endpoint URL override (`http://` or `https://`), e.g. a LocalStack endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Account ids the drill may touch (12 digits each, at least one); a run against any
    /// other account is refused.
    #[schemars(length(min = 1), inner(pattern(r"^[0-9]{12}$")))]
    pub account_ids: Vec<String>,
}

/// The file form of [`Target`]: a mapping with exactly one of `local` or `aws`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["local"]}, {"required": ["aws"]}]))]
struct TargetSpec {
    /// Path of a local stack file, relative to the scenario file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    local: Option<PathBuf>,
    /// An AWS account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aws: Option<AwsTarget>,
}

impl TryFrom<TargetSpec> for Target {
    type Error = &'static str;

    fn try_from(spec: TargetSpec) -> Result<Self, Self::Error> {
        match (spec.local, spec.aws) {
            (Some(stack), None) => Ok(Self::Local { stack }),
            (None, Some(aws)) => Ok(Self::Aws(aws)),
            (Some(_), Some(_)) => Err("exactly one of local, aws is required (found both)"),
            (None, None) => Err("exactly one of local, aws is required (found neither)"),
        }
    }
}

impl From<Target> for TargetSpec {
    fn from(target: Target) -> Self {
        match target {
            Target::Local { stack } => Self {
                local: Some(stack),
                aws: None,
            },
            Target::Aws(aws) => Self {
                local: None,
                aws: Some(aws),
            },
        }
    }
}
