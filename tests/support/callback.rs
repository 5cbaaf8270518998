//! A WebSub subscriber's callback: an HTTP server on 127.0.0.1 that answers the hub's intent
//! verification (echoing the challenge, or not) and records every push it receives.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request the callback received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query, e.g. `/cb?hub.mode=subscribe&…`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A query parameter of the request's URL.
    pub fn param(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

#[derive(Default)]
struct Behaviour {
    /// Answer verifications with the challenge (else with something else).
    echo: bool,
    /// Statuses for the next pushes, in order; 200 once they run out.
    push_statuses: VecDeque<u16>,
}

pub struct Callback {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Callback {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a callback port");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour { echo: true, ..Behaviour::default() }));
        let (r, b) = (received.clone(), behaviour.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, b) = (r.clone(), b.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &r, &b);
                });
            }
        });
        Self { port, received, behaviour }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Verifications are answered with a wrong body from now on.
    pub fn refuse_challenges(&self) {
        self.behaviour.lock().unwrap().echo = false;
    }

    /// The next pushes are answered with these statuses.
    pub fn answer_pushes_with(&self, statuses: &[u16]) {
        self.behaviour.lock().unwrap().push_statuses.extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The pushes (POSTs) received on `path`.
    pub fn pushes(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.method == "POST" && r.target.split('?').next() == Some(path)).collect()
    }

    /// The verifications (GETs) received on `path`.
    pub fn verifications(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.method == "GET" && r.target.split('?').next() == Some(path)).collect()
    }

    /// Waits until `what` holds of what was received, or panics after `secs`.
    pub fn wait_for(&self, secs: u64, description: &str, what: impl Fn(&[Received]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if what(&self.received()) {
                return;
            }
            assert!(Instant::now() < deadline, "the callback waited {secs} s for {description}; it received {:#?}", self.received().iter().map(|r| format!("{} {}", r.method, r.target)).collect::<Vec<_>>());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, received: &Mutex<Vec<Received>>, behaviour: &Mutex<Behaviour>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let request = Received { method, target, headers, body, at: Instant::now() };
    let (status, answer) = {
        let mut b = behaviour.lock().unwrap();
        match request.method.as_str() {
            "GET" if b.echo => (200, request.param("hub.challenge").unwrap_or_default()),
            "GET" => (200, "no thanks".to_string()),
            _ => (b.push_statuses.pop_front().unwrap_or(200), String::new()),
        }
    };
    received.lock().unwrap().push(request);
    let mut stream = stream;
    write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}", answer.len())?;
    stream.flush()
}
