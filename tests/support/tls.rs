//! TLS for the relay tests: a test CA and certificates made with rcgen, and an SMTP server on
//! 127.0.0.1 that speaks STARTTLS or implicit TLS with them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority of the test's own.
pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// An intermediate CA signed by this one: a relay that sends only the certificates it signs,
    /// without it, presents an incomplete chain.
    pub fn intermediate(&self, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Self { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A server certificate for `names` (DNS names or IP addresses); `expired` puts its
    /// validity in 2000.
    pub fn server_cert(&self, names: &[&str], expired: bool) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2000, 12, 31);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.der().clone(), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Starttls,
    Implicit,
}

/// An SMTP relay that accepts every recipient, over TLS only; it records each recipient of a
/// message it took, and whether the session was encrypted when it did.
pub struct TlsRelay {
    pub port: u16,
    received: Arc<Mutex<Vec<(String, bool)>>>,
}

impl TlsRelay {
    pub fn start(mode: TlsMode, cert: (CertificateDer<'static>, PrivateKeyDer<'static>)) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap().with_no_client_auth().with_single_cert(vec![cert.0], cert.1).unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, received) = (config.clone(), shared.clone());
                std::thread::spawn(move || {
                    let _ = session(stream, mode, config, &received);
                });
            }
        });
        Self { port, received }
    }

    pub fn received(&self) -> Vec<(String, bool)> {
        self.received.lock().unwrap().clone()
    }
}

fn session(tcp: TcpStream, mode: TlsMode, config: Arc<rustls::ServerConfig>, received: &Mutex<Vec<(String, bool)>>) -> std::io::Result<()> {
    let encrypt = |tcp: TcpStream| -> std::io::Result<_> { Ok(rustls::StreamOwned::new(rustls::ServerConnection::new(config.clone()).map_err(std::io::Error::other)?, tcp)) };
    match mode {
        TlsMode::Implicit => converse(&mut BufReader::new(encrypt(tcp)?), true, true, received).map(|_| ()),
        TlsMode::Starttls => {
            let mut plain = BufReader::new(tcp);
            if converse(&mut plain, true, false, received)? {
                assert!(plain.buffer().is_empty(), "the client sent data after STARTTLS");
                converse(&mut BufReader::new(encrypt(plain.into_inner())?), false, true, received)?;
            }
            Ok(())
        }
    }
}

/// One SMTP dialogue; returns true when the client asked for STARTTLS (and was told to go on).
/// A new connection is greeted; after STARTTLS the client speaks first (EHLO again).
fn converse<S: Read + Write>(io: &mut BufReader<S>, greet: bool, secure: bool, received: &Mutex<Vec<(String, bool)>>) -> std::io::Result<bool> {
    if greet {
        io.get_mut().write_all(b"220 relay.test ESMTP\r\n")?;
        io.get_mut().flush()?;
    }
    let (mut rcpts, mut line) = (Vec::new(), String::new());
    loop {
        line.clear();
        if io.read_line(&mut line)? == 0 {
            return Ok(false);
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if secure { b"250-relay.test\r\n250 PIPELINING\r\n" } else { b"250-relay.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n" }
        } else if upper.starts_with("STARTTLS") && !secure {
            io.get_mut().write_all(b"220 2.0.0 go ahead\r\n")?;
            io.get_mut().flush()?;
            return Ok(true);
        } else if upper.starts_with("MAIL FROM") && !secure {
            b"530 5.7.0 must issue a STARTTLS command first\r\n"
        } else if upper.starts_with("MAIL FROM") || upper.starts_with("NOOP") || upper.starts_with("RSET") || upper.starts_with("HELO") {
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO") {
            rcpts.push(line.split_once('<').and_then(|(_, r)| r.split_once('>')).map(|(a, _)| a.to_string()).unwrap_or_default());
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            io.get_mut().write_all(b"354 go ahead\r\n")?;
            io.get_mut().flush()?;
            loop {
                line.clear();
                if io.read_line(&mut line)? == 0 {
                    return Ok(false);
                }
                if line == ".\r\n" {
                    break;
                }
            }
            received.lock().unwrap().extend(rcpts.drain(..).map(|r| (r, secure)));
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            io.get_mut().write_all(b"221 bye\r\n")?;
            io.get_mut().flush()?;
            return Ok(false);
        } else {
            b"502 5.5.2 not here\r\n"
        };
        io.get_mut().write_all(reply)?;
        io.get_mut().flush()?;
    }
}
