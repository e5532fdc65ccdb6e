//! Compatibility path for a safety test that still says `mod safety_common;` (and uses
//! its helpers by their old names): they live in `tests/support/` now, which every other
//! harness test uses directly.

#![allow(dead_code, unused_imports)]

#[path = "../support/mod.rs"]
mod support;

pub use support::bin::{
    drdrill_aws as drdrill, journal_text, output_of, report_json as report, run_dir, signal, spawn_run, wait_exit,
    wait_journal,
};
pub use support::repo;
pub use support::scenario::*;
pub use support::stack::*;
pub use support::wait::wait_until;
