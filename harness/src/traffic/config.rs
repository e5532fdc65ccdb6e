//! Traffic configuration: what to send, how fast, and how to connect.
//!
//! These types are owned by the traffic module so that the prober does not depend on
//! the scenario file's layout (the run converts a scenario into them); the connection
//! policy is the scenario's own type.

use std::time::Duration;

use hyper::{Method, Uri};

use super::outcome::{hanging_probes, MAX_HANGING_PROBES};
use super::TrafficError;

/// The placeholder replaced by each probe's id, as the probe contract defines it.
use drdrill_probe_contract::ID_PLACEHOLDER;

/// How the prober uses TCP connections: the scenario file's own type (one definition),
/// always explicit since a prober that pins keep-alive connections to a dead target
/// cannot see a failover.
pub use crate::scenario::ConnectionPolicy;

/// Everything the prober needs to drive open-loop traffic.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Scheme, host and port of the load balancer, e.g. `http://127.0.200.1:43211`.
    /// Host names are resolved with hickory-dns, honouring record TTLs.
    pub base_url: String,
    /// Requests per second; request `k` is scheduled at `start + k / rate`.
    pub rate_per_sec: f64,
    /// Fraction of requests that are writes, in `[0, 1]`; the rest are reads.
    pub write_ratio: f64,
    /// Deadline for every request, measured from the moment it is dispatched,
    /// covering connect, request, response headers and body.
    pub timeout: Duration,
    /// How TCP connections are (re)used.
    pub connection: ConnectionPolicy,
    /// The write request; its path or body must contain `{id}`, and it must have
    /// a body template (the read-back compares against the rendered body).
    pub write: RequestSpec,
    /// The read-back request; its path must contain `{id}`.
    pub read: RequestSpec,
    /// Status codes counted as success; `None` means any 2xx.
    pub expect_status: Option<Vec<u16>>,
    /// A benchmark's like-for-like mode with plain load generators: when set, every probe
    /// is the read request for this id, judged by its status alone (no writes, no body
    /// comparison, no acks). Drills leave it `None`.
    pub reads_only_id: Option<String>,
}

/// One HTTP request of the probe contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    /// HTTP method, e.g. `PUT` or `GET`.
    pub method: String,
    /// Path (and query) appended to the base URL; `{id}` is replaced by the write id.
    pub path_template: String,
    /// Optional body; `{id}` is replaced by the write id.
    pub body_template: Option<String>,
}

impl RequestSpec {
    /// The path with `{id}` replaced.
    pub fn render_path(&self, id: &str) -> String {
        self.path_template.replace(ID_PLACEHOLDER, id)
    }

    /// The body with `{id}` replaced, if there is a body template.
    pub fn render_body(&self, id: &str) -> Option<String> {
        self.body_template.as_ref().map(|t| t.replace(ID_PLACEHOLDER, id))
    }

    /// The full URL for `id` under `base_url` (slashes between them normalised).
    pub fn render_url(&self, base_url: &str, id: &str) -> String {
        join_path(base_url, &self.render_path(id))
    }

    /// The method, parsed.
    pub(crate) fn parsed_method(&self, field: &'static str) -> Result<Method, TrafficError> {
        Method::from_bytes(self.method.as_bytes()).map_err(|e| TrafficError::InvalidConfig {
            field,
            reason: format!("{:?}: {e}", self.method),
        })
    }
}

/// Which statuses count as success.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct StatusExpectation(Option<Vec<u16>>);

impl StatusExpectation {
    /// Wraps `expect_status` (`None` = any 2xx).
    pub(crate) fn new(expect: Option<&[u16]>) -> Self {
        Self(expect.map(<[u16]>::to_vec))
    }

    /// Whether `status` counts as success.
    pub(crate) fn accepts(&self, status: u16) -> bool {
        match &self.0 {
            Some(list) => list.contains(&status),
            None => (200..300).contains(&status),
        }
    }
}

impl TrafficConfig {
    /// Checks every field; called by [`Prober::start`](super::Prober::start)
    /// before anything is sent.
    pub fn validate(&self) -> Result<(), TrafficError> {
        let invalid = |field, reason: &str| TrafficError::InvalidConfig {
            field,
            reason: reason.to_owned(),
        };
        let base = validate_base_url(&self.base_url)?;
        if !(self.rate_per_sec.is_finite() && self.rate_per_sec > 0.0) {
            return Err(invalid("rate_per_sec", "must be a positive number"));
        }
        if !(0.0..=1.0).contains(&self.write_ratio) {
            return Err(invalid("write_ratio", "must be between 0 and 1"));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be greater than zero"));
        }
        let hanging = hanging_probes(self.rate_per_sec, self.timeout);
        if hanging > MAX_HANGING_PROBES {
            return Err(TrafficError::InvalidConfig {
                field: "timeout",
                reason: format!(
                    "rate × timeout keeps up to {hanging} probes in flight while the target hangs, more than the prober's bound of {MAX_HANGING_PROBES}; lower the timeout or the rate"
                ),
            });
        }
        if let ConnectionPolicy::KeepAlive { max_age } = self.connection {
            if max_age.is_zero() {
                return Err(invalid("connection.max_age", "must be greater than zero"));
            }
        }
        self.write.parsed_method("write.method")?;
        self.read.parsed_method("read.method")?;
        let write_body_has_id = self
            .write
            .body_template
            .as_deref()
            .is_some_and(|b| b.contains(ID_PLACEHOLDER));
        if !self.write.path_template.contains(ID_PLACEHOLDER) && !write_body_has_id {
            return Err(invalid("write", "the path or the body must contain {id}"));
        }
        if self.write.body_template.is_none() {
            return Err(invalid(
                "write.body_template",
                "a body is required: reads compare it with what was written",
            ));
        }
        if !self.read.path_template.contains(ID_PLACEHOLDER) {
            return Err(invalid("read.path_template", "must contain {id}"));
        }
        for (field, spec) in [("write.path_template", &self.write), ("read.path_template", &self.read)] {
            let path = join_path(base.path(), &spec.render_path("id"));
            if let Err(e) = path.parse::<Uri>() {
                return Err(invalid(
                    field,
                    &format!("{:?} is not a valid path: {e}", spec.path_template),
                ));
            }
        }
        if let Some(id) = &self.reads_only_id {
            if id.is_empty() || id.contains(['/', '?', '#']) {
                return Err(invalid(
                    "reads_only_id",
                    "must be a non-empty id without '/', '?' or '#'",
                ));
            }
            if self.write_ratio != 0.0 {
                return Err(invalid("write_ratio", "must be 0 when reads_only_id is set"));
            }
        }
        if let Some(list) = &self.expect_status {
            if list.is_empty() || list.iter().any(|s| !(100..=599).contains(s)) {
                return Err(invalid(
                    "expect_status",
                    "must list HTTP status codes (100-599), or be absent for any 2xx",
                ));
            }
        }
        Ok(())
    }
}

/// `path` under `base` (a URL or a path): one `/` between them.
pub(crate) fn join_path(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Checks that `base_url` is an absolute `http://` URL without a query, and returns it
/// parsed.
pub(crate) fn validate_base_url(base_url: &str) -> Result<Uri, TrafficError> {
    let invalid = |reason: String| TrafficError::InvalidConfig {
        field: "base_url",
        reason,
    };
    if base_url.contains('#') {
        return Err(invalid(format!("{base_url:?}: must not have a query or fragment")));
    }
    let url: Uri = base_url.parse().map_err(|e| invalid(format!("{base_url:?}: {e}")))?;
    match url.scheme_str() {
        Some("http") => {}
        None => {
            return Err(invalid(format!(
                "{base_url:?}: not an absolute URL (e.g. http://host:port)"
            )))
        }
        Some(_) => {
            return Err(invalid(format!(
                "{base_url:?}: only http:// is supported (this build has no TLS)"
            )))
        }
    }
    if url.host().is_none_or(str::is_empty) {
        return Err(invalid(format!("{base_url:?}: no host")));
    }
    if url.query().is_some() {
        return Err(invalid(format!("{base_url:?}: must not have a query or fragment")));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> TrafficConfig {
        TrafficConfig {
            base_url: "http://127.0.200.1:43211".into(),
            rate_per_sec: 50.0,
            write_ratio: 0.5,
            timeout: Duration::from_secs(1),
            connection: ConnectionPolicy::Fresh,
            write: RequestSpec {
                method: "PUT".into(),
                path_template: "/items/{id}".into(),
                body_template: Some("{id}".into()),
            },
            read: RequestSpec {
                method: "GET".into(),
                path_template: "/items/{id}".into(),
                body_template: None,
            },
            expect_status: None,
            reads_only_id: None,
        }
    }

    fn rejected_field(cfg: &TrafficConfig) -> Option<&'static str> {
        match cfg.validate() {
            Err(TrafficError::InvalidConfig { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn rejects_unusable_configs_naming_the_field() {
        assert!(valid().validate().is_ok());
        let mut cfg = valid();
        cfg.rate_per_sec = 0.0;
        assert_eq!(rejected_field(&cfg), Some("rate_per_sec"));
        let mut cfg = valid();
        cfg.base_url = "https://example.com".into();
        assert_eq!(rejected_field(&cfg), Some("base_url"));
        let mut cfg = valid();
        cfg.read.path_template = "/items".into();
        assert_eq!(rejected_field(&cfg), Some("read.path_template"));
        let mut cfg = valid();
        cfg.write.body_template = None;
        assert_eq!(rejected_field(&cfg), Some("write.body_template"));
        let mut cfg = valid();
        cfg.write.method = "BAD METHOD".into();
        assert_eq!(rejected_field(&cfg), Some("write.method"));
        let mut cfg = valid();
        cfg.read.path_template = "/items/{id} now".into();
        assert_eq!(rejected_field(&cfg), Some("read.path_template"));
        for base in ["127.0.0.1:80", "http://", "http://h:1/?q=1", "http://h:1/#f"] {
            let mut cfg = valid();
            cfg.base_url = base.into();
            assert_eq!(rejected_field(&cfg), Some("base_url"), "{base}");
        }
        let mut cfg = valid();
        cfg.expect_status = Some(vec![]);
        assert_eq!(rejected_field(&cfg), Some("expect_status"));
        // rate × timeout at the bound passes; one probe more is refused.
        let mut cfg = valid();
        cfg.rate_per_sec = MAX_HANGING_PROBES as f64;
        cfg.timeout = Duration::from_secs(1);
        assert!(cfg.validate().is_ok());
        cfg.rate_per_sec += 1.0;
        assert_eq!(rejected_field(&cfg), Some("timeout"));
        let mut cfg = valid();
        cfg.reads_only_id = Some("bench".into());
        assert_eq!(rejected_field(&cfg), Some("write_ratio"));
        cfg.write_ratio = 0.0;
        assert!(cfg.validate().is_ok());
        cfg.reads_only_id = Some("a/b".into());
        assert_eq!(rejected_field(&cfg), Some("reads_only_id"));
    }

    #[test]
    fn renders_ids_into_urls_and_bodies() {
        let cfg = valid();
        assert_eq!(cfg.write.render_url("http://lb:80/", "ab-1"), "http://lb:80/items/ab-1");
        assert_eq!(cfg.write.render_body("ab-1").as_deref(), Some("ab-1"));
        let expect = StatusExpectation::new(None);
        assert!(expect.accepts(204) && !expect.accepts(503));
        assert!(StatusExpectation::new(Some(&[404])).accepts(404));
    }
}
