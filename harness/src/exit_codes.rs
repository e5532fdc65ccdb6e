//! The process exit codes of `drdrill`: their values, what each means (the `--help`
//! texts print these), and their order of severity (with several scenarios, the worst
//! code is the invocation's).

/// Exit code: every objective met (`report`: done).
pub const EXIT_PASS: i32 = 0;
/// Exit code: an objective was missed (`report`: a regression, or files that differ
/// from the manifest).
pub const EXIT_FAIL: i32 = 1;
/// Exit code: the run could not be carried out (bad input, unreachable target,
/// preflight), or a command failed.
pub const EXIT_ERROR: i32 = 2;
/// Exit code: aborted by a guardrail or a signal (the experiment was stopped).
pub const EXIT_ABORTED: i32 = 3;

/// The codes from least to most severe.
pub const BY_SEVERITY: [i32; 4] = [EXIT_PASS, EXIT_FAIL, EXIT_ERROR, EXIT_ABORTED];

/// The exit codes of `drdrill run` (and the top-level help), as `--help` prints them.
pub const RUN_HELP: &str = "\
Exit codes:
  0  every objective was met
  1  an objective was missed
  2  the run could not be carried out (bad input, unreachable target, failed preflight)
  3  aborted by a guardrail or a signal (the experiment was stopped)
With several files, or a game-day plan, the worst of the scenarios' codes
(0 < 1 < 2 < 3); a signal that leaves scenarios unrun makes it 3.";

/// The exit codes of `drdrill report`, as `--help` prints them.
pub const REPORT_HELP: &str = "\
Exit codes:
  0  done
  1  --history: the latest run of a scenario is a regression
  2  a run folder, report.json or history.jsonl could not be read, or a file not written";

/// How bad an exit code is, per [`BY_SEVERITY`] (0 < 1 < 2 < 3); an unknown code counts
/// as the worst.
pub fn severity(code: i32) -> u8 {
    BY_SEVERITY
        .iter()
        .position(|c| *c == code)
        .map_or(BY_SEVERITY.len() as u8 - 1, |i| i as u8)
}

/// The worse of two exit codes.
pub fn worst(a: i32, b: i32) -> i32 {
    if severity(b) > severity(a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented order: pass < fail < error < aborted, unknown codes worst.
    #[test]
    fn severity_follows_the_documented_order() {
        assert!(severity(EXIT_PASS) < severity(EXIT_FAIL));
        assert!(severity(EXIT_FAIL) < severity(EXIT_ERROR));
        assert!(severity(EXIT_ERROR) < severity(EXIT_ABORTED));
        assert_eq!(severity(42), severity(EXIT_ABORTED));
        assert_eq!(worst(EXIT_FAIL, EXIT_PASS), EXIT_FAIL);
        assert_eq!(worst(EXIT_ERROR, EXIT_ABORTED), EXIT_ABORTED);
    }

    /// The help text lists every code in order, one line each.
    #[test]
    fn run_help_lists_every_code_in_order() {
        let listed: Vec<i32> = RUN_HELP
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(listed, BY_SEVERITY);
    }
}
