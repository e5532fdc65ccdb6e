//! The record of every AWS call a run made (`aws-calls.jsonl` in the run folder): an SDK
//! interceptor on each client appends one line per attempt — service, operation, key
//! parameters, HTTP status, AWS error code, duration and request id. Headers (where the
//! credentials travel) and request bodies other than awsQuery's form parameters are never
//! recorded.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::{Deserialize, Serialize};

/// Longest parameter text kept per call (the rest is cut and marked `…`).
const MAX_PARAMS: usize = 400;
/// Calls kept in memory while no file is attached (before the run folder exists, or
/// after the disk refused a write); older ones are counted, not kept.
const MAX_PENDING: usize = 10_000;

/// One attempt of one AWS call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsCall {
    /// When the request was sent (unix ms).
    pub t_unix_ms: i64,
    /// The IAM service prefix (`fis`, `elasticloadbalancing`, `ec2`, `rds`, `route53`, `sts`).
    pub service: String,
    /// The operation (`GetExperiment`).
    pub operation: String,
    /// Key parameters: awsQuery's form parameters without `Action`/`Version`, or the
    /// REST path and query (never headers, never JSON or XML bodies).
    pub params: String,
    /// HTTP status; `None` when no answer came (transport failure).
    pub status: Option<u16>,
    /// AWS's error code, when the answer carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Time from sending to the answer (or the failure), ms.
    pub duration_ms: u64,
    /// AWS's request id, when the answer carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    file: Option<BufWriter<File>>,
    pending: Vec<AwsCall>,
    dropped: u64,
    total: u64,
    write_error: Option<String>,
    expired_answers: u64,
}

/// Error codes with which AWS says the caller's session credentials have expired.
pub const EXPIRED_CODES: &[&str] = &["ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"];

/// Where the calls go: shared by every client's interceptor. Until a file is attached
/// (with [`CallLog::write_to`]) calls are kept in memory and written when it is.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    inner: Arc<Mutex<Inner>>,
}

impl CallLog {
    /// Appends calls to `path` from now on (the calls kept so far first); each line is
    /// flushed as it is written, so a killed run keeps every call it made.
    pub fn write_to(&self, path: &Path) -> std::io::Result<()> {
        let mut file = BufWriter::new(File::create(path)?);
        let mut inner = self.lock();
        for call in inner.pending.drain(..) {
            write_line(&mut file, &call)?;
        }
        file.flush()?;
        inner.file = Some(file);
        Ok(())
    }

    /// Calls recorded so far (attempts, retries included).
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// Answers so far that said the credentials expired ([`EXPIRED_CODES`]).
    pub fn expired_answers(&self) -> u64 {
        self.lock().expired_answers
    }

    /// Why the file could not be written, when it could not.
    pub fn write_error(&self) -> Option<String> {
        self.lock().write_error.clone()
    }

    /// The calls still in memory (all of them while no file is attached).
    pub fn pending(&self) -> Vec<AwsCall> {
        self.lock().pending.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, call: AwsCall) {
        let mut inner = self.lock();
        inner.total += 1;
        if call.error_code.as_deref().is_some_and(|c| EXPIRED_CODES.contains(&c)) {
            inner.expired_answers += 1;
        }
        if let Some(file) = inner.file.as_mut() {
            match write_line(file, &call).and_then(|()| file.flush()) {
                Ok(()) => return,
                Err(e) => {
                    inner.write_error = Some(e.to_string());
                    inner.file = None;
                }
            }
        }
        if inner.pending.len() >= MAX_PENDING {
            inner.pending.remove(0);
            inner.dropped += 1;
        }
        inner.pending.push(call);
    }

    /// Records an answer with AWS error `code`, as a failed call would (for tests of
    /// what watches the log).
    #[cfg(test)]
    pub(crate) fn record_for_test(&self, code: &str) {
        self.record(AwsCall {
            t_unix_ms: 0,
            service: "sts".into(),
            operation: "GetCallerIdentity".into(),
            params: String::new(),
            status: Some(403),
            error_code: Some(code.into()),
            duration_ms: 0,
            request_id: None,
        });
    }

    /// The interceptor that records the calls of a client of `service` (its IAM prefix).
    pub fn interceptor(&self, service: &'static str) -> CallRecorder {
        CallRecorder {
            log: self.clone(),
            service,
        }
    }
}

fn write_line(file: &mut BufWriter<File>, call: &AwsCall) -> std::io::Result<()> {
    serde_json::to_writer(&mut *file, call)?;
    file.write_all(b"\n")
}

/// The SDK interceptor of one client: notes the send time before each attempt and
/// records the attempt after it.
#[derive(Debug, Clone)]
pub struct CallRecorder {
    log: CallLog,
    service: &'static str,
}

/// What is known of an attempt when it is sent (the request itself is handed to the
/// HTTP client then, so its parameters are read here).
#[derive(Debug, Clone)]
struct SentAt {
    instant: Instant,
    unix_ms: i64,
    params: String,
}

impl Storable for SentAt {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "drdrill-call-log"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(SentAt {
            instant: Instant::now(),
            unix_ms: crate::journal::now_unix_ms(),
            params: request_params(context.request()),
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // An attempt that failed before it was sent (e.g. while signing) made no call.
        let Some(sent) = cfg.load::<SentAt>().cloned() else {
            return Ok(());
        };
        let operation = cfg.load::<Metadata>().map_or("?", Metadata::name).to_string();
        let response = context.response();
        let status = response.map(|r| r.status().as_u16());
        let request_id = response.and_then(|r| {
            let h = r.headers();
            h.get("x-amzn-requestid")
                .or_else(|| h.get("x-amz-request-id"))
                .map(str::to_string)
        });
        let error_code = response
            .filter(|r| r.status().as_u16() >= 400)
            .and_then(|r| error_code(r.headers().get("x-amzn-errortype"), r.body().bytes()));
        self.log.record(AwsCall {
            t_unix_ms: sent.unix_ms,
            service: self.service.to_string(),
            operation,
            params: sent.params,
            status,
            error_code,
            duration_ms: u64::try_from(sent.instant.elapsed().as_millis()).unwrap_or(u64::MAX),
            request_id,
        });
        Ok(())
    }
}

/// The key parameters of a request: awsQuery's form body without `Action`/`Version`,
/// else the REST path and query.
fn request_params(req: &aws_smithy_runtime_api::http::Request) -> String {
    let form = req
        .headers()
        .get("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let text = match (form, req.body().bytes()) {
        (true, Some(body)) => serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(|pairs| {
                pairs
                    .into_iter()
                    .filter(|(k, _)| k != "Action" && k != "Version")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&")
            })
            .unwrap_or_default(),
        _ => {
            let uri = req.uri();
            // Only the path and query: the scheme and host are the endpoint's.
            uri.find("://")
                .and_then(|i| uri[i + 3..].find('/').map(|j| &uri[i + 3 + j..]))
                .unwrap_or(uri)
                .to_string()
        }
    };
    cut(text)
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_PARAMS {
        let mut end = MAX_PARAMS;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// AWS's error code of an error answer: restJson's `x-amzn-errortype` header (up to its
/// `:`), else the first `<Code>` of an XML body (awsQuery, EC2, restXml), else a JSON
/// body's `__type` or `code`.
pub fn error_code(header: Option<&str>, body: Option<&[u8]>) -> Option<String> {
    if let Some(h) = header.filter(|h| !h.is_empty()) {
        return Some(h.split(':').next().unwrap_or(h).to_string());
    }
    let body = body?;
    if body.first().is_some_and(|b| *b == b'{') {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let code = v.get("__type").or_else(|| v.get("code"))?.as_str()?;
        return Some(code.rsplit('#').next().unwrap_or(code).to_string());
    }
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut in_code = false;
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) => in_code = e.local_name().as_ref() == b"Code",
            quick_xml::events::Event::Text(t) if in_code => {
                return Some(String::from_utf8_lossy(t.as_ref()).trim().to_string());
            }
            quick_xml::events::Event::End(_) => in_code = false,
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code is read from each protocol's error shape: restJson's header (with the
    /// `:url` suffix AWS may add), awsQuery's and EC2's XML, a JSON `__type`.
    #[test]
    fn error_codes_of_every_protocol() {
        assert_eq!(
            error_code(Some("ThrottlingException:http://internal.amazon.com/"), None).as_deref(),
            Some("ThrottlingException")
        );
        let query = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>";
        assert_eq!(error_code(None, Some(query)).as_deref(), Some("Throttling"));
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>x</Message></Error></Errors><RequestID>r</RequestID></Response>";
        assert_eq!(error_code(None, Some(ec2)).as_deref(), Some("RequestLimitExceeded"));
        let json = br#"{"__type":"com.amazonaws#AccessDeniedException","message":"no"}"#;
        assert_eq!(error_code(None, Some(json)).as_deref(), Some("AccessDeniedException"));
        assert_eq!(error_code(None, Some(b"<html>not found</html>")), None);
    }

    /// Calls made before a file is attached are written first when it is; later calls
    /// are appended one line each.
    #[test]
    fn calls_kept_until_the_file_is_attached() {
        let log = CallLog::default();
        let call = |op: &str| AwsCall {
            t_unix_ms: 1,
            service: "fis".into(),
            operation: op.into(),
            params: String::new(),
            status: Some(200),
            error_code: None,
            duration_ms: 3,
            request_id: Some("id".into()),
        };
        log.record(call("ListExperiments"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aws-calls.jsonl");
        log.write_to(&path).unwrap();
        log.record(call("GetExperiment"));
        let lines: Vec<AwsCall> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, vec![call("ListExperiments"), call("GetExperiment")]);
        assert_eq!(log.total(), 2);
        assert!(log.pending().is_empty());
    }

    /// Long parameters are cut on a character boundary and marked.
    #[test]
    fn long_parameters_cut() {
        let text = "é".repeat(MAX_PARAMS);
        let cut = cut(text);
        assert!(cut.ends_with('…') && cut.len() <= MAX_PARAMS + '…'.len_utf8());
    }
}
