//! The DNS observer: asks the app name's resolver for the name every [`POLL`], without
//! any cache, and journals each change of the answered address set.

use std::net::IpAddr;

use super::{Observers, POLL};
use crate::journal::{EventKind, Journal};
use crate::traffic::DnsResolver;

/// A failed lookup is journaled once, then again after this many more in a row.
const NOTE_EVERY: u32 = 50;

/// Polls `name` through `resolver` (build it with [`DnsResolver::uncached`] so every poll
/// is a query) and journals [`EventKind::DnsAnswerChanged`]: the first answer, then each
/// change. "No such name" and "no address" are an empty answer; lookups that get no
/// answer at all are journaled as notes and change nothing.
pub fn watch_dns(resolver: DnsResolver, name: String, journal: &Journal) -> Observers {
    let journal = journal.clone();
    Observers::spawn(move |stop| async move {
        let mut last: Option<Vec<String>> = None;
        let mut failures = 0u32;
        loop {
            let answer = tokio::select! {
                _ = stop.cancelled() => return,
                a = resolver.answer(&name) => a,
            };
            match answer {
                Ok(ips) => {
                    failures = 0;
                    let answers = texts(&ips);
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

fn texts(ips: &[IpAddr]) -> Vec<String> {
    ips.iter().map(IpAddr::to_string).collect()
}
