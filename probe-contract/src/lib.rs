//! The probe contract: what an app behind the load balancer serves so that drdrill can
//! probe it, defined once for the three parties that speak it — the local stack's app
//! instances (`drdrill-localstack`), the demo app for the reference AWS stack
//! (`drdrill-demo-app`) and the harness's prober (`drdrill`). See `docs/design.md`,
//! "The probe contract".
//!
//! - `GET` [`HEALTH_PATH`] answers 200 while the instance can serve;
//! - `PUT`/`POST` [`ITEM_PATH_TEMPLATE`] stores the body under the id and answers 201
//!   once it is committed (the acknowledgement drdrill's ledger records);
//! - `GET` [`ITEM_PATH_TEMPLATE`] answers 200 with the stored body, 404 when absent;
//! - every answer carries [`SERVED_BY_HEADER`]: [`ServedBy`], `instance/az/region`.

use std::fmt;

/// The health path: `GET` answers 200 while the instance can serve.
pub const HEALTH_PATH: &str = "/health";

/// What an item path starts with; the item's id follows.
pub const ITEMS_PREFIX: &str = "/items/";

/// The placeholder a path template holds where each probe's id goes.
pub const ID_PLACEHOLDER: &str = "{id}";

/// The item path as a template: [`ITEMS_PREFIX`] then [`ID_PLACEHOLDER`]. It is also the
/// prober's default write and read path, and the route syntax of axum.
pub const ITEM_PATH_TEMPLATE: &str = "/items/{id}";

/// The response header naming the instance that answered, as [`ServedBy`].
pub const SERVED_BY_HEADER: &str = "served-by";

/// The largest item body an app accepts; larger writes answer 413.
pub const MAX_ITEM_BODY: usize = 64 * 1024;

/// The longest id an app accepts.
pub const MAX_ID_LEN: usize = 256;

/// Whether an app accepts `id` as an item id: 1 to [`MAX_ID_LEN`] bytes of
/// `[A-Za-z0-9._-]` (no slash, space or escape, so an id is its own path segment).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The item id a request path names: what follows [`ITEMS_PREFIX`], when it is a
/// [`valid_id`]; `None` for any other path.
pub fn item_id(path: &str) -> Option<&str> {
    path.strip_prefix(ITEMS_PREFIX).filter(|id| valid_id(id))
}

/// A [`SERVED_BY_HEADER`] value: `instance/az/region` (the instance that answered, its
/// availability zone, its region). Displayed as the header's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServedBy {
    /// The instance that answered.
    pub instance: String,
    /// Its availability zone.
    pub az: String,
    /// Its region.
    pub region: String,
}

impl ServedBy {
    /// The value naming `instance` in availability zone `az` of `region`.
    pub fn new(instance: &str, az: &str, region: &str) -> Self {
        Self {
            instance: instance.to_owned(),
            az: az.to_owned(),
            region: region.to_owned(),
        }
    }

    /// Parses `instance/az/region` (surrounding white space ignored); `None` when the
    /// value has another shape (fewer or more parts, an empty part).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('/');
        let instance = parts.next().filter(|s| !s.is_empty())?;
        let az = parts.next().filter(|s| !s.is_empty())?;
        let region = parts.next().filter(|s| !s.is_empty())?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            instance: instance.to_owned(),
            az: az.to_owned(),
            region: region.to_owned(),
        })
    }
}

impl fmt::Display for ServedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.instance, self.az, self.region)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Ids follow the rule: no slashes, spaces, escapes or empty ids, at most 256 bytes.
    #[test]
    fn ids_as_apps_accept_them() {
        assert!(valid_id("w-123_a.b"));
        assert!(valid_id(&"a".repeat(MAX_ID_LEN)));
        assert!(!valid_id(&"a".repeat(MAX_ID_LEN + 1)));
        assert!(!valid_id(""));
        assert!(!valid_id("a b"));
        assert!(!valid_id("a%2Fb"));
        assert!(!valid_id("a/b"));
    }

    /// An item path yields its id; other paths, and item paths with a bad id, none.
    #[test]
    fn item_ids_from_paths() {
        assert_eq!(item_id("/items/w-1"), Some("w-1"));
        assert_eq!(item_id(&ITEM_PATH_TEMPLATE.replace(ID_PLACEHOLDER, "r-2")), Some("r-2"));
        assert_eq!(item_id("/items/"), None);
        assert_eq!(item_id("/items/a/b"), None);
        assert_eq!(item_id(HEALTH_PATH), None);
    }

    /// The template is the prefix followed by the placeholder.
    #[test]
    fn template_is_prefix_and_placeholder() {
        assert_eq!(ITEM_PATH_TEMPLATE, format!("{ITEMS_PREFIX}{ID_PLACEHOLDER}"));
    }

    /// Values of another shape are refused.
    #[test]
    fn served_by_refuses_other_shapes() {
        for bad in ["", "i-1", "i-1/az", "i-1//r", "/az/r", "i-1/az/r/x"] {
            assert_eq!(ServedBy::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            ServedBy::parse(" i-0abc/us-east-1a/us-east-1\n"),
            Some(ServedBy {
                instance: "i-0abc".into(),
                az: "us-east-1a".into(),
                region: "us-east-1".into()
            })
        );
    }

    proptest! {
        /// Displaying a value and parsing it back gives the same value, for any parts
        /// without a slash or surrounding white space.
        #[test]
        fn served_by_round_trips(
            instance in "[A-Za-z0-9._-]{1,20}",
            az in "[a-z0-9-]{1,15}",
            region in "[a-z0-9-]{1,15}",
        ) {
            let value = ServedBy { instance, az, region };
            prop_assert_eq!(ServedBy::parse(&value.to_string()), Some(value));
        }
    }
}
