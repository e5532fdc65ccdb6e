//! Credentials for an AWS target that are resolved again from the credential chain when
//! AWS says they expired. A game day outlives session tokens: SSO and assumed-role
//! sessions end, and AWS may refuse a token before the SDK's own idea of its expiry.
//! The SDK's cache would keep handing out the refused token; this provider keeps its own
//! cache and drops it when any client's call was answered `ExpiredToken` (counted by the
//! [`CallLog`]) or the credentials are about to expire, so the next call resolves the
//! chain again (profile, `credential_process`, SSO, environment, …). What happened is
//! kept as notes for the run's journal: a renewal, or a chain that gave back the same
//! expired key (the run then says so, and its experiment is still stopped by the dead
//! man's switch, which needs no credentials of drdrill's).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;

use super::CallLog;
use crate::journal::now_unix_ms;

/// Credentials closer than this to their expiry are resolved again before use.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// A caching provider over the credential chain that re-resolves after `ExpiredToken`.
#[derive(Debug)]
pub struct RenewingCredentials {
    chain: SharedCredentialsProvider,
    calls: CallLog,
    state: tokio::sync::Mutex<State>,
    notes: Mutex<Vec<(i64, String)>>,
    /// Since when AWS refuses the credentials and the chain gives no fresh ones.
    unrenewable_since: Mutex<Option<Instant>>,
}

#[derive(Debug, Default)]
struct State {
    current: Option<Credentials>,
    /// `calls.expired_answers()` when `current` was resolved.
    expired_seen: u64,
}

impl RenewingCredentials {
    /// Over `chain`, watching `calls` for expired-token answers.
    pub fn new(chain: SharedCredentialsProvider, calls: CallLog) -> RenewingCredentials {
        RenewingCredentials {
            chain,
            calls,
            state: tokio::sync::Mutex::new(State::default()),
            notes: Mutex::new(Vec::new()),
            unrenewable_since: Mutex::new(None),
        }
    }

    /// How long AWS has refused the credentials with the chain giving no fresh ones
    /// (`None` while they work or were renewed).
    pub fn unrenewable_for(&self) -> Option<Duration> {
        self.unrenewable_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|since| since.elapsed())
    }

    /// Marks the credentials unrenewable; true the first time (so it is noted once).
    fn mark_unrenewable(&self) -> bool {
        let mut since = self.unrenewable_since.lock().unwrap_or_else(|p| p.into_inner());
        let first = since.is_none();
        since.get_or_insert_with(Instant::now);
        first
    }

    /// Takes the notes so far (unix ms, text): each renewal after an expired token, and
    /// each time the chain could give nothing new.
    pub fn take_notes(&self) -> Vec<(i64, String)> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn note(&self, text: String) {
        tracing::warn!("{text}");
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((now_unix_ms(), text));
    }

    async fn resolve(&self) -> aws_credential_types::provider::Result {
        let mut st = self.state.lock().await;
        let expired_now = self.calls.expired_answers();
        // Refused: AWS answered ExpiredToken since the credentials in use were resolved
        // (answers before the first resolution were not to these credentials).
        let refused = st.current.is_some() && expired_now > st.expired_seen;
        if let Some(c) = &st.current {
            let near_expiry = c.expiry().is_some_and(|e| e <= SystemTime::now() + EXPIRY_MARGIN);
            if !refused && !near_expiry {
                return Ok(c.clone());
            }
        }
        let previous = st.current.as_ref().map(|c| c.access_key_id().to_string());
        let fresh = match self.chain.provide_credentials().await {
            Ok(c) => c,
            Err(e) => {
                if refused && self.mark_unrenewable() {
                    self.note(format!(
                        "AWS said the session credentials expired and the credential chain gave none again: {e}; refresh them (e.g. `aws sso login`); the experiment is stopped by the dead man's switch if drdrill cannot stop it"
                    ));
                }
                if refused {
                    st.expired_seen = expired_now;
                }
                return Err(e);
            }
        };
        if refused {
            if previous.as_deref() == Some(fresh.access_key_id()) {
                if !self.mark_unrenewable() {
                    st.expired_seen = expired_now;
                    return Ok(fresh);
                }
                self.note(format!(
                    "AWS said the session credentials expired, and the credential chain gave the same access key {} again: they cannot be renewed from here; refresh them (e.g. `aws sso login`); the experiment is stopped by the dead man's switch if drdrill cannot stop it",
                    fresh.access_key_id()
                ));
            } else {
                *self.unrenewable_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
                self.note(format!(
                    "AWS said the session credentials expired; renewed from the credential chain (access key {} → {})",
                    previous.unwrap_or_default(),
                    fresh.access_key_id()
                ));
            }
        }
        st.expired_seen = expired_now;
        st.current = Some(fresh.clone());
        Ok(fresh)
    }
}

impl ProvideCredentials for RenewingCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.resolve())
    }
}

/// A shared [`RenewingCredentials`] as the SDK's credentials provider (the SDK takes
/// ownership of its provider; drdrill keeps the other handle for the notes).
#[derive(Debug, Clone)]
pub struct SharedRenewing(pub std::sync::Arc<RenewingCredentials>);

impl ProvideCredentials for SharedRenewing {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.0.resolve())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    /// A chain that hands out key `AKID<n>` on its n-th resolution (or always the same).
    #[derive(Debug)]
    struct Counting {
        n: Arc<AtomicU32>,
        same: bool,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
            let key = if self.same {
                "AKID1".to_string()
            } else {
                format!("AKID{n}")
            };
            future::ProvideCredentials::ready(Ok(Credentials::new(key, "secret", None, None, "test")))
        }
    }

    fn expired_answer(calls: &CallLog) {
        calls.record_for_test("ExpiredToken");
    }

    /// Cached until an expired-token answer; then resolved again once, and the renewal
    /// noted; a chain that gives the same key again is noted as unable to renew.
    #[tokio::test]
    async fn resolves_again_after_an_expired_token() {
        let calls = CallLog::default();
        let resolved = Arc::new(AtomicU32::new(0));
        let chain = Counting {
            n: resolved.clone(),
            same: false,
        };
        let p = RenewingCredentials::new(SharedCredentialsProvider::new(chain), calls.clone());
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "AKID1");
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "AKID1");
        assert_eq!(resolved.load(Ordering::SeqCst), 1, "cached");
        assert!(p.take_notes().is_empty());
        expired_answer(&calls);
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "AKID2");
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "AKID2");
        assert_eq!(resolved.load(Ordering::SeqCst), 2, "resolved again once");
        let notes = p.take_notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].1.contains("AKID1 → AKID2"), "{notes:?}");

        let same = RenewingCredentials::new(
            SharedCredentialsProvider::new(Counting {
                n: Arc::new(AtomicU32::new(0)),
                same: true,
            }),
            calls.clone(),
        );
        same.provide_credentials().await.unwrap();
        expired_answer(&calls);
        same.provide_credentials().await.unwrap();
        let notes = same.take_notes();
        assert!(notes[0].1.contains("gave the same access key AKID1 again"), "{notes:?}");
        assert!(same.unrenewable_for().is_some());
        // Refused again: resolved again, but noted only once.
        expired_answer(&calls);
        same.provide_credentials().await.unwrap();
        assert!(same.take_notes().is_empty());
        assert!(p.unrenewable_for().is_none(), "the renewed provider works");
    }

    /// Credentials about to expire are resolved again before use.
    #[tokio::test]
    async fn credentials_near_expiry_are_renewed() {
        #[derive(Debug)]
        struct Short(AtomicU32);
        impl ProvideCredentials for Short {
            fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
            where
                Self: 'a,
            {
                let n = self.0.fetch_add(1, Ordering::SeqCst);
                let expiry = SystemTime::now() + Duration::from_secs(30);
                future::ProvideCredentials::ready(Ok(Credentials::new(format!("K{n}"), "s", None, Some(expiry), "t")))
            }
        }
        let p = RenewingCredentials::new(
            SharedCredentialsProvider::new(Short(AtomicU32::new(0))),
            CallLog::default(),
        );
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K0");
        assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "K1");
    }
}
