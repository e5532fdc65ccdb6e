use super::body::parse_xml;
use super::*;

/// Text is unescaped (predefined and numeric entities, CDATA), prefixes are dropped.
#[test]
fn xml_text_and_names() {
    let el = parse_xml(
        br#"<?xml version="1.0"?><r:Root xmlns:r="urn:x"><A>a &amp; b &#65;</A><B><![CDATA[<raw>]]></B><C/></r:Root>"#,
    )
    .unwrap();
    assert_eq!(el.name, "Root");
    assert_eq!(el.text("A").unwrap(), Some("a & b A"));
    assert_eq!(el.text("B").unwrap(), Some("<raw>"));
    assert_eq!(el.text("C").unwrap(), Some(""));
}

/// Malformed or hostile documents are refused with a reason, never a panic.
#[test]
fn xml_refusals() {
    let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
    for (doc, why) in [
        ("<a><b></a>", ""),
        ("<a>", "ends inside"),
        ("", "no root"),
        ("<a/><b/>", "after the root"),
        ("<a>&bogus;</a>", "unknown entity"),
        ("<!DOCTYPE a><a/>", "DOCTYPE"),
        ("text<a/>", "outside the root"),
        (deep.as_str(), "deeper"),
    ] {
        let e = parse_xml(doc.as_bytes()).unwrap_err();
        assert!(e.contains(why), "{doc}: {e}");
    }
}

/// Repeated single elements and unknown elements are InvalidInput naming them.
#[test]
fn strict_elements() {
    let el = parse_xml(b"<R><Name>a</Name><Name>b</Name><X/></R>").unwrap();
    assert!(el.one("Name").unwrap_err().to_string().contains("more than once"));
    assert!(el.allow(&["Name"]).unwrap_err().to_string().contains("X"));
    let err = parse_body(b"<Other/>", "CreateHostedZoneRequest").unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
}

/// A record set with geolocation routing is refused as unsupported; weights and
/// failover roles parse.
#[test]
fn record_set_elements() {
    let el = parse_xml(
        b"<ResourceRecordSet><Name>a.example.</Name><Type>A</Type><SetIdentifier>x</SetIdentifier><Weight>3</Weight><TTL>9</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>",
    )
    .unwrap();
    let set = record_set_from(&el).unwrap();
    assert_eq!(set.routing, Routing::Weighted(3));
    assert_eq!(set.ttl, Some(9));
    assert_eq!(set.values, ["10.0.0.1"]);
    let geo = parse_xml(b"<ResourceRecordSet><Name>a.</Name><Type>A</Type><GeoLocation/></ResourceRecordSet>").unwrap();
    assert!(record_set_from(&geo).unwrap_err().to_string().contains("GeoLocation"));
    let srv = parse_xml(b"<ResourceRecordSet><Name>a.</Name><Type>SRV</Type></ResourceRecordSet>").unwrap();
    assert!(record_set_from(&srv).unwrap_err().to_string().contains("SRV"));
}

/// Error documents have Route 53's shape; InvalidChangeBatch lists its messages.
#[test]
fn error_document() {
    let r = error_response(&Route53Error::InvalidChangeBatch(vec!["bad <x>".into()]));
    let s = String::from_utf8(r.body).unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        s.contains(&format!(
            "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>bad &lt;x&gt;</Message><messages><Message>bad &lt;x&gt;</Message></messages></Error><RequestId>"
        )),
        "{s}"
    );
}
