//! The scenario as the prober's configuration: rate, mix, timeout, connection policy and
//! the probe contract's requests, aimed at the plan's base URL.

use crate::scenario::{LoadedScenario, RequestTemplate};
use crate::traffic::{RequestSpec, TrafficConfig};

/// The prober's configuration for `loaded`'s traffic against `base_url`.
pub(super) fn config(loaded: &LoadedScenario, base_url: &str) -> TrafficConfig {
    let sc = &loaded.scenario;
    let spec = |t: &RequestTemplate| RequestSpec {
        method: t.method.clone(),
        path_template: t.path.clone(),
        body_template: t.body.clone(),
    };
    TrafficConfig {
        base_url: base_url.to_string(),
        rate_per_sec: sc.traffic.rate.per_second(),
        write_ratio: sc.traffic.write_ratio,
        timeout: sc.traffic.timeout.get(),
        connection: sc.traffic.connection,
        write: spec(&sc.probe.write),
        read: spec(&sc.probe.read),
        expect_status: sc.probe.expect_status.clone(),
        reads_only_id: None,
    }
}
