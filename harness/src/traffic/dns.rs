//! Name resolution for the prober: one hickory resolver, pointed at a chosen DNS server
//! (or the system's configuration), asked for every new connection; its cache honours
//! record TTLs.
//!
//! A changed answer is used by new connections once the old answer's TTL has run out;
//! with the keep-alive policy no connection is reused longer than `max_age`, so a DNS
//! change is followed within TTL + `max_age` (see the `client` module).
//!
//! [`DnsResolver::uncached`] builds a resolver that asks the server on every lookup, for
//! observers that must see each answer as it is now.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::TokioResolver;

/// How long one query to the DNS server may take before it is retried.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The DNS server(s) a [`DnsResolver`] asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nameserver {
    /// This machine's configuration (`/etc/resolv.conf`, and the hosts file).
    System,
    /// This server, over UDP with TCP for truncated or failed answers.
    At(SocketAddr),
}

impl std::fmt::Display for Nameserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::System => f.write_str("the system resolver"),
            Self::At(addr) => write!(f, "DNS server {addr}"),
        }
    }
}

/// Why a resolver could not be built or a name not resolved.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The system configuration could not be read.
    #[error("cannot read the system resolver configuration: {0}")]
    SystemConfig(#[source] Box<NetError>),
    /// The resolver could not be built.
    #[error("cannot build a DNS resolver for {nameserver}: {source}")]
    Build {
        /// The server it was for.
        nameserver: Nameserver,
        /// Why.
        #[source]
        source: Box<NetError>,
    },
    /// The lookup failed (no answer in time, refused, ...).
    #[error("resolving {name} with {nameserver}: {source}")]
    Lookup {
        /// The name.
        name: String,
        /// The server asked.
        nameserver: Nameserver,
        /// Why.
        #[source]
        source: Box<NetError>,
    },
}

/// A hickory resolver for one [`Nameserver`]; cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct DnsResolver {
    inner: Arc<TokioResolver>,
    nameserver: Nameserver,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver")
            .field("nameserver", &self.nameserver)
            .finish()
    }
}

impl DnsResolver {
    /// A caching resolver (TTLs honoured) asking `nameserver`.
    pub fn new(nameserver: Nameserver) -> Result<Self, DnsError> {
        Self::build(nameserver, true)
    }

    /// A resolver that caches nothing: every lookup is a query to `nameserver`.
    pub fn uncached(nameserver: Nameserver) -> Result<Self, DnsError> {
        Self::build(nameserver, false)
    }

    fn build(nameserver: Nameserver, cache: bool) -> Result<Self, DnsError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match nameserver {
            Nameserver::System => TokioResolver::builder(provider).map_err(|e| DnsError::SystemConfig(Box::new(e)))?,
            Nameserver::At(addr) => {
                let connections = [ProtocolConfig::Udp, ProtocolConfig::Tcp]
                    .into_iter()
                    .map(|protocol| {
                        let mut c = ConnectionConfig::new(protocol);
                        c.port = addr.port();
                        c
                    })
                    .collect();
                let server = NameServerConfig::new(addr.ip(), true, connections);
                let mut b =
                    TokioResolver::builder_with_config(ResolverConfig::from_name_servers(vec![server]), provider);
                b.options_mut().use_hosts_file = ResolveHosts::Never;
                b
            }
        };
        let options = builder.options_mut();
        options.ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
        options.timeout = QUERY_TIMEOUT;
        options.attempts = 2;
        options.try_tcp_on_error = true;
        if !cache {
            options.cache_size = 0;
        }
        let inner = builder.build().map_err(|source| DnsError::Build {
            nameserver,
            source: Box::new(source),
        })?;
        Ok(Self {
            inner: Arc::new(inner),
            nameserver,
        })
    }

    /// The server this resolver asks.
    pub fn nameserver(&self) -> Nameserver {
        self.nameserver
    }

    /// The addresses `name` resolves to, sorted; empty when the name exists but has no
    /// address records. An unknown name (NXDOMAIN) is an error.
    pub async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        match self.inner.lookup_ip(name).await {
            Ok(found) => {
                let mut ips: Vec<IpAddr> = found.iter().collect();
                ips.sort();
                ips.dedup();
                Ok(ips)
            }
            Err(source) => Err(DnsError::Lookup {
                name: name.to_owned(),
                nameserver: self.nameserver,
                source: Box::new(source),
            }),
        }
    }

    /// Like [`DnsResolver::lookup`], but "no such name" and "no address records" are an
    /// empty answer rather than an error (they are answers, not failures to get one).
    pub async fn answer(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        match self.lookup(name).await {
            Err(DnsError::Lookup { source, .. }) if source.is_no_records_found() || source.is_nx_domain() => {
                Ok(Vec::new())
            }
            other => other,
        }
    }
}
