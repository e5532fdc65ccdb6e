//! The verify phase: stops the probes and reads back every acknowledged write, keeping
//! the probes' outcome and the writes that were lost for the report.

use super::{error, traffic, Connected, Record, Stop};
use crate::analysis::LostWrite;
use crate::journal::{EventKind, Phase};
use crate::traffic::{DnsResolver, ProberHandle};

/// Stops `prober` and verifies its acknowledged writes (through `dns`, the resolver the
/// probes used, when the app is reached by its Route 53 name).
pub(super) async fn verify(
    rec: &mut Record,
    connected: &Connected,
    prober: ProberHandle,
    dns: Option<&DnsResolver>,
) -> Result<(), Stop> {
    rec.journal.record(EventKind::PhaseStarted { phase: Phase::Verify });
    let outcome = prober.stop().await;
    let plan = &connected.plan;
    let sc = &rec.loaded.scenario;
    let cfg = traffic::config(&rec.loaded, plan.base_url());
    rec.progress
        .line(&format!("verifying {} acknowledged writes", outcome.acks.len()));
    let verified = match outcome.acks.reader() {
        Ok(mut acks) => {
            let verified = crate::traffic::verify_writes_resolving(
                plan.base_url(),
                dns,
                &cfg.read,
                sc.probe.expect_status.as_deref(),
                acks.by_ref(),
                sc.timings.verification_grace.get(),
                sc.traffic.timeout.get(),
            )
            .await;
            // A list that could not be read whole cannot tell what was lost.
            acks.finish().and(verified)
        }
        Err(e) => Err(e),
    };
    rec.traffic = Some(outcome);
    let verified = verified.map_err(|e| error(format!("verify: {e}")))?;
    rec.journal.record(EventKind::Verified {
        acked: verified.verified + verified.lost.len(),
        lost: verified.lost.len(),
    });
    rec.lost = Some(
        verified
            .lost
            .iter()
            .map(|w| LostWrite {
                id: w.id.clone(),
                acked_unix_ms: w.acked_unix_ms,
            })
            .collect(),
    );
    Ok(())
}
