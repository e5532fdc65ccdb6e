//! What the FIS engine answers: snapshots of templates, experiments and their actions as
//! domain values. [`crate::api::fis`] renders them as FIS's restJson1 documents.

use std::collections::BTreeMap;

use super::resolve::Resource;
use super::template::TemplateInput;

/// An experiment template: the input it was created from, its id, ARN and times (epoch
/// seconds with millisecond fractions, as FIS's restJson1 timestamps).
#[derive(Debug, Clone)]
pub struct TemplateView {
    /// `EXT…` id.
    pub id: String,
    /// `arn:aws:fis:<region>:<account>:experiment-template/<id>`.
    pub arn: String,
    /// The template as created (its tags updated by TagResource and UntagResource).
    pub input: TemplateInput,
    /// When it was created.
    pub created: f64,
    /// When it was last updated.
    pub updated: f64,
}

/// The state of an experiment or of one of its actions: FIS's status name
/// (`initiating`, `running`, `completed`, …) and the reason FIS gives, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    /// The status name, as FIS spells it.
    pub status: &'static str,
    /// Why it is in that state.
    pub reason: Option<String>,
}

/// One action of an experiment as it runs.
#[derive(Debug, Clone)]
pub struct ActionView {
    /// Its state.
    pub state: RunState,
    /// When its effect began (epoch seconds).
    pub start: Option<f64>,
    /// When its effect was reverted or it ended (epoch seconds).
    pub end: Option<f64>,
}

/// An experiment: the template input it runs, its state, and each action's state.
#[derive(Debug, Clone)]
pub struct ExperimentView {
    /// `EXP…` id.
    pub id: String,
    /// `arn:aws:fis:<region>:<account>:experiment/<id>`.
    pub arn: String,
    /// The template it was started from.
    pub template_id: String,
    /// The template's input at start.
    pub input: TemplateInput,
    /// The experiment's state.
    pub state: RunState,
    /// Each action's run, by the action's name in the template.
    pub actions: BTreeMap<String, ActionView>,
    /// When it was created (epoch seconds).
    pub created: f64,
    /// When it started.
    pub start: Option<f64>,
    /// When it ended.
    pub end: Option<f64>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// A resource an experiment's target resolved to, with the target's name.
#[derive(Debug, Clone)]
pub struct ResolvedTarget {
    /// The target's name in the template.
    pub target_name: String,
    /// The resource.
    pub resource: Resource,
}
