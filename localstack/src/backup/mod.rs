//! AWS Backup as the local stack serves it.
//!
//! [`schedule`]: AWS Backup's `cron(...)` schedule expressions, shared with the harness.

pub mod schedule;
