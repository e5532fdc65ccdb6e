//! The journal's events on a report's time axis: typed [`EventKind`]s that `report.json`
//! writes as `{"t_ms", "kind", "detail"}` (the kind's name and its other fields), the
//! shape it always had.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::journal::{Event, EventKind};

/// One journal event on the report's time axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "RawEvent", try_from = "RawEvent")]
pub struct ReportEvent {
    /// ms since the report's `t0_unix_ms`.
    pub t_ms: i64,
    /// What happened.
    pub kind: EventKind,
}

impl ReportEvent {
    /// The kind's name, e.g. `target_health` (`kind` in `report.json`).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The event's fields without its kind (`detail` in `report.json`).
    pub fn detail(&self) -> Value {
        Value::Object(self.kind.fields())
    }
}

/// A report event as `report.json` writes it.
#[derive(Serialize, Deserialize)]
struct RawEvent {
    t_ms: i64,
    kind: String,
    detail: Value,
}

impl From<ReportEvent> for RawEvent {
    fn from(e: ReportEvent) -> RawEvent {
        RawEvent {
            t_ms: e.t_ms,
            kind: e.name().to_string(),
            detail: e.detail(),
        }
    }
}

impl TryFrom<RawEvent> for ReportEvent {
    type Error = serde_json::Error;

    fn try_from(raw: RawEvent) -> Result<ReportEvent, serde_json::Error> {
        let mut fields = match raw.detail {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        fields.insert("kind".into(), Value::String(raw.kind));
        Ok(ReportEvent {
            t_ms: raw.t_ms,
            kind: serde_json::from_value(Value::Object(fields))?,
        })
    }
}

/// Journal events on the report's time axis.
pub fn report_events(events: &[Event], t0_unix_ms: i64) -> Vec<ReportEvent> {
    events
        .iter()
        .map(|e| ReportEvent {
            t_ms: e.t_unix_ms - t0_unix_ms,
            kind: e.kind.clone(),
        })
        .collect()
}

/// Reads `events` of `report.json`, skipping an event whose kind or fields this version
/// does not know (as the journal reader skips a line it cannot read) rather than refusing
/// the whole report.
pub(super) fn deserialize_events<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ReportEvent>, D::Error> {
    let raw: Vec<Value> = Vec::deserialize(d)?;
    Ok(raw.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report event reads from and writes back to the `{t_ms, kind, detail}` shape,
    /// unit kinds with an empty `detail`.
    #[test]
    fn report_events_keep_their_json_shape() {
        let text = r#"[{"t_ms":12,"kind":"target_health","detail":{"target":"i-1","zone":"az-a","state":"unhealthy","reason":null}},{"t_ms":13,"kind":"first_failure","detail":{}}]"#;
        let events: Vec<ReportEvent> = serde_json::from_str(text).unwrap();
        assert_eq!(
            events[0].kind,
            EventKind::TargetHealth {
                target: "i-1".into(),
                zone: Some("az-a".into()),
                state: "unhealthy".into(),
                reason: None,
            }
        );
        assert_eq!(events[1].kind, EventKind::FirstFailure);
        // The same JSON document back (an object's key order is not part of it: `detail`
        // is written with its keys sorted).
        let back: serde_json::Value = serde_json::from_str(&serde_json::to_string(&events).unwrap()).unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(text).unwrap());
    }

    /// An event of a kind this version does not know is skipped, not fatal.
    #[test]
    fn an_unknown_kind_is_skipped() {
        #[derive(Deserialize)]
        struct R {
            #[serde(deserialize_with = "deserialize_events")]
            events: Vec<ReportEvent>,
        }
        let r: R = serde_json::from_str(
            r#"{"events":[{"t_ms":1,"kind":"from_the_future","detail":{}},{"t_ms":2,"kind":"recovered","detail":{}}]}"#,
        )
        .unwrap();
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].kind, EventKind::Recovered);
    }
}
