//! The DNS observer: asks the app name's resolver for the name every [`POLL`], without
//! any cache, and journals each change of the answered address set.
//!
//! Weighted records answer one value per query at random, so one query per poll would
//! report a change at almost every poll. Each poll therefore asks [`QUERIES_PER_POLL`]
//! times and takes the union; a value joins the set as soon as it is answered and leaves
//! it only after [`ABSENT_POLLS`] polls in a row without it. A failover (one value
//! replaced by another) is seen at once as the new value joining.

use std::net::IpAddr;

use super::{Observers, POLL};
use crate::journal::{EventKind, Journal};
use crate::traffic::DnsResolver;

/// A failed lookup is journaled once, then again after this many more in a row.
const NOTE_EVERY: u32 = 50;

/// Queries per poll, whose answers are joined.
pub const QUERIES_PER_POLL: usize = 8;

/// Polls in a row a value must be missing from before it leaves the answer set.
pub const ABSENT_POLLS: u32 = 3;

/// The answer set as the observer reports it: values with the number of polls in a row
/// each has been missing.
#[derive(Debug, Default)]
pub struct StableAnswers {
    missing_for: std::collections::BTreeMap<String, u32>,
}

impl StableAnswers {
    /// Takes one poll's joined answers; returns the reported set (sorted).
    pub fn update(&mut self, polled: &[String]) -> Vec<String> {
        for v in polled {
            self.missing_for.insert(v.clone(), 0);
        }
        self.missing_for.retain(|v, n| {
            if !polled.contains(v) {
                *n += 1;
            }
            *n < ABSENT_POLLS
        });
        self.missing_for.keys().cloned().collect()
    }
}

/// Polls `name` through `resolver` (build it with [`DnsResolver::uncached`] so every poll
/// is a query) and journals [`EventKind::DnsAnswerChanged`]: the first answer, then each
/// change. "No such name" and "no address" are an empty answer; lookups that get no
/// answer at all are journaled as notes and change nothing.
pub fn watch_dns(resolver: DnsResolver, name: String, journal: &Journal) -> Observers {
    let journal = journal.clone();
    Observers::spawn(move |stop| async move {
        let mut last: Option<Vec<String>> = None;
        let mut stable = StableAnswers::default();
        let mut failures = 0u32;
        loop {
            let answer = tokio::select! {
                _ = stop.cancelled() => return,
                a = poll(&resolver, &name) => a,
            };
            match answer {
                Ok(polled) => {
                    failures = 0;
                    let answers = stable.update(&polled);
                    if last.as_ref() != Some(&answers) {
                        journal.record(EventKind::DnsAnswerChanged {
                            name: name.clone(),
                            previous: last.replace(answers.clone()),
                            answers,
                        });
                    }
                }
                Err(error) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(NOTE_EVERY) {
                        journal.record(EventKind::Note {
                            message: format!("DNS observer: {error}"),
                        });
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

/// One poll: [`QUERIES_PER_POLL`] queries, their answers joined (sorted, deduplicated).
/// Fails only when every query failed.
async fn poll(resolver: &DnsResolver, name: &str) -> Result<Vec<String>, String> {
    let mut joined: Vec<String> = Vec::new();
    let mut last_error = None;
    let mut answered = false;
    for _ in 0..QUERIES_PER_POLL {
        match resolver.answer(name).await {
            Ok(ips) => {
                answered = true;
                joined.extend(ips.iter().map(IpAddr::to_string));
            }
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    joined.sort();
    joined.dedup();
    match (answered, last_error) {
        (false, Some(e)) => Err(e),
        _ => Ok(joined),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// A value joins at once and leaves only after `ABSENT_POLLS` polls without it, so a
    /// weighted name answering one of two values per query does not flap.
    #[test]
    fn values_join_at_once_and_leave_late() {
        let mut s = StableAnswers::default();
        assert_eq!(s.update(&v(&["a"])), v(&["a"]));
        assert_eq!(s.update(&v(&["b"])), v(&["a", "b"]), "b joins at once");
        for _ in 2..ABSENT_POLLS {
            assert_eq!(s.update(&v(&["b"])), v(&["a", "b"]), "a stays while recently seen");
        }
        assert_eq!(s.update(&v(&["b"])), v(&["b"]), "a leaves after {ABSENT_POLLS} polls");
        assert_eq!(s.update(&v(&["a"])), v(&["a", "b"]));
        assert_eq!(s.update(&v(&["b"])), v(&["a", "b"]), "one miss resets nothing");
        assert_eq!(s.update(&[]), v(&["a", "b"]));
    }
}
