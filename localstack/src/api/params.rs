//! The parameters of a query request: a strictly parsed form (`a=1&b=x+y`) with its
//! indexed lists, read from a POST body and query string or a GET query.

use std::collections::BTreeMap;

use http::{Method, StatusCode};

use super::errors::{shorten, QueryError};
use super::xml::{query_success, Xml};
use super::ApiRequest;

/// The parameters of one query request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Parses a form (`a=1&b=x+y&c=%2F`) strictly: the text must be UTF-8, every pair
    /// needs an `=`, every `%` two hex digits, and names must not be empty.
    pub fn parse(raw: &[u8]) -> Result<Params, QueryError> {
        let mut p = Params::default();
        p.extend(raw)?;
        Ok(p)
    }

    fn extend(&mut self, raw: &[u8]) -> Result<(), QueryError> {
        let text = std::str::from_utf8(raw).map_err(|_| malformed("the parameters are not UTF-8 text".into()))?;
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(malformed(format!("parameter {:?} has no '='", shorten(pair))));
            };
            let key = decode(k)?;
            if key.is_empty() {
                return Err(malformed("a parameter has an empty name".into()));
            }
            self.map.insert(key, decode(v)?);
        }
        Ok(())
    }

    /// One parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// One parameter that must be there and not be empty.
    pub fn required(&self, key: &str) -> Result<&str, QueryError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| QueryError::missing(key))
    }

    /// The indexed entries under `prefix` (`prefix.1…`, `prefix.2.Name…`), in index
    /// order, each with the keys below its index (a plain value has the key `""`).
    pub fn items(&self, prefix: &str) -> Vec<Params> {
        let head = format!("{prefix}.");
        let mut by_index: BTreeMap<u64, Params> = BTreeMap::new();
        for (k, v) in self.map.range(head.clone()..) {
            let Some(rest) = k.strip_prefix(&head) else {
                break;
            };
            let (index, sub) = rest.split_once('.').unwrap_or((rest, ""));
            let Ok(index) = index.parse::<u64>() else {
                continue;
            };
            by_index
                .entry(index)
                .or_default()
                .map
                .insert(sub.to_string(), v.clone());
        }
        by_index.into_values().collect()
    }

    /// The plain values of a list: awsQuery `Names.member.N` is `list("Names.member")`,
    /// EC2's `InstanceId.N` is `list("InstanceId")`.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.items(prefix)
            .into_iter()
            .filter_map(|p| p.map.get("").cloned())
            .collect()
    }

    /// Whether a boolean parameter is `true`.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn malformed(why: String) -> QueryError {
    QueryError::bad(
        "MalformedQueryString",
        format!("The request is not a valid form: {why}"),
    )
}

/// Percent-decodes one form component (`+` is a space).
fn decode(s: &str) -> Result<String, QueryError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let byte = hex
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| malformed("a '%' is not followed by two hex digits".into()))?;
                out.push(byte);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| malformed("a parameter does not decode to UTF-8 text".into()))
}

/// The request's parameters: a POST's query string and form body, or a GET's query.
pub fn request_params(req: &ApiRequest) -> Result<Params, QueryError> {
    let mut p = Params::default();
    match req.method {
        Method::POST => {
            if let Some(ct) = req.headers.get(http::header::CONTENT_TYPE) {
                let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
                if !req.body.is_empty() && !ct.starts_with("application/x-www-form-urlencoded") {
                    return Err(QueryError::bad(
                        "InvalidParameterValue",
                        format!(
                            "The body must be application/x-www-form-urlencoded, not {}",
                            shorten(&ct)
                        ),
                    ));
                }
            }
            p.extend(req.query.as_bytes())?;
            p.extend(&req.body)?;
        }
        Method::GET if !req.query.is_empty() => p.extend(req.query.as_bytes())?,
        Method::GET => {
            return Err(QueryError::bad(
                "MissingAction",
                "The request must contain the parameter Action: a GET carries the parameters in its query string (or POST them as a form)",
            ))
        }
        ref m => {
            return Err(QueryError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("The HTTP method {} is not allowed; send a POST with a form body", shorten(m.as_str())),
            ))
        }
    }
    Ok(p)
}

/// One query-protocol call as a service answers it: the action, its parameters and the
/// request id, answered in the service's namespace `ns`.
pub struct QueryCall<'a> {
    /// The action called.
    pub action: &'a str,
    /// Its parameters.
    pub p: &'a Params,
    /// The request id the answer carries.
    pub rid: &'a str,
    /// The service's XML namespace.
    pub ns: &'static str,
}

impl QueryCall<'_> {
    /// The call's success answer, its result written by `f`.
    pub fn ok(&self, f: &dyn Fn(&mut Xml)) -> Result<Vec<u8>, QueryError> {
        Ok(query_success(self.action, self.ns, self.rid, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists and structures are read back in index order, not string order.
    #[test]
    fn lists_in_index_order() {
        let p = Params::parse(b"Names.member.10=j&Names.member.2=b&Names.member.1=a&Filter.1.Name=tag%3AName&Filter.1.Value.1=x+y&Filter.1.Value.2=z").unwrap();
        assert_eq!(p.list("Names.member"), vec!["a", "b", "j"]);
        let f = p.items("Filter");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].get("Name"), Some("tag:Name"));
        assert_eq!(f[0].list("Value"), vec!["x y", "z"]);
    }

    /// Malformed forms are errors, never panics.
    #[test]
    fn malformed_forms() {
        for bad in [
            &b"Action"[..],
            b"Action=%zz",
            b"Action=%4",
            b"=x",
            b"\xff\xfe",
            b"Action=%ff",
            b"a=%+1",
        ] {
            let e = Params::parse(bad).unwrap_err();
            assert_eq!(e.code, "MalformedQueryString", "{bad:?}");
        }
        assert!(Params::parse(b"").unwrap().get("Action").is_none());
    }
}
