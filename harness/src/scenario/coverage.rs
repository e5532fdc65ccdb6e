//! The `backup_coverage` objective: `true`, or a block naming the plans and the region
//! the gate checks (see `crate::coverage`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `objectives.backup_coverage`: `true` checks every backup plan of the target's region;
/// the block form narrows it. `false` is the same as leaving it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BackupCoverage {
    /// `true`: every plan of the target's region.
    Enabled(bool),
    /// The block form.
    Options(CoverageOptions),
}

/// Which plans the gate checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoverageOptions {
    /// Plans to check, by name or id (default: every plan of the region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub plans: Option<Vec<String>>,
    /// The region whose plans are checked (default: the target's region). Copy actions
    /// are checked in their destination vault's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl BackupCoverage {
    /// Whether the gate is asked for.
    pub fn enabled(&self) -> bool {
        !matches!(self, BackupCoverage::Enabled(false))
    }

    /// The plans named, if any.
    pub fn plans(&self) -> Option<&[String]> {
        match self {
            BackupCoverage::Options(o) => o.plans.as_deref(),
            BackupCoverage::Enabled(_) => None,
        }
    }

    /// The region named, if any.
    pub fn region(&self) -> Option<&str> {
        match self {
            BackupCoverage::Options(o) => o.region.as_deref(),
            BackupCoverage::Enabled(_) => None,
        }
    }
}
