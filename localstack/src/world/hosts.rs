//! The world as the data plane's servers see it: the app servers ([`app::Host`]) and the
//! load balancer ([`lb::Host`]) name only these calls, each answered by the world's
//! method of the same name.

use std::future::Future;

use super::*;
use crate::{app, lb};

impl app::Host for World {
    fn stack(&self) -> &Stack {
        &self.stack
    }

    fn peer_of(&self, ip: IpAddr) -> Peer {
        World::peer_of(self, ip)
    }

    fn deliver(&self, from: &Peer, to: &str, rto: Duration) -> impl Future<Output = ()> + Send {
        World::deliver(self, from, to, rto)
    }

    fn db_write(&self, app: &str, id: &str, body: &str) -> impl Future<Output = Result<(), DbError>> + Send {
        World::db_write(self, app, id, body)
    }

    fn db_read(&self, app: &str, id: &str) -> impl Future<Output = Result<Option<String>, DbError>> + Send {
        World::db_read(self, app, id)
    }
}

impl lb::Host for World {
    fn stack(&self) -> &Stack {
        &self.stack
    }

    fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    fn routable(&self) -> Vec<(String, SocketAddr)> {
        World::routable(self)
    }

    fn lb_node_source(&self, zone: usize) -> IpAddr {
        World::lb_node_source(self, zone)
    }

    fn target_generation(&self, id: &str) -> Option<u64> {
        World::target_generation(self, id)
    }

    fn instance_addr(&self, id: &str) -> Option<SocketAddr> {
        World::instance_addr(self, id)
    }

    fn instance_zone_index(&self, id: &str) -> Option<usize> {
        World::instance_zone_index(self, id)
    }

    fn record_check(&self, id: &str, generation: u64, result: CheckResult) {
        World::record_check(self, id, generation, result)
    }
}
