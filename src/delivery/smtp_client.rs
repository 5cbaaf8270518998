//! The SMTP client of the hot path: one connection to the relay, carrying many messages.
//!
//! Why our own and not lettre's connection: a bulk send is one envelope and one ~30 KB body after
//! another, and what costs is round trips and byte handling. With PIPELINING (RFC 2920) the
//! envelope (MAIL, RCPT, DATA) goes out in one write and costs one round trip; the body is
//! dot-stuffed with a memchr search and written whole, terminator included, so it costs one more.
//! lettre's connection waits for each command's reply and escapes the body a byte at a time,
//! which made it the largest user-space cost of a send. lettre still builds every message.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::transport::SendError;

/// Replies longer than this are not from an SMTP server we can talk to.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The plain socket, or the same socket after TLS (implicit, or after STARTTLS).
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One reply: its code and its text lines joined with a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The reply as an error of the command that got it.
    fn into_error(self, command: &str) -> SendError {
        let message = format!("{command}: {} {}", self.code, self.text);
        match self.code {
            // "Service not available, closing": about the relay, not this recipient.
            421 => SendError::Connection { message },
            400..=499 => SendError::Transient { code: Some(self.code), message },
            500..=599 => SendError::Permanent { code: Some(self.code), message },
            _ => SendError::Connection { message: format!("unexpected reply to {message}") },
        }
    }
}

/// What the relay's EHLO reply offers that we use.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Extensions {
    pipelining: bool,
    starttls: bool,
    auth_plain: bool,
    auth_login: bool,
}

impl Extensions {
    fn parse(reply: &Reply) -> Self {
        let mut ext = Self::default();
        // The first line is the server's name; every further line one keyword and its parameters.
        for line in reply.text.split('\n').skip(1) {
            let mut words = line.split_ascii_whitespace();
            match words.next().map(str::to_ascii_uppercase).as_deref() {
                Some("PIPELINING") => ext.pipelining = true,
                Some("STARTTLS") => ext.starttls = true,
                Some("AUTH") => {
                    for mechanism in words {
                        ext.auth_plain |= mechanism.eq_ignore_ascii_case("PLAIN");
                        ext.auth_login |= mechanism.eq_ignore_ascii_case("LOGIN");
                    }
                }
                _ => {}
            }
        }
        ext
    }
}

/// How to reach and greet the relay.
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub hello: String,
    pub tls: Option<(TlsConnector, rustls_pki_types::ServerName<'static>)>,
    pub implicit_tls: bool,
    pub credentials: Option<(String, String)>,
}

pub struct Connection {
    stream: Stream,
    buffer: Vec<u8>,
    extensions: Extensions,
    broken: bool,
}

/// The steps of opening a connection, in order, and then of offering our sender (`tidings
/// doctor` reports which one failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Connect,
    Tls,
    Greeting,
    Ehlo,
    StartTls,
    Auth,
    Sender,
}

impl Connection {
    /// Connects, reads the greeting, says EHLO, upgrades to TLS and authenticates as configured.
    /// Every error is `Connection`: none of this is about a recipient.
    pub async fn open(settings: &Settings) -> Result<Self, SendError> {
        Self::open_observed(settings, &mut Vec::new()).await
    }

    /// [`Connection::open`], noting each step as it succeeds: after a failure (or a timeout that
    /// drops the future) the next step is the one that failed.
    pub async fn open_observed(settings: &Settings, done: &mut Vec<Step>) -> Result<Self, SendError> {
        let relay = |what: &str, e: &dyn std::fmt::Display| SendError::Connection { message: format!("{what} the relay {}:{}: {e}", settings.host, settings.port) };
        let tcp = TcpStream::connect((settings.host.as_str(), settings.port)).await.map_err(|e| relay("cannot connect to", &e))?;
        // Without it the body's last segment waits for the relay's delayed ACK (~40 ms a message).
        tcp.set_nodelay(true).map_err(|e| relay("cannot connect to", &e))?;
        done.push(Step::Connect);
        let stream = match (&settings.tls, settings.implicit_tls) {
            (Some((connector, name)), true) => {
                let tls = connector.connect(name.clone(), tcp).await.map_err(|e| relay("TLS failed with", &e))?;
                done.push(Step::Tls);
                Stream::Tls(Box::new(tls))
            }
            _ => Stream::Plain(tcp),
        };
        let mut conn = Self { stream, buffer: Vec::with_capacity(512), extensions: Extensions::default(), broken: false };
        let greeting = conn.read_reply().await?;
        if greeting.code != 220 {
            return Err(relay("no SMTP greeting from", &format!("{} {}", greeting.code, greeting.text)));
        }
        done.push(Step::Greeting);
        conn.hello(&settings.hello).await.map_err(|e| relay("EHLO refused by", &e.message()))?;
        done.push(Step::Ehlo);
        if let (Some((connector, name)), false) = (&settings.tls, settings.implicit_tls) {
            conn = conn.starttls(connector, name, &settings.hello).await.map_err(|e| relay("STARTTLS failed with", &e.message()))?;
            done.push(Step::StartTls);
        }
        if let Some((user, password)) = &settings.credentials {
            // The error names the relay's reply, never the credentials.
            conn.authenticate(user, password).await.map_err(|e| relay("authentication refused by", &e.message()))?;
            done.push(Step::Auth);
        }
        Ok(conn)
    }

    /// Whether the relay offered PIPELINING (the envelope then costs one round trip).
    pub fn offers_pipelining(&self) -> bool {
        self.extensions.pipelining
    }

    /// Asks whether the relay takes `from` as a sender, then resets: no message is sent.
    pub async fn try_sender(&mut self, from: &str) -> Result<(), SendError> {
        let reply = self.command(format!("MAIL FROM:<{from}>\r\n").as_bytes()).await?;
        let _ = self.command(b"RSET\r\n").await;
        if reply.code == 250 { Ok(()) } else { Err(reply.into_error("MAIL FROM")) }
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    async fn hello(&mut self, name: &str) -> Result<(), SendError> {
        let reply = self.command(format!("EHLO {name}\r\n").as_bytes()).await?;
        if reply.code != 250 {
            return Err(reply.into_error("EHLO"));
        }
        self.extensions = Extensions::parse(&reply);
        Ok(())
    }

    async fn starttls(mut self, connector: &TlsConnector, name: &rustls_pki_types::ServerName<'static>, hello: &str) -> Result<Self, SendError> {
        if !self.extensions.starttls {
            return Err(SendError::Connection { message: "the relay does not offer STARTTLS".into() });
        }
        let reply = self.command(b"STARTTLS\r\n").await?;
        if reply.code != 220 {
            return Err(reply.into_error("STARTTLS"));
        }
        // Anything already buffered was sent before TLS and could be an injected reply.
        if !self.buffer.is_empty() {
            return Err(SendError::Connection { message: "the relay sent data after its STARTTLS reply".into() });
        }
        let Stream::Plain(tcp) = self.stream else { return Err(SendError::Connection { message: "STARTTLS on a TLS connection".into() }) };
        let tls = connector.connect(name.clone(), tcp).await.map_err(|e| SendError::Connection { message: e.to_string() })?;
        let mut conn = Self { stream: Stream::Tls(Box::new(tls)), buffer: Vec::with_capacity(512), extensions: Extensions::default(), broken: false };
        conn.hello(hello).await?;
        Ok(conn)
    }

    async fn authenticate(&mut self, user: &str, password: &str) -> Result<(), SendError> {
        let reply = if self.extensions.auth_plain {
            let token = BASE64.encode(format!("\0{user}\0{password}"));
            self.command(format!("AUTH PLAIN {token}\r\n").as_bytes()).await?
        } else if self.extensions.auth_login {
            let mut reply = self.command(b"AUTH LOGIN\r\n").await?;
            for secret in [user, password] {
                if reply.code != 334 {
                    break;
                }
                reply = self.command(format!("{}\r\n", BASE64.encode(secret)).as_bytes()).await?;
            }
            reply
        } else {
            return Err(SendError::Connection { message: "the relay offers neither AUTH PLAIN nor AUTH LOGIN".into() });
        };
        if reply.code == 235 { Ok(()) } else { Err(reply.into_error("AUTH")) }
    }

    /// Checks an idle connection before it carries a message.
    pub async fn noop(&mut self) -> bool {
        matches!(self.command(b"NOOP\r\n").await, Ok(reply) if reply.code == 250)
    }

    pub async fn quit(mut self) {
        let _ = self.command(b"QUIT\r\n").await;
        let _ = self.stream.shutdown().await;
    }

    /// One message to its recipients. `body` is the message as `dot_stuff` returns it.
    ///
    /// A refusal of MAIL FROM is about us (our sender, our authorisation), so it is reported as
    /// `Connection`, which pauses the send instead of failing the recipient. After a refused
    /// transaction the connection is reset and stays usable, except after 421 (the relay is
    /// closing it) or an I/O error, after which `is_broken` says so.
    pub async fn send(&mut self, from: &str, to: &[&str], body: &[u8]) -> Result<(), SendError> {
        let result = self.transaction(from, to, body).await;
        match &result {
            Err(SendError::Permanent { .. } | SendError::Transient { .. }) => {
                if !matches!(self.command(b"RSET\r\n").await, Ok(r) if r.code == 250) {
                    self.broken = true;
                }
            }
            // A 421 (or anything the relay said that leaves us unsure) closes the connection.
            Err(SendError::Connection { .. }) => self.broken = true,
            Ok(()) => {}
        }
        result
    }

    async fn transaction(&mut self, from: &str, to: &[&str], body: &[u8]) -> Result<(), SendError> {
        let mail = format!("MAIL FROM:<{from}>\r\n");
        let rcpts: Vec<String> = to.iter().map(|a| format!("RCPT TO:<{a}>\r\n")).collect();
        let replies = if self.extensions.pipelining {
            let mut envelope = mail.into_bytes();
            for rcpt in &rcpts {
                envelope.extend_from_slice(rcpt.as_bytes());
            }
            envelope.extend_from_slice(b"DATA\r\n");
            self.write(&envelope).await?;
            let mut replies = Vec::with_capacity(rcpts.len() + 2);
            for _ in 0..rcpts.len() + 2 {
                replies.push(self.read_reply().await?);
            }
            replies
        } else {
            self.envelope_step_by_step(&mail, &rcpts).await?
        };
        let (mail_reply, rest) = replies.split_first().expect("a MAIL reply");
        let (data_reply, rcpt_replies) = rest.split_last().expect("a DATA reply");
        let refusal = if !mail_reply.is_positive() {
            let r = mail_reply.clone();
            Some(SendError::Connection { message: format!("the relay refused our sender (MAIL FROM): {} {}", r.code, r.text) })
        } else {
            rcpt_replies.iter().find(|r| !r.is_positive()).cloned().map(|r| r.into_error("RCPT TO"))
        };
        if data_reply.code != 354 {
            return Err(refusal.unwrap_or_else(|| data_reply.clone().into_error("DATA")));
        }
        if let Some(refusal) = refusal {
            // RFC 2920: DATA was accepted although the envelope was not; end it empty.
            let _ = self.command(b".\r\n").await?;
            return Err(refusal);
        }
        self.write(body).await?;
        let reply = self.read_reply().await?;
        if reply.code == 250 { Ok(()) } else { Err(reply.into_error("end of data")) }
    }

    /// Without PIPELINING each command waits for its reply; the replies are the same as the
    /// pipelined ones, with the commands after a refusal answered as the relay would (503).
    async fn envelope_step_by_step(&mut self, mail: &str, rcpts: &[String]) -> Result<Vec<Reply>, SendError> {
        let skipped = || Reply { code: 503, text: "not sent: an earlier command was refused".into() };
        let mut replies = vec![self.command(mail.as_bytes()).await?];
        if !replies[0].is_positive() {
            replies.extend(rcpts.iter().map(|_| skipped()));
            replies.push(skipped());
            return Ok(replies);
        }
        for rcpt in rcpts {
            replies.push(self.command(rcpt.as_bytes()).await?);
        }
        let any_accepted = replies[1..].iter().any(Reply::is_positive);
        replies.push(if any_accepted { self.command(b"DATA\r\n").await? } else { skipped() });
        Ok(replies)
    }

    async fn command(&mut self, line: &[u8]) -> Result<Reply, SendError> {
        self.write(line).await?;
        self.read_reply().await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        let result = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        }
        .await;
        result.map_err(|e| self.lost(&e))
    }

    fn lost(&mut self, e: &dyn std::fmt::Display) -> SendError {
        self.broken = true;
        SendError::Connection { message: format!("connection to the relay lost: {e}") }
    }

    /// Reads one reply, single or multi-line (`250-…` lines up to a `250 …` line).
    async fn read_reply(&mut self) -> Result<Reply, SendError> {
        let mut code = None;
        let mut text = String::new();
        loop {
            let line = self.read_line().await?;
            let parsed = parse_line(&line).ok_or_else(|| {
                self.broken = true;
                SendError::Connection { message: format!("the relay sent a line that is not an SMTP reply: {:?}", truncate(&line, 80)) }
            })?;
            if code.is_some_and(|c| c != parsed.code) || text.len() > MAX_REPLY_BYTES {
                self.broken = true;
                return Err(SendError::Connection { message: "the relay sent a malformed multi-line reply".into() });
            }
            code = Some(parsed.code);
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(parsed.text);
            if parsed.last {
                return Ok(Reply { code: parsed.code, text });
            }
        }
    }

    async fn read_line(&mut self) -> Result<String, SendError> {
        loop {
            if let Some(end) = memchr::memchr(b'\n', &self.buffer) {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buffer.len() > MAX_REPLY_BYTES {
                return Err(self.lost(&"a reply line without an end"));
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) => return Err(self.lost(&"closed by the relay")),
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(self.lost(&e)),
            }
        }
    }
}

struct Line<'a> {
    code: u16,
    last: bool,
    text: &'a str,
}

fn parse_line(line: &str) -> Option<Line<'_>> {
    let digits = line.get(..3)?;
    let code: u16 = digits.parse().ok().filter(|c| (200..600).contains(c))?;
    let (last, text) = match line.as_bytes().get(3) {
        None => (true, ""),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return None,
    };
    Some(Line { code, last, text })
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The message as the DATA phase carries it: lines starting with a dot get another (RFC 5321
/// 4.5.2), the last line ends, and the terminating `.` line follows.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 512 + 8);
    if message.first() == Some(&b'.') {
        out.push(b'.');
    }
    let mut start = 0;
    for newline in memchr::memchr_iter(b'\n', message) {
        if message.get(newline + 1) == Some(&b'.') {
            out.extend_from_slice(&message[start..=newline]);
            out.push(b'.');
            start = newline + 1;
        }
    }
    out.extend_from_slice(&message[start..]);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Whom the relay's certificate must be signed by.
#[derive(Debug, Clone)]
pub enum TrustAnchors<'a> {
    /// The platform's trust store.
    System,
    /// The CAs in this PEM file only (a private CA).
    File(&'a std::path::Path),
    /// None: the certificate is not checked at all (`smtp.tls_verify = false`).
    Unverified,
}

/// The TLS client for the relay, through rustls with ring.
pub fn tls_connector(host: &str, trust: TrustAnchors<'_>) -> Result<(TlsConnector, rustls_pki_types::ServerName<'static>), String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().map_err(|e| e.to_string())?;
    let config = match trust {
        TrustAnchors::System => builder.with_platform_verifier().map_err(|e| e.to_string())?.with_no_client_auth(),
        TrustAnchors::File(path) => builder.with_root_certificates(roots_from(path)?).with_no_client_auth(),
        TrustAnchors::Unverified => builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))).with_no_client_auth(),
    };
    let name = rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}

fn roots_from(path: &std::path::Path) -> Result<rustls::RootCertStore, String> {
    use rustls_pki_types::pem::PemObject;
    let unreadable = |e: &dyn std::fmt::Display| format!("smtp.ca_file {}: {e}", path.display());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
        roots.add(cert.map_err(|e| unreadable(&e))?).map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"holds no PEM certificate"));
    }
    Ok(roots)
}

/// `smtp.tls_verify = false`: any certificate is taken (the handshake's signatures are still
/// checked, so the session is encrypted to whoever answered).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &rustls_pki_types::CertificateDer<'_>, dss: &rustls::DigitallySignedStruct) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &rustls_pki_types::CertificateDer<'_>, dss: &rustls::DigitallySignedStruct) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_terminates() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..c\r\nd"), b"a\r\n..b\r\n...c\r\nd\r\n.\r\n");
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(dot_stuff(b"x\r\n"), b"x\r\n.\r\n");
    }

    #[test]
    fn reply_lines_parse() {
        let l = parse_line("250-PIPELINING").unwrap();
        assert_eq!((l.code, l.last, l.text), (250, false, "PIPELINING"));
        let l = parse_line("354").unwrap();
        assert!(l.last);
        assert!(parse_line("25x ok").is_none());
        assert!(parse_line("250/ok").is_none());
        assert!(parse_line("hello").is_none());
    }

    #[test]
    fn extensions_come_from_the_ehlo_lines_after_the_first() {
        let reply = Reply { code: 250, text: "relay.example PIPELINING\nSIZE 1000\nPIPELINING\nSTARTTLS\nAUTH LOGIN PLAIN".into() };
        let ext = Extensions::parse(&reply);
        assert_eq!(ext, Extensions { pipelining: true, starttls: true, auth_plain: true, auth_login: true });
    }

    #[test]
    fn replies_map_to_errors_by_class() {
        let e = Reply { code: 550, text: "5.1.1 User unknown".into() }.into_error("RCPT TO");
        assert_eq!(e, SendError::Permanent { code: Some(550), message: "RCPT TO: 550 5.1.1 User unknown".into() });
        assert!(matches!(Reply { code: 451, text: String::new() }.into_error("DATA"), SendError::Transient { code: Some(451), .. }));
    }
}
