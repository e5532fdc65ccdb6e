//! For the traffic tests: a tiny HTTP/1.1 key-value server on 127.0.0.1 (port 0) with
//! switches to misbehave, the traffic config speaking its contract, and CSV rows.
//!
//! The server stores `PUT /items/<id>` bodies, answers `GET /items/<id>` with
//! them (404 when absent) and adds a `served-by` header to every response.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drdrill::traffic::{ConnectionPolicy, RequestSpec, TrafficConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Serialises timing-sensitive tests within one test binary (2-core machines).
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How the server answers requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Store and return bodies.
    Normal = 0,
    /// Answer every request with 503.
    Unavailable = 1,
    /// Read the request, never answer; hold the connection until the client leaves.
    Hang = 2,
}

#[derive(Debug, Default)]
struct State {
    store: Mutex<HashMap<String, String>>,
    mode: AtomicU8,
    connections: AtomicU64,
    requests: AtomicU64,
    /// The longest time from accepting a connection to reading a request on it (µs).
    longest_use_us: AtomicU64,
    served_by: String,
}

/// A running test server.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and serves until dropped or [`Self::close_listener`].
    pub async fn start(served_by: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind test server");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            served_by: served_by.to_owned(),
            ..State::default()
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Self { addr, state, accept }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches how requests are answered from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Stops accepting: the listening socket is closed, new connections are refused.
    pub async fn close_listener(&self) {
        self.accept.abort();
        // Wait until the task (and with it the listener) is really gone.
        while !self.accept.is_finished() {
            tokio::task::yield_now().await;
        }
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// The longest time from accepting a connection to reading a request on it.
    pub fn longest_connection_use(&self) -> Duration {
        Duration::from_micros(self.state.longest_use_us.load(Ordering::SeqCst))
    }

    /// Requests read so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Removes `id` from the store (the server "forgets" an acknowledged write).
    pub fn forget(&self, id: &str) {
        self.state.store.lock().expect("store").remove(id);
    }

    /// Overwrites the stored body of `id`.
    pub fn put(&self, id: &str, body: &str) {
        self.state
            .store
            .lock()
            .expect("store")
            .insert(id.to_owned(), body.to_owned());
    }

    /// Number of stored records.
    pub fn stored(&self) -> usize {
        self.state.store.lock().expect("store").len()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(serve_connection(stream, Arc::clone(&state)));
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>) {
    let accepted = std::time::Instant::now();
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader).await else {
            return;
        };
        state.requests.fetch_add(1, Ordering::SeqCst);
        let used_us = u64::try_from(accepted.elapsed().as_micros()).unwrap_or(u64::MAX);
        state.longest_use_us.fetch_max(used_us, Ordering::SeqCst);
        let mode = state.mode.load(Ordering::SeqCst);
        if mode == Mode::Hang as u8 {
            // Never answer; wait for the client to give up and close.
            let mut sink = [0u8; 1024];
            while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
        let (status, body) = if mode == Mode::Unavailable as u8 {
            (503, String::from("unavailable"))
        } else {
            handle(&state, &request)
        };
        let reason = match status {
            200 => "OK",
            201 => "Created",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Service Unavailable",
        };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\nserved-by: {}\r\n{}\r\n{body}",
            body.len(),
            state.served_by,
            if request.close { "connection: close\r\n" } else { "" },
        );
        if reader.get_mut().write_all(response.as_bytes()).await.is_err() || request.close {
            return;
        }
    }
}

struct Request {
    method: String,
    path: String,
    body: String,
    close: bool,
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut content_length = 0usize;
    let mut close = false;
    loop {
        line.clear();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        path,
        body: String::from_utf8(body).ok()?,
        close,
    })
}

fn handle(state: &State, request: &Request) -> (u16, String) {
    let Some(id) = request.path.strip_prefix("/items/") else {
        return (404, String::new());
    };
    let mut store = state.store.lock().expect("store");
    match request.method.as_str() {
        "PUT" => {
            store.insert(id.to_owned(), request.body.clone());
            (201, String::new())
        }
        "GET" => match store.get(id) {
            Some(body) => (200, body.clone()),
            None => (404, String::new()),
        },
        _ => (405, String::new()),
    }
}

/// A config for `base_url` speaking the test server's contract.
pub fn config(base_url: String, rate_per_sec: f64, connection: ConnectionPolicy) -> TrafficConfig {
    TrafficConfig {
        base_url,
        rate_per_sec,
        write_ratio: 0.5,
        timeout: Duration::from_secs(1),
        connection,
        write: RequestSpec {
            method: "PUT".into(),
            path_template: "/items/{id}".into(),
            body_template: Some(r#"{"id":"{id}","note":"drill"}"#.into()),
        },
        read: read_spec(),
        expect_status: None,
        reads_only_id: None,
    }
}

/// The read-back request of the test contract.
pub fn read_spec() -> RequestSpec {
    RequestSpec {
        method: "GET".into(),
        path_template: "/items/{id}".into(),
        body_template: None,
    }
}

/// Data lines of a CSV file (header excluded), split naively on commas
/// (the tests never put commas in the fields they look at).
pub fn csv_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("read csv");
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}
