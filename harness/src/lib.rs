//! drdrill: a disaster-recovery drill harness.
//!
//! Data flows one way: scenario → plan → run (fault + traffic + observers → events) →
//! analysis → report.

pub mod analysis;
pub mod aws;
pub mod blast;
pub mod cleanup;
pub mod coverage;
pub mod exit_codes;
pub mod fault;
pub mod gameday;
pub mod journal;
pub mod observe;
pub mod plan;
pub mod preview;
pub mod progress;
pub mod report;
pub mod run;
pub mod scenario;
pub mod status;
pub mod switch;
pub mod target;
pub mod traffic;
pub mod verdict;
