//! Route 53's health checks: created, listed and deleted through the API, each probed by
//! its checkers, whose results decide its status (recorded as ground truth).

use super::*;

impl Route53 {
    pub(super) fn insert_health_check(
        self: &Arc<Self>,
        id: String,
        caller_reference: String,
        config: HealthCheckConfig,
    ) {
        let mut st = self.lock();
        let generation = st.next_generation;
        st.next_generation += 1;
        let checkers = config.checker_regions().iter().map(|r| Checker::new(r)).collect();
        st.health_checks.push(HealthCheckRec {
            info: HealthCheckInfo {
                id,
                caller_reference,
                config,
                healthy: true,
                checkers,
            },
            generation,
            cancel: self.shutdown.child_token(),
        });
    }

    /// CreateHealthCheck: starts probing at once. The same caller reference with the same
    /// settings returns the existing health check (`false`: not new).
    pub fn create_health_check(
        self: &Arc<Self>,
        caller_reference: &str,
        config: HealthCheckConfig,
    ) -> Result<(HealthCheckInfo, bool), Route53Error> {
        if caller_reference.is_empty() || caller_reference.chars().count() > 64 {
            return Err(Route53Error::InvalidInput(
                "CallerReference must be 1 to 64 characters".into(),
            ));
        }
        if let Some(h) = self
            .lock()
            .health_checks
            .iter()
            .find(|h| h.info.caller_reference == caller_reference)
        {
            if h.info.config == config {
                return Ok((h.info.clone(), false));
            }
            return Err(Route53Error::HealthCheckAlreadyExists(caller_reference.to_string()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.insert_health_check(id.clone(), caller_reference.to_string(), config.clone());
        let (generation, cancel, info) = {
            let st = self.lock();
            let h = st
                .health_checks
                .iter()
                .find(|h| h.info.id == id)
                .ok_or_else(|| Route53Error::NoSuchHealthCheck(id.clone()))?;
            (h.generation, h.cancel.clone(), h.info.clone())
        };
        checker::spawn(self.clone(), id, generation, config, cancel);
        self.notify();
        Ok((info, true))
    }

    /// GetHealthCheck.
    pub fn get_health_check(&self, id: &str) -> Result<HealthCheckInfo, Route53Error> {
        self.lock()
            .health_checks
            .iter()
            .find(|h| h.info.id == id)
            .map(|h| h.info.clone())
            .ok_or_else(|| Route53Error::NoSuchHealthCheck(id.to_string()))
    }

    /// ListHealthChecks: every health check in creation order.
    pub fn list_health_checks(&self) -> Vec<HealthCheckInfo> {
        self.lock().health_checks.iter().map(|h| h.info.clone()).collect()
    }

    /// DeleteHealthCheck: stops its checker; refused while a record set uses it.
    pub fn delete_health_check(&self, id: &str) -> Result<(), Route53Error> {
        let mut st = self.lock();
        let i = st
            .health_checks
            .iter()
            .position(|h| h.info.id == id)
            .ok_or_else(|| Route53Error::NoSuchHealthCheck(id.to_string()))?;
        let used = st
            .zones
            .iter()
            .flat_map(|z| z.records.iter())
            .any(|r| r.health_check_id.as_deref() == Some(id));
        if used {
            return Err(Route53Error::HealthCheckInUse(id.to_string()));
        }
        let rec = st.health_checks.remove(i);
        rec.cancel.cancel();
        drop(st);
        self.notify();
        Ok(())
    }

    /// Applies one probe of checker `checker` with the failure threshold, then the 18% rule
    /// across the checkers; records a change of the health check's status in the ground
    /// truth, with the report of the checker whose verdict tipped it. Returns false when
    /// the checker should stop (health check deleted or replaced).
    pub(crate) fn record_probe(&self, id: &str, generation: u64, checker: usize, ok: bool, detail: &str) -> bool {
        let mut st = self.lock();
        let Some(h) = st
            .health_checks
            .iter_mut()
            .find(|h| h.info.id == id && h.generation == generation)
        else {
            return false;
        };
        let threshold = h.info.config.failure_threshold;
        let Some(c) = h.info.checkers.get_mut(checker) else {
            return false;
        };
        if !c.record(ok, detail, threshold, now_unix_ms()) {
            return true;
        }
        let status = c.last.as_ref().map(|o| o.status.clone()).unwrap_or_default();
        let from = h.info.healthy;
        let to = verdict::considered_healthy(h.info.checkers.iter().map(|c| c.healthy));
        if to == from {
            return true;
        }
        h.info.healthy = to;
        (self.sink)(Truth::HealthCheckStatus {
            health_check: id.to_string(),
            from: health_name(from).into(),
            to: health_name(to).into(),
            status,
        });
        drop(st);
        self.notify();
        true
    }
}

pub(super) fn health_name(healthy: bool) -> &'static str {
    if healthy {
        "healthy"
    } else {
        "unhealthy"
    }
}
