//! Passwords are hashed with argon2id (a fresh salt each); tokens and session ids are 256 random
//! bits shown once and stored only as their SHA-256, so a copy of the database opens nothing.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::Argon2;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Shorter passwords are refused: staff accounts can send to every subscriber.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password is too short: at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password cannot be hashed: {0}")]
    Hash(String),
}

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| PasswordError::Hash(e.to_string()))
}

/// False for a wrong password and for a hash that does not parse alike.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends about the time of one verification, so a login for an unknown address takes as long
/// as one with a wrong password (no user enumeration by timing).
pub fn waste_a_verification(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not-a-real-password-at-all").unwrap_or_default());
    let _ = verify_password(password, hash);
}

/// A random 256-bit secret: an API token (with a `tid_` prefix that secret scanners can match)
/// or a session id.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret256(String);

impl Secret256 {
    pub fn token() -> Self {
        Self(format!("tid_{}", random_256()))
    }

    pub fn session() -> Self {
        Self(random_256())
    }

    pub fn from_presented(value: &str) -> Self {
        Self(value.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps.
    pub fn digest(&self) -> String {
        Sha256::digest(self.0.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for Secret256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret256(…)")
    }
}

fn random_256() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the OS random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterx", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert_eq!(hash_password("short"), Err(PasswordError::TooShort));
    }

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let (a, b) = (Secret256::token(), Secret256::token());
        assert_ne!(a, b);
        assert!(a.expose().starts_with("tid_") && a.expose().len() == 47);
        assert_eq!(a.digest(), Secret256::from_presented(a.expose()).digest());
        assert_eq!(a.digest().len(), 64);
        assert_eq!(format!("{a:?}"), "Secret256(…)");
    }
}
