//! Credentials and signed headers never reach drdrill's output: a run against an
//! `aws:` target with a recognisable secret key, at the default and at the most verbose
//! log level, is searched everywhere it writes (stdout, stderr, every file of the run
//! folder) for the secret, the access key id and SigV4 signatures.

mod support;

use std::path::Path;
use std::time::Duration;

use support::bin::*;
use support::scenario::*;
use support::stack::*;

const SECRET: &str = "drdrillTESTsecretKEY0123456789abcdefSECRET";
const ACCESS_KEY: &str = "AKIADRDRILLTESTKEY42";

/// A short drill (one AZ black-holed for a second).
fn scenario() -> String {
    Drill::quick("secrets", "secret test", "short-partition.json", "1m").yaml()
}

/// Every file under `dir`, as (path, bytes).
fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

/// Runs the drill with a recognisable secret key, once with the default log level and
/// once with `RUST_LOG=trace`, and finds neither the secret, nor the access key id, nor
/// any SigV4 `Authorization` header or signature in stdout, stderr or any file the run
/// wrote; `drdrill cleanup` and `plan` are searched the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&fast_stack(dir.path())).await;
    let template = repo_template("az-long-partition.json").replace("PT10M", "PT1S");
    let file = write_scenario(
        dir.path(),
        &scenario(),
        &aws_target(&ls.endpoint_url(), "000000000000"),
        &[("short-partition.json", &template)],
    );
    for (n, log) in ["warn", "trace"].iter().enumerate() {
        let out = dir.path().join(format!("out-{n}"));
        let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
        let mut run = drdrill_aws();
        run.arg("run")
            .arg(&file)
            .args(["--yes", "--out"])
            .arg(&out)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("RUST_LOG", log);
        let o = run.output().unwrap();
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        outputs.push((format!("run stdout ({log})"), o.stdout));
        outputs.push((format!("run stderr ({log})"), o.stderr));
        for cmd in ["plan", "cleanup"] {
            let o = drdrill_aws()
                .arg(cmd)
                .arg(&file)
                .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", SECRET)
                .env("RUST_LOG", log)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{cmd}");
            outputs.push((format!("{cmd} stdout ({log})"), o.stdout));
            outputs.push((format!("{cmd} stderr ({log})"), o.stderr));
        }
        files(&out, &mut outputs);
        assert!(outputs.len() > 6, "the run wrote files");
        for (name, bytes) in &outputs {
            let text = String::from_utf8_lossy(bytes);
            for needle in [SECRET, ACCESS_KEY, "AWS4-HMAC-SHA256", "Signature="] {
                assert!(!text.contains(needle), "{needle:?} appears in {name}");
            }
        }
    }
    assert_no_fault_in_effect(&ls, "secrets", Duration::from_secs(30)).await;
    ls.shutdown().await;
}
