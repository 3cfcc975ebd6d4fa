//! An HTTP/1.1 server that answers after a known delay, in process: no real server waits a
//! fixed time, freezes once for a second, or becomes slow at a set moment on demand, and
//! the load engine's accuracy is checked against exactly that.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What [`DelayServer`] does with every request.
#[derive(Clone, Copy)]
pub struct Behaviour {
    pub delay: Duration,
    pub status: u16,
    /// Freeze once: answers due from `at` after the first request, for `length`, all come
    /// out at the end of it, as from a server in a garbage-collection pause.
    pub freeze: Option<(Duration, Duration)>,
    /// Paths answered after a delay of their own instead (`/slow`), for a mix.
    pub paths: &'static [(&'static str, Duration)],
    /// From this long after the first request on, every answer takes this long: a server
    /// that becomes slow.
    pub slows: Option<(Duration, Duration)>,
}

/// An HTTP/1.1 keep-alive server answering every request after a fixed delay, a thread per
/// connection. Std threads sleep to within tens of microseconds (a tokio timer wakes on
/// whole milliseconds), which a check to the millisecond needs.
pub struct DelayServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl DelayServer {
    pub fn start(behaviour: Behaviour) -> DelayServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let first = Arc::new(OnceLock::new());
        let accept = {
            let stop = stop.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (stop, first) = (stop.clone(), first.clone());
                    thread::spawn(move || serve(stream, behaviour, &stop, &first));
                }
            })
        };
        DelayServer {
            port,
            stop,
            accept: Some(accept),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for DelayServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    stop: &AtomicBool,
    first: &OnceLock<Instant>,
) {
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut have = 0;
    while !stop.load(Ordering::Relaxed) {
        let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") else {
            if have == buf.len() {
                return;
            }
            match stream.read(&mut buf[have..]) {
                Ok(0) => return,
                Ok(n) => have += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.copy_within(end + 4..have, 0);
        have -= end + 4;
        let received = Instant::now();
        let first = *first.get_or_init(|| received);
        let delay = behaviour
            .paths
            .iter()
            .find(|(path, _)| head.starts_with(&format!("GET {path} ")))
            .map_or(behaviour.delay, |(_, delay)| *delay);
        let delay = match behaviour.slows {
            Some((after, slow)) if received >= first + after => slow,
            _ => delay,
        };
        let mut due = received + delay;
        if let Some((at, length)) = behaviour.freeze {
            let (from, to) = (first + at, first + at + length);
            if (from..to).contains(&due) {
                due = to;
            }
        }
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let answer = format!(
            "HTTP/1.1 {} Delayed\r\nContent-Length: 2\r\n\r\nok",
            behaviour.status
        );
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Answers every request after `ms` milliseconds with a 200.
pub fn delayed(ms: u64) -> Behaviour {
    Behaviour {
        delay: Duration::from_millis(ms),
        status: 200,
        freeze: None,
        paths: &[],
        slows: None,
    }
}
