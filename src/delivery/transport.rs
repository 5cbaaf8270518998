//! Where messages go: an SMTP relay (through our connection pool) or a local outbox folder.
//! Never straight to recipients' MX hosts: a relay is what lets Tidings scale past one box.

use std::path::PathBuf;
use std::sync::Arc;

use lettre::address::{Address, Envelope};

use super::message::Outgoing;
use super::smtp_pool::SmtpPool;
use crate::config::{SmtpConfig, TransportKind};

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
pub struct TransportError(pub(super) String);

#[derive(Clone)]
pub enum Transport {
    Smtp(Arc<SmtpPool>),
    File(PathBuf),
}

impl Transport {
    pub fn from_config(smtp: &SmtpConfig) -> Result<Self, TransportError> {
        match smtp.transport {
            TransportKind::File => Ok(Self::File(smtp.outbox_dir.clone())),
            TransportKind::Smtp => Ok(Self::Smtp(Arc::new(SmtpPool::new(smtp)?))),
        }
    }

    pub async fn send(&self, message: &Outgoing) -> Result<(), SendError> {
        match self {
            Self::Smtp(pool) => {
                let envelope = envelope(message)?;
                let from = envelope.from().map(|a| a.as_ref()).unwrap_or_default();
                let to: Vec<&str> = envelope.to().iter().map(|a| a.as_ref()).collect();
                pool.send(from, &to, &message.bytes).await
            }
            Self::File(dir) => write_to_outbox(dir, message).await,
        }
    }

    pub async fn shutdown(&self) {
        if let Self::Smtp(pool) = self {
            pool.shutdown().await;
        }
    }
}

fn envelope(message: &Outgoing) -> Result<Envelope, SendError> {
    let bad = |what: &str| SendError::Permanent { code: None, message: format!("{what} cannot be used in an SMTP envelope") };
    let from: Address = message.envelope_from.parse().map_err(|_| bad(&message.envelope_from))?;
    let to: Address = message.envelope_to.parse().map_err(|_| bad(&message.envelope_to))?;
    Envelope::new(Some(from), vec![to]).map_err(|_| bad("the envelope"))
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
