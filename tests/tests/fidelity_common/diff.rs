//! Field-by-field comparison of two raw answers to the same call.
//!
//! An XML answer becomes a set of element paths (`Root/Result/List/member/Field`, the
//! namespace dropped; list items share one path), each with how often it occurs and, for
//! leaves, the set of its values. Values are compared exactly for what a drill reads as
//! data — states, codes, enums, booleans, counts, ports, zone names, tags, names — and by
//! format only for what each implementation invents: ids, ARNs (service, region, account
//! and resource type compared), DNS names, addresses, timestamps, tokens, request ids and
//! messages. Two answers differ at a path when it is present in one only (only the
//! topmost such path is reported), when its values differ, when it occurs a different
//! number of times, or when the HTTP status differs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Deserialize;

use super::side::Raw;

/// One path of an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// How many elements have this path.
    pub count: usize,
    /// The normalized values of the leaves at this path.
    pub values: BTreeSet<String>,
}

/// An answer, normalized.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    /// HTTP status.
    pub status: u16,
    /// Every element path.
    pub paths: BTreeMap<String, Node>,
}

/// How a leaf's value is compared.
fn format_only(path: &[String]) -> bool {
    let n = path.len();
    let mut leaf = path[n - 1].to_ascii_lowercase();
    let parent = if n >= 2 {
        path[n - 2].to_ascii_lowercase()
    } else {
        String::new()
    };
    if (leaf == "member" || leaf == "item") && n >= 2 {
        leaf = parent.clone();
    }
    if leaf == "value" && parent == "resourcerecord" {
        return true;
    }
    [
        "id",
        "ids",
        "arn",
        "arns",
        "time",
        "date",
        "address",
        "endpoint",
        "marker",
        "submittedat",
    ]
    .iter()
    .any(|s| leaf.ends_with(s))
        || leaf.contains("dnsname")
        || ["callerreference", "clienttoken", "message", "nexttoken", "nextmarker"].contains(&leaf.as_str())
}

/// The format of an invented value: an ARN's service, region, account and resource type;
/// an id's prefix and the length of its hexadecimal part; `uuid`, `ipv4`, `timestamp`,
/// `empty` or `text`.
pub fn shape(v: &str) -> String {
    let v = v.trim();
    if v.is_empty() {
        return "empty".into();
    }
    if let Some(rest) = v.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if parts.len() == 5 {
            let rtype = parts[4].split(['/', ':']).next().unwrap_or_default();
            return format!("arn:{}:{}:{}:{}:{rtype}", parts[0], parts[1], parts[2], parts[3]);
        }
        return "arn:?".into();
    }
    if v.parse::<std::net::Ipv4Addr>().is_ok() {
        return "ipv4".into();
    }
    let b = v.as_bytes();
    if b.len() >= 19 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T' {
        return "timestamp".into();
    }
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    let groups: Vec<&str> = v.split('-').collect();
    if groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| hex(g)) {
        return "uuid".into();
    }
    if let Some((prefix, rest)) = v.rsplit_once('-') {
        if hex(rest) && prefix.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !prefix.is_empty() {
            return format!("{prefix}-hex{}", rest.len());
        }
    }
    if let Some(rest) = v.strip_prefix("/hostedzone/") {
        return format!("/hostedzone/{}", if rest.is_empty() { "empty" } else { "id" });
    }
    "text".into()
}

impl Doc {
    /// Parses a raw answer; a body that is not XML is recorded as the one path
    /// `(not XML: CONTENT-TYPE)`.
    pub fn parse(raw: &Raw) -> Doc {
        let mut doc = Doc {
            status: raw.status,
            paths: BTreeMap::new(),
        };
        if parse_xml(&raw.body, &mut doc.paths).is_err() || doc.paths.is_empty() {
            doc.paths.clear();
            doc.paths
                .insert(format!("(not XML: {})", raw.content_type), Node::default());
        }
        doc
    }
}

fn parse_xml(body: &[u8], out: &mut BTreeMap<String, Node>) -> Result<(), String> {
    struct Frame {
        name: String,
        text: String,
        has_child: bool,
    }
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let names = |stack: &[Frame]| stack.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    let leaf = |path: Vec<String>, text: &str, out: &mut BTreeMap<String, Node>| {
        let value = if format_only(&path) {
            shape(text)
        } else {
            text.trim().to_string()
        };
        out.entry(path.join("/")).or_default().values.insert(value);
    };
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| e.to_string())?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if let Some(top) = stack.last_mut() {
                    top.has_child = true;
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push(Frame {
                    name,
                    text: String::new(),
                    has_child: false,
                });
                out.entry(names(&stack).join("/")).or_default().count += 1;
                if matches!(ev, Event::Empty(_)) {
                    leaf(names(&stack), "", out);
                    stack.pop();
                }
            }
            Event::End(_) => {
                let path = names(&stack);
                let frame = stack.pop().ok_or("an end tag without a start tag")?;
                if !frame.has_child {
                    leaf(path, &frame.text, out);
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(|e| e.to_string())?);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.decode().map_err(|e| e.to_string())?);
                }
            }
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .unwrap_or("?")
                            .to_string()
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err("the document ends inside an element".into())
    }
}

/// What differs at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Present only in moto's answer.
    OnlyMoto,
    /// Present only in the local stack's answer.
    OnlyLocal,
    /// The values differ.
    Values {
        /// moto's.
        moto: BTreeSet<String>,
        /// The local stack's.
        local: BTreeSet<String>,
    },
    /// The element occurs a different number of times.
    Count {
        /// moto's.
        moto: usize,
        /// The local stack's.
        local: usize,
    },
    /// The HTTP status differs.
    Status {
        /// moto's.
        moto: u16,
        /// The local stack's.
        local: u16,
    },
}

impl Kind {
    /// The allow-list's name of this kind.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::OnlyMoto => "only-moto",
            Kind::OnlyLocal => "only-local",
            Kind::Values { .. } => "values",
            Kind::Count { .. } => "count",
            Kind::Status { .. } => "status",
        }
    }
}

/// One difference between the answers to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// The call's label (`DescribeTargetHealth`, `DescribeLoadBalancers(unknown name)`).
    pub operation: String,
    /// The element path (`HTTP status` for a status difference).
    pub path: String,
    /// What differs.
    pub kind: Kind,
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} [{}]", self.operation, self.path, self.kind.name())?;
        match &self.kind {
            Kind::Values { moto, local } => write!(f, ": moto {moto:?}, local {local:?}"),
            Kind::Count { moto, local } => write!(f, ": moto {moto}, local {local}"),
            Kind::Status { moto, local } => write!(f, ": moto {moto}, local {local}"),
            _ => Ok(()),
        }
    }
}

/// Every difference between moto's and the local stack's answers to `operation`.
pub fn compare(operation: &str, moto: &Doc, local: &Doc) -> Vec<Diff> {
    let mut out = Vec::new();
    let diff = |path: &str, kind: Kind| Diff {
        operation: operation.to_string(),
        path: path.to_string(),
        kind,
    };
    if moto.status != local.status {
        out.push(diff(
            "HTTP status",
            Kind::Status {
                moto: moto.status,
                local: local.status,
            },
        ));
    }
    let parent_only_in = |path: &str, doc: &Doc| {
        path.rsplit_once('/')
            .is_some_and(|(parent, _)| !doc.paths.contains_key(parent))
    };
    for (path, m) in &moto.paths {
        match local.paths.get(path) {
            None if !parent_only_in(path, local) => out.push(diff(path, Kind::OnlyMoto)),
            None => {}
            Some(l) => {
                if m.values != l.values {
                    out.push(diff(
                        path,
                        Kind::Values {
                            moto: m.values.clone(),
                            local: l.values.clone(),
                        },
                    ));
                } else if m.count != l.count {
                    out.push(diff(
                        path,
                        Kind::Count {
                            moto: m.count,
                            local: l.count,
                        },
                    ));
                }
            }
        }
    }
    for path in local.paths.keys() {
        if !moto.paths.contains_key(path) && !parent_only_in(path, moto) {
            out.push(diff(path, Kind::OnlyLocal));
        }
    }
    out
}

/// One reviewed difference (`tests/fidelity/allow-list.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowed {
    /// The call's label, as the test names it; `*` matches any run of characters
    /// (`DescribeInstances*` covers every DescribeInstances call the tests make).
    pub operation: String,
    /// The element path, `*` as in `operation`; the entry covers the path and everything
    /// below it.
    pub path: String,
    /// When given, the entry covers `path/FIELD` (and below) for each of these instead of
    /// `path` itself: one entry for the fields one side leaves out of the same element.
    #[serde(default)]
    pub fields: Vec<String>,
    /// `only-moto`, `only-local`, `values`, `count` or `status`.
    pub difference: String,
    /// Whose answer is not AWS's: `moto`, `local`, or `neither` when both are answers
    /// AWS gives and the two worlds differ there by construction (ports the kernel picked,
    /// the AMI, the caller's credentials).
    pub wrong: String,
    /// What AWS answers and why the difference is accepted.
    pub reason: String,
    /// The AWS documentation page that says what AWS answers.
    pub reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    allowed: Vec<Allowed>,
}

/// The allow-list file's path.
pub fn allow_list_path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fidelity/allow-list.yaml")
}

/// Reads the allow-list and checks every entry is complete: a known difference kind,
/// `wrong` one of the two sides, a reason, and an AWS documentation URL.
pub fn allow_list() -> Vec<Allowed> {
    let path = allow_list_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: AllowFile = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for a in &file.allowed {
        let what = format!("{}: entry {} {}", path.display(), a.operation, a.path);
        assert!(
            ["only-moto", "only-local", "values", "count", "status"].contains(&a.difference.as_str()),
            "{what}: difference {:?}",
            a.difference
        );
        assert!(
            ["moto", "local", "neither"].contains(&a.wrong.as_str()),
            "{what}: wrong {:?}",
            a.wrong
        );
        assert!(a.reason.trim().len() > 20, "{what}: a reason is needed");
        assert!(
            a.reference.starts_with("https://docs.aws.amazon.com/"),
            "{what}: reference must be an AWS documentation URL, not {:?}",
            a.reference
        );
    }
    file.allowed
}

/// Whether `text` matches `pattern`, where `*` in the pattern matches any run of
/// characters (`/` included) and every other character itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut tail) = text.strip_prefix(head) else {
        return false;
    };
    loop {
        if glob(rest, tail) {
            return true;
        }
        let mut chars = tail.chars();
        if chars.next().is_none() {
            return false;
        }
        tail = chars.as_str();
    }
}

impl Allowed {
    /// Whether this entry names the call labelled `operation`.
    pub fn names(&self, operation: &str) -> bool {
        glob(&self.operation, operation)
    }

    /// Whether this entry covers `d`: the same call and kind, and `d`'s path is one of
    /// the entry's paths or below one.
    pub fn covers(&self, d: &Diff) -> bool {
        let at_or_below = |p: &str| glob(p, &d.path) || glob(&format!("{p}/*"), &d.path);
        self.names(&d.operation)
            && self.difference == d.kind.name()
            && if self.fields.is_empty() {
                at_or_below(&self.path)
            } else {
                self.fields.iter().any(|f| at_or_below(&format!("{}/{f}", self.path)))
            }
    }
}

/// Splits `diffs` into those no entry covers, and marks the entries used.
pub fn unallowed(diffs: &[Diff], allowed: &[Allowed], used: &mut BTreeSet<usize>) -> Vec<Diff> {
    diffs
        .iter()
        .filter(|d| match allowed.iter().position(|a| a.covers(d)) {
            Some(i) => {
                used.insert(i);
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::glob;

    /// `*` matches any run, including none and including `/`; the rest matches itself.
    #[test]
    fn glob_matches_runs_of_any_characters() {
        assert!(glob("Describe*", "DescribeInstances(ids)"));
        assert!(glob("*/RequestId", "ErrorResponse/RequestId"));
        assert!(glob("*/RequestId", "A/B/ResponseMetadata/RequestId"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("*/RequestId", "A/RequestIds"));
        assert!(!glob("Describe*", "ListDescribe"));
        assert!(!glob("a*c", "ab"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }
}
