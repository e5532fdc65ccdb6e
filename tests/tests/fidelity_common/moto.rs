//! moto (`moto_server`, from PyPI's `moto[server]`) as a child process on loopback: the
//! AWS implementation the fidelity tests compare the local stack with.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest wait for moto to say where it listens (it takes about a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The variable `scripts/test.sh` sets to `require` once `moto_server` is installed.
pub const REQUIRE_VAR: &str = "DRDRILL_MOTO_TESTS";

/// A running `moto_server` on 127.0.0.1, killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its last lines of output (for failure messages).
    log: Arc<Mutex<Vec<String>>>,
}

impl Moto {
    /// Starts moto on a port the kernel picks (`-p 0`; moto prints the port it got), or
    /// says why the test is skipped (`None`): `moto_server` is not on PATH. With
    /// `DRDRILL_MOTO_TESTS=require` a missing moto is a failure.
    pub fn start(test: &str) -> Option<Moto> {
        let spawned = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let reason =
                    "moto_server is not on PATH (scripts/install-test-deps.sh installs moto[server] from PyPI)";
                if std::env::var(REQUIRE_VAR).as_deref() == Ok("require") {
                    panic!("{test}: {REQUIRE_VAR}=require but {reason}");
                }
                // Straight to the stream: libtest captures print macros of passing tests.
                let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
                return None;
            }
            Err(e) => panic!("{test}: moto_server did not start: {e}"),
        };
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let keep = log.clone();
        // Reads moto's output to its end (it logs every request: the pipe must not fill),
        // reporting the port from its "Running on http://127.0.0.1:PORT" line.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split("Running on http://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.trim().parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
                let mut kept = keep.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if kept.len() >= 50 {
                    kept.remove(0);
                }
                kept.push(line);
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => Some(Moto {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let lines = log.lock().map(|l| l.join("\n")).unwrap_or_default();
                panic!("{test}: moto_server did not report its port within {START_TIMEOUT:?}; its output:\n{lines}");
            }
        }
    }

    /// moto's last lines of output.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
