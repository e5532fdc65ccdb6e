//! `DurationStr`: a `std::time::Duration` written in scenario files as a humantime string.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Examples shown in error messages and in the JSON Schema.
const EXAMPLES: &str = r#""30s", "2m", "500ms", "1m 30s""#;

/// A non-negative duration written as a humantime string (`"30s"`, `"2m"`, `"500ms"`,
/// `"1m 30s"`).
///
/// Deserializes from a string, serializes back to a humantime string, and dereferences to
/// [`std::time::Duration`]; use [`DurationStr::get`] to copy the duration out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DurationStr(Duration);

impl DurationStr {
    /// Wraps a duration.
    pub const fn new(duration: Duration) -> Self {
        Self(duration)
    }

    /// The duration.
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl Deref for DurationStr {
    type Target = Duration;

    fn deref(&self) -> &Duration {
        &self.0
    }
}

impl From<Duration> for DurationStr {
    fn from(duration: Duration) -> Self {
        Self(duration)
    }
}

impl From<DurationStr> for Duration {
    fn from(duration: DurationStr) -> Self {
        duration.0
    }
}

impl fmt::Display for DurationStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// Why a string is not a duration; its `Display` is the whole user-facing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a duration: {reason} (expected e.g. {EXAMPLES})")]
pub struct DurationParseError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for DurationStr {
    type Err = DurationParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| DurationParseError {
            input: input.to_owned(),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.starts_with('-') {
            return Err(fail("durations cannot be negative".to_owned()));
        }
        humantime::parse_duration(trimmed)
            .map(Self)
            .map_err(|e| fail(e.to_string()))
    }
}

impl Serialize for DurationStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DurationStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for DurationStr {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::DurationStr").into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A non-negative duration in humantime syntax: a number and a unit, repeated (ns, us, ms, s, m, h, d), e.g. \"30s\", \"2m\", \"500ms\", \"1m 30s\".",
            "pattern": r"^\s*([0-9]+(\.[0-9]+)?\s*[a-zA-Zµ]+\s*)+$",
            "examples": ["30s", "2m", "500ms", "1m 30s"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Common spellings parse to the expected durations.
    #[test]
    fn parses_humantime_spellings() {
        let cases = [
            ("30s", Duration::from_secs(30)),
            ("2m", Duration::from_secs(120)),
            ("500ms", Duration::from_millis(500)),
            ("1m 30s", Duration::from_secs(90)),
            ("0s", Duration::ZERO),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<DurationStr>().map(DurationStr::get), Ok(expected));
        }
    }

    /// Negative, unit-less and garbage strings are rejected with a message naming the input.
    #[test]
    fn rejects_bad_durations() {
        for text in ["-5s", "5", "abc", "", "5 parsecs"] {
            let err = text.parse::<DurationStr>().expect_err(text);
            let message = err.to_string();
            assert!(message.contains(&format!("{text:?}")), "{message}");
            assert!(message.contains("expected e.g."), "{message}");
        }
        let negative = "-5s".parse::<DurationStr>().expect_err("negative");
        assert!(negative.to_string().contains("negative"));
    }

    /// Display output parses back to the same duration.
    #[test]
    fn display_round_trips() {
        for millis in [0u64, 1, 500, 1_000, 90_000, 3_600_500] {
            let d = DurationStr::new(Duration::from_millis(millis));
            assert_eq!(d.to_string().parse::<DurationStr>(), Ok(d));
        }
    }
}
