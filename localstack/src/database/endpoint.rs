//! The apps' view of the writer endpoint: the database node each app instance resolved the
//! endpoint's DNS name to, kept for the record's TTL as a resolver cache keeps it — so
//! after a failover an app keeps sending to the old writer until its entry expires.

use std::collections::HashMap;
use std::time::Instant;

use super::DbCluster;

/// Per app instance, the node it resolved the writer endpoint to and when, and how many
/// apps still send to a node that is not the writer.
#[derive(Debug, Default)]
pub struct EndpointCache {
    resolved: HashMap<String, (usize, Instant)>,
    stale: usize,
}

impl EndpointCache {
    /// The node app instance `app` resolved the writer endpoint to, while that is less
    /// than the endpoint's TTL old.
    pub fn cached(&self, db: &DbCluster, app: &str, now: Instant) -> Option<usize> {
        let ttl = db.endpoint_ttl();
        self.resolved
            .get(app)
            .filter(|(_, at)| now.saturating_duration_since(*at) < ttl)
            .map(|(node, _)| *node)
    }

    /// The database node app instance `app` sends to now: the one it resolved the writer
    /// endpoint to less than the endpoint's TTL ago, else what the endpoint resolves to
    /// now (remembered from now on).
    pub fn resolve(&mut self, db: &DbCluster, app: &str, now: Instant) -> usize {
        self.cached(db, app, now).unwrap_or_else(|| {
            let node = db.endpoint();
            self.resolved.insert(app.to_string(), (node, now));
            node
        })
    }

    /// Recounts how many of `apps` would send to a node that is not the writer now (so
    /// that an entry expiring re-evaluates the serving state); true when that changed.
    pub fn recount<'a>(&mut self, db: &DbCluster, apps: impl Iterator<Item = &'a str>, now: Instant) -> bool {
        let stale = apps
            .filter(|app| self.cached(db, app, now).is_some_and(|n| n != db.writer_index()))
            .count();
        let changed = stale != self.stale;
        self.stale = stale;
        changed
    }
}
