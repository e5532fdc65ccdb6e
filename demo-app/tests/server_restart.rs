//! The demo app across PostgreSQL server restarts and outages, driven through
//! `scripts/postgres.sh`: writes acknowledged before a restart read back after it, and
//! while the server is down nothing is acknowledged. These tests stop the shared test
//! server, so they run one at a time (a lock), in a test binary of their own (cargo runs
//! test binaries one after another).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{database_url_or_skip, env_file_value, repo, skip, wait_for, App, TestDb};
use tokio::sync::Mutex;

/// Held by a test while it stops or restarts the server.
static SERVER: Mutex<()> = Mutex::const_new(());

/// How long the server may take to come back and the app to see it.
const RECOVERY: Duration = Duration::from_secs(60);

/// Runs `scripts/postgres.sh <args>`; panics with its stderr when it fails.
fn postgres_sh(args: &[&str]) {
    let command = args.join(" ");
    let out = Command::new(repo("scripts/postgres.sh"))
        .args(args)
        .output()
        .expect("run scripts/postgres.sh");
    assert!(
        out.status.success(),
        "scripts/postgres.sh {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The URL of the server `scripts/postgres.sh` runs, or `None` after saying why the test
/// is skipped (no server, or one the script does not manage, which it cannot restart).
fn managed_server_or_skip(test: &str) -> Option<String> {
    let url = database_url_or_skip(test)?;
    if env_file_value("DRDRILL_TEST_DATABASE_URL").as_deref() != Some(url.as_str()) {
        skip(
            test,
            "DRDRILL_TEST_DATABASE_URL names a server scripts/postgres.sh does not manage, so it cannot be restarted",
        );
        return None;
    }
    Some(url)
}

/// Waits until the app's health check answers 200 again.
async fn wait_healthy(app: &App) {
    wait_for("the app is healthy again", RECOVERY, || async {
        let r = app.http.get(format!("{}/health", app.base)).send().await.ok()?;
        (r.status().as_u16() == 200).then_some(())
    })
    .await;
}

/// Twenty writes acknowledged before a restart of the server read back, with their bodies,
/// through the same app (whose pooled connections the restart closed) once it is healthy
/// again: after a clean (fast) shutdown, and after an immediate one, where the server
/// recovers from its WAL what it had committed (no checkpoint was written).
#[tokio::test]
async fn with_postgres_writes_read_back_after_server_restart() {
    let Some(url) = managed_server_or_skip("with_postgres_writes_read_back_after_server_restart") else {
        return;
    };
    let _server = SERVER.lock().await;
    let db = TestDb::new(&url).await;
    let app = App::start(db.config.clone(), Duration::from_secs(2)).await;
    for mode in ["fast", "immediate"] {
        let ids: Vec<String> = (0..20).map(|i| format!("{mode}-{i}")).collect();
        for id in &ids {
            assert_eq!(app.put(id, &format!("body of {id}")).await.0, 201, "write {id}");
        }

        tokio::task::spawn_blocking(move || postgres_sh(&["restart", mode]))
            .await
            .unwrap();
        wait_healthy(&app).await;

        for id in &ids {
            let (status, _, body) = app.get(&format!("/items/{id}")).await;
            assert_eq!(
                (status, body),
                (200, format!("body of {id}")),
                "read-back of {id} after a {mode} restart"
            );
        }
    }
    assert_eq!(app.put("after-restart", "x").await.0, 201);
}

/// With the server stopped, writes, reads and health answer 5xx within the timeout (no
/// hang, no acknowledgement); once the server is back, health turns 200, the earlier
/// write reads back, and the write attempted during the outage is not there.
#[tokio::test]
async fn with_postgres_stopped_server_acknowledges_nothing() {
    let Some(url) = managed_server_or_skip("with_postgres_stopped_server_acknowledges_nothing") else {
        return;
    };
    let _server = SERVER.lock().await;
    let db = TestDb::new(&url).await;
    let timeout = Duration::from_secs(1);
    let app = App::start(db.config.clone(), timeout).await;
    assert_eq!(app.put("kept", "kept body").await.0, 201);

    tokio::task::spawn_blocking(|| postgres_sh(&["server-stop"]))
        .await
        .unwrap();
    // Make sure the server is back even if an assertion below fails.
    struct Restart;
    impl Drop for Restart {
        fn drop(&mut self) {
            let _ = Command::new(repo("scripts/postgres.sh")).arg("server-start").status();
        }
    }
    let restart = Restart;

    let started = std::time::Instant::now();
    let (status, body) = app.put("during-outage", "must not be acknowledged").await;
    assert!(
        (500..600).contains(&status),
        "a write with the server down answered {status} {body}"
    );
    assert!(
        started.elapsed() < timeout + Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!((500..600).contains(&app.get("/items/kept").await.0));
    assert!((500..600).contains(&app.get("/health").await.0));

    drop(restart);
    wait_healthy(&app).await;
    let (status, _, body) = app.get("/items/kept").await;
    assert_eq!((status, body.as_str()), (200, "kept body"));
    assert_eq!(app.get("/items/during-outage").await.0, 404);
    let observer = db.client().await;
    assert_eq!(db.row(&observer, "during-outage").await, None);
}
