//! Scenario files: types, parsing, validation, and their JSON Schema.
//!
//! A scenario is a YAML file (see `docs/design.md`, "Data flow") naming the target, the app,
//! the probe contract, the traffic, the fault (an AWS FIS template), the steady state, the
//! objectives, guardrails, the blast radius and timings. [`load`] reads one, rejects unknown keys and bad
//! values with messages of the form `file:line:column: key.path: what is wrong`, resolves
//! relative paths against the file's directory, and fills and checks the FIS template.
//!
//! Durations are [`DurationStr`] (dereferences to `std::time::Duration`; `.get()` copies
//! it out); the traffic rate is a [`Rate`] (`per_second()`).

mod coverage;
mod dns;
mod duration;
mod error;
mod fault;
pub mod fis_template;
mod load;
pub(crate) mod locate;
mod model;
mod observers;
mod params;
mod probe;
mod rate;
pub mod restore;
mod schema;
mod target;
mod traffic;
mod validate;

pub use coverage::{BackupCoverage, CoverageOptions};
pub use dns::{name_problem as dns_name_problem, ResolverParseError, ResolverSpec, Route53App};
pub use duration::{DurationParseError, DurationStr};
pub(crate) use error::key_prefix;
pub use error::{FilePosition, ScenarioError};
pub use fault::{Fault, FaultSource, ResolvedFault};
pub use load::{load, load_str, LoadedScenario, MAX_FILE_BYTES};
pub use locate::LineColumn;
pub use model::{App, BlastRadius, DeadManSwitch, Guardrails, Objectives, Scenario, Scheme, SteadyState, Timings};
pub use observers::{Cadence, ObserverCadence, MIN_CADENCE};
pub use probe::{HealthProbe, ProbeContract, RenderedRequest, RequestTemplate};
pub use rate::{Rate, RateParseError, RateUnit};
pub use restore::{Restore, RestoreStart};
pub use schema::json_schema;
pub use target::{AwsTarget, Target};
pub use traffic::{ConnectionPolicy, Traffic};
pub use validate::{validate, Violation, MAX_NAME_LEN, MAX_RATE_PER_SECOND, MAX_TIMEOUT};
