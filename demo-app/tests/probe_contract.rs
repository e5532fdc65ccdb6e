//! The demo app against a real PostgreSQL server: the probe contract round trip, a write
//! acknowledged only once committed, a write the database refuses never acknowledged,
//! and the binary configured from its environment. Each test works in a schema of its
//! own (see `common`), so these tests run in parallel.

mod common;

use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use common::{database_url_or_skip, wait_for, App, TestDb, SERVED_BY};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Health answers 200; a write answers 201 and reads back with its body; an unknown id
/// answers 404; a second write replaces the body; unknown routes and ids answer 404 and
/// other methods 405; every answer names the instance in `served-by`.
#[tokio::test]
async fn with_postgres_probe_contract_round_trip() {
    let Some(url) = database_url_or_skip("with_postgres_probe_contract_round_trip") else {
        return;
    };
    let db = TestDb::new(&url).await;
    let app = App::start(db.config.clone(), Duration::from_secs(2)).await;

    let (status, served_by, body) = app.get("/health").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(served_by.as_deref(), Some(SERVED_BY));

    assert_eq!(app.put("w-1", "drdrill write w-1").await.0, 201);
    let (status, served_by, body) = app.get("/items/w-1").await;
    assert_eq!((status, body.as_str()), (200, "drdrill write w-1"));
    assert_eq!(served_by.as_deref(), Some(SERVED_BY));

    let (status, served_by, _) = app.get("/items/never-written").await;
    assert_eq!(status, 404);
    assert_eq!(served_by.as_deref(), Some(SERVED_BY), "a 404 names the instance too");

    assert_eq!(app.put("w-1", "second body").await.0, 201);
    assert_eq!(app.get("/items/w-1").await.2, "second body");

    // POST writes like PUT (the local stack's instances accept both).
    let r = app
        .http
        .post(format!("{}/items/w-2", app.base))
        .body("posted")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(app.get("/items/w-2").await.2, "posted");

    assert_eq!(app.get("/nowhere").await.0, 404);
    assert_eq!(app.get("/items/bad%20id").await.0, 404);
    let r = app.http.delete(format!("{}/items/w-1", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(
        r.headers().get("served-by").and_then(|v| v.to_str().ok()),
        Some(SERVED_BY)
    );
    // Bodies over 64 KiB are refused, not stored.
    assert_eq!(app.put("big", &"x".repeat(64 * 1024 + 1)).await.0, 413);
    assert_eq!(app.get("/items/big").await.0, 404);
}

/// Every acknowledged write is visible, with its body, to a separate connection the
/// moment the 201 arrives: the app answers only after `COMMIT` returned, never before.
/// Writes are sent eight at a time so that pooled connections interleave.
#[tokio::test]
async fn with_postgres_acknowledged_write_is_committed() {
    let Some(url) = database_url_or_skip("with_postgres_acknowledged_write_is_committed") else {
        return;
    };
    let db = TestDb::new(&url).await;
    // The app's sessions carry a name of their own, so that the check below sees them and
    // not the sessions of apps other tests run at the same time.
    let name = format!("demo-app-{}", db.schema);
    let mut config = db.config.clone();
    config.application_name(&name);
    let app = App::start(config, Duration::from_secs(2)).await;
    assert_eq!(app.get("/health").await.0, 200);
    let observer = db.client().await;

    for round in 0..10 {
        let ids: Vec<String> = (0..8).map(|i| format!("c-{round}-{i}")).collect();
        let writes = ids.iter().map(|id| app.put(id, id));
        for (id, (status, _)) in ids.iter().zip(futures::future::join_all(writes).await) {
            assert_eq!(status, 201, "write {id}");
            assert_eq!(
                db.row(&observer, id).await.as_deref(),
                Some(id.as_str()),
                "write {id} was acknowledged but another connection cannot see it"
            );
        }
    }
    // Nothing is left open in the app's sessions (which are there, under their name): no
    // transaction idles uncommitted.
    let sessions: i64 = observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(sessions > 0, "the app's sessions are not visible as {name}");
    let open: i64 = observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
             AND state LIKE 'idle in transaction%'",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 0, "a session of the app idles inside a transaction");
}

/// While another session holds an exclusive lock on the table, a write answers 5xx
/// within the app's database timeout and leaves nothing behind once the lock is gone (its
/// transaction was rolled back, not left to commit later); a read answers 5xx too; health
/// (which does not touch the table) stays 200. After the lock, writes succeed again.
#[tokio::test]
async fn with_postgres_refused_write_is_not_acknowledged() {
    let Some(url) = database_url_or_skip("with_postgres_refused_write_is_not_acknowledged") else {
        return;
    };
    let db = TestDb::new(&url).await;
    let timeout = Duration::from_millis(700);
    let app = App::start(db.config.clone(), timeout).await;
    assert_eq!(app.put("before", "before").await.0, 201, "creates the table");

    let mut locker = db.client().await;
    let tx = locker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let started = Instant::now();
    let (status, body) = app.put("during-lock", "must not be stored").await;
    assert!(
        (500..600).contains(&status),
        "a write against a locked table answered {status} {body}"
    );
    assert!(
        started.elapsed() < timeout + Duration::from_secs(2),
        "the refused write took {:?}",
        started.elapsed()
    );
    assert!((500..600).contains(&app.get("/items/before").await.0));
    assert_eq!(app.get("/health").await.0, 200);

    tx.rollback().await.unwrap();
    let observer = db.client().await;
    assert_eq!(
        db.row(&observer, "during-lock").await,
        None,
        "the refused write was stored"
    );
    wait_for("writes succeed after the lock", Duration::from_secs(10), || async {
        (app.put("after", "after").await.0 == 201).then_some(())
    })
    .await;
    assert_eq!(db.row(&observer, "after").await.as_deref(), Some("after"));
    assert_eq!(app.get("/items/during-lock").await.0, 404);
}

/// Starts the binary with `env` (and `--listen 127.0.0.1:0`); returns it and the base URL
/// it prints.
async fn spawn_binary(env: &[(&str, String)]) -> (tokio::process::Child, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_drdrill-demo-app"));
    cmd.args(["--listen", "127.0.0.1:0"]);
    for var in ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start drdrill-demo-app");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the binary prints its address within 20 s")
        .unwrap()
        .expect("a line on stdout");
    let base = line
        .strip_prefix("drdrill-demo-app listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, base)
}

/// A write through the binary at `base` answers 201 naming `served_by`, and reads back.
async fn binary_round_trip(base: &str, id: &str, served_by: &str) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http
        .put(format!("{base}/items/{id}"))
        .body("from the binary")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(
        r.headers().get("served-by").and_then(|v| v.to_str().ok()),
        Some(served_by)
    );
    let r = http.get(format!("{base}/items/{id}")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "from the binary");
}

/// The binary takes its database from `DATABASE_URL`, its address from `--listen` (port
/// 0: it prints the bound address) and `served-by` from `DRDRILL_SERVED_BY`, and serves
/// the round trip; the write lands in the database.
#[tokio::test]
async fn with_postgres_binary_serves_from_its_environment() {
    let Some(url) = database_url_or_skip("with_postgres_binary_serves_from_its_environment") else {
        return;
    };
    let db = TestDb::new(&url).await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}options=-c%20search_path%3D{}", db.schema);
    let (mut child, base) = spawn_binary(&[
        ("DATABASE_URL", url),
        ("DRDRILL_SERVED_BY", "i-bin/az-b/region-b".into()),
    ])
    .await;
    binary_round_trip(&base, "bin-1", "i-bin/az-b/region-b").await;
    let observer = db.client().await;
    assert_eq!(db.row(&observer, "bin-1").await.as_deref(), Some("from the binary"));
    child.kill().await.unwrap();
}

/// Configured as the reference AWS stack's user data configures it (PGHOST, PGPORT,
/// PGDATABASE, PGUSER, the password in a file as a systemd credential, the instance/AZ/
/// region parts of `served-by`), the binary serves the round trip; with a wrong password
/// in the file it still starts but health answers 503.
#[tokio::test]
async fn with_postgres_binary_configured_like_the_reference_stack() {
    let Some(url) = database_url_or_skip("with_postgres_binary_configured_like_the_reference_stack") else {
        return;
    };
    let parsed = tokio_postgres::Config::from_str(&url).unwrap();
    let host = match &parsed.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("the test server is not on TCP: {other:?}"),
    };
    let password = String::from_utf8(parsed.get_password().unwrap_or_default().to_vec()).unwrap();
    let dir = std::env::temp_dir().join(format!("drdrill-demo-app-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good");
    std::fs::write(&good, format!("{password}\n")).unwrap();
    let bad = dir.join("bad");
    std::fs::write(&bad, "not the password").unwrap();
    let env = |file: &std::path::Path| {
        vec![
            ("PGHOST", host.clone()),
            ("PGPORT", parsed.get_ports()[0].to_string()),
            ("PGDATABASE", parsed.get_dbname().unwrap().to_string()),
            ("PGUSER", parsed.get_user().unwrap().to_string()),
            ("DRDRILL_DB_PASSWORD_FILE", file.display().to_string()),
            ("DRDRILL_INSTANCE_ID", "i-0abc".into()),
            ("DRDRILL_AZ", "us-east-1a".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    };

    let (mut child, base) = spawn_binary(&env(&good)).await;
    let id = format!("ref-{}", uuid::Uuid::new_v4().simple());
    binary_round_trip(&base, &id, "i-0abc/us-east-1a/us-east-1").await;
    child.kill().await.unwrap();

    let (mut child, base) = spawn_binary(&env(&bad)).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let body = r.text().await.unwrap();
    assert!(body.contains("password"), "{body}");
    child.kill().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without any database setting the binary exits non-zero at once and says what to set;
/// it needs no server.
#[tokio::test]
async fn binary_without_database_says_what_to_set() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_drdrill-demo-app"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DATABASE_URL") && stderr.contains("PGHOST"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
