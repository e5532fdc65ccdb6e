//! Health-check configurations: what a check probes, how often, from which checker regions.

use std::net::IpAddr;
use std::time::Duration;

/// How a health check probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// HTTP GET of the resource path; 2xx and 3xx are healthy.
    Http,
    /// A TCP connection that opens is healthy.
    Tcp,
}

impl CheckKind {
    /// `HTTP` or `TCP`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Http => "HTTP",
            CheckKind::Tcp => "TCP",
        }
    }
}

/// What a health check probes, how often, and when it changes its mind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Endpoint IP address.
    pub ip_address: Option<IpAddr>,
    /// Endpoint port (for a load balancer target: none means its listener port).
    pub port: Option<u16>,
    /// Endpoint name (a load balancer's DNS name or an IP literal) and `Host` header.
    pub fqdn: Option<String>,
    /// A load balancer by name (stack files).
    pub load_balancer: Option<String>,
    /// HTTP or TCP.
    pub kind: CheckKind,
    /// Path requested by HTTP checks.
    pub resource_path: String,
    /// Time between two probes.
    pub request_interval: Duration,
    /// Consecutive failures to become unhealthy, and successes to become healthy again.
    pub failure_threshold: u32,
    /// A probe without an answer within this time fails.
    pub timeout: Duration,
    /// Report healthy when the endpoint is unhealthy and the other way round.
    pub inverted: bool,
    /// Not probed; always healthy.
    pub disabled: bool,
    /// The regions of its health checkers as given (`Regions`); `None` for Route 53's
    /// default, every region of [`CHECKER_REGIONS`].
    pub regions: Option<Vec<String>>,
}

impl HealthCheckConfig {
    /// The regions it is checked from: the given ones, or all of [`CHECKER_REGIONS`].
    pub fn checker_regions(&self) -> Vec<String> {
        match &self.regions {
            Some(r) => r.clone(),
            None => CHECKER_REGIONS.iter().map(|r| r.to_string()).collect(),
        }
    }
}

/// The default probe timeout: Route 53 waits about this long for an answer.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The regions Route 53 has health checkers in: the valid values of `HealthCheckConfig`'s
/// `Regions`, and the regions a health check is checked from when it names none ("If you
/// don't specify any regions, Route 53 health checkers automatically performs checks from
/// all of the regions that are listed under Valid Values", API_HealthCheckConfig).
pub const CHECKER_REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
];

/// The fewest regions a health check may name (`Regions`: minimum 3 items).
pub const MIN_CHECKER_REGIONS: usize = 3;

/// Checks a health check's `Regions`: at least [`MIN_CHECKER_REGIONS`], each one of
/// [`CHECKER_REGIONS`], none twice (a region has one checker here, so a repeat would
/// not add one).
pub fn check_regions(regions: &[String]) -> Result<(), String> {
    if let Some(bad) = regions.iter().find(|r| !CHECKER_REGIONS.contains(&r.as_str())) {
        return Err(format!(
            "{bad:?} is not a health checker region (one of {})",
            CHECKER_REGIONS.join(", ")
        ));
    }
    if let Some(dup) = regions
        .iter()
        .enumerate()
        .find_map(|(i, r)| regions[..i].contains(r).then_some(r))
    {
        return Err(format!("region {dup} is listed more than once"));
    }
    if regions.len() < MIN_CHECKER_REGIONS {
        return Err(format!(
            "{} regions given; a health check needs at least {MIN_CHECKER_REGIONS}",
            regions.len()
        ));
    }
    Ok(())
}

/// Whether the local stack may probe this address: only this machine (loopback, or the
/// unspecified address a container-bound listener reports).
pub fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}
