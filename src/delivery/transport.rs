//! Where messages go: an SMTP relay (lettre's pooled async transport) or a local outbox folder.
//! Never straight to recipients' MX hosts: a relay is what lets Tidings scale past one box.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Semaphore;

use super::message::Outgoing;
use crate::config::{SmtpConfig, TlsMode, TransportKind};

/// How a send failed, which decides what happens next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// 5xx: the relay refused, for good.
    Permanent { code: Option<u16>, message: String },
    /// 4xx: try again later.
    Transient { code: Option<u16>, message: String },
    /// No answer to go by: the relay is down, unreachable, or dropped the connection.
    Connection { message: String },
}

impl SendError {
    pub fn message(&self) -> &str {
        match self {
            Self::Permanent { message, .. } | Self::Transient { message, .. } | Self::Connection { message } => message,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("smtp settings: {0}")]
pub struct TransportError(String);

#[derive(Clone)]
pub enum Transport {
    /// The semaphore holds sends to `pool_size` connections: lettre's pool caps only idle ones,
    /// and a relay should not see more connections than it was promised.
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Arc<Semaphore>),
    File(PathBuf),
}

impl Transport {
    pub fn from_config(smtp: &SmtpConfig) -> Result<Self, TransportError> {
        match smtp.transport {
            TransportKind::File => Ok(Self::File(smtp.outbox_dir.clone())),
            TransportKind::Smtp => {
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    .port(smtp.port)
                    .timeout(Some(Duration::from_secs(smtp.timeout_secs)))
                    .pool_config(PoolConfig::new().max_size(smtp.pool_size));
                let tls = || TlsParameters::new(smtp.host.clone()).map_err(|e| TransportError(format!("TLS for {}: {e}", smtp.host)));
                builder = match smtp.tls {
                    TlsMode::None => builder.tls(Tls::None),
                    TlsMode::Starttls => builder.tls(Tls::Required(tls()?)),
                    TlsMode::Tls => builder.tls(Tls::Wrapper(tls()?)),
                };
                if !smtp.username.is_empty() {
                    builder = builder.credentials(Credentials::new(smtp.username.clone(), smtp.password.expose().to_string()));
                }
                Ok(Self::Smtp(builder.build(), Arc::new(Semaphore::new(smtp.pool_size.max(1) as usize))))
            }
        }
    }

    pub async fn send(&self, message: &Outgoing) -> Result<(), SendError> {
        match self {
            Self::Smtp(smtp, connections) => {
                let envelope = envelope(message)?;
                let _connection = connections.acquire().await.map_err(|_| SendError::Connection { message: "the transport is shut down".into() })?;
                smtp.send_raw(&envelope, &message.bytes).await.map(|_| ()).map_err(classify)
            }
            Self::File(dir) => write_to_outbox(dir, message).await,
        }
    }

    pub async fn shutdown(&self) {
        if let Self::Smtp(smtp, _) = self {
            smtp.shutdown().await;
        }
    }
}

fn envelope(message: &Outgoing) -> Result<Envelope, SendError> {
    let bad = |what: &str| SendError::Permanent { code: None, message: format!("{what} cannot be used in an SMTP envelope") };
    let from: Address = message.envelope_from.parse().map_err(|_| bad(&message.envelope_from))?;
    let to: Address = message.envelope_to.parse().map_err(|_| bad(&message.envelope_to))?;
    Envelope::new(Some(from), vec![to]).map_err(|_| bad("the envelope"))
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(|c| c.to_string().parse::<u16>().unwrap_or(0));
    let message = e.to_string();
    if e.is_permanent() {
        SendError::Permanent { code, message }
    } else if e.is_transient() {
        SendError::Transient { code, message }
    } else {
        SendError::Connection { message }
    }
}

/// The outbox: one `.eml` file a message, as the recipient would receive it (with the
/// `Return-Path` a receiving server adds), written whole before it is renamed into place.
async fn write_to_outbox(dir: &std::path::Path, message: &Outgoing) -> Result<(), SendError> {
    let fail = |e: std::io::Error| SendError::Connection { message: format!("outbox {}: {e}", dir.display()) };
    tokio::fs::create_dir_all(dir).await.map_err(fail)?;
    let mut name = [0u8; 8];
    getrandom::getrandom(&mut name).map_err(|e| SendError::Connection { message: e.to_string() })?;
    let stem = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"), name.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let mut bytes = format!("Return-Path: <{}>\r\n", message.envelope_from).into_bytes();
    bytes.extend_from_slice(&message.bytes);
    let partial = dir.join(format!(".{stem}.part"));
    tokio::fs::write(&partial, &bytes).await.map_err(fail)?;
    tokio::fs::rename(&partial, dir.join(format!("{stem}.eml"))).await.map_err(fail)
}
