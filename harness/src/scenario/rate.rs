//! `Rate`: a request rate written in scenario files as `"<amount>/<unit>"` (`"50/s"`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The time unit of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateUnit {
    /// Per second (`/s`).
    Second,
    /// Per minute (`/m`).
    Minute,
    /// Per hour (`/h`).
    Hour,
}

impl RateUnit {
    /// The unit's length in seconds.
    pub const fn seconds(self) -> f64 {
        match self {
            Self::Second => 1.0,
            Self::Minute => 60.0,
            Self::Hour => 3600.0,
        }
    }

    /// The suffix written after the slash.
    pub const fn suffix(self) -> &'static str {
        match self {
            Self::Second => "s",
            Self::Minute => "m",
            Self::Hour => "h",
        }
    }
}

/// A rate such as `"50/s"`, `"3000/m"` or `"0.5/s"`.
///
/// Parsing only checks the syntax (a non-negative decimal, a slash, `s`/`m`/`h`); the
/// allowed range is checked by scenario validation. Serializes back to the same text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    amount: f64,
    unit: RateUnit,
}

impl Rate {
    /// A rate of `amount` per `unit`.
    pub const fn new(amount: f64, unit: RateUnit) -> Self {
        Self { amount, unit }
    }

    /// The amount as written (before the slash).
    pub const fn amount(&self) -> f64 {
        self.amount
    }

    /// The unit as written (after the slash).
    pub const fn unit(&self) -> RateUnit {
        self.unit
    }

    /// Events per second.
    pub fn per_second(&self) -> f64 {
        self.amount / self.unit.seconds()
    }

    /// The time between two events, or `None` when the rate is zero or not representable.
    pub fn interval(&self) -> Option<Duration> {
        Duration::try_from_secs_f64(1.0 / self.per_second()).ok()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.amount, self.unit.suffix())
    }
}

/// Why a string is not a rate; its `Display` is the whole user-facing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    r#"{input:?} is not a rate{} (expected e.g. "50/s", "3000/m", "0.5/s")"#,
    reason_suffix(reason)
)]
pub struct RateParseError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it, when more can be said than "not a rate".
    pub reason: Option<String>,
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
}

/// Whether `text` is a plain decimal: digits, optionally a dot and more digits.
fn is_plain_decimal(text: &str) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

impl FromStr for Rate {
    type Err = RateParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: Option<&str>| RateParseError {
            input: input.to_owned(),
            reason: reason.map(str::to_owned),
        };
        let Some((amount, unit)) = input.split_once('/') else {
            return Err(fail(Some("missing \"/<unit>\"")));
        };
        let unit = match unit.trim() {
            "s" => RateUnit::Second,
            "m" => RateUnit::Minute,
            "h" => RateUnit::Hour,
            _ => return Err(fail(Some("the unit must be s, m or h"))),
        };
        let amount = amount.trim();
        if amount.starts_with('-') {
            return Err(fail(Some("rates cannot be negative")));
        }
        if !is_plain_decimal(amount) {
            return Err(fail(Some("the amount must be a decimal number")));
        }
        let amount: f64 = amount
            .parse()
            .map_err(|_| fail(Some("the amount must be a decimal number")))?;
        if !amount.is_finite() {
            return Err(fail(Some("the amount is too large")));
        }
        Ok(Self { amount, unit })
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::Rate").into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A rate: a decimal amount, a slash and a unit (s, m or h), e.g. \"50/s\", \"3000/m\", \"0.5/s\". Must be above 0 and at most 100000/s.",
            "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*/\s*[smh]\s*$",
            "examples": ["50/s", "3000/m", "0.5/s"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates in every unit convert to the right per-second value.
    #[test]
    fn converts_to_per_second() {
        let cases = [("50/s", 50.0), ("3000/m", 50.0), ("0.5/s", 0.5), ("7200/h", 2.0)];
        for (text, expected) in cases {
            let rate: Rate = text.parse().expect(text);
            assert!((rate.per_second() - expected).abs() < 1e-9, "{text}");
        }
    }

    /// Garbage, negative and exotic float spellings are rejected with the input quoted.
    #[test]
    fn rejects_bad_rates() {
        for text in ["abc", "50", "50/x", "-1/s", "1e3/s", "inf/s", "NaN/s", "/s", "1./s"] {
            let err = text.parse::<Rate>().expect_err(text);
            let message = err.to_string();
            assert!(message.contains(&format!("{text:?}")), "{message}");
            assert!(message.contains(r#"expected e.g. "50/s""#), "{message}");
        }
    }

    /// Display output parses back to the same rate.
    #[test]
    fn display_round_trips() {
        for text in ["50/s", "3000/m", "0.5/s", "1/h"] {
            let rate: Rate = text.parse().expect(text);
            assert_eq!(rate.to_string(), text);
            assert_eq!(rate.to_string().parse::<Rate>(), Ok(rate));
        }
    }
}
