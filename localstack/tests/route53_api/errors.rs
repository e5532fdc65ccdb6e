//! Malformed requests get Route 53's error document.

use super::*;

/// A signed-looking request (the local stack routes by the credential scope only).
fn raw(http: &reqwest::Client, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    http.request(method, url).header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=abc",
    )
}

/// Malformed XML, a wrong root element, an unknown element, a DOCTYPE, an unknown zone id
/// and an unknown path get Route 53's error document with the right code and status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_aws_errors() {
    let env = Env::start(test_stack("route53")).await;
    let base = format!("{}/2013-04-01", env.ls.endpoint_url());
    let prefix = "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type>";
    let cases: Vec<(reqwest::Method, String, &str, u16, &str)> = vec![
        (reqwest::Method::POST, format!("{base}/hostedzone"), "<CreateHostedZoneRequest><Name>x", 400, "InvalidInput"),
        (
            reqwest::Method::POST,
            format!("{base}/hostedzone"),
            "<Other><Name>x.test</Name></Other>",
            400,
            "InvalidInput",
        ),
        (
            reqwest::Method::POST,
            format!("{base}/hostedzone"),
            "<CreateHostedZoneRequest><Name>x.test</Name><CallerReference>r</CallerReference><Bogus/></CreateHostedZoneRequest>",
            400,
            "InvalidInput",
        ),
        (
            reqwest::Method::POST,
            format!("{base}/hostedzone"),
            "<!DOCTYPE x [<!ENTITY a \"b\">]><CreateHostedZoneRequest/>",
            400,
            "InvalidInput",
        ),
        (reqwest::Method::GET, format!("{base}/hostedzone/ZNOPE"), "", 404, "NoSuchHostedZone"),
        (
            reqwest::Method::POST,
            format!("{base}/hostedzone/ZNOPE/rrset"),
            "<ChangeResourceRecordSetsRequest/>",
            404,
            "NoSuchHostedZone",
        ),
        (reqwest::Method::GET, format!("{base}/healthcheck/nope/status"), "", 404, "NoSuchHealthCheck"),
        (reqwest::Method::GET, format!("{base}/change/CNOPE"), "", 404, "NoSuchChange"),
        (reqwest::Method::GET, format!("{base}/trafficpolicy"), "", 400, "InvalidInput"),
        (reqwest::Method::GET, format!("{base}/hostedzone?maxitems=x"), "", 400, "InvalidInput"),
    ];
    for (method, url, body, status, code) in cases {
        let resp = raw(&env.http, method.clone(), url.clone())
            .body(body.to_string())
            .send()
            .await
            .expect("answer");
        let got = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        assert_eq!(got, status, "{method} {url}: {text}");
        assert!(text.contains(prefix), "{method} {url}: {text}");
        assert!(text.contains(&format!("<Code>{code}</Code>")), "{method} {url}: {text}");
        assert!(text.contains("<RequestId>"), "{text}");
    }
    // The official SDK understands the same documents.
    let r53 = route53(&env).await;
    let err = r53
        .get_hosted_zone()
        .id("ZNOPE")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_no_such_hosted_zone(), "{err:?}");
    env.ls.shutdown().await;
}
