//! What the harness's integration tests share, one module for all of them (each test
//! file says `mod support;` and uses the parts it needs):
//!
//! - [`wait`]: the one bounded wait on a condition;
//! - [`bin`]: the one way to start the `drdrill` binary, and reading back what a run
//!   left in its folder;
//! - [`scenario`]: scenario files for drills against a local stack ([`scenario::Drill`]
//!   writes the scenario the safety tests run) and their FIS templates;
//! - [`stack`]: an in-process local stack reached as an `aws:` target, the ground-truth
//!   checks that nothing a drill did is still in effect, and a proxy that cuts it off;
//! - [`fixtures`]: the recorded run folders the report tests render;
//! - [`traffic`]: a small HTTP server for the traffic tests.

#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;

pub mod bin;
pub mod fixtures;
pub mod scenario;
pub mod stack;
pub mod traffic;
pub mod wait;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
