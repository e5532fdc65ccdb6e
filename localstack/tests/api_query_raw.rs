//! The query-protocol endpoint under raw HTTP: malformed requests (bad form bodies,
//! missing or unknown actions, wrong methods, oversized bodies) get AWS-shaped XML errors
//! and never break the server, and STS GetCallerIdentity answers with the stack's account
//! (aws-sdk-sts is not a dev-dependency, so STS is checked here on the wire).

mod common;

use drdrill_localstack::LocalStack;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Starts the shipped multi-AZ stack on an ephemeral endpoint port.
async fn start() -> LocalStack {
    common::Env::start(common::shipped_stack("multi-az")).await.ls
}

/// A SigV4-looking Authorization header for `service` (the signature is not checked).
fn auth(service: &str) -> String {
    format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
}

/// One raw request: (status, body).
async fn call(ls: &LocalStack, method: reqwest::Method, service: &str, query: &str, body: Vec<u8>) -> (u16, String) {
    let url = if query.is_empty() {
        format!("{}/", ls.endpoint_url())
    } else {
        format!("{}/?{query}", ls.endpoint_url())
    };
    let r = reqwest::Client::new()
        .request(method, url)
        .header("authorization", auth(service))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("the endpoint answers");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

async fn post(ls: &LocalStack, service: &str, form: &str) -> (u16, String) {
    call(ls, reqwest::Method::POST, service, "", form.as_bytes().to_vec()).await
}

/// The element paths (`A/B/C`) and texts of a well-formed XML document; panics if it is
/// not well-formed.
fn parse(xml: &str) -> Vec<(String, String)> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                path.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                out.push((path.join("/"), String::new()));
            }
            Ok(Event::End(_)) => {
                path.pop();
            }
            Ok(Event::Text(t)) => {
                if let Some(last) = out.last_mut() {
                    last.1.push_str(&t.decode().expect("utf-8"));
                }
            }
            Ok(Event::GeneralRef(r)) => {
                let c = match r.resolve_char_ref().expect("valid character reference") {
                    Some(c) => c,
                    None => match r.decode().expect("utf-8").as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity &{other}; in {xml}"),
                    },
                };
                if let Some(last) = out.last_mut() {
                    last.1.push(c);
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML ({e}): {xml}"),
        }
    }
    assert!(path.is_empty(), "unclosed elements in {xml}");
    out
}

/// The text of the element at `path`.
fn text(xml: &str, path: &str) -> Option<String> {
    parse(xml).into_iter().find(|(p, _)| p == path).map(|(_, t)| t)
}

/// Asserts an awsQuery error document with this code; returns its message.
fn assert_query_error(status: u16, body: &str, code: &str) -> String {
    assert!((400..500).contains(&status), "status {status}: {body}");
    assert_eq!(text(body, "ErrorResponse/Error/Code").as_deref(), Some(code), "{body}");
    assert_eq!(
        text(body, "ErrorResponse/Error/Type").as_deref(),
        Some("Sender"),
        "{body}"
    );
    assert!(
        text(body, "ErrorResponse/RequestId").is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    text(body, "ErrorResponse/Error/Message").unwrap_or_default()
}

/// Asserts an EC2 error document with this code; returns its message.
fn assert_ec2_error(status: u16, body: &str, code: &str) -> String {
    assert!((400..500).contains(&status), "status {status}: {body}");
    assert_eq!(
        text(body, "Response/Errors/Error/Code").as_deref(),
        Some(code),
        "{body}"
    );
    assert!(text(body, "Response/RequestID").is_some(), "{body}");
    text(body, "Response/Errors/Error/Message").unwrap_or_default()
}

/// The server still answers a well-formed request after a bad one.
async fn still_answers(ls: &LocalStack) {
    let (status, body) = post(
        ls,
        "elasticloadbalancing",
        "Action=DescribeLoadBalancers&Version=2015-12-01",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        text(
            &body,
            "DescribeLoadBalancersResponse/DescribeLoadBalancersResult/LoadBalancers/member/LoadBalancerName"
        )
        .as_deref(),
        Some("drill-alb")
    );
}

/// Malformed form bodies are MalformedQueryString in each protocol's error shape
/// (awsQuery `<ErrorResponse>`, EC2 `<Response><Errors>`), and the server keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_aws_errors() {
    let ls = start().await;
    for body in [
        "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=%zz",
        "Action",
        "=x",
        "Action=%E2%28%A1",
    ] {
        let (status, text) = post(&ls, "elasticloadbalancing", body).await;
        assert_query_error(status, &text, "MalformedQueryString");
        still_answers(&ls).await;
    }
    let (status, body) = call(&ls, reqwest::Method::POST, "ec2", "", vec![0xff, 0xfe, 0x00, 0x01]).await;
    assert_ec2_error(status, &body, "MalformedQueryString");
    let (status, body) = post(&ls, "rds", "Action=DescribeDBClusters&Version=2014-10-31&x=%4").await;
    assert_query_error(status, &body, "MalformedQueryString");
    still_answers(&ls).await;
    ls.shutdown().await;
}

/// A missing Action is MissingAction and an unknown one InvalidAction naming it, for every
/// query service; a missing required parameter names the parameter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_unknown_actions() {
    let ls = start().await;
    for service in ["elasticloadbalancing", "rds", "sts"] {
        let (status, body) = post(&ls, service, "Version=2015-12-01").await;
        assert_query_error(status, &body, "MissingAction");
        let (status, body) = post(&ls, service, "Action=DescribeUnicorns").await;
        let message = assert_query_error(status, &body, "InvalidAction");
        assert!(message.contains("DescribeUnicorns"), "{message}");
    }
    let (status, body) = post(&ls, "ec2", "Version=2016-11-15").await;
    assert_ec2_error(status, &body, "MissingAction");
    let (status, body) = post(&ls, "ec2", "Action=LaunchRockets&Version=2016-11-15").await;
    let message = assert_ec2_error(status, &body, "InvalidAction");
    assert!(message.contains("LaunchRockets"), "{message}");
    // Input echoed in a message is escaped and cut, the document stays well-formed.
    let (status, body) = post(&ls, "rds", &format!("Action=%3C%2FMessage%3E%01{}", "x".repeat(500))).await;
    let message = assert_query_error(status, &body, "InvalidAction");
    assert!(message.contains("</Message>") && message.len() < 300, "{message}");
    // Missing parameters.
    let (status, body) = post(
        &ls,
        "elasticloadbalancing",
        "Action=DescribeTargetHealth&Version=2015-12-01",
    )
    .await;
    let message = assert_query_error(status, &body, "ValidationError");
    assert!(message.contains("TargetGroupArn"), "{message}");
    let (status, body) = post(&ls, "ec2", "Action=StopInstances&Version=2016-11-15").await;
    let message = assert_ec2_error(status, &body, "MissingParameter");
    assert!(message.contains("InstanceId"), "{message}");
    let (status, body) = post(&ls, "rds", "Action=FailoverDBCluster&Version=2014-10-31").await;
    let message = assert_query_error(status, &body, "MissingParameter");
    assert!(message.contains("DBClusterIdentifier"), "{message}");
    still_answers(&ls).await;
    ls.shutdown().await;
}

/// GET without a query string and other methods than POST are AWS errors; a GET that
/// carries its parameters in the query string is answered like a POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_methods_are_aws_errors() {
    let ls = start().await;
    let (status, body) = call(&ls, reqwest::Method::GET, "elasticloadbalancing", "", Vec::new()).await;
    assert_query_error(status, &body, "MissingAction");
    let (status, body) = call(&ls, reqwest::Method::GET, "ec2", "", Vec::new()).await;
    assert_ec2_error(status, &body, "MissingAction");
    let (status, body) = call(
        &ls,
        reqwest::Method::PUT,
        "rds",
        "",
        b"Action=DescribeDBClusters".to_vec(),
    )
    .await;
    assert_eq!(status, 405);
    assert_query_error(status, &body, "MethodNotAllowed");
    let (status, body) = call(
        &ls,
        reqwest::Method::DELETE,
        "ec2",
        "Action=DescribeInstances",
        Vec::new(),
    )
    .await;
    assert_ec2_error(status, &body, "MethodNotAllowed");
    let (status, body) = call(
        &ls,
        reqwest::Method::GET,
        "ec2",
        "Action=DescribeAvailabilityZones&Version=2016-11-15",
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        text(
            &body,
            "DescribeAvailabilityZonesResponse/availabilityZoneInfo/item/zoneName"
        )
        .as_deref(),
        Some("us-east-1a")
    );
    still_answers(&ls).await;
    ls.shutdown().await;
}

/// A 5 MB body is refused with an error naming the size problem, and the server keeps
/// answering afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_refused() {
    let ls = start().await;
    let mut body = b"Action=DescribeLoadBalancers&Version=2015-12-01&Pad=".to_vec();
    body.resize(5 * 1024 * 1024, b'a');
    let url = format!("{}/", ls.endpoint_url());
    let r = reqwest::Client::new()
        .post(url)
        .header("authorization", auth("elasticloadbalancing"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    // The server may close the connection before the client has sent everything; when
    // it does not, the answer is a 413 naming the problem.
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
        // The answer is in the service's own protocol: an awsQuery XML error.
        let text = r.text().await.unwrap_or_default();
        assert!(
            text.contains("<ErrorResponse") && text.contains("<Code>RequestEntityTooLarge</Code>"),
            "{text}"
        );
    }
    still_answers(&ls).await;
    ls.shutdown().await;
}

/// STS GetCallerIdentity answers with the stack's account in the awsQuery envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_get_caller_identity() {
    let ls = start().await;
    let (status, body) = post(&ls, "sts", "Action=GetCallerIdentity&Version=2011-06-15").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
        "{body}"
    );
    let field = |f: &str| text(&body, &format!("GetCallerIdentityResponse/GetCallerIdentityResult/{f}"));
    assert_eq!(field("Account").as_deref(), Some("000000000000"));
    assert_eq!(field("Arn").as_deref(), Some("arn:aws:iam::000000000000:root"));
    assert!(field("UserId").is_some());
    assert!(text(&body, "GetCallerIdentityResponse/ResponseMetadata/RequestId").is_some_and(|r| !r.is_empty()));
    ls.shutdown().await;
}
