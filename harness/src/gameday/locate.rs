//! Where keys of a game-day plan are in its text, for error messages: the plan is parsed
//! a second time into a tree of `serde_saphyr::Spanned` nodes, flattened into key paths
//! (`scenarios[1].pause_after`) with the position of each value.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::scenario::LineColumn;

/// Key paths of a plan and where their keys and values start.
#[derive(Debug, Default)]
pub(crate) struct PlanLocator {
    /// (path, key position, value position), in document order.
    entries: Vec<(String, Option<LineColumn>, Option<LineColumn>)>,
}

/// The position of a serde-saphyr location, when it is known.
pub(crate) fn line_column(location: serde_saphyr::Location) -> Option<LineColumn> {
    (location.line() > 0 && location.column() > 0).then(|| LineColumn {
        line: location.line(),
        column: location.column(),
    })
}

impl PlanLocator {
    /// Indexes `text`; empty when it is not well-formed YAML.
    pub(crate) fn new(text: &str) -> PlanLocator {
        let mut locator = PlanLocator::default();
        if let Ok(root) = serde_saphyr::from_str::<Spanned<Node>>(text) {
            locator.walk(&root, "");
        }
        locator
    }

    fn walk(&mut self, node: &Spanned<Node>, path: &str) {
        match &node.value {
            Node::Map(entries) => {
                for (key, value) in entries {
                    let child = if path.is_empty() {
                        key.value.clone()
                    } else {
                        format!("{path}.{}", key.value)
                    };
                    self.entries.push((
                        child.clone(),
                        line_column(key.referenced),
                        line_column(value.referenced),
                    ));
                    self.walk(value, &child);
                }
            }
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    self.entries.push((child.clone(), None, line_column(item.referenced)));
                    self.walk(item, &child);
                }
            }
            Node::Scalar => {}
        }
    }

    /// Where the value at `path` starts, or its closest ancestor's.
    pub(crate) fn value_position(&self, path: &str) -> Option<LineColumn> {
        let mut current = path;
        loop {
            if let Some((_, key, value)) = self.entries.iter().find(|e| e.0 == current) {
                return value.or(*key);
            }
            current = &current[..current.rfind(['.', '['])?];
        }
    }

    /// The key path an error at `position` is about: the mapping holding a key that
    /// starts there, or the deepest value that starts there.
    pub(crate) fn path_at(&self, position: LineColumn) -> Option<String> {
        if let Some((path, ..)) = self.entries.iter().find(|e| e.1 == Some(position)) {
            let parent = &path[..path.rfind(['.', '[']).unwrap_or(0)];
            return (!parent.is_empty()).then(|| parent.to_owned());
        }
        self.entries
            .iter()
            .filter(|e| e.2 == Some(position))
            .max_by_key(|e| e.0.len())
            .map(|e| e.0.clone())
    }
}

/// A YAML node; map keys are kept as text, scalars only as a position.
enum Node {
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "gameday: x\nscenarios:\n  - path: a.yaml\n    pause_after: 5s\n  - path: b.yaml\n";

    /// Values are found by their key path, sequence items by index.
    #[test]
    fn finds_values_by_path() {
        let l = PlanLocator::new(PLAN);
        let at = |line, column| Some(LineColumn { line, column });
        assert_eq!(l.value_position("scenarios[0].pause_after"), at(4, 18));
        assert_eq!(l.value_position("scenarios[1].path"), at(5, 11));
        assert_eq!(l.value_position("scenarios[1].nope"), at(5, 5));
        assert_eq!(l.value_position("nope"), None);
    }

    /// A position on a key names the mapping that holds it; on a value, the value.
    #[test]
    fn names_the_path_at_a_position() {
        let l = PlanLocator::new(PLAN);
        let at = |line, column| LineColumn { line, column };
        assert_eq!(l.path_at(at(4, 5)).as_deref(), Some("scenarios[0]"));
        assert_eq!(l.path_at(at(4, 18)).as_deref(), Some("scenarios[0].pause_after"));
        assert_eq!(l.path_at(at(1, 1)), None);
    }
}
