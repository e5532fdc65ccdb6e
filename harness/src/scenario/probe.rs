//! The probe contract: how a write, its read-back and a health check look on the wire.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The placeholder replaced by each probe's id, as the probe contract defines it.
use drdrill_probe_contract::ID_PLACEHOLDER;

/// The requests the traffic generator sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeContract {
    /// The write request; its path must contain `{id}`.
    pub write: RequestTemplate,
    /// The read-back request; a read succeeds when its body equals the written body.
    pub read: RequestTemplate,
    /// The health check.
    pub health: HealthProbe,
    /// Status codes that count as success; any 2xx when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), inner(range(min = 100, max = 599)))]
    pub expect_status: Option<Vec<u16>>,
}

impl ProbeContract {
    /// Whether `status` counts as a successful response.
    pub fn status_ok(&self, status: u16) -> bool {
        match &self.expect_status {
            Some(codes) => codes.contains(&status),
            None => (200..300).contains(&status),
        }
    }
}

/// An HTTP request with `{id}` placeholders in its path and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestTemplate {
    /// HTTP method, e.g. `PUT`.
    pub method: String,
    /// Request path starting with `/`, e.g. `/items/{id}`.
    pub path: String,
    /// Request body, e.g. `drdrill write {id}`; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A [`RequestTemplate`] with its placeholders filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRequest {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Request body, if any.
    pub body: Option<String>,
}

impl RequestTemplate {
    /// Replaces every `{id}` in the path and body with `id`.
    pub fn render(&self, id: &str) -> RenderedRequest {
        RenderedRequest {
            method: self.method.clone(),
            path: self.path.replace(ID_PLACEHOLDER, id),
            body: self.body.as_ref().map(|b| b.replace(ID_PLACEHOLDER, id)),
        }
    }

    /// Whether the path contains `{id}`.
    pub fn path_has_id(&self) -> bool {
        self.path.contains(ID_PLACEHOLDER)
    }
}

/// The health check request (always `GET`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthProbe {
    /// Request path starting with `/`, e.g. `/health`.
    pub path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rendering fills `{id}` everywhere in path and body and keeps the method.
    #[test]
    fn render_fills_id() {
        let t = RequestTemplate {
            method: "PUT".into(),
            path: "/items/{id}".into(),
            body: Some("drdrill write {id} ({id})".into()),
        };
        let r = t.render("abc");
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, "/items/abc");
        assert_eq!(r.body.as_deref(), Some("drdrill write abc (abc)"));
    }

    /// Without `expect_status` any 2xx is success; with it only the listed codes are.
    #[test]
    fn status_ok_defaults_to_2xx() {
        let template = RequestTemplate {
            method: "GET".into(),
            path: "/".into(),
            body: None,
        };
        let mut probe = ProbeContract {
            write: template.clone(),
            read: template,
            health: HealthProbe { path: "/".into() },
            expect_status: None,
        };
        assert!(probe.status_ok(204) && !probe.status_ok(301) && !probe.status_ok(500));
        probe.expect_status = Some(vec![201]);
        assert!(probe.status_ok(201) && !probe.status_ok(200));
    }
}
