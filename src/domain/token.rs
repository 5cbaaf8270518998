//! Signed link tokens: confirm, unsubscribe and preferences links carry one.
//!
//! A token is `purpose · subscriber · list · expiry`, followed by a truncated HMAC-SHA256 of those
//! bytes under the site's secret key, all in URL-safe base64. Verification recomputes the MAC with
//! the current key and then each previous one (key rotation), compares in constant time, and only
//! then looks at the expiry. A forged or altered token is refused before anything is looked up.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of MAC kept: 128 bits is far past guessing, and keeps links short.
const MAC_LEN: usize = 16;
const PAYLOAD_LEN: usize = 1 + 8 + 8 + 8;
const CONTEXT: &[u8] = b"tidings-link-token-v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm = 1,
    Unsubscribe = 2,
    Preferences = 3,
    /// A private list's personal feed: good while the person stays on the list, signed only by
    /// the current key (rotating the key ends every personal feed).
    Feed = 4,
}

impl Purpose {
    /// How long a link stays good. Unsubscribe and preferences links sit in old emails that
    /// people still use to leave, so they outlive a yearly newsletter's cycle.
    pub fn lifetime(self) -> Duration {
        match self {
            Self::Confirm => Duration::days(7),
            Self::Unsubscribe | Self::Preferences => Duration::days(400),
            // A feed reader keeps its URL for years: whether it still works is the list's to say.
            Self::Feed => Duration::days(365 * 100),
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Confirm),
            2 => Some(Self::Unsubscribe),
            3 => Some(Self::Preferences),
            4 => Some(Self::Feed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature is not valid")]
    BadSignature,
    #[error("the link is for something else")]
    WrongPurpose,
    #[error("the link has expired")]
    Expired,
}

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub purpose: Purpose,
    pub subscriber_id: i64,
    pub list_id: i64,
    pub expires_at: DateTime<Utc>,
}

/// The signing keys: the current one signs, all of them verify.
#[derive(Clone)]
pub struct Keys {
    current: Vec<u8>,
    previous: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys(<{} redacted>)", 1 + self.previous.len())
    }
}

impl Keys {
    pub fn new(current: impl Into<Vec<u8>>, previous: Vec<Vec<u8>>) -> Self {
        Self { current: current.into(), previous }
    }

    fn mac(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(CONTEXT);
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// A token for `purpose`, good for its lifetime from `now`.
    pub fn sign(&self, purpose: Purpose, subscriber_id: i64, list_id: i64, now: DateTime<Utc>) -> String {
        let expires = (now + purpose.lifetime()).timestamp();
        let mut bytes = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
        bytes.push(purpose as u8);
        bytes.extend_from_slice(&subscriber_id.to_be_bytes());
        bytes.extend_from_slice(&list_id.to_be_bytes());
        bytes.extend_from_slice(&expires.to_be_bytes());
        let tag = Self::mac(&self.current, &[&bytes]).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks a token's signature, purpose and expiry, in that order.
    pub fn verify(&self, token: &str, purpose: Purpose, now: DateTime<Utc>) -> Result<TokenClaims, TokenError> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| TokenError::Malformed)?;
        if bytes.len() != PAYLOAD_LEN + MAC_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        // A personal feed dies with a key rotation: its URL may have leaked from a reader's app.
        let previous: &[Vec<u8>] = if payload[0] == Purpose::Feed as u8 { &[] } else { &self.previous };
        let signed = std::iter::once(&self.current).chain(previous).any(|key| Self::mac(key, &[payload]).verify_truncated_left(tag).is_ok());
        if !signed {
            return Err(TokenError::BadSignature);
        }
        let found = Purpose::from_byte(payload[0]).ok_or(TokenError::Malformed)?;
        if found != purpose {
            return Err(TokenError::WrongPurpose);
        }
        let int = |range: std::ops::Range<usize>| i64::from_be_bytes(payload[range].try_into().expect("eight bytes"));
        let expires_at = DateTime::from_timestamp(int(17..25), 0).ok_or(TokenError::Malformed)?;
        if expires_at < now {
            return Err(TokenError::Expired);
        }
        Ok(TokenClaims { purpose, subscriber_id: int(1..9), list_id: int(9..17), expires_at })
    }

    /// A short MAC for VERP addresses, in lower-case hex because some MTAs fold local parts.
    pub fn short_tag(&self, parts: &[&[u8]], key_index: usize) -> Option<String> {
        let key = if key_index == 0 { Some(&self.current) } else { self.previous.get(key_index - 1) }?;
        let tag = Self::mac(key, parts).finalize().into_bytes();
        Some(tag[..6].iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn key_count(&self) -> usize {
        1 + self.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(b"current-key".to_vec(), vec![b"old-key".to_vec()])
    }

    #[test]
    fn a_token_round_trips() {
        let now = Utc::now();
        let token = keys().sign(Purpose::Unsubscribe, 42, 7, now);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{token}");
        let claims = keys().verify(&token, Purpose::Unsubscribe, now).unwrap();
        assert_eq!((claims.subscriber_id, claims.list_id), (42, 7));
    }

    #[test]
    fn forged_altered_expired_and_misused_tokens_are_refused() {
        let now = Utc::now();
        let token = keys().sign(Purpose::Confirm, 42, 7, now);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[8] ^= 1; // another subscriber
        let altered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(keys().verify(&altered, Purpose::Confirm, now), Err(TokenError::BadSignature));
        let forged = Keys::new(b"attacker".to_vec(), vec![]).sign(Purpose::Confirm, 42, 7, now);
        assert_eq!(keys().verify(&forged, Purpose::Confirm, now), Err(TokenError::BadSignature));
        assert_eq!(keys().verify(&token, Purpose::Unsubscribe, now), Err(TokenError::WrongPurpose));
        assert_eq!(keys().verify(&token, Purpose::Confirm, now + Duration::days(8)), Err(TokenError::Expired));
        for garbage in ["", "abc", "!!!!", &"A".repeat(55), &token[..token.len() - 1]] {
            assert!(keys().verify(garbage, Purpose::Confirm, now).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn tokens_signed_before_a_key_rotation_stay_valid() {
        let now = Utc::now();
        let old = Keys::new(b"old-key".to_vec(), vec![]).sign(Purpose::Unsubscribe, 1, 2, now);
        assert!(keys().verify(&old, Purpose::Unsubscribe, now).is_ok());
    }

    #[test]
    fn a_personal_feed_lasts_but_not_past_a_key_rotation() {
        let now = Utc::now();
        let feed = keys().sign(Purpose::Feed, 1, 2, now);
        assert!(keys().verify(&feed, Purpose::Feed, now + Duration::days(3650)).is_ok());
        let old = Keys::new(b"old-key".to_vec(), vec![]).sign(Purpose::Feed, 1, 2, now);
        assert_eq!(keys().verify(&old, Purpose::Feed, now), Err(TokenError::BadSignature));
        assert_eq!(keys().verify(&feed, Purpose::Unsubscribe, now), Err(TokenError::WrongPurpose));
    }
}
