//! A small XML writer on quick-xml for the query-protocol answers, plus the envelopes
//! the AWS SDKs expect: awsQuery success and error documents (ELBv2, RDS, STS) and EC2's
//! query documents (no Result wrapper, `<Response><Errors>` errors). All text is escaped,
//! and characters XML 1.0 cannot carry are replaced, so echoed request input is safe.

use std::fmt::Display;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// The EC2 API namespace.
pub const EC2_NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// An XML document being written, element by element.
pub struct Xml {
    w: Writer<Vec<u8>>,
}

impl Default for Xml {
    fn default() -> Self {
        Xml::new()
    }
}

impl Xml {
    /// An empty document with the XML declaration.
    pub fn new() -> Xml {
        let mut w = Writer::new(Vec::new());
        // Writing into a Vec cannot fail.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        Xml { w }
    }

    /// Writes `<name>` with an optional `xmlns`, the content from `f`, then `</name>`.
    fn element(&mut self, name: &str, xmlns: Option<&str>, f: impl FnOnce(&mut Xml)) -> &mut Xml {
        let mut start = BytesStart::new(name);
        if let Some(ns) = xmlns {
            start.push_attribute(("xmlns", ns));
        }
        let _ = self.w.write_event(Event::Start(start));
        f(self);
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
        self
    }

    /// Writes `<name>…</name>` with the content written by `f`.
    pub fn elem(&mut self, name: &str, f: impl FnOnce(&mut Xml)) -> &mut Xml {
        self.element(name, None, f)
    }

    /// Writes `<name xmlns="ns">…</name>` with the content written by `f`.
    pub fn elem_ns(&mut self, name: &str, ns: &str, f: impl FnOnce(&mut Xml)) -> &mut Xml {
        self.element(name, Some(ns), f)
    }

    /// Writes `<name>value</name>`, escaping the value.
    pub fn text(&mut self, name: &str, value: impl Display) -> &mut Xml {
        let value = clean(&value.to_string());
        self.element(name, None, |x| {
            let _ = x.w.write_event(Event::Text(BytesText::new(&value)));
        })
    }

    /// Writes `<name>value</name>` when there is a value.
    pub fn opt_text(&mut self, name: &str, value: Option<impl Display>) -> &mut Xml {
        if let Some(v) = value {
            self.text(name, v);
        }
        self
    }

    /// Writes one `<item_name>` element per value of a list (the list element itself is
    /// written by the caller).
    pub fn items<T>(
        &mut self,
        item_name: &str,
        values: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Xml, T),
    ) -> &mut Xml {
        for v in values {
            self.elem(item_name, |x| f(x, v));
        }
        self
    }

    /// The finished document.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

/// Replaces characters XML 1.0 cannot carry (control characters, U+FFFE, U+FFFF) with
/// U+FFFD so that echoed input never breaks a client's parser.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// An awsQuery success: `<{op}Response xmlns><{op}Result>…</{op}Result><ResponseMetadata>`.
pub fn query_success(op: &str, xmlns: &str, request_id: &str, f: impl FnOnce(&mut Xml)) -> Vec<u8> {
    let mut x = Xml::new();
    x.elem_ns(&format!("{op}Response"), xmlns, |x| {
        x.elem(&format!("{op}Result"), f);
        x.elem("ResponseMetadata", |x| {
            x.text("RequestId", request_id);
        });
    });
    x.into_bytes()
}

/// An awsQuery error: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`.
/// `sender` picks `Sender` (the caller's fault) or `Receiver`.
pub fn query_error(xmlns: &str, sender: bool, code: &str, message: &str, request_id: &str) -> Vec<u8> {
    let mut x = Xml::new();
    x.elem_ns("ErrorResponse", xmlns, |x| {
        x.elem("Error", |x| {
            x.text("Type", if sender { "Sender" } else { "Receiver" });
            x.text("Code", code);
            x.text("Message", message);
        });
        x.text("RequestId", request_id);
    });
    x.into_bytes()
}

/// An EC2 success: `<{op}Response xmlns="…/2016-11-15/"><requestId/>…` without a Result
/// wrapper.
pub fn ec2_success(op: &str, request_id: &str, f: impl FnOnce(&mut Xml)) -> Vec<u8> {
    let mut x = Xml::new();
    x.elem_ns(&format!("{op}Response"), EC2_NS, |x| {
        x.text("requestId", request_id);
        f(x);
    });
    x.into_bytes()
}

/// An EC2 error: `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>`.
pub fn ec2_error(code: &str, message: &str, request_id: &str) -> Vec<u8> {
    let mut x = Xml::new();
    x.elem("Response", |x| {
        x.elem("Errors", |x| {
            x.elem("Error", |x| {
                x.text("Code", code);
                x.text("Message", message);
            });
        });
        x.text("RequestID", request_id);
    });
    x.into_bytes()
}

/// Unix milliseconds as an ISO-8601 UTC timestamp with milliseconds
/// (`2026-01-01T00:00:00.000Z`), the form the query protocols use.
pub fn iso8601(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timestamps are rendered in UTC with milliseconds, including leap days.
    #[test]
    fn iso8601_formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_767_225_599_999), "2025-12-31T23:59:59.999Z");
    }

    /// Text is escaped and control characters cannot break the document.
    #[test]
    fn text_is_escaped() {
        let body = query_error("urn:x", true, "InvalidAction", "bad <&> \"x\" \u{1}", "rid");
        let s = String::from_utf8(body).unwrap();
        assert!(s.contains("bad &lt;&amp;&gt; &quot;x&quot; \u{FFFD}"), "{s}");
        assert!(
            s.contains("<ErrorResponse xmlns=\"urn:x\"><Error><Type>Sender</Type><Code>InvalidAction</Code>"),
            "{s}"
        );
    }

    /// The awsQuery envelope has the Result wrapper first and the metadata last; EC2's has
    /// neither.
    #[test]
    fn envelopes() {
        let s = String::from_utf8(query_success("Op", "urn:x", "rid", |x| {
            x.text("A", 1);
        }))
        .unwrap();
        assert!(s.ends_with("<OpResponse xmlns=\"urn:x\"><OpResult><A>1</A></OpResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></OpResponse>"), "{s}");
        let s = String::from_utf8(ec2_success("Op", "rid", |x| {
            x.text("b", "c");
        }))
        .unwrap();
        assert!(
            s.ends_with(&format!(
                "<OpResponse xmlns=\"{EC2_NS}\"><requestId>rid</requestId><b>c</b></OpResponse>"
            )),
            "{s}"
        );
    }
}
