//! Real SMTP servers for the delivery tests: Postfix's `smtp-sink` (a process), and a small
//! server of our own that answers each recipient as a test tells it to.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_until_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Postfix's smtp-sink on 127.0.0.1, appending every transaction to a dump file.
pub struct Sink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    /// `extra` are smtp-sink options, e.g. `["-w", "1"]` to wait a second before answering DATA.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_on(free_port(), extra)
    }

    pub fn start_on(port: u16, extra: &[&str]) -> Self {
        let binary = "/usr/sbin/smtp-sink";
        assert!(std::path::Path::new(binary).exists(), "{binary} is missing: `bash .ci/run` installs Debian's postfix");
        let dir = tempfile::tempdir().unwrap();
        // smtp-sink drops root privileges to -u USER, who must be able to write the dump.
        std::process::Command::new("chmod").arg("777").arg(dir.path()).status().unwrap();
        let mut cmd = Command::new(binary);
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        cmd.args(extra).arg("-D").arg(dir.path().join("dump")).arg(format!("127.0.0.1:{port}")).arg("256");
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start smtp-sink");
        wait_until_listening(port);
        Self { child, port, dir }
    }

    /// Every envelope recipient received so far, one entry per message.
    pub fn recipients(&self) -> Vec<String> {
        self.dump().lines().filter_map(|l| l.strip_prefix("X-Rcpt-Args: <")).map(|r| r.split('>').next().unwrap_or_default().to_string()).collect()
    }

    pub fn dump(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()));
        }
        all
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn dump_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Answers for a recipient on its n-th attempt (1-based): `Some("451 …")` refuses, `None` accepts,
/// and `Some("DROP")` accepts the recipient but hangs up in the middle of the message data.
pub type Rule = dyn Fn(&str, u32) -> Option<String> + Send + Sync;

#[derive(Default)]
struct State {
    delivered: Vec<(String, String, String)>,
    attempts: HashMap<String, u32>,
}

/// The one account our SMTP server accepts with AUTH PLAIN (AUTH is optional there).
pub const RELAY_USER: &str = "tidings";
pub const RELAY_PASSWORD: &str = "relay-secret";

/// Our own SMTP server, for answers smtp-sink cannot give per recipient.
pub struct TestSmtp {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl TestSmtp {
    pub fn start(rule: impl Fn(&str, u32) -> Option<String> + Send + Sync + 'static) -> Self {
        Self::start_refusing_sender(None, rule)
    }

    /// As `start`, but every MAIL FROM gets `sender_reply` when one is given (e.g. "530 5.7.0
    /// Authentication required").
    pub fn start_refusing_sender(sender_reply: Option<&str>, rule: impl Fn(&str, u32) -> Option<String> + Send + Sync + 'static) -> Self {
        let sender_reply = sender_reply.map(str::to_string);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let rule: Arc<Rule> = Arc::new(rule);
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, rule, sender_reply) = (shared.clone(), rule.clone(), sender_reply.clone());
                std::thread::spawn(move || {
                    let _ = session(stream, &state, &*rule, sender_reply.as_deref());
                });
            }
        });
        Self { port, state }
    }

    /// (envelope sender, recipient, message) of every accepted message.
    pub fn delivered(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().delivered.clone()
    }

    pub fn attempts(&self, rcpt: &str) -> u32 {
        self.state.lock().unwrap().attempts.get(rcpt).copied().unwrap_or(0)
    }
}

fn session(stream: TcpStream, state: &Mutex<State>, rule: &Rule, sender_reply: Option<&str>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 test.localhost ESMTP\r\n")?;
    let (mut from, mut rcpts, mut drop_rcpt) = (String::new(), Vec::<String>::new(), false);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let arg = |l: &str| l.split_once('<').and_then(|(_, r)| r.split_once('>')).map(|(a, _)| a.to_string()).unwrap_or_default();
        let reply: String = if upper.starts_with("EHLO") {
            "250-test.localhost\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n250 SIZE 20000000\r\n".into()
        } else if upper.starts_with("AUTH PLAIN ") {
            use base64::Engine as _;
            let given = base64::engine::general_purpose::STANDARD.decode(line[11..].trim()).unwrap_or_default();
            if given == format!("\0{RELAY_USER}\0{RELAY_PASSWORD}").as_bytes() { "235 2.7.0 ok\r\n".into() } else { "535 5.7.8 authentication failed\r\n".into() }
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            "250 ok\r\n".into()
        } else if upper.starts_with("MAIL FROM") && sender_reply.is_some() {
            format!("{}\r\n", sender_reply.unwrap_or_default())
        } else if upper.starts_with("MAIL FROM") {
            from = arg(&line);
            drop_rcpt = false;
            rcpts.clear();
            "250 ok\r\n".into()
        } else if upper.starts_with("RCPT TO") && from.is_empty() {
            "503 5.5.1 need MAIL command\r\n".into()
        } else if upper.starts_with("RCPT TO") {
            let rcpt = arg(&line);
            let attempt = {
                let mut s = state.lock().unwrap();
                let n = s.attempts.entry(rcpt.clone()).or_default();
                *n += 1;
                *n
            };
            match rule(&rcpt, attempt) {
                Some(drop) if drop == "DROP" => {
                    drop_rcpt = true;
                    rcpts.push(rcpt);
                    "250 ok\r\n".into()
                }
                Some(refusal) => format!("{refusal}\r\n"),
                None => {
                    rcpts.push(rcpt);
                    "250 ok\r\n".into()
                }
            }
        } else if upper.starts_with("DATA") {
            if rcpts.is_empty() {
                "554 no valid recipients\r\n".into()
            } else {
                out.write_all(b"354 go ahead\r\n")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    if drop_rcpt && data.len() > 200 {
                        return Ok(());
                    }
                    // RFC 5321 4.5.2: a leading dot was doubled by the client.
                    data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                }
                let mut s = state.lock().unwrap();
                for r in rcpts.drain(..) {
                    s.delivered.push((from.clone(), r, data.clone()));
                }
                from.clear();
                "250 queued\r\n".into()
            }
        } else if upper.starts_with("RSET") {
            from.clear();
            rcpts.clear();
            "250 ok\r\n".into()
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            "500 unknown command\r\n".into()
        };
        out.write_all(reply.as_bytes())?;
    }
}
