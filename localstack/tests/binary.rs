//! The `drdrill-localstack` binary: it serves the stack on the port it reports, answers
//! the health endpoint like LocalStack, and shuts down cleanly on SIGINT and SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn start() -> (std::process::Child, String, impl Sized) {
    let stack = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/multi-az.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_drdrill-localstack"))
        .args(["--stack", stack, "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    let url = first.strip_prefix("endpoint ").expect("endpoint line").to_string();
    (child, url, lines)
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "did not exit after the signal");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// GETs `url` and parses its body as JSON.
async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url)
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap()
}

/// The binary answers `/_localstack/health` on loopback and exits 0 on SIGINT and SIGTERM.
#[tokio::test]
async fn serves_health_and_stops_on_signals() {
    for signal in ["-INT", "-TERM"] {
        let (mut child, url, _stdout) = start();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let health = get_json(&format!("{url}/_localstack/health")).await;
        assert_eq!(health["services"]["fis"], "running");
        let truth = get_json(&format!("{url}/_drdrill/events")).await;
        assert!(truth["events"].as_array().is_some());
        assert!(Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let status = wait_exit(&mut child);
        assert_eq!(status.code(), Some(0), "exit after {signal}");
    }
}

/// A bad stack file is refused with a message naming the key, and a non-zero exit.
#[test]
fn bad_stack_file_is_refused() {
    let dir = std::env::temp_dir().join(format!("drdrill-bad-stack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/multi-az.yaml"))
        .unwrap()
        .replacen(
            "zones: [us-east-1a, us-east-1b, us-east-1c]",
            "zones: [us-east-1a, us-east-1b]",
            1,
        );
    let path = dir.join("bad.yaml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_drdrill-localstack"))
        .args(["--stack", path.to_str().unwrap(), "--port", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("bad.yaml") && stderr.contains("zones"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
