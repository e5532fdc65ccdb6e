//! Game days: a plan file (`gameday: NAME`, a list of scenario files with optional pauses,
//! `stop_on_first_failure`) that `drdrill run` runs scenario after scenario, writing each
//! scenario's own run folder and one combined folder with the comparison table
//! ([`crate::report::gameday`]). The game day's exit code is the worst of its scenarios'
//! (pass < fail < error < aborted), and aborted when a signal leaves scenarios unrun.

mod load;
mod model;
mod run;

pub use load::{
    is_gameday_file, is_gameday_text, load, load_drill_file, load_str, parse_str, DrillFile, DrillFileError,
    GamedayError, LoadedGameday, PlannedScenario, MAX_PAUSE,
};
pub use model::{GamedayPlan, PlanEntry};
pub use run::{run, severity, summary_text, GamedayOutcome, GamedayRunError};

/// The JSON Schema (draft 2020-12) that game-day plans follow; `drdrill schema --gameday`
/// prints it.
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(GamedayPlan).to_value()
}
