//! Shared by the demo app's tests: where the test PostgreSQL server is, a fresh schema per
//! test, the app served in-process on port 0, and bounded polling.
//!
//! The server is the one `scripts/postgres.sh start` runs (its URL in
//! `target/postgres/postgres.env`), or any given in `DRDRILL_TEST_DATABASE_URL`. Without
//! one a test writes `SKIPPED: <test>: <reason>` to stderr and returns, unless
//! `DRDRILL_POSTGRES_TESTS=require` (set by `scripts/test.sh` once the server runs), which
//! makes a missing server a failure. Test names start with `with_postgres_` so that
//! `--skip with_postgres_` leaves them out.

#![allow(dead_code)]

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use drdrill_demo_app::{serve, Store, StoreOptions};
use tokio::sync::oneshot;

/// The `served-by` value the in-process apps answer with.
pub const SERVED_BY: &str = "i-test/az-a/test-region";

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The file `scripts/postgres.sh start` writes.
fn env_file() -> PathBuf {
    match std::env::var("DRDRILL_PG_STATE") {
        Ok(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { repo(".").join(dir) }.join("postgres.env")
        }
        _ => repo("target/postgres/postgres.env"),
    }
}

/// A `KEY=value` line of the env file.
pub fn env_file_value(key: &str) -> Option<String> {
    let text = std::fs::read_to_string(env_file()).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .map(str::to_string)
}

/// The test server's URL, or `None` after saying why the test is skipped. With
/// `DRDRILL_POSTGRES_TESTS=require` a missing server is a failure.
pub fn database_url_or_skip(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var("DRDRILL_TEST_DATABASE_URL") {
        if !url.is_empty() {
            return Some(url);
        }
    }
    if let Some(url) = env_file_value("DRDRILL_TEST_DATABASE_URL") {
        return Some(url);
    }
    skip(
        test,
        &format!(
            "no PostgreSQL server: DRDRILL_TEST_DATABASE_URL is unset and {} is missing (run scripts/postgres.sh start)",
            env_file().display()
        ),
    );
    None
}

/// Says why `test` is skipped, or fails it under `DRDRILL_POSTGRES_TESTS=require`.
pub fn skip(test: &str, reason: &str) {
    if std::env::var("DRDRILL_POSTGRES_TESTS").as_deref() == Ok("require") {
        panic!("{test}: DRDRILL_POSTGRES_TESTS=require but {reason}");
    }
    // Straight to the stream: libtest captures print macros of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
}

/// A schema of its own for one test: the app and the test's own connection see the same
/// `items` table, and no other test's.
pub struct TestDb {
    /// Connection settings with `search_path` set to the test's schema.
    pub config: tokio_postgres::Config,
    /// The schema's name.
    pub schema: String,
    /// The URL the schema was made from.
    pub url: String,
}

impl TestDb {
    /// Creates a fresh schema in the database at `url`.
    pub async fn new(url: &str) -> TestDb {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let base = tokio_postgres::Config::from_str(url).expect("DRDRILL_TEST_DATABASE_URL parses");
        let admin = connect(&base).await;
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create the test's schema");
        let mut config = base;
        config.options(format!("-c search_path={schema}"));
        TestDb {
            config,
            schema,
            url: url.to_string(),
        }
    }

    /// A connection of the test's own, independent of the app's pool.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.config).await
    }

    /// The body of `id` as a separate connection sees it now.
    pub async fn row(&self, client: &tokio_postgres::Client, id: &str) -> Option<String> {
        client
            .query_opt("SELECT body FROM items WHERE id = $1", &[&id])
            .await
            .expect("select from items")
            .map(|r| r.get(0))
    }
}

/// Connects `config`, driving the connection on a task.
pub async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, conn) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL server");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The demo app served in-process on 127.0.0.1:0.
pub struct App {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client without proxies.
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl App {
    /// Serves the probe contract from `config` with the given database timeout.
    pub async fn start(config: tokio_postgres::Config, timeout: Duration) -> App {
        let store = Store::new(
            config,
            &StoreOptions {
                timeout,
                max_connections: 8,
            },
        )
        .expect("the store is set up");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(
            listener,
            Arc::new(store),
            HeaderValue::from_static(SERVED_BY),
            async move {
                let _ = stopped.await;
            },
        ));
        App {
            base,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            stop: Some(stop),
        }
    }

    /// `PUT /items/{id}` with `body`: the status and the response body.
    pub async fn put(&self, id: &str, body: &str) -> (u16, String) {
        let r = self
            .http
            .put(format!("{}/items/{id}", self.base))
            .body(body.to_string())
            .send()
            .await
            .expect("the app answers a write");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// `GET` of `path`: the status, the `served-by` header and the body.
    pub async fn get(&self, path: &str) -> (u16, Option<String>, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the app answers a read");
        let served_by = r
            .headers()
            .get("served-by")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (r.status().as_u16(), served_by, r.text().await.unwrap_or_default())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls `check` until it returns `Some` or `within` has passed (then panics naming
/// `what`).
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
