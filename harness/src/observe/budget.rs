//! One observer's API budget: it calls at its cadence, backs off exponentially (capped)
//! while calls fail, journals every failed call ([`EventKind::ObserverCallFailed`]) and
//! each blind stretch ([`EventKind::ObserverBlind`]) once it can see again or stops.

use std::future::Future;
use std::time::Duration;

use aws_sdk_fis::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use tokio_util::sync::CancellationToken;

use crate::aws::AwsCallError;
use crate::journal::{now_unix_ms, EventKind, Journal};

/// AWS error codes that mean "slow down" (the SDKs' throttling codes).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// How an observer's call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// AWS answered with a throttling error: back off and keep going.
    Throttled,
    /// AWS answered with another error (AccessDenied, ExpiredToken, …): journal it and
    /// keep observing.
    Error,
    /// No HTTP answer at all (connect refused, timeout, DNS): the endpoint may be
    /// unreachable.
    Transport,
}

impl Failure {
    /// Classifies a failed call.
    pub fn of(e: &AwsCallError) -> Failure {
        if e.is_transport() {
            Failure::Transport
        } else if e.status == Some(429) || e.code.as_deref().is_some_and(|c| THROTTLING_CODES.contains(&c)) {
            Failure::Throttled
        } else {
            Failure::Error
        }
    }

    /// The journal's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Throttled => "throttled",
            Failure::Error => "error",
            Failure::Transport => "transport",
        }
    }
}

/// An observer's call of `service`'s `operation`, given up after `after`: its answer, or
/// its failure as [`Budget::failed`] takes it ([`timed_out`] when no answer came in time).
pub async fn timed<T, E>(
    service: &str,
    operation: &str,
    after: Duration,
    call: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<T, AwsCallError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match tokio::time::timeout(after, call).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(AwsCallError::from_sdk(&e)),
        Err(_) => Err(timed_out(service, operation, after)),
    }
}

/// A failed call with no SDK error: the observer's own timeout gave up on it.
pub fn timed_out(service: &str, operation: &str, after: Duration) -> AwsCallError {
    AwsCallError {
        service: Some(service.into()),
        operation: Some(operation.into()),
        status: None,
        code: None,
        message: format!("no answer within {after:?}"),
        request_id: None,
    }
}

#[derive(Debug, Clone)]
struct Streak {
    from_unix_ms: i64,
    failed: u32,
    throttled: u32,
    code: Option<String>,
}

/// The budget of one observer's calls to one operation.
#[derive(Clone)]
pub struct Budget {
    observer: &'static str,
    service: &'static str,
    operation: &'static str,
    cadence: Duration,
    max_backoff: Duration,
    journal: Journal,
    streak: Option<Streak>,
}

impl Budget {
    /// A budget calling `service` `operation` every `cadence`, backing off up to `max_backoff`.
    pub fn new(
        journal: &Journal,
        observer: &'static str,
        service: &'static str,
        operation: &'static str,
        cadence: Duration,
        max_backoff: Duration,
    ) -> Budget {
        Budget {
            observer,
            service,
            operation,
            cadence,
            max_backoff: max_backoff.max(cadence),
            journal: journal.clone(),
            streak: None,
        }
    }

    /// How long to wait before the next call: the cadence, or while calls fail the
    /// cadence doubled per failed call, capped at the maximum backoff.
    pub fn wait(&self) -> Duration {
        match &self.streak {
            None => self.cadence,
            Some(s) => {
                let doublings = s.failed.min(16);
                self.cadence.saturating_mul(1u32 << doublings).min(self.max_backoff)
            }
        }
    }

    /// Whether the observer is blind now (its last call failed).
    pub fn blind(&self) -> bool {
        self.streak.is_some()
    }

    /// A call sent at `sent_unix_ms` succeeded: a blind stretch, if any, ends now.
    pub fn succeeded(&mut self) {
        self.close(now_unix_ms());
    }

    /// A call sent at `sent_unix_ms` failed: journals it and starts or extends the blind
    /// stretch. Returns how it failed.
    pub fn failed(&mut self, sent_unix_ms: i64, e: &AwsCallError) -> Failure {
        let failure = Failure::of(e);
        let s = self.streak.get_or_insert(Streak {
            from_unix_ms: sent_unix_ms,
            failed: 0,
            throttled: 0,
            code: None,
        });
        s.failed += 1;
        if failure == Failure::Throttled {
            s.throttled += 1;
        }
        if e.code.is_some() {
            s.code = e.code.clone();
        }
        let retry_in_ms = self.wait().as_millis() as u64;
        self.journal.record(EventKind::ObserverCallFailed {
            observer: self.observer.into(),
            service: self.service.into(),
            operation: self.operation.into(),
            failure: failure.as_str().into(),
            status: e.status,
            error_code: e.code.clone(),
            message: e.to_string(),
            retry_in_ms,
        });
        failure
    }

    /// `f`'s output, unless `stop` is cancelled first: then the observer stops (the
    /// budget is closed, journaling a blind stretch still open) and this is `None`.
    pub async fn unless_stopped<F: Future>(&mut self, stop: &CancellationToken, f: F) -> Option<F::Output> {
        tokio::select! {
            _ = stop.cancelled() => {
                self.close(now_unix_ms());
                None
            }
            out = f => Some(out),
        }
    }

    /// Runs an observer: `call` at this budget's cadence (backing off while it fails)
    /// until `stop` is cancelled or `answered` — given each answer and when its call was
    /// sent — says the observer is done. A failed call is counted here, then given to
    /// `failed` with how it failed and when it was sent.
    pub async fn poll_until<T, Fut>(
        mut self,
        stop: CancellationToken,
        mut call: impl FnMut() -> Fut,
        mut answered: impl FnMut(T, i64) -> bool,
        mut failed: impl FnMut(Failure, i64),
    ) where
        Fut: Future<Output = Result<T, AwsCallError>>,
    {
        loop {
            let sent = now_unix_ms();
            let Some(answer) = self.unless_stopped(&stop, call()).await else {
                return;
            };
            match answer {
                Ok(out) => {
                    self.succeeded();
                    if answered(out, sent) {
                        return;
                    }
                }
                Err(e) => {
                    let failure = self.failed(sent, &e);
                    failed(failure, sent);
                }
            }
            let wait = self.wait();
            if self.unless_stopped(&stop, tokio::time::sleep(wait)).await.is_none() {
                return;
            }
        }
    }

    /// The observer stops (or sees again at `to_unix_ms`): journals the blind stretch.
    pub fn close(&mut self, to_unix_ms: i64) {
        if let Some(s) = self.streak.take() {
            self.journal.record(EventKind::ObserverBlind {
                observer: self.observer.into(),
                service: self.service.into(),
                operation: self.operation.into(),
                from_unix_ms: s.from_unix_ms,
                to_unix_ms: to_unix_ms.max(s.from_unix_ms),
                failed_calls: s.failed,
                throttled_calls: s.throttled,
                error_code: s.code,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: Option<u16>, code: Option<&str>) -> AwsCallError {
        AwsCallError {
            service: Some("fis".into()),
            operation: Some("GetExperiment".into()),
            status,
            code: code.map(str::to_string),
            message: "m".into(),
            request_id: None,
        }
    }

    /// Throttling codes and 429 are throttling; other answers are errors; no answer is a
    /// transport failure.
    #[test]
    fn failures_are_classified() {
        assert_eq!(Failure::of(&err(Some(400), Some("Throttling"))), Failure::Throttled);
        assert_eq!(
            Failure::of(&err(Some(503), Some("RequestLimitExceeded"))),
            Failure::Throttled
        );
        assert_eq!(Failure::of(&err(Some(429), None)), Failure::Throttled);
        assert_eq!(Failure::of(&err(Some(403), Some("AccessDenied"))), Failure::Error);
        assert_eq!(Failure::of(&err(Some(400), Some("ExpiredToken"))), Failure::Error);
        assert_eq!(Failure::of(&err(None, None)), Failure::Transport);
    }

    /// The wait doubles per failed call up to the cap, every failed call is journaled,
    /// and the blind stretch is journaled once, when a call succeeds again.
    #[test]
    fn backs_off_and_journals_the_blind_stretch() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path()).unwrap();
        let ms = Duration::from_millis;
        let mut b = Budget::new(&journal, "fis", "fis", "GetExperiment", ms(100), ms(500));
        assert_eq!(b.wait(), ms(100));
        let throttled = err(Some(429), Some("ThrottlingException"));
        assert_eq!(b.failed(1_000, &throttled), Failure::Throttled);
        assert_eq!(b.wait(), ms(200));
        b.failed(1_200, &throttled);
        assert_eq!(b.wait(), ms(400));
        b.failed(1_600, &err(Some(403), Some("AccessDenied")));
        assert_eq!(b.wait(), ms(500), "capped");
        assert!(b.blind());
        b.close(2_100);
        assert!(!b.blind());
        assert_eq!(b.wait(), ms(100));
        let events = journal.events();
        let failed = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::ObserverCallFailed { .. }))
            .count();
        assert_eq!(failed, 3);
        let blind: Vec<_> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ObserverBlind {
                    from_unix_ms,
                    to_unix_ms,
                    failed_calls,
                    throttled_calls,
                    error_code,
                    ..
                } => Some((
                    *from_unix_ms,
                    *to_unix_ms,
                    *failed_calls,
                    *throttled_calls,
                    error_code.clone(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(blind, vec![(1_000, 2_100, 3, 2, Some("AccessDenied".into()))]);
    }
}
