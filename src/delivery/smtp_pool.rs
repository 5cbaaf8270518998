//! A pool of SMTP connections to the relay (our own client, `smtp_client`), each carrying many
//! messages, at most `smtp.pool_size` at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::transport::smtp::extension::ClientId;
use tokio::sync::Semaphore;

use super::smtp_client::{Connection, Settings, TrustAnchors, dot_stuff, tls_connector};
use super::transport::{SendError, TransportError};
use crate::config::{SmtpConfig, TlsMode};

/// A connection idle for longer than this is checked with NOOP before it carries a message.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(10);

pub struct SmtpPool {
    settings: Settings,
    timeout: Duration,
    idle: Mutex<Vec<(Connection, Instant)>>,
    /// At most `pool_size` connections exist at once, busy or idle.
    slots: Semaphore,
}

fn trust_anchors(smtp: &SmtpConfig) -> TrustAnchors<'_> {
    if !smtp.tls_verify {
        tracing::warn!(relay = %smtp.host, "smtp.tls_verify = false: the relay's certificate is not checked, so anyone on the path can read the mail and the password");
        TrustAnchors::Unverified
    } else if smtp.ca_file.as_os_str().is_empty() {
        TrustAnchors::System
    } else {
        TrustAnchors::File(&smtp.ca_file)
    }
}

impl SmtpPool {
    pub fn new(smtp: &SmtpConfig) -> Result<Self, TransportError> {
        Ok(Self {
            settings: relay_settings(smtp)?,
            timeout: Duration::from_secs(smtp.timeout_secs.max(1)),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(smtp.pool_size.max(1) as usize),
        })
    }
}

/// How to reach the relay `smtp` names, with its TLS and credentials.
pub(super) fn relay_settings(smtp: &SmtpConfig) -> Result<Settings, TransportError> {
    let tls = match smtp.tls {
        TlsMode::None => None,
        TlsMode::Starttls | TlsMode::Tls => Some(tls_connector(&smtp.host, trust_anchors(smtp)).map_err(|e| TransportError(format!("TLS for {}: {e}", smtp.host)))?),
    };
    let credentials = (!smtp.username.is_empty()).then(|| (smtp.username.clone(), smtp.password.expose().to_string()));
    Ok(Settings {
        host: smtp.host.clone(),
        port: smtp.port,
        hello: ClientId::default().to_string(),
        tls,
        implicit_tls: smtp.tls == TlsMode::Tls,
        credentials,
    })
}

impl SmtpPool {
    /// Sends one message over a pooled connection. A connection that broke (I/O error, 421,
    /// timeout) is dropped; a healthy one goes back to the pool, also after a refused recipient.
    pub async fn send(&self, from: &str, to: &[&str], message: &[u8]) -> Result<(), SendError> {
        let _slot = self.slots.acquire().await.map_err(|_| SendError::Connection { message: "the SMTP pool is shut down".into() })?;
        let body = dot_stuff(message);
        let mut conn = self.checkout().await?;
        // The whole transaction, data included, must finish within a generous multiple of the
        // timeout; a relay that stalls longer is treated as gone.
        let limit = self.timeout * 4;
        let result = match tokio::time::timeout(limit, conn.send(from, to, &body)).await {
            Ok(result) => result,
            Err(_) => {
                let s = &self.settings;
                return Err(SendError::Connection { message: format!("the relay {}:{} did not answer within {} s", s.host, s.port, limit.as_secs()) });
            }
        };
        if !conn.is_broken() && !matches!(result, Err(SendError::Connection { .. })) {
            self.idle.lock().expect("pool lock").push((conn, Instant::now()));
        }
        result
    }

    async fn checkout(&self) -> Result<Connection, SendError> {
        loop {
            let Some((mut conn, since)) = self.idle.lock().expect("pool lock").pop() else { break };
            // A connection that went silent while idle (a NAT forgot it) must not hold the slot
            // until TCP gives up.
            if since.elapsed() < CHECK_AFTER_IDLE || tokio::time::timeout(self.timeout, conn.noop()).await.unwrap_or(false) {
                return Ok(conn);
            }
        }
        self.connect().await
    }

    /// A new connection, greeted, encrypted and authenticated as configured. Every failure here is
    /// the relay's, never a recipient's: it pauses the send instead of failing anyone.
    async fn connect(&self) -> Result<Connection, SendError> {
        match tokio::time::timeout(self.timeout, Connection::open(&self.settings)).await {
            Ok(result) => result,
            Err(_) => {
                let s = &self.settings;
                Err(SendError::Connection { message: format!("no answer within the timeout from the relay {}:{}: {} s", s.host, s.port, self.timeout.as_secs()) })
            }
        }
    }

    /// Says QUIT on every idle connection.
    pub async fn shutdown(&self) {
        let idle: Vec<_> = std::mem::take(&mut *self.idle.lock().expect("pool lock"));
        for (conn, _) in idle {
            let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
        }
        self.slots.close();
    }
}
