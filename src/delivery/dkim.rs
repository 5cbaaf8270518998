//! DKIM signatures (RFC 6376; rsa-sha256 and, RFC 8463, ed25519-sha256) over the finished bytes of
//! a message, so pre-rendered, personalised messages are signed as they leave.
//!
//! The signed headers include `List-Unsubscribe` and `List-Unsubscribe-Post`: RFC 8058 asks for
//! them to be covered, and Gmail and Yahoo ignore one-click unsubscribe otherwise.


use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::config::DkimConfig;

/// Signed when present; listing a header that is absent also stops one being added later.
const SIGNED_HEADERS: &[&str] = &[
    "From", "Reply-To", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Archive", "Feedback-ID",
];

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("dkim.private_key_path {path}: {message}")]
    Key { path: String, message: String },
    #[error("DKIM signing failed: {0}")]
    Sign(String),
}

pub enum Dkim {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

impl Dkim {
    /// The signer `[dkim]` describes, or None when signing is off (any of its keys empty).
    pub fn from_config(config: &DkimConfig) -> Result<Option<Self>, DkimError> {
        if config.domain.is_empty() || config.selector.is_empty() || config.private_key_path.is_empty() {
            return Ok(None);
        }
        let pem = std::fs::read(&config.private_key_path).map_err(|e| key_error(&config.private_key_path, e.to_string()))?;
        let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| key_error(&config.private_key_path, format!("not a PEM private key ({e})")))?;
        let dkim = match &der {
            PrivateKeyDer::Pkcs8(p) if Ed25519Key::from_pkcs8_der(p.secret_pkcs8_der()).is_ok() => {
                let key = Ed25519Key::from_pkcs8_der(p.secret_pkcs8_der()).map_err(|e| key_error(&config.private_key_path, e.to_string()))?;
                Self::Ed25519(configure(DkimSigner::from_key(key), config))
            }
            _ => {
                let key = RsaKey::<Sha256>::from_key_der(der.clone_key()).map_err(|e| key_error(&config.private_key_path, format!("neither an RSA nor an Ed25519 key ({e})")))?;
                Self::Rsa(configure(DkimSigner::from_key(key), config))
            }
        };
        Ok(Some(dkim))
    }

    /// Puts a `DKIM-Signature` header in front of the message.
    pub fn sign(&self, message: &mut Vec<u8>) -> Result<(), DkimError> {
        let signature = match self {
            Self::Rsa(s) => s.sign(message),
            Self::Ed25519(s) => s.sign(message),
        }
        .map_err(|e| DkimError::Sign(e.to_string()))?;
        let header = signature.to_header();
        message.splice(0..0, header.into_bytes());
        Ok(())
    }
}

fn configure<T: mail_auth::common::crypto::SigningKey>(signer: DkimSigner<T>, config: &DkimConfig) -> DkimSigner<T, Done> {
    signer
        .domain(config.domain.clone())
        .selector(config.selector.clone())
        .headers(SIGNED_HEADERS.iter().copied())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}

fn key_error(path: &str, message: String) -> DkimError {
    DkimError::Key { path: path.to_string(), message }
}
