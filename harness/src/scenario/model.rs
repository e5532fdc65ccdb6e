//! The scenario file's top-level type and its small sections.
//!
//! Every duration is a [`DurationStr`] (dereferences to `std::time::Duration`, or call
//! `.get()`); the traffic rate is a [`Rate`](super::Rate) (`per_second()`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::coverage::BackupCoverage;
use super::dns::Route53App;
use super::duration::DurationStr;
use super::fault::Fault;
use super::observers::ObserverCadence;
use super::probe::ProbeContract;
use super::target::Target;
use super::traffic::Traffic;

/// One drill: what to hit, how to probe it, what fault to inject and what must hold.
///
/// Deserializing gives the file's content as written (paths relative to the file);
/// `drdrill::scenario::load` also validates it and resolves paths and the fault template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "drdrill scenario")]
pub struct Scenario {
    /// Scenario name: lowercase letters, digits and `-`.
    #[schemars(pattern(r"^[a-z0-9-]+$"), length(min = 1, max = 64))]
    pub name: String,
    /// What the drill proves, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the drill runs.
    pub target: Target,
    /// How to reach the application.
    pub app: App,
    /// The requests the prober sends.
    pub probe: ProbeContract,
    /// The synthetic traffic.
    pub traffic: Traffic,
    /// The fault to inject.
    pub fault: Fault,
    /// What "healthy" means.
    pub steady_state: SteadyState,
    /// The promises the drill checks (at least one).
    pub objectives: Objectives,
    /// When to abort the drill early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<Guardrails>,
    /// Caps on what the fault may hit; a run that would exceed one is refused before
    /// anything is injected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<BlastRadius>,
    /// How often the observers call AWS (the API budget); defaults by target kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observers: Option<ObserverCadence>,
    /// The dead man's switch that ends the fault if the harness stops being alive; on
    /// with its defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_man_switch: Option<DeadManSwitch>,
    /// How long each phase may take.
    pub timings: Timings,
}

/// How the prober reaches the application: through the load balancer's own DNS name, or
/// (with `route53`) through a Route 53 name resolved by a given DNS server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Name of the ELBv2 load balancer; its DNS name is looked up at plan time. With
    /// `route53` it still gives the default port and the targets whose health is observed.
    pub load_balancer: String,
    /// URL scheme used to talk to the load balancer.
    #[serde(default)]
    pub scheme: Scheme,
    /// Reach the app by this Route 53 name instead (`http://<name>:<port>`); its DNS
    /// answers and the health checks of its records are observed during the drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route53: Option<Route53App>,
}

/// URL scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `http` (the default).
    #[default]
    Http,
    /// `https`.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// What "healthy" means, per window of `timings.stable_for`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SteadyState {
    /// Minimum share of successful probes, in `(0, 1]`.
    #[schemars(extend("exclusiveMinimum" = 0, "maximum" = 1))]
    pub success_ratio: f64,
    /// Maximum p99 latency, if latency is part of health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<DurationStr>,
}

/// The drill's objectives; each one present gets a pass/fail verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct Objectives {
    /// Maximum measured recovery time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<DurationStr>,
    /// Maximum measured data-loss window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo: Option<DurationStr>,
    /// Maximum number of acknowledged writes that may be lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_writes: Option<u64>,
    /// Minimum share of successful probes while the fault runs, in `0..=1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub availability_during_fault: Option<f64>,
    /// Maximum p99 latency while the fault runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_during_fault: Option<DurationStr>,
    /// The backup coverage gate: every resource an AWS Backup plan's selections cover has
    /// a recent enough recovery point, its cross-region copies, and the plan's retention
    /// (`true`, or `{ plans, region }`); checked by `drdrill plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_coverage: Option<BackupCoverage>,
}

impl Objectives {
    /// Whether no objective is set.
    pub fn is_empty(&self) -> bool {
        self.rto.is_none()
            && self.rpo.is_none()
            && self.lost_writes.is_none()
            && self.availability_during_fault.is_none()
            && self.p99_during_fault.is_none()
            && self.backup_coverage.as_ref().is_none_or(|c| !c.enabled())
    }
}

/// Abort the drill (and stop the experiment) when things are worse than expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Abort when the success ratio stays below this, in `(0, 1]` ...
    #[schemars(extend("exclusiveMinimum" = 0, "maximum" = 1))]
    pub abort_when_success_below: f64,
    /// ... for this long.
    #[serde(rename = "for")]
    pub for_duration: DurationStr,
}

/// The dead man's switch: while the drill runs, the harness publishes a heartbeat metric
/// (CloudWatch `PutMetricData`) every `heartbeat_every`, and a CloudWatch alarm on it —
/// missing data treated as breaching — is a stop condition of the experiment. If the
/// harness dies, hangs or loses its network, the heartbeats stop, the alarm fires after
/// `fires_after` of silence, and FIS stops the experiment by itself: the fault ends
/// within `fires_after` + `heartbeat_every` (CloudWatch evaluates the alarm once per
/// period) without anyone running `drdrill cleanup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadManSwitch {
    /// On unless set to `false` (explicitly: a drill must say it runs without one).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How often the heartbeat is published, which is also the alarm's period: whole
    /// seconds; on AWS 10 s, 20 s, 30 s or a multiple of 60 s (default 10 s).
    #[serde(default = "default_heartbeat_every")]
    pub heartbeat_every: DurationStr,
    /// How long a silence fires the alarm: a whole number of periods, at least two
    /// (default 30 s).
    #[serde(default = "default_fires_after")]
    pub fires_after: DurationStr,
}

impl Default for DeadManSwitch {
    fn default() -> Self {
        DeadManSwitch {
            enabled: true,
            heartbeat_every: default_heartbeat_every(),
            fires_after: default_fires_after(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_heartbeat_every() -> DurationStr {
    DurationStr::new(std::time::Duration::from_secs(10))
}

fn default_fires_after() -> DurationStr {
    DurationStr::new(std::time::Duration::from_secs(30))
}

/// Caps on the resources each FIS action may hit, checked against the resolved plan
/// before anything is injected (and again right before the experiment starts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct BlastRadius {
    /// Most resources any one action may hit (after its selection mode); at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_targets: Option<u64>,
    /// Largest share, in percent (1 to 100), of the load balancer's registered targets
    /// that any one action may take out: instances it stops or terminates, or targets in
    /// the availability zones of the subnets it disrupts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_percent: Option<u32>,
    /// The only availability zones whose resources (instances, subnets) may be hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub allowed_azs: Option<Vec<String>>,
}

/// How long each phase takes or may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    /// Length of the pre-fault baseline in which the steady state must hold.
    pub baseline: DurationStr,
    /// Window length for steady-state checks and for `t_recover`; above 0.
    pub stable_for: DurationStr,
    /// The experiment is stopped if it runs longer than this; above 0.
    pub max_fault_duration: DurationStr,
    /// How long to wait for the steady state to come back; at least `stable_for`.
    pub recovery_timeout: DurationStr,
    /// How long read-back of acknowledged writes is retried before a write counts as lost.
    pub verification_grace: DurationStr,
}
