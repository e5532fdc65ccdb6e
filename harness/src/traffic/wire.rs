//! HTTP/1.1 on one connection, as the prober speaks it (RFC 9112): a request encoded
//! into the connection's buffer and written at once; a response head parsed with
//! `httparse` from the same small buffer, and its body streamed through it to a
//! callback, never held whole.
//!
//! The body's length follows RFC 9112 §6.3: none for `HEAD`, 1xx, 204 and 304; chunked
//! when the last transfer coding is `chunked`; else `Content-Length`; else until the
//! peer closes. A connection may carry another request only when the response was read
//! to its end, nothing followed it, and neither side asked to close (§9.3).
//!
//! One buffer per connection (1 KiB, grown only for a longer head or body) is what
//! keeps the prober's memory small with thousands of requests on the wire.

use std::fmt::Write as _;
use std::ops::ControlFlow;

use bytes::{Buf, BufMut, BytesMut};
use hyper::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A connection's buffer when opened, and what it is brought back to after a request
/// or response that grew it past [`KEPT_BUFFER_BYTES`].
const BUFFER_BYTES: usize = 1024;

/// The largest buffer kept between requests.
const KEPT_BUFFER_BYTES: usize = 16 * 1024;

/// The longest response head (status line and headers), and the longest chunk-size
/// line or trailer section, read before giving up.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most headers in a response head.
const MAX_HEADERS: usize = 64;

/// Why an exchange on the wire failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    /// Writing the request failed.
    #[error("writing the request: {0}")]
    Write(#[source] std::io::Error),
    /// Reading the response failed.
    #[error("reading the response: {0}")]
    Read(#[source] std::io::Error),
    /// The peer closed the connection before the response ended.
    #[error("connection closed before the response was complete")]
    Closed,
    /// The response is not HTTP/1.x as RFC 9112 defines it.
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// A response's status line and the headers the prober needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// The status code.
    pub(crate) status: u16,
    /// The `served-by` header of the probe contract.
    pub(crate) served_by: Option<String>,
    /// How the body's end is found.
    pub(crate) body: BodyLength,
    /// Whether the connection may carry another request after this response.
    pub(crate) keep_alive: bool,
}

/// How a response body's end is found (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLength {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the peer closes.
    UntilClose,
}

/// One HTTP/1.1 connection: the stream and its buffer.
#[derive(Debug)]
pub(crate) struct Wire<S> {
    stream: S,
    buf: BytesMut,
}

impl<S> Wire<S> {
    /// `stream` with an empty buffer.
    pub(crate) fn new(stream: S) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(BUFFER_BYTES),
        }
    }

    /// The stream.
    pub(crate) fn stream(&self) -> &S {
        &self.stream
    }

    /// Brings a buffer that grew large back to its opening size, once it is empty.
    fn shrink(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > KEPT_BUFFER_BYTES {
            self.buf = BytesMut::with_capacity(BUFFER_BYTES);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// Writes one request: `method` on `target` (origin form, e.g. `/kv/7`), with the
    /// given `host` and `user-agent` headers and `body`. A `content-length` goes with
    /// every body, and with every method but `GET` and `HEAD` even when empty.
    pub(crate) async fn write_request(
        &mut self,
        method: &Method,
        target: &str,
        host: &str,
        agent: &str,
        body: &[u8],
    ) -> Result<(), WireError> {
        // Empty here: a connection carries a request only after its last response was
        // read to its end.
        self.shrink();
        let buf = &mut self.buf;
        for part in [method.as_str(), " ", target, " HTTP/1.1\r\nhost: ", host] {
            buf.put_slice(part.as_bytes());
        }
        for part in ["\r\nuser-agent: ", agent, "\r\n"] {
            buf.put_slice(part.as_bytes());
        }
        if !body.is_empty() || !(method == Method::GET || method == Method::HEAD) {
            buf.put_slice(b"content-length: ");
            // Writing to a `BytesMut` cannot fail.
            let _ = write!(buf, "{}\r\n", body.len());
        }
        buf.put_slice(b"\r\n");
        buf.put_slice(body);
        let written = self.stream.write_all(&self.buf).await;
        self.buf.clear();
        written.map_err(WireError::Write)
    }

    /// Reads the head of the final response (skipping any interim 1xx) to a request
    /// made with `method`.
    pub(crate) async fn read_head(&mut self, method: &Method) -> Result<Head, WireError> {
        loop {
            let parsed = {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(&self.buf) {
                    Ok(httparse::Status::Complete(len)) => Some((head_of(&response, method)?, len)),
                    Ok(httparse::Status::Partial) => None,
                    Err(e) => return Err(WireError::Malformed(format!("response head: {e}"))),
                }
            };
            match parsed {
                Some((head, len)) => {
                    self.buf.advance(len);
                    if !(100..200).contains(&head.status) || head.status == 101 {
                        return Ok(head);
                    }
                }
                None => self.fill("the response head").await?,
            }
        }
    }

    /// Reads the body `head` announced, handing each piece to `sink` as it arrives;
    /// `sink` may stop the reading. True when the body was read to its end and the
    /// connection may carry another request.
    pub(crate) async fn read_body(
        &mut self,
        head: &Head,
        mut sink: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<bool, WireError> {
        let whole = match head.body {
            BodyLength::Empty => true,
            BodyLength::Length(len) => self.read_exactly(len, &mut sink).await?,
            BodyLength::Chunked => self.read_chunked(&mut sink).await?,
            BodyLength::UntilClose => self.read_until_close(&mut sink).await?,
        };
        // Bytes after the response were not asked for: the connection is not reused.
        // (A body read until close never leaves it reusable: `keep_alive` is false.)
        Ok(whole && head.keep_alive && self.buf.is_empty())
    }

    /// Passes everything until the peer closes to `sink`; false when `sink` stopped it.
    async fn read_until_close(&mut self, sink: &mut impl FnMut(&[u8]) -> ControlFlow<()>) -> Result<bool, WireError> {
        while !self.buf.is_empty() || self.read_more().await? {
            let flow = sink(&self.buf);
            self.buf.clear();
            if flow.is_break() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Passes the next `len` body bytes to `sink`; false when `sink` stopped it.
    async fn read_exactly(
        &mut self,
        mut len: u64,
        sink: &mut impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<bool, WireError> {
        while len > 0 {
            if self.buf.is_empty() {
                self.fill("the response body").await?;
            }
            let take = usize::try_from(len).unwrap_or(usize::MAX).min(self.buf.len());
            let flow = sink(&self.buf[..take]);
            self.buf.advance(take);
            len -= take as u64;
            if flow.is_break() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Passes a chunked body's data to `sink` (RFC 9112 §7.1), skipping chunk
    /// extensions and trailers; false when `sink` stopped it.
    async fn read_chunked(&mut self, sink: &mut impl FnMut(&[u8]) -> ControlFlow<()>) -> Result<bool, WireError> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((len, size))) => {
                        self.buf.advance(len);
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill("a chunk size").await?,
                    Err(_) => return Err(WireError::Malformed("invalid chunk size line".to_owned())),
                }
            };
            if size == 0 {
                self.skip_trailers().await?;
                return Ok(true);
            }
            if !self.read_exactly(size, sink).await? {
                return Ok(false);
            }
            while self.buf.len() < 2 {
                self.fill("the end of a chunk").await?;
            }
            if &self.buf[..2] != b"\r\n" {
                return Err(WireError::Malformed("chunk data longer than its size".to_owned()));
            }
            self.buf.advance(2);
        }
    }

    /// Skips the trailer section after the last chunk: fields, each ending in CRLF,
    /// then an empty line.
    async fn skip_trailers(&mut self) -> Result<(), WireError> {
        loop {
            if self.buf.starts_with(b"\r\n") {
                self.buf.advance(2);
                return Ok(());
            }
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                self.buf.advance(end + 4);
                return Ok(());
            }
            self.fill("the trailers").await?;
        }
    }

    /// Reads more into the buffer for `what`: an error when the peer closed, or when
    /// the buffer already holds [`MAX_HEAD_BYTES`] without completing it.
    async fn fill(&mut self, what: &str) -> Result<(), WireError> {
        if self.buf.len() >= MAX_HEAD_BYTES {
            return Err(WireError::Malformed(format!(
                "{what} is longer than {MAX_HEAD_BYTES} bytes"
            )));
        }
        if self.read_more().await? {
            Ok(())
        } else {
            Err(WireError::Closed)
        }
    }

    /// Reads what the stream has into the buffer; false at the end of the stream.
    async fn read_more(&mut self) -> Result<bool, WireError> {
        if self.buf.is_empty() {
            self.shrink();
        }
        self.buf.reserve(BUFFER_BYTES);
        let read = self.stream.read_buf(&mut self.buf).await.map_err(WireError::Read)?;
        Ok(read > 0)
    }
}

/// The [`Head`] of a parsed response to a request made with `method`.
fn head_of(response: &httparse::Response<'_, '_>, method: &Method) -> Result<Head, WireError> {
    let status = response.code.unwrap_or_default();
    let http11 = response.version == Some(1);
    let mut served_by = None;
    let mut content_length = None;
    let mut chunked = None;
    let (mut close, mut keep_alive) = (false, false);
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case(drdrill_probe_contract::SERVED_BY_HEADER) {
            served_by = Some(String::from_utf8_lossy(header.value).into_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            let len = parse_content_length(header.value)?;
            if content_length.is_some_and(|seen| seen != len) {
                return Err(WireError::Malformed("conflicting content-length headers".to_owned()));
            }
            content_length = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only the last coding counts; a later header line continues the list.
            let last = tokens(header.value).last();
            chunked = Some(last.is_some_and(|t| t.eq_ignore_ascii_case("chunked")));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in tokens(header.value) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    let body = if method == Method::HEAD || (100..200).contains(&status) || status == 204 || status == 304 {
        BodyLength::Empty
    } else {
        match (chunked, content_length) {
            (Some(true), _) => BodyLength::Chunked,
            (Some(false), _) | (None, None) => BodyLength::UntilClose,
            (None, Some(len)) => BodyLength::Length(len),
        }
    };
    Ok(Head {
        status,
        served_by,
        keep_alive: !close && (http11 || keep_alive) && body != BodyLength::UntilClose && status != 101,
        body,
    })
}

/// A `content-length` value: digits only (a list of equal values is refused too).
fn parse_content_length(value: &[u8]) -> Result<u64, WireError> {
    let text = std::str::from_utf8(value).unwrap_or_default().trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WireError::Malformed(format!(
            "invalid content-length {:?}",
            String::from_utf8_lossy(value)
        )));
    }
    text.parse()
        .map_err(|_| WireError::Malformed(format!("content-length {text} is too large")))
}

/// The comma-separated tokens of a header value, trimmed, empty ones left out.
fn tokens(value: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(value)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests;
