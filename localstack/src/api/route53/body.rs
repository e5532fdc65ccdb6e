//! Strict parsing of a restXml request body into a small element tree: malformed XML, a
//! wrong root, too deep or too many elements are errors.

use super::*;

/// One element of a request body: local name, text, children.
#[derive(Debug, Default)]
pub(super) struct El {
    pub(super) name: String,
    pub(super) text: String,
    pub(super) children: Vec<El>,
}

impl El {
    /// Refuses children not in `allowed`, naming the first.
    pub(super) fn allow(&self, allowed: &[&str]) -> Result<(), Route53Error> {
        match self.children.iter().find(|c| !allowed.contains(&c.name.as_str())) {
            None => Ok(()),
            Some(c) => Err(invalid(format!(
                "Invalid XML: unexpected element {} in {}",
                shorten(&c.name),
                self.name
            ))),
        }
    }

    /// The child of this name, if any; more than one is an error.
    pub(super) fn one(&self, name: &str) -> Result<Option<&El>, Route53Error> {
        let mut it = self.children.iter().filter(|c| c.name == name);
        let first = it.next();
        if it.next().is_some() {
            return Err(invalid(format!(
                "Invalid XML: element {name} appears more than once in {}",
                self.name
            )));
        }
        Ok(first)
    }

    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of a child, if present.
    pub(super) fn text(&self, name: &str) -> Result<Option<&str>, Route53Error> {
        Ok(self.one(name)?.map(|c| c.text.trim()))
    }

    pub(super) fn required_text(&self, name: &str) -> Result<&str, Route53Error> {
        match self.text(name)? {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(invalid(format!("Missing element {}/{name}", self.name))),
        }
    }

    pub(super) fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Route53Error> {
        match self.text(name)? {
            None => Ok(None),
            Some(t) => t
                .parse::<T>()
                .map(Some)
                .map_err(|_| invalid(format!("{name} {:?} is not a valid number", shorten(t)))),
        }
    }

    pub(super) fn bool(&self, name: &str) -> Result<Option<bool>, Route53Error> {
        match self.text(name)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(t) => Err(invalid(format!("{name} {:?} is not true or false", shorten(t)))),
        }
    }
}

/// Parses a request body whose root element must be `root`.
pub(super) fn parse_body(body: &[u8], root: &str) -> Result<El, Route53Error> {
    let el = parse_xml(body).map_err(|why| invalid(format!("Could not parse the request body as XML: {why}")))?;
    if el.name != root {
        return Err(invalid(format!(
            "Invalid XML: the root element is {}, expected {root}",
            shorten(&el.name)
        )));
    }
    Ok(el)
}

/// A small, strict XML reader into [`El`]s: namespaces dropped to local names, entity
/// references resolved (predefined and numeric only), no DOCTYPE, bounded depth and size.
pub(super) fn parse_xml(body: &[u8]) -> Result<El, String> {
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut tree = Tree::default();
    let local = |n: &[u8]| String::from_utf8(n.to_vec()).map_err(|_| "an element name is not UTF-8".to_string());
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = local(e.local_name().as_ref())?;
                tree.open(name, matches!(ev, Event::Empty(_)))?;
            }
            Event::End(_) => tree.close()?,
            Event::Text(t) => {
                let s = t.decode().map_err(|e| e.to_string())?;
                // Whitespace around the root element is not text.
                if !(tree.stack.is_empty() && s.trim().is_empty()) {
                    tree.text(&s, "text")?;
                }
            }
            Event::CData(c) => tree.text(&c.decode().map_err(|e| e.to_string())?, "CDATA")?,
            Event::GeneralRef(r) => tree.text(&resolve_ref(&r)?, "an entity reference")?,
            Event::DocType(_) => return Err("DOCTYPE is not allowed".into()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
        buf.clear();
    }
    if !tree.stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    tree.root.ok_or_else(|| "no root element".to_string())
}

/// The elements read so far: those still open, innermost last, and the root once closed.
#[derive(Default)]
struct Tree {
    stack: Vec<El>,
    root: Option<El>,
    count: usize,
}

impl Tree {
    /// Opens element `name` (complete at once when `empty`), within the size and depth
    /// bounds and only inside the one root element.
    fn open(&mut self, name: String, empty: bool) -> Result<(), String> {
        self.count += 1;
        if self.count > MAX_ELEMENTS {
            return Err(format!("more than {MAX_ELEMENTS} elements"));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("elements nested deeper than {MAX_DEPTH}"));
        }
        if self.root.is_some() {
            return Err("content after the root element".into());
        }
        let el = El { name, ..El::default() };
        if empty {
            self.complete(el);
        } else {
            self.stack.push(el);
        }
        Ok(())
    }

    /// Closes the innermost open element.
    fn close(&mut self) -> Result<(), String> {
        let el = self.stack.pop().ok_or("an end tag without a start tag")?;
        self.complete(el);
        Ok(())
    }

    /// A complete element joins its parent, or is the root.
    fn complete(&mut self, el: El) {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(el),
            None => self.root = Some(el),
        }
    }

    /// Appends text (`what`: text, CDATA, an entity reference) to the innermost open
    /// element; outside the root element it is an error.
    fn text(&mut self, s: &str, what: &str) -> Result<(), String> {
        match self.stack.last_mut() {
            Some(top) => {
                top.text.push_str(s);
                Ok(())
            }
            None => Err(format!("{what} outside the root element")),
        }
    }
}

/// The text of an entity reference: a character reference, or one of XML's predefined
/// entities.
fn resolve_ref(r: &quick_xml::events::BytesRef) -> Result<String, String> {
    Ok(match r.resolve_char_ref().map_err(|e| e.to_string())? {
        Some(c) => c.to_string(),
        None => {
            let name = r.decode().map_err(|e| e.to_string())?;
            quick_xml::escape::resolve_predefined_entity(&name)
                .ok_or_else(|| format!("unknown entity &{};", shorten(&name)))?
                .to_string()
        }
    })
}
