//! The stack file's `tagging:` section: the Resource Groups Tagging API's local settings.
//!
//! ```yaml
//! tagging:
//!   page_size: 100   # GetResources page size without ResourcesPerPage (1..=100)
//! ```

use serde::Deserialize;

/// GetResources' largest `ResourcesPerPage` ("You can specify a minimum of 1 and a maximum
/// value of 100",
/// <https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html>).
pub const MAX_RESOURCES_PER_PAGE: usize = 100;

/// The Resource Groups Tagging API in the local stack (`tagging:`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaggingConfig {
    /// How many resources a GetResources page holds when the call gives no
    /// `ResourcesPerPage` (default [`MAX_RESOURCES_PER_PAGE`]); a small one makes the
    /// answer span pages, to test that a client follows `PaginationToken`.
    #[serde(default = "max_page")]
    pub page_size: usize,
}

fn max_page() -> usize {
    MAX_RESOURCES_PER_PAGE
}

impl Default for TaggingConfig {
    fn default() -> Self {
        TaggingConfig { page_size: max_page() }
    }
}

/// Checks the section: a page size within AWS's `ResourcesPerPage` range.
pub fn validate(t: &TaggingConfig) -> Result<(), (String, String)> {
    if (1..=MAX_RESOURCES_PER_PAGE).contains(&t.page_size) {
        Ok(())
    } else {
        Err((
            "tagging.page_size".into(),
            format!(
                "{} is not within AWS's ResourcesPerPage range 1..={MAX_RESOURCES_PER_PAGE}",
                t.page_size
            ),
        ))
    }
}
