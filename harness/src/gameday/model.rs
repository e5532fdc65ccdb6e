//! The game-day plan file's types: a named list of scenario files run in order.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::DurationStr;

/// A game day: scenarios run one after the other, with one combined report.
///
/// Deserializing gives the file's content as written (scenario paths relative to the
/// plan file); `drdrill::gameday::load` also validates it and loads every scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "drdrill game-day plan")]
pub struct GamedayPlan {
    /// Name of the game day: lowercase letters, digits and `-`. Its presence is what
    /// marks a file as a game-day plan rather than a scenario.
    #[schemars(pattern(r"^[a-z0-9-]+$"), length(min = 1, max = 64))]
    pub gameday: String,
    /// What the game day drills, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Stop after the first scenario that does not pass (the rest are reported as not run).
    #[serde(default)]
    pub stop_on_first_failure: bool,
    /// The scenarios, run in this order (at least one).
    pub scenarios: Vec<PlanEntry>,
}

/// One scenario of a game day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanEntry {
    /// The scenario file, relative to the plan file's directory.
    pub path: PathBuf,
    /// How long to wait after this scenario before the next one starts (e.g. `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_after: Option<DurationStr>,
}
