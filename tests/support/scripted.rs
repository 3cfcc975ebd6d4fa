//! An in-process HTTP server for behaviours no real server gives on demand:
//! a fixed delay, a slow first byte, a stream cut mid-way, a reset
//! connection, a body or line that never ends, and replaying a recorded wire
//! format byte for byte.
//!
//! Everything else is tested against real servers (llama.cpp, nginx); this
//! server exists only because those cannot be told to misbehave on cue. It
//! therefore does as little HTTP as it can get away with: it reads one
//! request per connection, records it, and writes whatever bytes the matching
//! [`Route`] scripts, so a test controls the wire exactly, including broken
//! framing. Every response ends by closing the connection (no keep-alive), so
//! one connection is one request and the recorded order is unambiguous.
//!
//! Std only (threads and `std::net`, plus `libc` for `SO_LINGER` and `poll`),
//! so it works the same from sync and async tests and needs no runtime.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One action a connection performs after the request has been read.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes as they are (no framing is added).
    Write(Vec<u8>),
    /// Pause before the next step; this is how delays and slow bytes are made.
    /// Dropping the server cuts a sleep short and closes the connection, so a
    /// long sleep never outlives the test that asked for it.
    Sleep(Duration),
    /// Write `bytes` again and again, as fast as the peer reads, until `total`
    /// bytes are written (the last repetition cut short to fit) or `within`
    /// has passed, whichever comes first: a body of a given size without
    /// holding it in memory, or with `usize::MAX` a body or line that never
    /// ends. Stops early, closing the connection, when the server is dropped
    /// or the peer goes away; a peer that stops reading holds it no longer
    /// than `within`, since every write waits at most 100 ms.
    Repeat {
        bytes: Vec<u8>,
        total: usize,
        within: Duration,
    },
    /// Close cleanly: FIN after everything written so far. Later steps are ignored.
    Close,
    /// Abort: `SO_LINGER` 0 then close, so the peer sees `ECONNRESET`.
    /// Bytes written by earlier steps are given up to a second to reach the
    /// peer first, so "some bytes, then a reset" is deterministic.
    /// Later steps are ignored.
    Reset,
}

/// What to do for requests with this method and path.
#[derive(Clone, Debug)]
pub struct Route {
    /// Matched exactly (HTTP methods are case-sensitive).
    pub method: &'static str,
    /// Matched exactly against the request path without its query string.
    pub path: &'static str,
    /// Run in order for every matching request.
    pub steps: Vec<Step>,
}

/// A request as received, kept so tests can assert on what the client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent, including any query string.
    pub path: String,
    /// In the order received; names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// Decoded body (from `content-length` or chunked transfer encoding).
    pub body: Vec<u8>,
    /// When the whole request had arrived.
    pub received_at: Instant,
}

impl Request {
    /// The first header with this name (case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy), for readable assertions.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Set when the server is dropped; sleeping connections wait on it so they
/// wake at once instead of holding sockets and threads open.
struct StopSignal {
    stopped: Mutex<bool>,
    cond: Condvar,
    flag: AtomicBool,
}

impl StopSignal {
    fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_all();
    }

    fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps for `d`; returns false if the server was stopped meanwhile.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *stopped {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopped = self
                .cond
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A running scripted server on 127.0.0.1; stops when dropped.
pub struct ScriptedServer {
    port: u16,
    stop: Arc<StopSignal>,
    requests: Arc<Mutex<Vec<Request>>>,
    accept_thread: Option<JoinHandle<()>>,
}

impl ScriptedServer {
    /// Binds 127.0.0.1 on a free port and starts serving `routes`, every connection at once.
    pub fn start(routes: Vec<Route>) -> ScriptedServer {
        ScriptedServer::serve(routes, None)
    }

    /// Answers `GET /ok` with `{"ok":true}` after `delay`: a server whose timing is known.
    pub fn delayed(delay: std::time::Duration) -> ScriptedServer {
        let mut steps = vec![Step::Sleep(delay)];
        steps.extend(respond(200, "application/json", "{\"ok\":true}"));
        ScriptedServer::start(vec![Route {
            method: "GET",
            path: "/ok",
            steps,
        }])
    }

    /// Serves one request at a time, queueing the others, as Ollama does with its default
    /// settings (one generation per model): a request that arrives while another is served
    /// waits for it to finish.
    pub fn start_one_at_a_time(routes: Vec<Route>) -> ScriptedServer {
        ScriptedServer::serve(routes, Some(Arc::new(Mutex::new(()))))
    }

    fn serve(routes: Vec<Route>, one_at_a_time: Option<Arc<Mutex<()>>>) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let stop = Arc::new(StopSignal {
            stopped: Mutex::new(false),
            cond: Condvar::new(),
            flag: AtomicBool::new(false),
        });
        let requests = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(routes);
        let accept_thread = {
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            thread::Builder::new()
                .name(format!("scripted-accept-{port}"))
                .spawn(move || accept_loop(listener, routes, requests, stop, one_at_a_time))
                .expect("spawn accept thread")
        };
        ScriptedServer {
            port,
            stop,
            requests,
            accept_thread: Some(accept_thread),
        }
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request received so far, in the order their heads and bodies
    /// finished arriving. A request is recorded before its steps run, so it
    /// is visible as soon as the client has any response byte.
    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for ScriptedServer {
    /// Stops accepting and joins the accept thread (bounded by its poll
    /// interval). Connection threads are detached; any in a `Sleep` wake up
    /// and close their connection.
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
    }
}

/// How often the accept loop checks for a stop. `poll` returns at once when a
/// connection arrives, so this adds no latency to accepting; it only bounds
/// how long `Drop` waits.
const ACCEPT_POLL_MS: libc::c_int = 20;

fn accept_loop(
    listener: TcpListener,
    routes: Arc<Vec<Route>>,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<StopSignal>,
    one_at_a_time: Option<Arc<Mutex<()>>>,
) {
    let fd = listener.as_raw_fd();
    while !stop.is_stopped() {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd for one descriptor that the
        // listener keeps open for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, ACCEPT_POLL_MS) };
        if ready <= 0 || stop.is_stopped() {
            continue;
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) => continue,
        };
        let routes = Arc::clone(&routes);
        let requests = Arc::clone(&requests);
        let stop = Arc::clone(&stop);
        let gate = one_at_a_time.clone();
        // Detached: a connection may sleep far longer than the server lives.
        let _ = thread::Builder::new()
            .name("scripted-conn".into())
            .spawn(move || serve_connection(stream, &routes, &requests, &stop, gate.as_deref()));
    }
}

/// Upper bound on a request head; anything larger is a test bug.
const MAX_HEAD: usize = 64 * 1024;

fn serve_connection(
    mut stream: TcpStream,
    routes: &[Route],
    requests: &Mutex<Vec<Request>>,
    stop: &StopSignal,
    one_at_a_time: Option<&Mutex<()>>,
) {
    let _ = stream.set_nodelay(true);
    // A client that never finishes its request must not pin a thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let request = match read_request(&mut stream) {
        Ok(Some(r)) => r,
        // Connect-only probes and malformed requests: nothing to record.
        Ok(None) | Err(_) => {
            close_cleanly(stream);
            return;
        }
    };
    let bare_path = request.path.split('?').next().unwrap_or("").to_string();
    let method = request.method.clone();
    requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(request);

    let not_found;
    let steps: &[Step] = match routes
        .iter()
        .find(|r| r.method == method && r.path == bare_path)
    {
        Some(route) => &route.steps,
        None => {
            not_found = respond(
                404,
                "text/plain",
                &format!("no scripted route for {method} {bare_path}\n"),
            );
            &not_found
        }
    };

    let _turn = one_at_a_time.map(|gate| gate.lock().unwrap_or_else(|e| e.into_inner()));
    for step in steps {
        match step {
            Step::Write(bytes) => {
                if stream
                    .write_all(bytes)
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    // The peer went away; nothing more can be delivered.
                    return;
                }
            }
            Step::Sleep(d) => {
                if !stop.sleep(*d) {
                    return; // server dropped: the socket closes on return
                }
            }
            Step::Repeat {
                bytes,
                total,
                within,
            } => {
                if !repeat(&mut stream, bytes, *total, *within, stop) {
                    return;
                }
            }
            Step::Close => break,
            Step::Reset => {
                reset(stream);
                return;
            }
        }
    }
    close_cleanly(stream);
}

/// Runs a [`Step::Repeat`]; false when the connection is to close without
/// further steps (the server was dropped, the peer went away, or time ran
/// out before `total` bytes were written).
fn repeat(
    stream: &mut TcpStream,
    bytes: &[u8],
    total: usize,
    within: Duration,
    stop: &StopSignal,
) -> bool {
    let deadline = Instant::now() + within;
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let (mut written, mut offset) = (0, 0);
    while written < total {
        if stop.is_stopped() || Instant::now() >= deadline {
            return false;
        }
        let end = bytes.len().min(offset + (total - written));
        match stream.write(&bytes[offset..end]) {
            Ok(0) => return false,
            Ok(n) => {
                written += n;
                offset = (offset + n) % bytes.len();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
    let _ = stream.set_write_timeout(None);
    true
}

/// Sends FIN, then drains what the peer still sends until it closes. Closing
/// a socket with unread input makes Linux send RST instead of FIN, which can
/// destroy a response the client has not read yet; draining avoids that.
fn close_cleanly(mut stream: TcpStream) {
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Aborts the connection so the peer sees ECONNRESET. With `SO_LINGER` 0,
/// close discards unsent data, so first wait (bounded) until the kernel has
/// sent and had acknowledged everything already written.
fn reset(stream: TcpStream) {
    let fd = stream.as_raw_fd();
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let mut pending: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one c_int through the pointer; fd is open.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut pending) };
        if rc != 0 || pending == 0 || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: passes a valid `linger` of the size given; fd is open.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// Reads one request. `Ok(None)` when the peer closed before sending a full
/// head (e.g. a readiness probe that only connects).
fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too big"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();

    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, path) = match (parts.next(), parts.next()) {
        (Some(m), Some(p)) if !m.is_empty() && !p.is_empty() => (m.to_string(), p.to_string()),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad request line",
            ));
        }
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect();
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
        received_at: Instant::now(),
    };

    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked_body(stream, &mut rest)?;
    } else if let Some(len) = request.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        while rest.len() < len {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        request.body = rest;
    }
    request.received_at = Instant::now();
    Ok(Some(request))
}

/// Decodes a chunked request body; `buf` holds bytes already read past the head.
fn read_chunked_body(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut fill = |buf: &mut Vec<u8>| -> io::Result<()> {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    loop {
        let line_end = loop {
            match find(buf, b"\r\n") {
                Some(p) => break p,
                None => fill(buf)?,
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers (ignored) end with an empty line.
            loop {
                match find(buf, b"\r\n") {
                    Some(0) => return Ok(body),
                    Some(p) => {
                        buf.drain(..p + 2);
                    }
                    None => fill(buf)?,
                }
            }
        }
        while buf.len() < size + 2 {
            fill(buf)?;
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn status_and_type(status: u16, content_type: &str) -> String {
    let mut s = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    if !content_type.is_empty() {
        s.push_str(&format!("content-type: {content_type}\r\n"));
    }
    s
}

/// A response head whose body is delimited by the connection closing: no
/// `content-length`, `connection: close`, ending with the blank line. This is
/// the framing that lets a test stream, stall or cut a body at any byte.
/// An empty `content_type` leaves the header out.
pub fn head(status: u16, content_type: &str, extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let mut s = status_and_type(status, content_type);
    for (name, value) in extra_headers {
        s.push_str(&format!("{name}: {value}\r\n"));
    }
    s.push_str("connection: close\r\n\r\n");
    s.into_bytes()
}

/// A complete, well-formed response (`content-length` and body), then `Close`.
pub fn respond(status: u16, content_type: &str, body: &str) -> Vec<Step> {
    let mut s = status_and_type(status, content_type);
    s.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    s.push_str(body);
    vec![Step::Write(s.into_bytes()), Step::Close]
}

/// A response head for a chunked body; follow it with [`chunk`]s and
/// [`last_chunk`] (or leave the terminator out to cut the stream).
pub fn chunked_head(status: u16, content_type: &str) -> Vec<u8> {
    let mut s = status_and_type(status, content_type);
    s.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    s.into_bytes()
}

/// One HTTP/1.1 chunk carrying `data`. An empty `data` yields the zero-size
/// chunk, which ends the body just like [`last_chunk`].
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The terminating zero-size chunk (no trailers).
pub fn last_chunk() -> Vec<u8> {
    b"0\r\n\r\n".to_vec()
}
