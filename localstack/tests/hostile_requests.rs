//! Hostile requests to the local stack's AWS endpoint, written by hand on raw TCP: bad
//! JSON, XML and form bodies, missing parameters, unknown actions and paths, wrong
//! methods, unsigned and unknown services, huge bodies, garbage that is not HTTP, and
//! slow clients that trickle or stall. Every one gets an error in its service's protocol
//! (restJson1 `{"message"}` + `x-amzn-errortype`; awsQuery `<ErrorResponse>`; EC2
//! `<Response><Errors>`; Route 53 `<ErrorResponse>`), and the endpoint keeps serving.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use drdrill_localstack::LocalStack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any exchange in this test may take.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);

/// Starts the shipped multi-AZ stack on an ephemeral endpoint port.
async fn stack() -> LocalStack {
    common::Env::start(common::shipped_stack("multi-az")).await.ls
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn parse(raw: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Answer {
        status,
        headers,
        body: body.to_string(),
    })
}

/// Writes `raw` and reads the answer until the server closes (`Connection: close`).
async fn exchange(addr: SocketAddr, raw: &[u8]) -> Option<Answer> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(raw).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(EXCHANGE_LIMIT, s.read_to_end(&mut buf)).await;
    parse(&buf)
}

/// A request with an `Authorization` header scoped to `service` (the stack routes by
/// the scope and does not verify signatures).
fn request(method: &str, path: &str, service: Option<&str>, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(svc) = service {
        head.push_str(&format!(
            "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{svc}/aws4_request, SignedHeaders=host, Signature=00\r\n"
        ));
    }
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Asserts a restJson1 error: the status, `x-amzn-errortype` and a JSON `message`.
fn assert_json_error(what: &str, a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{what}: {a:?}");
    assert!(
        a.header("x-amzn-errortype").is_some_and(|t| t.starts_with(code)),
        "{what}: {a:?}"
    );
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{what}: {e}: {a:?}"));
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {a:?}");
}

/// Asserts an XML error document: the status, the root element and the code.
fn assert_xml_error(what: &str, a: &Answer, status: u16, root: &str, code: &str) {
    assert_eq!(a.status, status, "{what}: {a:?}");
    assert!(
        a.header("content-type").is_some_and(|t| t.contains("xml")),
        "{what}: {a:?}"
    );
    assert!(
        a.body.contains(&format!("<{root}")),
        "{what}: no <{root}> in {}",
        a.body
    );
    assert!(
        a.body.contains(&format!("<Code>{code}</Code>")),
        "{what}: no {code} in {}",
        a.body
    );
    assert!(a.body.contains("<Message>"), "{what}: {}", a.body);
}

/// The endpoint still answers a health check and a real FIS call.
async fn assert_serving(addr: SocketAddr, after: &str) {
    let health = exchange(addr, &request("GET", "/_localstack/health", None, "", b""))
        .await
        .unwrap_or_else(|| panic!("no health answer after {after}"));
    assert_eq!(health.status, 200, "after {after}");
    let list = exchange(addr, &request("GET", "/experiments", Some("fis"), "", b""))
        .await
        .unwrap_or_else(|| panic!("no ListExperiments answer after {after}"));
    assert_eq!(list.status, 200, "after {after}: {list:?}");
}

/// Malformed requests on every protocol get that protocol's error, with the right
/// status and code, and the endpoint answers normally after each one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_aws_errors() {
    let ls = stack().await;
    let addr = ls.endpoint();
    let big_json = vec![b' '; drdrill_localstack::api::MAX_REQUEST + 1000];
    let json_cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "bad JSON",
            request(
                "POST",
                "/experimentTemplates",
                Some("fis"),
                "application/json",
                b"{not json",
            ),
            400,
            "ValidationException",
        ),
        (
            "JSON without actions",
            request("POST", "/experimentTemplates", Some("fis"), "application/json", b"{}"),
            400,
            "ValidationException",
        ),
        (
            "JSON of the wrong shape",
            request(
                "POST",
                "/experimentTemplates",
                Some("fis"),
                "application/json",
                b"{\"actions\": [1, 2]}",
            ),
            400,
            "ValidationException",
        ),
        (
            "invalid UTF-8",
            request(
                "POST",
                "/experiments",
                Some("fis"),
                "application/json",
                b"{\"experimentTemplateId\": \"\xff\xfe\"}",
            ),
            400,
            "ValidationException",
        ),
        (
            "missing experimentTemplateId",
            request("POST", "/experiments", Some("fis"), "application/json", b"{}"),
            400,
            "ValidationException",
        ),
        (
            "unknown template",
            request(
                "POST",
                "/experiments",
                Some("fis"),
                "application/json",
                b"{\"experimentTemplateId\": \"EXTnope\"}",
            ),
            404,
            "ResourceNotFoundException",
        ),
        (
            "wrong method",
            request("PUT", "/experimentTemplates", Some("fis"), "application/json", b"{}"),
            404,
            "UnknownOperationException",
        ),
        (
            "unknown path",
            request("GET", "/experiments/x/y/z/w", Some("fis"), "", b""),
            404,
            "UnknownOperationException",
        ),
        (
            "bad percent-encoding",
            request("DELETE", "/experiments/%ZZ%", Some("fis"), "", b""),
            404,
            "ResourceNotFoundException",
        ),
        (
            "huge body",
            request(
                "POST",
                "/experimentTemplates",
                Some("fis"),
                "application/json",
                &big_json,
            ),
            413,
            "RequestEntityTooLarge",
        ),
        (
            "unsigned",
            request("GET", "/experiments", None, "", b""),
            403,
            "MissingAuthenticationToken",
        ),
        (
            "unknown service",
            request("POST", "/", Some("dynamodb"), "application/json", b"{}"),
            400,
            "UnknownServiceException",
        ),
    ];
    for (what, raw, status, code) in &json_cases {
        let a = exchange(addr, raw).await.unwrap_or_else(|| panic!("{what}: no answer"));
        assert_json_error(what, &a, *status, code);
        assert_serving(addr, what).await;
    }

    let big_form = {
        let mut b = b"Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=".to_vec();
        b.resize(drdrill_localstack::api::MAX_REQUEST + 1000, b'a');
        b
    };
    let query_cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "unknown action",
            "elasticloadbalancing",
            b"Action=Bogus&Version=2015-12-01".to_vec(),
            400,
            "InvalidAction",
        ),
        (
            "missing Action",
            "rds",
            b"Version=2014-10-31".to_vec(),
            400,
            "MissingAction",
        ),
        (
            "bad form encoding",
            "sts",
            b"Action=%ZZ&&==&%".to_vec(),
            400,
            "MalformedQueryString",
        ),
        (
            "missing parameter",
            "elasticloadbalancing",
            b"Action=DescribeTargetHealth&Version=2015-12-01".to_vec(),
            400,
            "",
        ),
        (
            "non-UTF-8 form",
            "rds",
            b"Action=Describe%FF%FE".to_vec(),
            400,
            "MalformedQueryString",
        ),
        (
            "huge form",
            "elasticloadbalancing",
            big_form,
            413,
            "RequestEntityTooLarge",
        ),
    ];
    for (what, service, body, status, code) in &query_cases {
        let a = exchange(addr, &request("POST", "/", Some(service), FORM, body))
            .await
            .unwrap_or_else(|| panic!("{what}: no answer"));
        if code.is_empty() {
            assert_eq!(a.status, *status, "{what}: {a:?}");
            assert!(
                a.body.contains("<ErrorResponse") && a.body.contains("<Code>"),
                "{what}: {a:?}"
            );
        } else {
            assert_xml_error(what, &a, *status, "ErrorResponse", code);
        }
        assert_serving(addr, what).await;
    }
    // EC2's own error document, a JSON body where a form is due, and wrong methods.
    let a = exchange(
        addr,
        &request(
            "POST",
            "/",
            Some("ec2"),
            FORM,
            b"Action=LaunchRockets&Version=2016-11-15",
        ),
    )
    .await
    .unwrap();
    assert_xml_error("ec2 unknown action", &a, 400, "Response", "InvalidAction");
    assert!(a.body.contains("<Errors>"), "{}", a.body);
    let a = exchange(
        addr,
        &request("POST", "/", Some("sts"), "application/json", b"{\"Action\": 1}"),
    )
    .await
    .unwrap();
    assert_xml_error(
        "JSON to a query service",
        &a,
        400,
        "ErrorResponse",
        "InvalidParameterValue",
    );
    for method in ["PUT", "DELETE", "PATCH"] {
        let a = exchange(
            addr,
            &request(method, "/", Some("rds"), FORM, b"Action=DescribeDBClusters"),
        )
        .await
        .unwrap();
        assert!(a.status >= 400 && a.body.contains("<ErrorResponse"), "{method}: {a:?}");
        assert_serving(addr, method).await;
    }
    let a = exchange(addr, &request("GET", "/", Some("elasticloadbalancing"), "", b""))
        .await
        .unwrap();
    assert_xml_error("GET without a query", &a, 400, "ErrorResponse", "MissingAction");

    // Route 53 (restXml): malformed XML, unknown paths and wrong methods.
    let r53: Vec<(&str, &str, &str, &[u8])> = vec![
        (
            "bad XML",
            "POST",
            "/2013-04-01/hostedzone",
            b"<CreateHostedZoneRequest><Name>x",
        ),
        ("not XML", "POST", "/2013-04-01/healthcheck", b"{\"json\": true}"),
        ("empty body", "POST", "/2013-04-01/hostedzone", b""),
        ("unknown path", "GET", "/2013-04-01/teapot", b""),
        ("wrong method", "PATCH", "/2013-04-01/hostedzone", b""),
        ("unknown zone", "GET", "/2013-04-01/hostedzone/ZNOPE", b""),
    ];
    for (what, method, path, body) in r53 {
        let a = exchange(addr, &request(method, path, Some("route53"), "application/xml", body))
            .await
            .unwrap_or_else(|| panic!("route53 {what}: no answer"));
        assert!(a.status >= 400 && a.status < 500, "route53 {what}: {a:?}");
        assert!(
            a.body.contains("<ErrorResponse") && a.body.contains("<Code>") && a.body.contains("<Message>"),
            "route53 {what}: {a:?}"
        );
        assert_serving(addr, what).await;
    }
    ls.shutdown().await;
}

/// Bytes that are not HTTP at all (binary noise, a TLS hello, a request line without a
/// version, an absurd header) get a 4xx answer or a closed connection — never a hang —
/// and the endpoint keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_refused_and_the_endpoint_keeps_serving() {
    let ls = stack().await;
    let addr = ls.endpoint();
    let long_header = format!(
        "GET / HTTP/1.1\r\nConnection: close\r\nX-Long: {}\r\n\r\n",
        "a".repeat(1_000_000)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("binary noise", (0..=255u8).cycle().take(4096).collect()),
        (
            "TLS client hello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        ),
        ("no version", b"GET /\r\n\r\n".to_vec()),
        (
            "bad content length",
            b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n".to_vec(),
        ),
        ("absurd header", long_header.into_bytes()),
    ];
    for (what, raw) in cases {
        let started = Instant::now();
        if let Some(a) = exchange(addr, &raw).await {
            assert!((400..500).contains(&a.status), "{what}: {a:?}");
        }
        assert!(
            started.elapsed() < EXCHANGE_LIMIT,
            "{what}: the server held the connection"
        );
        assert_serving(addr, what).await;
    }
    ls.shutdown().await;
}

/// Slow clients cannot stall the endpoint: while 50 connections sit on half-sent
/// headers and one trickles its request a byte every 20 ms, normal requests are
/// answered promptly; the trickled request is answered in the end; and a client that
/// stalls in the middle of its body gets an AWS `RequestTimeout` error (408) within
/// `BODY_READ_TIMEOUT` plus a margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_stall_the_endpoint() {
    let ls = stack().await;
    let addr = ls.endpoint();
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /experiments HTTP/1.1\r\nHost: x\r\nContent-Le")
            .await
            .unwrap();
        stalled.push(s);
    }
    let body_staller = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let raw = request("POST", "/experiments", Some("fis"), "application/json", &[b' '; 100]);
        let cut = raw.len() - 90;
        s.write_all(&raw[..cut]).await.unwrap();
        let started = Instant::now();
        let mut buf = Vec::new();
        let limit = drdrill_localstack::api::BODY_READ_TIMEOUT + Duration::from_secs(20);
        let _ = tokio::time::timeout(limit, s.read_to_end(&mut buf)).await;
        (parse(&buf), started.elapsed())
    });
    let trickler = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        for byte in request("GET", "/_localstack/health", None, "", b"") {
            s.write_all(&[byte]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(EXCHANGE_LIMIT, s.read_to_end(&mut buf)).await;
        parse(&buf)
    });
    for n in 0..10 {
        let started = Instant::now();
        assert_serving(addr, &format!("slow clients ({n})")).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "request {n} waited {:?}",
            started.elapsed()
        );
    }
    let trickled = trickler.await.unwrap().expect("the trickled request is answered");
    assert_eq!(trickled.status, 200);
    let (answer, took) = body_staller.await.unwrap();
    let answer = answer.expect("the stalled body gets an answer");
    assert_json_error("stalled body", &answer, 408, "RequestTimeout");
    assert!(
        took >= drdrill_localstack::api::BODY_READ_TIMEOUT - Duration::from_secs(1),
        "{took:?}"
    );
    drop(stalled);
    assert_serving(addr, "slow clients").await;
    ls.shutdown().await;
}
