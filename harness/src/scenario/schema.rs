//! The JSON Schema of scenario files, generated from the Rust types.

use super::model::Scenario;

/// The JSON Schema (draft 2020-12) that scenario files follow; `drdrill schema` prints it.
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(Scenario).to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema names every top-level key, forbids unknown ones and types durations and
    /// rates as patterned strings.
    #[test]
    fn schema_describes_the_format() {
        let schema = json_schema();
        let properties = schema["properties"].as_object().expect("properties");
        for key in [
            "name",
            "description",
            "target",
            "app",
            "probe",
            "traffic",
            "fault",
            "steady_state",
            "objectives",
            "guardrails",
            "blast_radius",
            "timings",
        ] {
            assert!(properties.contains_key(key), "missing {key}");
        }
        assert_eq!(schema["additionalProperties"], serde_json::json!(false));
        let defs = schema["$defs"].as_object().expect("$defs");
        assert_eq!(defs["Duration"]["type"], "string");
        assert!(defs["Duration"]["pattern"].is_string());
        assert_eq!(defs["Rate"]["type"], "string");
    }
}
