//! Whether this machine can drive a scenario's traffic on schedule: enough cores for the
//! rate, and room for the requests in flight while the target hangs: under the prober's
//! in-flight bound and within the file descriptors.

use super::PlanError;
use crate::scenario::Scenario;
use crate::traffic::{hanging_probes, MAX_HANGING_PROBES};

/// Most requests per second the prober is trusted to send per CPU core.
pub const MAX_RATE_PER_CORE: f64 = 2_500.0;
/// Most requests per second the prober is trusted to send at all, whatever the cores: it
/// runs on one thread. `bench/run` saw it hold 15k/s on one core of a 2-core machine
/// that also ran the server, and fall behind from 17.5k/s (`bench/README.md`).
pub const MAX_PROBER_RATE: f64 = 10_000.0;
/// File descriptors kept free for everything but in-flight probes.
const RESERVED_FDS: u64 = 256;

/// The soft limit on open files of this process (`ulimit -n`), when it can be read.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Checks that `rate` (written `shown` in the scenario) is at most [`MAX_RATE_PER_CORE`]
/// per core of `cores`, and at most [`MAX_PROBER_RATE`].
fn check_rate(rate: f64, shown: &str, cores: usize) -> Result<(), PlanError> {
    let per_cores = MAX_RATE_PER_CORE * cores as f64;
    if rate > per_cores {
        return Err(PlanError::Machine(format!(
            "traffic.rate: {shown} is more than this machine can send on schedule ({cores} cores × {MAX_RATE_PER_CORE}/s = {per_cores}/s); lower the rate or use a bigger machine"
        )));
    }
    if rate > MAX_PROBER_RATE {
        return Err(PlanError::Machine(format!(
            "traffic.rate: {shown} is more than the prober sends on schedule on its one thread ({MAX_PROBER_RATE}/s, whatever the {cores} cores); lower the rate"
        )));
    }
    Ok(())
}

/// Checks that this machine can drive the scenario's traffic: the rate is at most
/// [`MAX_RATE_PER_CORE`] per core and at most [`MAX_PROBER_RATE`], and the requests that
/// are in flight when the target hangs (rate × timeout; a black-holed subnet makes every
/// probe wait for its timeout) fit under [`MAX_HANGING_PROBES`] and in the open-files
/// limit. Runs before anything is started.
pub fn check_machine(sc: &Scenario) -> Result<(), PlanError> {
    let rate = sc.traffic.rate.per_second();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    check_rate(rate, &sc.traffic.rate.to_string(), cores)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(rate: f64, cores: usize) -> Option<String> {
        check_rate(rate, &format!("{rate}/s"), cores)
            .err()
            .map(|e| e.to_string())
    }

    /// Up to 2500/s per core, and never beyond the one thread's 10 000/s however many
    /// cores: each refusal names its limit.
    #[test]
    fn the_rate_is_bounded_per_core_and_by_the_prober_thread() {
        assert_eq!(refusal(5_000.0, 2), None);
        let per_core = refusal(5_001.0, 2).expect("refused on 2 cores");
        assert!(
            per_core.contains("2 cores") && per_core.contains("5000/s"),
            "{per_core}"
        );
        assert_eq!(refusal(MAX_PROBER_RATE, 16), None);
        let thread = refusal(MAX_PROBER_RATE + 1.0, 16).expect("refused on 16 cores");
        assert!(thread.contains("one thread") && thread.contains("10000/s"), "{thread}");
    }
}
