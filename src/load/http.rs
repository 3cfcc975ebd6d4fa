//! Plain HTTP GET requests for the load engine: [`HttpGet`], a lean HTTP/1.1 keep-alive
//! client over a tokio `TcpStream`, and [`ReqwestGet`] for what it does not do (https).
//!
//! Why a client of its own: at the rates a plain endpoint sustains on one machine (up to
//! 100,000 requests/s from nginx on 2 cores shared with the generator) reqwest spends about
//! twice the CPU per request that wrk does (a task per connection, channels between it and
//! the caller, a `Url` and a header map per request), and the generator, not the server,
//! becomes what is measured. [`HttpGet`] writes one prepared request and reads the answer
//! into a fixed buffer per connection: a write and a read per request, no allocation, about
//! wrk's CPU per request. The README's load-engine section has the measured figures.
//!
//! Bounded whatever the server sends: the header block must fit the connection's buffer
//! ([`BUFFER`]), a body is read and thrown away through that buffer (never held), and the
//! engine's timeout bounds a body that never ends. Malformed framing is a
//! [`ErrorKind::Stream`] error, never a panic.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use super::engine::Request;
use super::limits;
use super::record::{ErrorKind, Sample};

/// The read buffer of one connection, and so the largest header block (or chunk-size
/// line) an answer may have.
pub const BUFFER: usize = 16 * 1024;
/// The most headers an answer may have.
const MAX_HEADERS: usize = 64;

/// Why a URL cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("{url} is not a URL: {detail}")]
    Invalid { url: String, detail: String },
    #[error("{0} is not http://: this client speaks plain HTTP/1.1 (use ReqwestGet for https)")]
    NotHttp(String),
    #[error("cannot resolve the host of {url}: {detail}")]
    Resolve { url: String, detail: String },
    #[error("cannot build an HTTP client for {url}: {detail}")]
    Client { url: String, detail: String },
}

fn parse(url: &str) -> Result<Url, UrlError> {
    Url::parse(url).map_err(|e| UrlError::Invalid {
        url: url.to_string(),
        detail: e.to_string(),
    })
}

/// GET one URL over HTTP/1.1 with keep-alive, one connection per worker. A 2xx answer is
/// a success; any other status is an [`ErrorKind::Status`] error (its body is still read,
/// so the connection is kept).
#[derive(Debug, Clone)]
pub struct HttpGet {
    address: SocketAddr,
    request: Box<[u8]>,
}

impl HttpGet {
    /// Resolves the host once, here: a load measures the server, not the resolver.
    pub fn new(url: &str) -> Result<HttpGet, UrlError> {
        let parsed = parse(url)?;
        if parsed.scheme() != "http" {
            return Err(UrlError::NotHttp(url.to_string()));
        }
        let resolve = |detail: String| UrlError::Resolve {
            url: url.to_string(),
            detail,
        };
        let host = parsed
            .host_str()
            .ok_or_else(|| resolve("no host".to_string()))?;
        // Not `(host, port)`: an IPv6 host's `host_str` is bracketed, `[::1]`.
        let address = parsed
            .socket_addrs(|| Some(80))
            .map_err(|e| resolve(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| resolve("no address".to_string()))?;
        let authority = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let target = &parsed[url::Position::BeforePath..url::Position::AfterQuery];
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: perfcase\r\nAccept: */*\r\n\r\n"
        );
        Ok(HttpGet {
            address,
            request: request.into_bytes().into_boxed_slice(),
        })
    }

    async fn connect(&self) -> Result<Connection, ErrorKind> {
        let stream = TcpStream::connect(self.address)
            .await
            .map_err(|e| limits::connect_error(&e))?;
        stream.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
        Ok(Connection {
            stream,
            buf: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
        })
    }
}

impl Request for HttpGet {
    type Worker = Option<Connection>;

    fn worker(&self) -> Option<Connection> {
        None
    }

    async fn send(&self, worker: &mut Option<Connection>) -> Result<Sample, ErrorKind> {
        let (mut connection, reused) = match worker.take() {
            Some(connection) => (connection, true),
            None => (self.connect().await?, false),
        };
        let answer = match connection.exchange(&self.request).await {
            // A kept connection the server had closed while it was idle (its keep-alive
            // timeout, a restart): nothing was done with the request, so it is sent once
            // more on a new connection.
            Err(Broken::Unanswered) if reused => {
                connection = self.connect().await?;
                connection.exchange(&self.request).await
            }
            other => other,
        }
        .map_err(|_| ErrorKind::Stream)?;
        if answer.keep_alive {
            *worker = Some(connection);
        }
        match answer.status {
            200..=299 => Ok(Sample::default()),
            status => Err(ErrorKind::Status(status)),
        }
    }
}

/// One open connection and its read buffer; `buf[start..end]` holds bytes read and not
/// yet used.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

/// How an exchange failed.
#[derive(Debug)]
enum Broken {
    /// The connection closed or was reset before any byte of the answer.
    Unanswered,
    /// Cut short, malformed, or a header block over [`BUFFER`].
    Stream,
}

/// What the head of an answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    body: Body,
    keep_alive: bool,
    length: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Length(u64),
    Chunked,
    /// Neither length nor chunked: the body ends when the server closes.
    UntilClose,
}

/// The outcome of one exchange.
struct Answer {
    status: u16,
    keep_alive: bool,
}

impl Connection {
    async fn exchange(&mut self, request: &[u8]) -> Result<Answer, Broken> {
        if self.stream.write_all(request).await.is_err() {
            return Err(Broken::Unanswered);
        }
        let mut first = true;
        let head = loop {
            let head = self.head(first).await?;
            first = false;
            self.start += head.length;
            // 1xx answers (103 Early Hints) come before the real one.
            if !(100..200).contains(&head.status) {
                break head;
            }
        };
        // Once a head has arrived, the request was answered: no failure is `Unanswered`.
        let keep_alive = self.body(head).await.map_err(|_| Broken::Stream)?;
        Ok(Answer {
            status: head.status,
            keep_alive,
        })
    }

    /// Reads and throws away the body; whether the connection can be kept after it.
    async fn body(&mut self, head: Head) -> Result<bool, Broken> {
        match head.body {
            Body::Length(n) => self.skip(n).await?,
            Body::Chunked => self.chunks().await?,
            Body::UntilClose => {
                while self.fill().await? {
                    self.start = self.end;
                }
                return Ok(false);
            }
        }
        Ok(head.keep_alive)
    }

    /// Reads until the buffer holds a whole head, and parses it. When `first`, a stream
    /// that ends before any byte of it is [`Broken::Unanswered`].
    async fn head(&mut self, first: bool) -> Result<Head, Broken> {
        let mut nothing_yet = first && self.start == self.end;
        loop {
            if let Some(head) = parse_head(&self.buf[self.start..self.end])? {
                return Ok(head);
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) | Err(Broken::Unanswered) if nothing_yet => {
                    return Err(Broken::Unanswered);
                }
                _ => return Err(Broken::Stream),
            }
            nothing_yet = false;
        }
    }

    /// Reads and throws away a body of `n` bytes.
    async fn skip(&mut self, mut n: u64) -> Result<(), Broken> {
        loop {
            let here = n.min((self.end - self.start) as u64);
            self.start += here as usize;
            n -= here;
            if n == 0 {
                return Ok(());
            }
            if !self.fill().await? {
                return Err(Broken::Stream);
            }
        }
    }

    /// Reads and throws away a chunked body, trailers included.
    async fn chunks(&mut self) -> Result<(), Broken> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.start += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.more().await?,
                    Err(_) => return Err(Broken::Stream),
                }
            };
            if size == 0 {
                return self.trailers().await;
            }
            self.skip(size).await?;
            while self.end - self.start < 2 {
                self.more().await?;
            }
            if &self.buf[self.start..self.start + 2] != b"\r\n" {
                return Err(Broken::Stream);
            }
            self.start += 2;
        }
    }

    async fn trailers(&mut self) -> Result<(), Broken> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            match httparse::parse_headers(&self.buf[self.start..self.end], &mut headers) {
                Ok(httparse::Status::Complete((used, _))) => {
                    self.start += used;
                    return Ok(());
                }
                Ok(httparse::Status::Partial) => self.more().await?,
                Err(_) => return Err(Broken::Stream),
            }
        }
    }

    /// Reads more where the answer must go on.
    async fn more(&mut self) -> Result<(), Broken> {
        if self.fill().await? {
            Ok(())
        } else {
            Err(Broken::Stream)
        }
    }

    /// Reads what has arrived into the free end of the buffer (moving unused bytes to its
    /// front first). False at the end of the stream. A buffer full of unused bytes is a
    /// head or line longer than [`BUFFER`].
    async fn fill(&mut self) -> Result<bool, Broken> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            if self.start == 0 {
                return Err(Broken::Stream);
            }
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        match self.stream.read(&mut self.buf[self.end..]).await {
            Ok(n) => {
                self.end += n;
                Ok(n > 0)
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Err(Broken::Unanswered),
            Err(_) => Err(Broken::Stream),
        }
    }
}

/// Parses a response head from the start of `bytes`: None while it is incomplete.
///
/// Once per answer, so kept cheap: the header slots are left uninitialised for httparse to
/// fill (64 of them zeroed would be 2 KiB written per answer), and only the values of the
/// three headers that matter are checked as text.
fn parse_head(bytes: &[u8]) -> Result<Option<Head>, Broken> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        bytes,
        &mut headers,
    );
    let length = match parsed {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Broken::Stream),
    };
    let status = response.code.ok_or(Broken::Stream)?;
    let mut keep_alive = response.version == Some(1);
    let mut content_length = None;
    let mut chunked = false;
    let text = |value| std::str::from_utf8(value).map_err(|_| Broken::Stream);
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = text(header.value)?
                .trim()
                .parse()
                .map_err(|_| Broken::Stream)?;
            if content_length.is_some_and(|m| m != n) {
                return Err(Broken::Stream);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = text(header.value)?
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in text(header.value)?.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let body = if (100..200).contains(&status) || status == 204 || status == 304 {
        Body::Length(0)
    } else if chunked {
        Body::Chunked
    } else if let Some(n) = content_length {
        Body::Length(n)
    } else {
        Body::UntilClose
    };
    Ok(Some(Head {
        status,
        body,
        keep_alive,
        length,
    }))
}

/// GET one URL with reqwest: https, redirects not followed, every HTTP feature reqwest
/// has, at about twice [`HttpGet`]'s CPU per request. One client for the whole run, so
/// one pool of keep-alive connections sized to the concurrency.
#[derive(Debug, Clone)]
pub struct ReqwestGet {
    client: reqwest::Client,
    url: Url,
}

impl ReqwestGet {
    pub fn new(url: &str, connections: usize) -> Result<ReqwestGet, UrlError> {
        let parsed = parse(url)?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| UrlError::Client {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        Ok(ReqwestGet {
            client,
            url: parsed,
        })
    }
}

impl Request for ReqwestGet {
    type Worker = ();

    fn worker(&self) {}

    async fn send(&self, _: &mut ()) -> Result<Sample, ErrorKind> {
        let mut response = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .map_err(|e| reqwest_error(&e))?;
        while response
            .chunk()
            .await
            .map_err(|_| ErrorKind::Stream)?
            .is_some()
        {}
        let status = response.status();
        if status.is_success() {
            Ok(Sample::default())
        } else {
            Err(ErrorKind::Status(status.as_u16()))
        }
    }
}

/// A connect failure keeps its OS error deep in the source chain: EMFILE there is this
/// machine's limit, not the server's fault.
fn reqwest_error(error: &reqwest::Error) -> ErrorKind {
    if !error.is_connect() {
        return ErrorKind::Stream;
    }
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return limits::connect_error(io);
        }
        source = e.source();
    }
    ErrorKind::Connect
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn head(status: u16, body: Body, keep_alive: bool) -> Option<(u16, Body, bool)> {
        Some((status, body, keep_alive))
    }

    #[rstest]
    #[case::length(
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
        head(200, Body::Length(12), true)
    )]
    #[case::chunked(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        head(200, Body::Chunked, true)
    )]
    #[case::close(
        b"HTTP/1.1 503 No\r\nConnection: close\r\ncontent-length: 0\r\n\r\n",
        head(503, Body::Length(0), false)
    )]
    #[case::old(b"HTTP/1.0 200 OK\r\n\r\n", head(200, Body::UntilClose, false))]
    #[case::old_kept(
        b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n",
        head(200, Body::Length(1), true)
    )]
    #[case::no_content(
        b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        head(204, Body::Length(0), true)
    )]
    #[case::hints(
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        head(103, Body::Length(0), true)
    )]
    #[case::partial(b"HTTP/1.1 200 OK\r\nContent-Len", None)]
    fn heads(#[case] bytes: &[u8], #[case] expected: Option<(u16, Body, bool)>) {
        let head = parse_head(bytes).unwrap();
        assert_eq!(head.map(|h| (h.status, h.body, h.keep_alive)), expected);
        // A whole head is the whole input here.
        assert!(head.is_none_or(|h| h.length == bytes.len()));
    }

    #[rstest]
    #[case::garbage(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")]
    #[case::bad_length(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    #[case::two_lengths(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")]
    fn broken_heads(#[case] bytes: &[u8]) {
        assert!(matches!(parse_head(bytes), Err(Broken::Stream)));
    }

    #[rstest]
    #[case(
        "http://127.0.0.1:8080/a/b?c=1",
        "GET /a/b?c=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
    )]
    #[case("http://localhost", "GET / HTTP/1.1\r\nHost: localhost\r\n")]
    #[case("http://[::1]:8080/", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n")]
    fn requests(#[case] url: &str, #[case] starts: &str) {
        let get = HttpGet::new(url).unwrap();
        let text = std::str::from_utf8(&get.request).unwrap();
        assert!(text.starts_with(starts), "{text}");
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[rstest]
    #[case("https://127.0.0.1/")]
    #[case("not a url")]
    fn refused_urls(#[case] url: &str) {
        assert!(HttpGet::new(url).is_err());
    }
}
