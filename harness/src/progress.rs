//! Live progress on the terminal: one self-updating line on a TTY, plain lines
//! (one per second at most) otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Prints progress to stderr.
pub struct Progress {
    tty: bool,
    quiet: bool,
    last: Option<Instant>,
    started: Instant,
}

impl Progress {
    /// Progress that detects whether stderr is a terminal.
    pub fn new(quiet: bool) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            quiet,
            last: None,
            started: Instant::now(),
        }
    }

    /// A message that always gets its own line.
    pub fn line(&mut self, msg: &str) {
        if self.quiet {
            return;
        }
        if self.tty && self.last.is_some() {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{msg}");
        self.last = None;
    }

    /// A status update (`phase`, success ratio of the last second); rate-limited.
    pub fn status(&mut self, phase: &str, success_ratio: Option<f64>, detail: &str) {
        if self.quiet {
            return;
        }
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(1)
        };
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let ratio = success_ratio.map_or("   -  ".to_string(), |r| format!("{:5.1}%", r * 100.0));
        let text = format!(
            "[{:6.1}s] {phase:<9} success {ratio} {detail}",
            self.started.elapsed().as_secs_f64()
        );
        if self.tty {
            eprint!("\r\x1b[2K{text}");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{text}");
        }
    }

    /// Ends a self-updating line.
    pub fn finish(&mut self) {
        if self.tty && self.last.is_some() && !self.quiet {
            eprintln!();
        }
        self.last = None;
    }
}
