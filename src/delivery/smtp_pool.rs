//! A pool of SMTP connections to the relay, each carrying many messages, built on lettre's
//! `AsyncSmtpConnection` (which speaks the protocol: EHLO, STARTTLS, AUTH, dot-stuffing).
//!
//! Why not lettre's own pooled transport: it connects sockets with Nagle's algorithm on and writes
//! a message's closing `.` as a separate small segment, which then waits for the relay's delayed
//! ACK — about 40 ms a message on Linux, whatever the bandwidth. Our sockets set `TCP_NODELAY`
//! before lettre takes them over. (Implicit TLS, `tls = "tls"`, is connected by lettre and keeps
//! that cost; STARTTLS on port 587 does not.)

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::transport::{SendError, TransportError, classify};
use crate::config::{SmtpConfig, TlsMode};

/// A connection idle for longer than this is checked with NOOP before it carries a message.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(10);

pub struct SmtpPool {
    host: String,
    port: u16,
    tls: TlsMode,
    tls_parameters: Option<TlsParameters>,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// At most `pool_size` connections exist at once, busy or idle.
    slots: Semaphore,
}

impl SmtpPool {
    pub fn new(smtp: &SmtpConfig) -> Result<Self, TransportError> {
        let tls_parameters = match smtp.tls {
            TlsMode::None => None,
            TlsMode::Starttls | TlsMode::Tls => Some(TlsParameters::new(smtp.host.clone()).map_err(|e| TransportError(format!("TLS for {}: {e}", smtp.host)))?),
        };
        let credentials = (!smtp.username.is_empty()).then(|| Credentials::new(smtp.username.clone(), smtp.password.expose().to_string()));
        Ok(Self {
            host: smtp.host.clone(),
            port: smtp.port,
            tls: smtp.tls,
            tls_parameters,
            credentials,
            timeout: Duration::from_secs(smtp.timeout_secs.max(1)),
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(smtp.pool_size.max(1) as usize),
        })
    }

    /// Sends one message over a pooled connection. A connection that saw an error is closed (a
    /// 421 therefore means a fresh connection next time); a healthy one goes back to the pool.
    pub async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendError> {
        let _slot = self.slots.acquire().await.map_err(|_| SendError::Connection { message: "the SMTP pool is shut down".into() })?;
        let mut conn = self.checkout().await?;
        // The whole transaction, data included, must finish within a generous multiple of the
        // timeout; a relay that stalls longer is treated as gone.
        match tokio::time::timeout(self.timeout * 4, transaction(&mut conn, envelope, bytes)).await {
            Ok(Ok(())) => {
                self.idle.lock().expect("pool lock").push((conn, Instant::now()));
                Ok(())
            }
            Ok(Err(e)) => {
                conn.abort().await;
                Err(e)
            }
            Err(_) => Err(SendError::Connection { message: format!("the relay {}:{} did not answer within {} s", self.host, self.port, (self.timeout * 4).as_secs()) }),
        }
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let Some((mut conn, since)) = self.idle.lock().expect("pool lock").pop() else { break };
            if conn.has_broken() {
                continue;
            }
            if since.elapsed() < CHECK_AFTER_IDLE || conn.test_connected().await {
                return Ok(conn);
            }
        }
        self.connect().await
    }

    /// A new connection, greeted, encrypted and authenticated as configured. Every failure here is
    /// the relay's, never a recipient's: it pauses the send instead of failing anyone.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let relay = |what: &str, e: String| SendError::Connection { message: format!("{what} the relay {}:{}: {e}", self.host, self.port) };
        let connecting = async {
            if self.tls == TlsMode::Tls {
                let conn = AsyncSmtpConnection::connect_tokio1((self.host.as_str(), self.port), Some(self.timeout), &self.hello, self.tls_parameters.clone(), None).await;
                return conn.map_err(|e| relay("cannot connect to", e.to_string()));
            }
            let stream = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| relay("cannot connect to", e.to_string()))?;
            stream.set_nodelay(true).map_err(|e| relay("cannot connect to", e.to_string()))?;
            let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await.map_err(|e| relay("no SMTP greeting from", e.to_string()))?;
            if let (TlsMode::Starttls, Some(params)) = (self.tls, &self.tls_parameters) {
                conn.starttls(params.clone(), &self.hello).await.map_err(|e| relay("STARTTLS failed with", e.to_string()))?;
            }
            Ok(conn)
        };
        let mut conn = match tokio::time::timeout(self.timeout, connecting).await {
            Ok(result) => result?,
            Err(_) => return Err(relay("no answer within the timeout from", format!("{} s", self.timeout.as_secs()))),
        };
        if let Some(credentials) = &self.credentials {
            // The error names the relay's reply, never the credentials.
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await.map_err(|e| relay("authentication refused by", e.to_string()))?;
        }
        Ok(conn)
    }

    /// Says QUIT on every idle connection.
    pub async fn shutdown(&self) {
        let idle: Vec<_> = std::mem::take(&mut *self.idle.lock().expect("pool lock"));
        for (mut conn, _) in idle {
            let _ = conn.quit().await;
        }
        self.slots.close();
    }
}

/// One message, step by step, so that a refusal is read by where it came: at MAIL FROM it is
/// about us (the sender, our authorisation), so it is the relay's problem and pauses the send;
/// at RCPT or after the data it is about this recipient or this message.
async fn transaction(conn: &mut AsyncSmtpConnection, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendError> {
    conn.command(Mail::new(envelope.from().cloned(), Vec::new()))
        .await
        .map_err(|e| SendError::Connection { message: format!("the relay refused our sender (MAIL FROM): {e}") })?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), Vec::new())).await.map_err(classify)?;
    }
    conn.command(Data).await.map_err(classify)?;
    conn.message(bytes).await.map_err(classify)?;
    Ok(())
}
