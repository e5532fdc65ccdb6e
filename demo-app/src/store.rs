//! The items table in PostgreSQL, behind a connection pool. A write is one transaction
//! (`BEGIN`, upsert, `COMMIT` with `synchronous_commit = on`) and succeeds only once
//! `COMMIT` has returned; every call is bounded by the configured timeout, and a
//! connection that failed or timed out is dropped rather than reused (after a failover
//! it may point at a server that is now a read-only replica, or at none).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::OnceCell;
use tokio::time::{timeout_at, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// The table the items live in (in the connection's `search_path`).
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS items (
    id text PRIMARY KEY,
    body text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
)";
const UPSERT: &str = "INSERT INTO items (id, body) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, written_at = now()";
const SELECT: &str = "SELECT body FROM items WHERE id = $1";

/// How the store talks to the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Upper bound of every call (waiting for a connection included); a write's statement
    /// and lock timeouts on the server are set to it too.
    pub timeout: Duration,
    /// Most connections held open at once.
    pub max_connections: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            timeout: Duration::from_secs(2),
            max_connections: 16,
        }
    }
}

/// Why a database call did not succeed. Nothing was acknowledged when a write returns one
/// of these (its transaction was rolled back, or its `COMMIT` did not return).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the call (connection refused or lost, an error from
    /// the server such as a lock or statement timeout, a read-only server).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// No answer within the timeout.
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    /// The pool could not be set up (bad options).
    #[error("could not set up the connection pool: {0}")]
    Setup(String),
}

/// The items store: a pool of connections to one PostgreSQL database.
pub struct Store {
    pool: Pool,
    timeout: Duration,
    schema: OnceCell<()>,
}

impl Store {
    /// Sets up the pool; connects lazily, so this succeeds while the database is down.
    pub fn new(config: tokio_postgres::Config, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut config = config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.timeout);
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A test query before a pooled connection is handed out: one that the
                // server closed (restart, failover) is replaced, not used.
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .build()
            .map_err(|e| StoreError::Setup(e.to_string()))?;
        Ok(Store {
            pool,
            timeout: options.timeout,
            schema: OnceCell::new(),
        })
    }

    /// Creates the items table unless it exists (once per process).
    pub async fn ensure_schema(&self) -> Result<(), StoreError> {
        self.schema
            .get_or_try_init(|| async {
                let deadline = Instant::now() + self.timeout;
                let client = self.connection(deadline).await?;
                let result = timeout_at(deadline, async {
                    match client.batch_execute(CREATE_TABLE).await {
                        // Two instances creating the table at once: the loser sees a
                        // unique violation on the catalog; the table is there.
                        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(()),
                        r => r,
                    }
                })
                .await;
                self.settle(client, result)
            })
            .await
            .map(|_| ())
    }

    /// Stores `body` under `id` (replacing an earlier body); returns once the transaction
    /// has committed.
    pub async fn write(&self, id: &str, body: &str) -> Result<(), StoreError> {
        self.ensure_schema().await?;
        let deadline = Instant::now() + self.timeout;
        let mut client = self.connection(deadline).await?;
        let ms = self.timeout.as_millis().max(1);
        let result = timeout_at(deadline, async {
            let tx = client.transaction().await?;
            tx.batch_execute(&format!(
                "SET LOCAL synchronous_commit = on; SET LOCAL statement_timeout = {ms}; \
                 SET LOCAL lock_timeout = {ms}"
            ))
            .await?;
            let stmt = tx.prepare_cached(UPSERT).await?;
            tx.execute(&stmt, &[&id, &body]).await?;
            tx.commit().await
        })
        .await;
        self.settle(client, result)
    }

    /// The body stored under `id`, if any.
    pub async fn read(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.ensure_schema().await?;
        let deadline = Instant::now() + self.timeout;
        let client = self.connection(deadline).await?;
        let result = timeout_at(deadline, async {
            let stmt = client.prepare_cached(SELECT).await?;
            let row = client.query_opt(&stmt, &[&id]).await?;
            row.map(|r| r.try_get::<_, String>(0)).transpose()
        })
        .await;
        self.settle(client, result)
    }

    /// Whether the database answers and accepts writes (a server that is now a read-only
    /// replica is unhealthy).
    pub async fn health(&self) -> Result<(), StoreError> {
        self.ensure_schema().await?;
        let deadline = Instant::now() + self.timeout;
        let client = self.connection(deadline).await?;
        let result = timeout_at(deadline, async {
            let row = client
                .query_one("SELECT current_setting('transaction_read_only')", &[])
                .await?;
            row.try_get::<_, String>(0)
        })
        .await;
        if self.settle(client, result)? == "on" {
            return Err(StoreError::Unavailable("the server is read-only (a replica)".into()));
        }
        Ok(())
    }

    /// A pooled connection, by `deadline`.
    async fn connection(&self, deadline: Instant) -> Result<Object, StoreError> {
        match timeout_at(deadline, self.pool.get()).await {
            Err(_) => Err(StoreError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(StoreError::Unavailable(chain(&e))),
            Ok(Ok(c)) => Ok(c),
        }
    }

    /// The outcome of a call on `client`; after an error or a timeout the connection is
    /// taken out of the pool and closed.
    fn settle<T>(
        &self,
        client: Object,
        result: Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>,
    ) -> Result<T, StoreError> {
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                drop(Object::take(client));
                Err(StoreError::Unavailable(chain(&e)))
            }
            Err(_) => {
                drop(Object::take(client));
                Err(StoreError::Timeout(self.timeout))
            }
        }
    }
}

/// An error and its sources, joined by `: ` (tokio-postgres keeps the server's message in
/// the source).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}
