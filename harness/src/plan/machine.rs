//! Whether this machine can drive a scenario's traffic on schedule: enough cores for the
//! rate, and room for the requests in flight while the target hangs: under the prober's
//! in-flight bound and within the file descriptors.

use super::PlanError;
use crate::scenario::Scenario;
use crate::traffic::{hanging_probes, MAX_HANGING_PROBES};

/// Most requests per second the prober is trusted to send per CPU core.
pub const MAX_RATE_PER_CORE: f64 = 2_500.0;
/// File descriptors kept free for everything but in-flight probes.
const RESERVED_FDS: u64 = 256;

/// The soft limit on open files of this process (`ulimit -n`), when it can be read.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Checks that this machine can drive the scenario's traffic: the rate is at most
/// [`MAX_RATE_PER_CORE`] per core, and the requests that are in flight when the target
/// hangs (rate × timeout; a black-holed subnet makes every probe wait for its timeout)
/// fit under [`MAX_HANGING_PROBES`] and in the open-files limit. Runs before anything is started.
pub fn check_machine(sc: &Scenario) -> Result<(), PlanError> {
    let rate = sc.traffic.rate.per_second();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_rate = MAX_RATE_PER_CORE * cores as f64;
    if rate > max_rate {
        return Err(PlanError::Machine(format!(
            "traffic.rate: {} is more than this machine can send on schedule ({cores} cores × {MAX_RATE_PER_CORE}/s = {max_rate}/s); lower the rate or use a bigger machine",
            sc.traffic.rate
        )));
    }
    let in_flight = hanging_probes(rate, sc.traffic.timeout.get());
    if in_flight > MAX_HANGING_PROBES {
        return Err(PlanError::Machine(format!(
            "traffic.rate × traffic.timeout: up to {in_flight} requests are in flight while the target hangs, more than the prober's bound of {MAX_HANGING_PROBES} (it keeps its memory bounded); lower the rate or the timeout"
        )));
    }
    let in_flight = in_flight as u64;
    if let Some(limit) = open_files_limit() {
        if in_flight + RESERVED_FDS > limit {
            return Err(PlanError::Machine(format!(
                "traffic.rate × traffic.timeout: up to {in_flight} requests are in flight while the target hangs, more than the open-files limit ({limit}, ulimit -n) allows with {RESERVED_FDS} kept free; lower the rate or the timeout, or raise the limit"
            )));
        }
    }
    Ok(())
}
