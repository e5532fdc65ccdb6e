//! Which resources a backup selection covers, from its `Resources`, `ListOfTags`,
//! `Conditions` and `NotResources` and the region's resources with their tags (as the
//! Resource Groups Tagging API's `GetResources` lists them).
//!
//! AWS's rules (<https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupSelection.html>,
//! <https://docs.aws.amazon.com/aws-backup/latest/devguide/assigning-resources.html>):
//! `Resources` (ARNs, `*` wildcards) and `Conditions` combine with AND, the conditions
//! among themselves with AND (`StringEquals`, `StringNotEquals`, `StringLike`,
//! `StringNotLike` on `aws:ResourceTag/KEY`); `ListOfTags` entries (`StringEquals` only)
//! each add the resources they match (OR); `NotResources` are taken out last. A selection
//! with none of them selects every resource. An ARN written out in `Resources` counts even
//! when `GetResources` does not list it (it lists tagged resources only), unless
//! conditions on tags must hold.

use std::collections::BTreeMap;

/// A tag condition: `aws:ResourceTag/KEY` (or `KEY`) compared with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `StringEquals`, `StringNotEquals`, `StringLike` or `StringNotLike`.
    pub op: String,
    /// The key as AWS gives it (`aws:ResourceTag/backup`).
    pub key: String,
    /// The value (`*` wildcards for the `Like` forms).
    pub value: String,
}

/// A selection as `GetBackupSelection` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectionSpec {
    /// `Resources`.
    pub resources: Vec<String>,
    /// `NotResources`.
    pub not_resources: Vec<String>,
    /// `ListOfTags` (each a `StringEquals`).
    pub list_of_tags: Vec<Condition>,
    /// `Conditions`, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A resource of the region with its tags.
pub type Tagged = (String, BTreeMap<String, String>);

/// Whether `text` matches `pattern`, where `*` matches any run of characters: the local
/// stack's reading of AWS Backup's ARN and tag patterns, shared.
pub use drdrill_localstack::backup_model::model::glob;

fn holds(c: &Condition, tags: &BTreeMap<String, String>) -> bool {
    let key = c.key.strip_prefix("aws:ResourceTag/").unwrap_or(&c.key);
    let value = tags.get(key);
    match c.op.as_str() {
        "StringEquals" | "STRINGEQUALS" => value == Some(&c.value),
        "StringNotEquals" => value != Some(&c.value),
        "StringLike" => value.is_some_and(|v| glob(&c.value, v)),
        "StringNotLike" => !value.is_some_and(|v| glob(&c.value, v)),
        _ => false,
    }
}

/// The ARNs `spec` covers among `region_resources`, sorted.
pub fn resolve(spec: &SelectionSpec, region_resources: &[Tagged]) -> Vec<String> {
    let nothing_given = spec.resources.is_empty() && spec.list_of_tags.is_empty() && spec.conditions.is_empty();
    let mut known: Vec<Tagged> = region_resources.to_vec();
    if spec.conditions.is_empty() {
        for arn in spec.resources.iter().filter(|r| !r.contains('*')) {
            if !known.iter().any(|(a, _)| a == arn) {
                known.push((arn.clone(), BTreeMap::new()));
            }
        }
    }
    let mut out: Vec<String> = known
        .iter()
        .filter(|(arn, tags)| {
            let by_arn = (!spec.resources.is_empty() || !spec.conditions.is_empty())
                && (spec.resources.is_empty() || spec.resources.iter().any(|p| glob(p, arn)))
                && spec.conditions.iter().all(|c| holds(c, tags));
            let by_tag = spec.list_of_tags.iter().any(|c| holds(c, tags));
            nothing_given || by_arn || by_tag
        })
        .filter(|(arn, _)| !spec.not_resources.iter().any(|p| glob(p, arn)))
        .map(|(arn, _)| arn.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(arn: &str, tags: &[(&str, &str)]) -> Tagged {
        (
            arn.to_string(),
            tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        )
    }

    fn cond(op: &str, key: &str, value: &str) -> Condition {
        Condition {
            op: op.into(),
            key: key.into(),
            value: value.into(),
        }
    }

    const DB1: &str = "arn:aws:rds:us-east-1:000000000000:db:db-1";
    const DB2: &str = "arn:aws:rds:us-east-1:000000000000:db:db-2";
    const I1: &str = "arn:aws:ec2:us-east-1:000000000000:instance/i-1";

    fn region() -> Vec<Tagged> {
        vec![
            res(DB1, &[("backup", "daily"), ("owner", "a")]),
            res(DB2, &[("backup", "weekly")]),
            res(I1, &[("backup", "daily")]),
        ]
    }

    /// AWS's example: Resources `arn:aws:rds:*:*:db:*` AND two StringEquals conditions
    /// selects only the databases with both tags.
    #[test]
    fn resources_and_conditions_combine_with_and() {
        let spec = SelectionSpec {
            resources: vec!["arn:aws:rds:*:*:db:*".into()],
            conditions: vec![
                cond("StringEquals", "aws:ResourceTag/backup", "daily"),
                cond("StringEquals", "aws:ResourceTag/owner", "a"),
            ],
            ..Default::default()
        };
        assert_eq!(resolve(&spec, &region()), vec![DB1.to_string()]);
    }

    /// ListOfTags entries are ORed; NotResources takes resources out.
    #[test]
    fn list_of_tags_is_or_and_not_resources_excludes() {
        let spec = SelectionSpec {
            list_of_tags: vec![
                cond("STRINGEQUALS", "backup", "daily"),
                cond("STRINGEQUALS", "backup", "weekly"),
            ],
            not_resources: vec![I1.into()],
            ..Default::default()
        };
        assert_eq!(resolve(&spec, &region()), vec![DB1.to_string(), DB2.to_string()]);
    }

    /// The Like and Not forms; an ARN written out counts even when untagged.
    #[test]
    fn like_not_and_explicit_arns() {
        let spec = SelectionSpec {
            conditions: vec![
                cond("StringLike", "aws:ResourceTag/backup", "d*"),
                cond("StringNotEquals", "aws:ResourceTag/owner", "a"),
            ],
            ..Default::default()
        };
        assert_eq!(resolve(&spec, &region()), vec![I1.to_string()]);
        let untagged = "arn:aws:rds:us-east-1:000000000000:db:plain";
        let spec = SelectionSpec {
            resources: vec![untagged.into()],
            ..Default::default()
        };
        assert_eq!(resolve(&spec, &region()), vec![untagged.to_string()]);
        assert_eq!(resolve(&SelectionSpec::default(), &region()).len(), 3);
    }

    #[test]
    fn glob_matches_runs() {
        assert!(glob("arn:aws:rds:*:*:db:*", DB1));
        assert!(!glob("arn:aws:rds:*:*:cluster:*", DB1));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxcyyb"));
    }
}
