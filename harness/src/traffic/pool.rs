//! The prober's own HTTP/1.1 connections: at most `limit` open at once, reused (or
//! not) as the [`ConnectionPolicy`] says, each opened by resolving the target's name
//! anew (through a resolver whose cache honours TTLs) and connecting to the first
//! address that answers.
//!
//! - A request takes the most recently returned idle connection (few connections stay
//!   busy; the rest age out), opens one when none is idle and the limit allows, and
//!   otherwise waits for a connection to come back or to close.
//! - `Fresh`: a connection carries one request and is closed after it.
//! - `KeepAlive { max_age }`: a connection is handed out only for requests dispatched
//!   less than `max_age` after it was opened; older ones are closed when met (idle
//!   ones too), so no connection outlives `max_age` by more than one request, a dead
//!   target cannot stay pinned, and connections are replaced one at a time rather
//!   than all at once.
//! - The limit bounds the prober's memory (a connection is its socket and a 1 KiB
//!   buffer, see the `wire` module): a slot is freed when the connection is dropped.
//! - An idle connection the peer closed (or wrote to unasked) is dropped when met, so
//!   a request does not fail for a keep-alive connection the target let go while idle.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::dns::{DnsError, DnsResolver};
use super::wire::Wire;
use super::ConnectionPolicy;

/// The most connections a keep-alive pool opens at once. Requests beyond them wait for
/// a connection to come back or to open: when the prober falls behind and a batch of
/// due probes finds no idle connection, each one opening its own would cost more CPU
/// than the requests and push the prober further behind. Requests on healthy connections
/// come back within a round trip, so this does not hold up probes while connections
/// hang. `Fresh` needs a connection per request and has no such bound.
pub(crate) const MAX_CONNECTING: usize = 32;

/// Leave to open one connection: its slot (held by the connection) and, under
/// keep-alive, one of the [`MAX_CONNECTING`] permits (held while it opens).
struct OpenPermits<'a> {
    slot: OwnedSemaphorePermit,
    _connecting: Option<tokio::sync::SemaphorePermit<'a>>,
}

/// Where connections go: a host and port, resolved per connection unless an IP address.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// An IP address: no DNS.
    Ip(SocketAddr),
    /// A name resolved for every new connection.
    Name {
        /// The name, as in the URL.
        host: String,
        /// The port.
        port: u16,
        /// Resolves it.
        resolver: DnsResolver,
    },
}

/// Why no connection could be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// The name did not resolve.
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// The name resolved to no address.
    #[error("{host} has no address")]
    NoAddress {
        /// The name.
        host: String,
    },
    /// No address accepted a TCP connection; the last error.
    #[error("connecting to {addr}: {source}")]
    Tcp {
        /// The last address tried.
        addr: SocketAddr,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// A connection checked out for one request; dropping it closes it and frees its slot.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The socket and its buffer.
    pub(crate) wire: Wire<TcpStream>,
    /// When it was opened.
    opened: Instant,
    /// Its place among the pool's `limit`.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    /// Whether an idle connection can no longer carry a request: the peer closed it,
    /// it failed, or the peer sent bytes nobody asked for. Reads only what readiness
    /// the runtime already saw, so an open, quiet connection costs no system call.
    fn unusable(&self) -> bool {
        let mut byte = [0u8; 1];
        match self.wire.stream().try_read(&mut byte) {
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        }
    }
}

/// The pool; cheap to clone (clones share the connections).
#[derive(Clone)]
pub(crate) struct ConnectionPool {
    shared: Arc<Shared>,
}

struct Shared {
    endpoint: Endpoint,
    policy: ConnectionPolicy,
    /// One permit per open connection, held by it.
    slots: Arc<Semaphore>,
    /// One permit per connection being opened, keep-alive only (see [`MAX_CONNECTING`]).
    connecting: Option<Semaphore>,
    /// Idle connections, least recently returned first.
    idle: Mutex<VecDeque<Connection>>,
    /// Signalled when a connection is returned.
    returned: Notify,
    opened: AtomicU64,
    aged_out: AtomicU64,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("endpoint", &self.shared.endpoint)
            .field("policy", &self.shared.policy)
            .field("opened", &self.opened())
            .finish_non_exhaustive()
    }
}

impl ConnectionPool {
    /// A pool of at most `limit` (≥ 1) connections to `endpoint`.
    pub(crate) fn new(endpoint: Endpoint, policy: ConnectionPolicy, limit: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                endpoint,
                policy,
                slots: Arc::new(Semaphore::new(limit.clamp(1, Semaphore::MAX_PERMITS))),
                connecting: match policy {
                    ConnectionPolicy::KeepAlive { .. } => Some(Semaphore::new(MAX_CONNECTING)),
                    ConnectionPolicy::Fresh => None,
                },
                idle: Mutex::new(VecDeque::new()),
                returned: Notify::new(),
                opened: AtomicU64::new(0),
                aged_out: AtomicU64::new(0),
            }),
        }
    }

    /// Connections a request could have now without waiting: the idle ones, and as many
    /// new ones as may be opened at once.
    pub(crate) fn free(&self) -> usize {
        let slots = self.shared.slots.available_permits();
        let openable = match &self.shared.connecting {
            Some(connecting) => connecting.available_permits().min(slots),
            None => slots,
        };
        lock(&self.shared.idle).len() + openable
    }

    /// Connections opened so far.
    pub(crate) fn opened(&self) -> u64 {
        self.shared.opened.load(Ordering::Relaxed)
    }

    /// Connections closed because they reached `max_age`.
    pub(crate) fn aged_out(&self) -> u64 {
        self.shared.aged_out.load(Ordering::Relaxed)
    }

    /// A connection for a request dispatched at `dispatched`: an idle one young enough,
    /// a new one, or the first to come back or free its slot.
    pub(crate) async fn checkout(&self, dispatched: Instant) -> Result<Connection, ConnectError> {
        let shared = &self.shared;
        loop {
            let returned = shared.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(connection) = self.take_idle(dispatched) {
                return Ok(connection);
            }
            tokio::select! {
                // Leave to open one now wins over waiting for one to come back.
                biased;
                permits = self.open_permits() => {
                    if let Some(permits) = permits {
                        return self.open(permits).await;
                    }
                }
                () = returned.as_mut() => {}
            }
        }
    }

    /// A slot for one more connection and, under keep-alive, leave to open it now,
    /// waiting for them (`None` only if a semaphore closed, which this pool never does).
    async fn open_permits(&self) -> Option<OpenPermits<'_>> {
        let connecting = match &self.shared.connecting {
            Some(connecting) => Some(connecting.acquire().await.ok()?),
            None => None,
        };
        let slot = Arc::clone(&self.shared.slots).acquire_owned().await.ok()?;
        Some(OpenPermits {
            slot,
            _connecting: connecting,
        })
    }

    /// Gives back a connection whose response was read whole, for the next request
    /// (keep-alive only; otherwise it closes).
    pub(crate) fn give_back(&self, connection: Connection) {
        if matches!(self.shared.policy, ConnectionPolicy::Fresh) {
            return;
        }
        lock(&self.shared.idle).push_back(connection);
        self.shared.returned.notify_one();
    }

    /// The most recently returned idle connection still usable at `dispatched`; closes
    /// the aged or closed ones it meets, and those at the cold end.
    fn take_idle(&self, dispatched: Instant) -> Option<Connection> {
        let usable = |c: &Connection| !self.aged(c, dispatched) && !c.unusable();
        let mut idle = lock(&self.shared.idle);
        while idle.front().is_some_and(|c| !usable(c)) {
            self.close(idle.pop_front(), dispatched);
        }
        while let Some(connection) = idle.pop_back() {
            if usable(&connection) {
                return Some(connection);
            }
            self.close(Some(connection), dispatched);
        }
        None
    }

    /// Whether `connection` is too old for a request dispatched at `dispatched`.
    fn aged(&self, connection: &Connection, dispatched: Instant) -> bool {
        match self.shared.policy {
            ConnectionPolicy::KeepAlive { max_age } => {
                dispatched.saturating_duration_since(connection.opened) >= max_age
            }
            ConnectionPolicy::Fresh => false,
        }
    }

    /// Drops an idle connection, counting it when it aged out.
    fn close(&self, connection: Option<Connection>, now: Instant) {
        if let Some(connection) = connection {
            if self.aged(&connection, now) {
                self.shared.aged_out.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Opens a connection, which holds its slot until dropped.
    async fn open(&self, permits: OpenPermits<'_>) -> Result<Connection, ConnectError> {
        let OpenPermits { slot, _connecting } = permits;
        let opened = Instant::now();
        let stream = self.connect().await?;
        self.shared.opened.fetch_add(1, Ordering::Relaxed);
        Ok(Connection {
            wire: Wire::new(stream),
            opened,
            _slot: slot,
        })
    }

    /// A TCP connection to the first address of the endpoint that accepts one.
    async fn connect(&self) -> Result<TcpStream, ConnectError> {
        let (addrs, host): (Vec<SocketAddr>, _) = match &self.shared.endpoint {
            Endpoint::Ip(addr) => (vec![*addr], None),
            Endpoint::Name { host, port, resolver } => {
                let ips = resolver.lookup(host).await?;
                (
                    ips.into_iter().map(|ip| SocketAddr::new(ip, *port)).collect(),
                    Some(host),
                )
            }
        };
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Small requests must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(source) => last = Some(ConnectError::Tcp { addr, source }),
            }
        }
        Err(last.unwrap_or_else(|| ConnectError::NoAddress {
            host: host.cloned().unwrap_or_default(),
        }))
    }
}

/// Locks `mutex`, going on after a panic elsewhere (the idle list stays consistent).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;

    /// A listener on 127.0.0.1 that accepts and holds every connection; the pool's
    /// endpoint for it.
    async fn listener() -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Endpoint::Ip(addr)
    }

    fn keep_alive(max_age: Duration) -> ConnectionPolicy {
        ConnectionPolicy::KeepAlive { max_age }
    }

    /// With `limit` connections out, the next request waits and gets the first one
    /// given back; a connection dropped instead frees its slot for a new one.
    #[tokio::test]
    async fn never_opens_more_than_the_limit() {
        let pool = ConnectionPool::new(listener().await, keep_alive(Duration::from_secs(60)), 2);
        let first = pool.checkout(Instant::now()).await.expect("first");
        let second = pool.checkout(Instant::now()).await.expect("second");
        let mut third = Box::pin(pool.checkout(Instant::now()));
        assert!(
            futures::poll!(third.as_mut()).is_pending(),
            "a third connection was opened"
        );
        pool.give_back(first);
        let third = third.await.expect("third");
        // No connection opened for it: it got the one given back.
        assert_eq!(
            pool.opened(),
            2,
            "the third request did not get the connection given back"
        );

        let mut fourth = Box::pin(pool.checkout(Instant::now()));
        assert!(
            futures::poll!(fourth.as_mut()).is_pending(),
            "a third connection was opened"
        );
        drop(second);
        let _fourth = tokio::time::timeout(Duration::from_secs(5), fourth)
            .await
            .expect("a dropped connection frees its slot")
            .expect("fourth");
        assert_eq!(pool.opened(), 3, "no new connection in the freed slot");
        drop(third);
    }

    /// Keep-alive hands a connection only to requests dispatched less than `max_age`
    /// after it opened; an older one is closed and counted.
    #[tokio::test]
    async fn keep_alive_reuses_a_connection_until_max_age() {
        let max_age = Duration::from_secs(10);
        let pool = ConnectionPool::new(listener().await, keep_alive(max_age), 4);
        let opened_by = Instant::now();
        let connection = pool.checkout(opened_by).await.expect("first");
        pool.give_back(connection);
        let again = pool.checkout(Instant::now()).await.expect("young");
        assert_eq!(pool.opened(), 1, "a young connection was not reused");
        pool.give_back(again);
        let _later = pool.checkout(Instant::now() + max_age).await.expect("old");
        assert_eq!(
            (pool.opened(), pool.aged_out()),
            (2, 1),
            "a connection older than max_age was reused"
        );
    }

    /// `Fresh` never hands a connection out twice.
    #[tokio::test]
    async fn fresh_opens_a_connection_per_request() {
        let pool = ConnectionPool::new(listener().await, ConnectionPolicy::Fresh, 4);
        for request in 1..=3 {
            let connection = pool.checkout(Instant::now()).await.expect("connection");
            assert_eq!(pool.opened(), request, "a connection was handed out twice");
            pool.give_back(connection);
        }
        assert_eq!((pool.opened(), pool.aged_out()), (3, 0));
    }

    /// An idle connection its peer closed is dropped when met, and a new one opened,
    /// so a request never goes out on a connection already closed.
    #[tokio::test]
    async fn an_idle_connection_the_peer_closed_is_not_handed_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (first, _) = listener.accept().await.expect("first");
            drop(first);
            let (second, _) = listener.accept().await.expect("second");
            second
        });
        let pool = ConnectionPool::new(Endpoint::Ip(addr), keep_alive(Duration::from_secs(60)), 4);
        let connection = pool.checkout(Instant::now()).await.expect("first");
        // The runtime has seen the peer's close once the socket reads ready.
        tokio::time::timeout(Duration::from_secs(5), connection.wire.stream().readable())
            .await
            .expect("the close arrives")
            .expect("readable");
        pool.give_back(connection);
        let _next = pool.checkout(Instant::now()).await.expect("next");
        assert_eq!(
            (pool.opened(), pool.aged_out()),
            (2, 0),
            "a closed connection was handed out"
        );
        drop(server.await.expect("server"));
    }

    /// A refused connection is an error naming the address.
    #[tokio::test]
    async fn a_refused_connection_names_the_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let pool = ConnectionPool::new(Endpoint::Ip(addr), ConnectionPolicy::Fresh, 1);
        let error = pool.checkout(Instant::now()).await.expect_err("refused");
        assert!(
            matches!(error, ConnectError::Tcp { addr: a, .. } if a == addr),
            "{error}"
        );
        assert_eq!(pool.opened(), 0);
    }
}
