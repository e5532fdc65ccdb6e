//! drdrill: a disaster-recovery drill harness.
//!
//! Data flows one way: scenario → plan → run (fault + traffic + observers → events) →
//! analysis → report.

pub mod scenario;
pub mod traffic;
