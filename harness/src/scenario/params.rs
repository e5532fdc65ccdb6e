//! `{{name}}` placeholders in FIS templates and their substitution from `fault.parameters`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::fis_template::TemplateError;
use super::locate::join_key;

/// Why parameters and placeholders do not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParamError {
    /// A placeholder in the template has no value.
    Unfilled(TemplateError),
    /// A parameter is not used by any placeholder.
    Unused(String),
}

/// Replaces every `{{name}}` in the string values of `template` with `parameters[name]`.
///
/// A placeholder is `{{`, optional spaces, a name of letters, digits, `_` or `-`, optional
/// spaces and `}}`; anything else between braces is left as it is. Substituted values are
/// not scanned again. Fails on the first placeholder without a value, then on the first
/// parameter that no placeholder uses.
pub(crate) fn substitute(template: &mut Value, parameters: &BTreeMap<String, String>) -> Result<(), ParamError> {
    let mut used = BTreeSet::new();
    walk(template, "", parameters, &mut used).map_err(ParamError::Unfilled)?;
    match parameters.keys().find(|name| !used.contains(name.as_str())) {
        Some(unused) => Err(ParamError::Unused(unused.clone())),
        None => Ok(()),
    }
}

fn walk<'p>(
    value: &mut Value,
    path: &str,
    parameters: &'p BTreeMap<String, String>,
    used: &mut BTreeSet<&'p str>,
) -> Result<(), TemplateError> {
    match value {
        Value::String(text) => {
            if let Some(replaced) = fill(text, path, parameters, used)? {
                *text = replaced;
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{index}]"), parameters, used)?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                walk(item, &join_key(path, key), parameters, used)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// The filled-in text, or `None` when `text` has no placeholder.
fn fill<'p>(
    text: &str,
    path: &str,
    parameters: &'p BTreeMap<String, String>,
    used: &mut BTreeSet<&'p str>,
) -> Result<Option<String>, TemplateError> {
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some(open) = rest.find("{{") {
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else {
            break;
        };
        let name = after_open[..close].trim();
        if !is_name(name) {
            out.push_str(&rest[..open + 2]);
            rest = after_open;
            continue;
        }
        let Some((key, value)) = parameters.get_key_value(name) else {
            return Err(TemplateError {
                path: path.to_owned(),
                message: format!("placeholder \"{{{{{name}}}}}\" has no value (add {name} to fault.parameters)"),
            });
        };
        used.insert(key.as_str());
        out.push_str(&rest[..open]);
        out.push_str(value);
        rest = &after_open[close + 2..];
        changed = true;
    }
    if !changed {
        return Ok(None);
    }
    out.push_str(rest);
    Ok(Some(out))
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// Placeholders in nested string values are filled; keys, numbers and non-names are not.
    #[test]
    fn fills_placeholders() {
        let mut t = json!({
            "a": ["zone {{az}} and {{ az }}", 3, "{{not a name}}"],
            "{{az}}": {"b": "{{n}}{{az}}", "c": "{{az"}
        });
        substitute(&mut t, &params(&[("az", "us-east-1a"), ("n", "2")])).expect("fills");
        assert_eq!(
            t,
            json!({
                "a": ["zone us-east-1a and us-east-1a", 3, "{{not a name}}"],
                "{{az}}": {"b": "2us-east-1a", "c": "{{az"}
            })
        );
    }

    /// A placeholder without a value is reported with its JSON path and name.
    #[test]
    fn unfilled_placeholder_is_named() {
        let mut t = json!({"targets": {"T": {"filters": [{"values": ["{{az}}"]}]}}});
        let err = substitute(&mut t, &params(&[])).expect_err("unfilled");
        let ParamError::Unfilled(err) = err else {
            panic!("wrong error {err:?}")
        };
        assert_eq!(err.path, "targets.T.filters[0].values[0]");
        assert!(err.message.contains("{{az}}"), "{}", err.message);
    }

    /// A parameter no placeholder uses is reported by name.
    #[test]
    fn unused_parameter_is_named() {
        let mut t = json!({"a": "{{az}}"});
        let err = substitute(&mut t, &params(&[("az", "x"), ("zone", "y")]));
        assert_eq!(err, Err(ParamError::Unused("zone".to_owned())));
    }
}
