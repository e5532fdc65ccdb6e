//! Best-effort map between key paths (`traffic.rate`) and line/column in the YAML text.
//!
//! The scenario text is parsed a second time into a tree of `serde_saphyr::Spanned` nodes,
//! which records where every key and value starts. Validation errors use it to point at the
//! offending value; parse errors use it to name the key path at the error's position.
//! When the text is not well-formed YAML, the key path is guessed from indentation.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineColumn {
    /// Line, starting at 1.
    pub line: u64,
    /// Column, starting at 1.
    pub column: u64,
}

impl LineColumn {
    /// The position of a serde-saphyr location, or `None` when it is unknown.
    pub(crate) fn from_location(location: serde_saphyr::Location) -> Option<Self> {
        (location.line() > 0 && location.column() > 0).then(|| Self {
            line: location.line(),
            column: location.column(),
        })
    }
}

impl fmt::Display for LineColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Key paths and where their keys and values start.
#[derive(Debug, Default)]
pub(crate) struct Locator {
    entries: Vec<Entry>,
    /// The text, kept only when it could not be parsed, for the indentation fallback.
    unparsed: Option<String>,
}

#[derive(Debug)]
struct Entry {
    /// `a.b[0].c`
    path: String,
    /// Where the key starts (none for sequence items).
    key: Option<LineColumn>,
    /// Where the value starts.
    value: Option<LineColumn>,
}

impl Locator {
    /// Indexes `text`; empty when the text is not well-formed YAML.
    pub(crate) fn new(text: &str) -> Self {
        let mut locator = Self::default();
        // Duplicate keys are an error for the scenario, but the index should still locate them.
        let options = serde_saphyr::options! {
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        };
        match serde_saphyr::from_str_with_options::<Spanned<Node>>(text, options) {
            Ok(root) => locator.walk(&root, ""),
            Err(_) => locator.unparsed = Some(text.to_owned()),
        }
        locator
    }

    fn walk(&mut self, node: &Spanned<Node>, path: &str) {
        match &node.value {
            Node::Map(entries) => {
                for (key, value) in entries {
                    let name = match &key.value {
                        Node::Scalar(text) => text.as_str(),
                        _ => "?",
                    };
                    let child = join_key(path, name);
                    self.entries.push(Entry {
                        path: child.clone(),
                        key: LineColumn::from_location(key.referenced),
                        value: LineColumn::from_location(value.referenced),
                    });
                    self.walk(value, &child);
                }
            }
            Node::Seq(items) => {
                for (index, item) in items.iter().enumerate() {
                    let child = format!("{path}[{index}]");
                    self.entries.push(Entry {
                        path: child.clone(),
                        key: None,
                        value: LineColumn::from_location(item.referenced),
                    });
                    self.walk(item, &child);
                }
            }
            Node::Scalar(_) => {}
        }
    }

    /// Where the value at `path` starts; falls back to the closest ancestor that exists.
    pub(crate) fn value_position(&self, path: &str) -> Option<LineColumn> {
        let mut current = path;
        loop {
            if let Some(entry) = self.entries.iter().find(|e| e.path == current) {
                return entry.value.or(entry.key);
            }
            current = parent(current)?;
        }
    }

    /// The key path an error at `position` is about.
    ///
    /// A position on a key means the error concerns the mapping holding that key (unknown
    /// or duplicate key, missing field reported at a block mapping's first key); a position
    /// on a value means the error concerns that value.
    pub(crate) fn path_at(&self, position: LineColumn) -> Option<String> {
        if let Some(text) = &self.unparsed {
            return path_from_indentation(text, position);
        }
        if let Some(entry) = self.entries.iter().find(|e| e.key == Some(position)) {
            return parent(&entry.path).filter(|p| !p.is_empty()).map(str::to_owned);
        }
        self.entries
            .iter()
            .filter(|e| e.value == Some(position))
            .max_by_key(|e| e.path.len())
            .map(|e| e.path.clone())
    }
}

/// Guesses the key path at `position` from block indentation: the key on that line (unless
/// the position is on the key itself), then each less-indented key above it.
fn path_from_indentation(text: &str, position: LineColumn) -> Option<String> {
    let index = usize::try_from(position.line.checked_sub(1)?).ok()?;
    let column = usize::try_from(position.column.saturating_sub(1)).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(index)?;
    let mut keys = Vec::new();
    let mut indent = match key_of(line) {
        Some((key_indent, key)) => {
            if column > key_indent {
                keys.push(key);
            }
            key_indent
        }
        None => line.len() - line.trim_start_matches(' ').len(),
    };
    for above in lines[..index].iter().rev() {
        if indent == 0 {
            break;
        }
        if let Some((key_indent, key)) = key_of(above) {
            if key_indent < indent {
                keys.push(key);
                indent = key_indent;
            }
        }
    }
    keys.reverse();
    (!keys.is_empty()).then(|| keys.join("."))
}

/// The indentation and plain key of a `key: ...` line (after any `- ` markers).
fn key_of(line: &str) -> Option<(usize, &str)> {
    let mut indent = line.len() - line.trim_start_matches(' ').len();
    let mut rest = &line[indent..];
    while let Some(after) = rest.strip_prefix("- ") {
        let spaces = after.len() - after.trim_start_matches(' ').len();
        indent += 2 + spaces;
        rest = &after[spaces..];
    }
    let colon = rest.find(':')?;
    let key = &rest[..colon];
    let after = &rest[colon + 1..];
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    (plain && (after.is_empty() || after.starts_with(' '))).then_some((indent, key))
}

/// `a.b` + `c` → `a.b.c`; a top-level key has no leading dot.
pub(crate) fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `a.b[0].c` → `a.b[0]` → `a.b` → `a` → `` → none.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

/// A YAML node with the positions of its children.
#[derive(Debug)]
enum Node {
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar(String),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_owned()))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar("?".to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar("null".to_owned()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar("null".to_owned()))
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

    const YAML: &str = "name: x\ntraffic:\n  rate: 5/s\n  list: [a, {b: 1}]\nflow: {c: d}\n";

    /// Values are found by path, and missing paths fall back to their closest ancestor.
    #[test]
    fn finds_value_positions() {
        let l = Locator::new(YAML);
        let at = |line, column| Some(LineColumn { line, column });
        assert_eq!(l.value_position("traffic.rate"), at(3, 9));
        assert_eq!(l.value_position("traffic.list[1].b"), at(4, 17));
        assert_eq!(l.value_position("flow.c"), at(5, 11));
        assert_eq!(l.value_position("traffic.nope"), at(3, 3));
        assert_eq!(l.value_position("nope"), None);
    }

    /// A key position names the enclosing mapping; a value position names the value.
    #[test]
    fn names_path_at_position() {
        let l = Locator::new(YAML);
        let pos = |line, column| LineColumn { line, column };
        assert_eq!(l.path_at(pos(3, 9)).as_deref(), Some("traffic.rate"));
        assert_eq!(l.path_at(pos(3, 3)).as_deref(), Some("traffic"));
        assert_eq!(l.path_at(pos(2, 1)), None);
        assert_eq!(l.path_at(pos(4, 17)).as_deref(), Some("traffic.list[1].b"));
    }

    /// Malformed YAML gives an empty index rather than an error or a panic.
    #[test]
    fn malformed_yaml_is_empty() {
        let l = Locator::new("a: [\n");
        assert_eq!(l.value_position("a"), None);
    }

    /// In malformed YAML the key path is guessed from indentation.
    #[test]
    fn malformed_yaml_guesses_path_from_indentation() {
        let text = "name: x\ntraffic:\n  # note\n  rate: [5/s\n  n: 1\nfault:\n  - a: b\n    c: [\n";
        let l = Locator::new(text);
        let pos = |line, column| LineColumn { line, column };
        assert_eq!(l.path_at(pos(4, 9)).as_deref(), Some("traffic.rate"));
        assert_eq!(l.path_at(pos(4, 3)).as_deref(), Some("traffic"));
        assert_eq!(l.path_at(pos(1, 1)), None);
        assert_eq!(l.path_at(pos(8, 8)).as_deref(), Some("fault.c"));
        assert_eq!(l.path_at(pos(99, 1)), None);
    }

    /// Duplicate keys are still indexed, so their errors can name the enclosing mapping.
    #[test]
    fn duplicate_keys_are_indexed() {
        let l = Locator::new("a:\n  b: 1\n  b: 2\n");
        let pos = |line, column| LineColumn { line, column };
        assert_eq!(l.path_at(pos(3, 3)).as_deref(), Some("a"));
    }
}
