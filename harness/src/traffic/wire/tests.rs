//! The wire against raw bytes as RFC 9112 writes them, delivered in pieces of every
//! size, and requests read back by an independent parser (`httparse`'s request side).

use super::*;

/// Reads one response to `method` from `raw`, delivered at most `piece` bytes per read;
/// the head, the body, and whether the connection may be reused.
async fn exchange(raw: &[u8], method: &Method, piece: usize) -> Result<(Head, Vec<u8>, bool), WireError> {
    let (client, mut server) = tokio::io::duplex(piece);
    let raw = raw.to_vec();
    let writer = tokio::spawn(async move {
        // The reader may stop early and drop its end; that is not an error here.
        let _ = server.write_all(&raw).await;
    });
    let mut wire = Wire::new(client);
    let head = wire.read_head(method).await?;
    let mut body = Vec::new();
    let reusable = wire
        .read_body(&head, |chunk| {
            body.extend_from_slice(chunk);
            ControlFlow::Continue(())
        })
        .await?;
    drop(wire);
    writer.await.expect("writer");
    Ok((head, body, reusable))
}

/// Every piece size from one byte to the whole message gives the same result.
async fn each_piece(raw: &[u8], method: &Method) -> (Head, Vec<u8>, bool) {
    let first = exchange(raw, method, raw.len()).await.expect("whole");
    for piece in 1..raw.len() {
        let split = exchange(raw, method, piece).await.expect("in pieces");
        assert_eq!(split, first, "read {piece} bytes at a time");
    }
    first
}

/// Content-Length bodies are read to the byte; the served-by header is kept.
#[tokio::test]
async fn a_content_length_body_is_read_exactly() {
    let raw = b"HTTP/1.1 200 OK\r\nServed-By: app-1\r\nContent-Length: 11\r\n\r\nhello world";
    let (head, body, reusable) = each_piece(raw, &Method::GET).await;
    assert_eq!((head.status, head.served_by.as_deref()), (200, Some("app-1")));
    assert_eq!(body, b"hello world");
    assert!(reusable);
}

/// A chunked body (RFC 9112 §7.1) with chunk extensions and a trailer decodes to its
/// chunks' data, and the connection stays usable.
#[tokio::test]
async fn a_chunked_body_is_decoded() {
    let raw = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nChecksum: x\r\n\r\n";
    let (head, body, reusable) = each_piece(raw, &Method::PUT).await;
    assert_eq!(head.body, BodyLength::Chunked);
    assert_eq!(body, b"hello 0123456789");
    assert!(reusable);
    let bare = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    assert_eq!(each_piece(bare, &Method::GET).await.1, b"abc");
}

/// Transfer-Encoding wins over Content-Length (§6.3 item 3); a last coding other than
/// chunked, or no length at all, reads until close and never reuses the connection.
#[tokio::test]
async fn the_body_length_follows_rfc_9112() {
    let both = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    assert_eq!(each_piece(both, &Method::GET).await.1, b"ok");
    let until_close = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nall of it";
    let (head, body, reusable) = each_piece(until_close, &Method::GET).await;
    assert_eq!(
        (head.body, body.as_slice(), reusable),
        (BodyLength::UntilClose, &b"all of it"[..], false)
    );
    let no_length = b"HTTP/1.1 200 OK\r\n\r\nrest";
    assert_eq!(each_piece(no_length, &Method::GET).await.1, b"rest");
}

/// HEAD, 204 and 304 responses have no body whatever their headers say; interim 1xx
/// responses are skipped.
#[tokio::test]
async fn some_responses_have_no_body() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    let (parsed, body, reusable) = each_piece(head, &Method::HEAD).await;
    assert_eq!((parsed.status, body.len(), reusable), (200, 0, true));
    for status in ["204 No Content", "304 Not Modified"] {
        let raw = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
        let (parsed, body, _) = each_piece(raw.as_bytes(), &Method::GET).await;
        assert_eq!((parsed.body, body.len()), (BodyLength::Empty, 0), "{status}");
    }
    let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let (parsed, body, _) = each_piece(interim, &Method::PUT).await;
    assert_eq!((parsed.status, body.as_slice()), (200, &b"ok"[..]));
}

/// HTTP/1.1 keeps a connection unless `close` is asked; HTTP/1.0 only when
/// `keep-alive` is (RFC 9112 §9.3).
#[tokio::test]
async fn persistence_follows_the_version_and_connection_header() {
    let cases: [(&[u8], bool); 5] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        (
            b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n",
            false,
        ),
        (
            b"HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n",
            false,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            true,
        ),
    ];
    for (raw, expected) in cases {
        let (_, _, reusable) = exchange(raw, &Method::GET, 64).await.expect("response");
        assert_eq!(reusable, expected, "{}", String::from_utf8_lossy(raw));
    }
    // Bytes after the response were not asked for.
    let extra = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1";
    assert!(!exchange(extra, &Method::GET, 64).await.expect("response").2);
}

/// A response cut short, a bad length or chunk, or garbage is an error, never a body.
#[tokio::test]
async fn broken_responses_are_errors() {
    // (response, whether the error is the peer closing; otherwise it is malformed)
    let cases: [(&[u8], bool); 9] = [
        (b"", true),
        (b"HTTP/1.1 200 OK\r\nContent-Le", true),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true),
        (b"SMTP ready\r\n\r\n", false),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
            false,
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            false,
        ),
    ];
    for (raw, closed) in cases {
        let error = exchange(raw, &Method::GET, 64).await.expect_err("not a response");
        let kind_ok = if closed {
            matches!(error, WireError::Closed)
        } else {
            matches!(error, WireError::Malformed(_))
        };
        assert!(kind_ok, "{}: {error}", String::from_utf8_lossy(raw));
    }
}

/// A head that never ends is refused once it passes the limit, not buffered forever.
#[tokio::test]
async fn an_endless_head_is_refused() {
    let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
    while raw.len() <= MAX_HEAD_BYTES {
        raw.extend_from_slice(b"x-filler: 0123456789\r\n");
    }
    let error = exchange(&raw, &Method::GET, 4096).await.expect_err("too long");
    assert!(matches!(error, WireError::Malformed(_)), "{error}");
}

/// The sink can stop the body; the connection is then not reusable.
#[tokio::test]
async fn a_stopped_body_leaves_the_connection_unusable() {
    let (client, mut server) = tokio::io::duplex(64);
    server
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef")
        .await
        .expect("write");
    let mut wire = Wire::new(client);
    let head = wire.read_head(&Method::GET).await.expect("head");
    let mut seen = 0;
    let reusable = wire
        .read_body(&head, |chunk| {
            seen += chunk.len();
            ControlFlow::Break(())
        })
        .await
        .expect("body");
    assert!(!reusable);
    assert!(seen > 0);
}

/// A written request, read back by httparse's request parser, has the method, target,
/// headers and body given; `content-length` only where RFC 9110 §8.6 expects it.
#[tokio::test]
async fn requests_are_written_as_given() {
    let cases: [(Method, &[u8], Option<&str>); 4] = [
        (Method::GET, b"", None),
        (Method::HEAD, b"", None),
        (Method::PUT, b"", Some("0")),
        (Method::PUT, b"the body", Some("8")),
    ];
    for (method, body, length) in cases {
        let (client, mut server) = tokio::io::duplex(4096);
        let mut wire = Wire::new(client);
        wire.write_request(&method, "/kv/a-1?x=2", "lb.test:8080", "drdrill/test", body)
            .await
            .expect("write");
        drop(wire);
        let mut raw = Vec::new();
        server.read_to_end(&mut raw).await.expect("read");
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut request = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(len) = request.parse(&raw).expect("a valid request") else {
            panic!("incomplete request: {raw:?}");
        };
        assert_eq!(
            (request.method, request.path, request.version),
            (Some(method.as_str()), Some("/kv/a-1?x=2"), Some(1))
        );
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| std::str::from_utf8(h.value).expect("utf-8"))
        };
        assert_eq!(header("host"), Some("lb.test:8080"));
        assert_eq!(header("user-agent"), Some("drdrill/test"));
        assert_eq!(header("content-length"), length, "{method}");
        assert_eq!(&raw[len..], body);
    }
}
