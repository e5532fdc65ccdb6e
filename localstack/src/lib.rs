//! drdrill-localstack: a local stand-in for the AWS pieces a drill touches (FIS, ELBv2,
//! EC2, RDS) on one endpoint, with a real data plane: app instances that are HTTP servers
//! on their own loopback addresses, a reverse-proxy load balancer with active health
//! checks, and a replicated database. Faults injected through FIS really happen.

pub mod access;
pub mod api;
pub mod app;
pub mod backup;
pub mod backup_model;
pub mod chaos;
pub mod cloudwatch;
pub mod config;
#[cfg(feature = "testcontainers")]
pub mod container;
pub mod database;
pub mod fis;
pub mod lb;
pub mod network;
pub mod quotas;
pub mod regions;
pub mod route53;
pub mod route53_model;
pub mod supervisor;
pub mod truth;
pub mod world;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{Stack, StackError};
use world::World;

/// Why the local stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The DNS server's UDP socket or TCP listener could not be bound.
    #[error("cannot serve DNS on {addr} (UDP and TCP): {source}")]
    Dns {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The stack's Route 53 section could not be loaded.
    #[error("route 53: {0}")]
    Route53(#[from] route53::LoadError),
}

/// Where to serve the AWS endpoint.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address of the AWS endpoint; port 0 picks a free one.
    pub endpoint: SocketAddr,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            endpoint: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4566),
        }
    }
}

/// A running local stack. Dropping it without [`LocalStack::shutdown`] cancels its tasks.
pub struct LocalStack {
    /// The top-level region's state (for tests: ground truth, serving).
    pub world: Arc<World>,
    /// Every region's state, the top-level region first.
    pub worlds: Vec<Arc<World>>,
    /// The top-level region's FIS engine.
    pub fis: Arc<fis::Fis>,
    fis_all: Vec<Arc<fis::Fis>>,
    cloudwatch_all: Vec<Arc<cloudwatch::CloudWatch>>,
    /// Route 53: zones, health checks and the DNS server's answers.
    pub route53: Arc<route53::Route53>,
    /// AWS Backup (every region's vaults, plans, jobs and recovery points).
    pub backup: Arc<backup::Backup>,
    /// Faults in the endpoint's own API (the Chaos API, also served over HTTP at
    /// `/_localstack/chaos/faults` and `/_localstack/chaos/effects`).
    pub chaos: Arc<chaos::Chaos>,
    dns_addr: SocketAddr,
    endpoint: SocketAddr,
    cancel: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl LocalStack {
    /// Starts every server of the stack (every region's) and the AWS endpoint: binds each
    /// region's sockets and builds its world, then the endpoint, DNS, the load balancers,
    /// Route 53, the regions' replication, and each region's FIS and CloudWatch.
    pub async fn start(stack: Stack, opts: Options) -> Result<LocalStack, StartError> {
        let log = Arc::new(truth::GroundTruth::default());
        let cancel = CancellationToken::new();
        let mut worlds: Vec<Arc<World>> = Vec::new();
        let mut lb_listeners = Vec::new();
        // Every region's load balancer listens on the same port (on its own address), so
        // a DNS failover between regions only changes the address clients connect to.
        let mut lb_port = stack.load_balancer.listener_port;
        for (r, region) in stack.region_stacks().into_iter().enumerate() {
            let (world, lb_listener) = start_region(r, region, &mut lb_port, &log, &cancel).await?;
            worlds.push(world);
            lb_listeners.push(lb_listener);
        }
        let api_listener = bind(opts.endpoint).await?;
        let r53_config = stack.route53.clone().unwrap_or_default();
        let dns_sockets = route53::dns::DnsSockets::bind(r53_config.dns_port)
            .await
            .map_err(|source| StartError::Dns {
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), r53_config.dns_port),
                source,
            })?;
        let dns_addr = dns_sockets.local_addr();
        let endpoint = api_listener.local_addr().map_err(|source| StartError::Bind {
            addr: opts.endpoint,
            source,
        })?;
        for (world, lb_listener) in worlds.iter().zip(lb_listeners) {
            supervisor::start_load_balancer(world, lb_listener);
        }
        let route53 = match start_route53(&r53_config, &stack.region, &worlds, &log, &cancel) {
            Ok(r) => r,
            Err(e) => {
                cancel.cancel();
                return Err(e.into());
            }
        };
        route53::dns::spawn(route53.clone(), dns_sockets, cancel.child_token());
        let backup = backup::Backup::new(&stack, worlds.clone(), log.clone());
        tokio::spawn(backup.clone().run(cancel.child_token()));
        let regions = regions::Regions::new(stack.clone(), worlds.clone(), route53.clone(), log, backup.clone());
        regions.start(cancel.child_token());
        let services = region_services(&stack, &worlds, &route53, &backup, &cancel);
        for s in &services {
            s.fis.set_regions(&regions);
        }
        let fis = services.iter().map(|s| s.fis.clone()).collect();
        let chaos = Arc::new(chaos::Chaos::new());
        let server = tokio::spawn(api::serve(
            api_listener,
            services.clone(),
            chaos.clone(),
            cancel.child_token(),
        ));
        tracing::info!(%endpoint, dns = %dns_addr, stack = %stack.name, regions = worlds.len(), "local stack listening");
        Ok(LocalStack {
            world: worlds[0].clone(),
            worlds,
            fis: services[0].fis.clone(),
            fis_all: fis,
            cloudwatch_all: services.iter().map(|s| s.cloudwatch.clone()).collect(),
            route53,
            backup,
            chaos,
            dns_addr,
            endpoint,
            cancel,
            server: Some(server),
        })
    }

    /// The CloudWatch of region `index` (0: the top-level region).
    ///
    /// # Panics
    /// When the stack has no region `index`.
    pub fn cloudwatch(&self, index: usize) -> &cloudwatch::CloudWatch {
        &self.cloudwatch_all[index]
    }

    /// The AWS endpoint address.
    pub fn endpoint(&self) -> SocketAddr {
        self.endpoint
    }

    /// The DNS server's address (UDP and TCP on the same port).
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns_addr
    }

    /// The AWS endpoint as a URL (`http://127.0.0.1:port`).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.endpoint)
    }

    /// Records what every region's database holds in the ground truth
    /// ([`truth::Truth::DatabaseContents`]), e.g. once a drill's traffic stopped.
    pub fn record_database_contents(&self) {
        for w in &self.worlds {
            let mut ids: Vec<String> = w.db_data().map(|d| d.into_keys().collect()).unwrap_or_default();
            ids.sort();
            w.truth.record(truth::Truth::DatabaseContents {
                cluster: w.stack.database.cluster.clone(),
                write_ids: ids,
            });
        }
    }

    /// Stops every experiment (reverting faults), then every server.
    pub async fn shutdown(mut self) {
        for fis in &self.fis_all {
            fis.stop_all().await;
        }
        self.cancel.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

/// Binds `addr` as given.
async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// Starts region `r` of the stack: binds its instances' addresses (one /24 per zone) and
/// its load balancer's (on `lb_port`, which a port 0 turns into the port picked), builds
/// its world recording into `log`, and serves its running instances. Returns the world
/// and the load balancer's listener, which serves once every region is up.
async fn start_region(
    r: usize,
    region: Stack,
    lb_port: &mut u16,
    log: &Arc<truth::GroundTruth>,
    cancel: &CancellationToken,
) -> Result<(Arc<World>, TcpListener), StartError> {
    let mut listeners = HashMap::new();
    let mut per_zone: HashMap<String, usize> = HashMap::new();
    for inst in &region.instances {
        let zone = region.subnet_zone(&inst.subnet).unwrap_or_default();
        let zone_index = region.zones.iter().position(|z| z == zone).unwrap_or(0);
        let n = per_zone.entry(zone.to_string()).or_default();
        let listener = bind_loopback(SocketAddr::new(world::instance_ip(r, zone_index, *n), 0)).await?;
        *n += 1;
        listeners.insert(inst.id.clone(), listener);
    }
    let addrs = listeners
        .iter()
        .filter_map(|(id, l)| Some((id.clone(), l.local_addr().ok()?)))
        .collect();
    let lb_listener = match region.load_balancer.bind {
        // An explicit address (0.0.0.0 in a container) is bound as given.
        Some(ip) => bind(SocketAddr::new(ip, *lb_port)).await?,
        None => bind_loopback(SocketAddr::new(world::lb_ip(r), *lb_port)).await?,
    };
    if let Ok(a) = lb_listener.local_addr() {
        *lb_port = a.port();
    }
    let world = World::new_in(
        region,
        addrs,
        r,
        log.clone(),
        cancel.child_token(),
        Arc::new(supervisor::Supervisor),
    );
    supervisor::serve_instances(&world, listeners);
    Ok((world, lb_listener))
}

/// Starts Route 53 (its health checkers) over every region's load balancer, recording
/// into `log`.
fn start_route53(
    config: &config::Route53Config,
    region: &str,
    worlds: &[Arc<World>],
    log: &Arc<truth::GroundTruth>,
    cancel: &CancellationToken,
) -> Result<Arc<route53::Route53>, route53::LoadError> {
    let lookup: Arc<dyn route53::LoadBalancerLookup> = if worlds.len() == 1 {
        worlds[0].clone()
    } else {
        Arc::new(route53::LoadBalancerSet(
            worlds
                .iter()
                .map(|w| w.clone() as Arc<dyn route53::LoadBalancerLookup>)
                .collect(),
        ))
    };
    let truth_log = log.clone();
    let route53 = route53::Route53::from_config(
        config,
        region,
        lookup,
        Arc::new(move |t| truth_log.record(t)),
        cancel.child_token(),
    )?;
    route53.start();
    Ok(route53)
}

/// Each region's services behind the AWS endpoint: its world, a FIS engine and a
/// CloudWatch (whose ticker starts here), and the stack's Route 53.
fn region_services(
    stack: &Stack,
    worlds: &[Arc<World>],
    route53: &Arc<route53::Route53>,
    backup: &Arc<backup::Backup>,
    cancel: &CancellationToken,
) -> Vec<Arc<api::Services>> {
    worlds
        .iter()
        .map(|w| {
            let cloudwatch = Arc::new(cloudwatch::CloudWatch::new(
                &w.stack.region,
                &w.stack.account_id,
                stack.speedups.short_alarm_periods,
            ));
            tokio::spawn(cloudwatch.clone().run(cancel.child_token()));
            Arc::new(api::Services {
                world: w.clone(),
                fis: fis::Fis::new(w.clone(), cloudwatch.clone()),
                route53: route53.clone(),
                cloudwatch,
                backup: backup.clone(),
            })
        })
        .collect()
}

/// Binds a data-plane address in 127.0.0.0/8; where only 127.0.0.1 can be bound
/// (macOS by default), falls back to a distinct port on 127.0.0.1.
async fn bind_loopback(addr: SocketAddr) -> Result<TcpListener, StartError> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
            let fallback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
            tracing::warn!(%addr, %fallback, "address not available; using a distinct port on 127.0.0.1");
            TcpListener::bind(fallback)
                .await
                .map_err(|source| StartError::Bind { addr: fallback, source })
        }
        Err(source) => Err(StartError::Bind { addr, source }),
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
