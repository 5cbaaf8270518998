//! `EmailAddress`: a mailbox address in practical RFC 5321/5322 form.
//!
//! What we accept is what a relay will take in `RCPT TO` without SMTPUTF8: an ASCII local part
//! (dot-atom or quoted string) and a domain name, converted to punycode when internationalised.
//! Address literals (`user@[192.0.2.1]`), comments and display names are refused: subscribers
//! type mailboxes, not header fields.

use std::fmt;

use sha2::{Digest, Sha256};

/// RFC 5321 §4.5.3.1: the limits a relay enforces.
const MAX_LOCAL_LEN: usize = 64;
const MAX_DOMAIN_LEN: usize = 253;
const MAX_ADDRESS_LEN: usize = 254;
const MAX_LABEL_LEN: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the address is empty")]
    Empty,
    #[error("the address contains a control character (such as a line break)")]
    ControlCharacter,
    #[error("the address has no '@'")]
    MissingAt,
    #[error("the part before '@' is empty")]
    EmptyLocalPart,
    #[error("the part after '@' is empty")]
    EmptyDomain,
    #[error("the part before '@' is longer than {MAX_LOCAL_LEN} characters")]
    LocalPartTooLong,
    #[error("the address is longer than {MAX_ADDRESS_LEN} characters")]
    AddressTooLong,
    #[error("the part before '@' has an invalid character {0:?}")]
    InvalidLocalCharacter(char),
    #[error("the part before '@' has a misplaced dot")]
    MisplacedDot,
    #[error("the quoted part before '@' is not closed or has an invalid character")]
    BadQuotedString,
    #[error("the part before '@' is not ASCII (SMTPUTF8 addresses are not supported)")]
    NonAsciiLocalPart,
    #[error("the domain {0:?} is not a valid domain name")]
    InvalidDomain(String),
    #[error("the domain {0:?} has no top-level part (expected something like example.com)")]
    DomainWithoutDot(String),
    #[error("address literals such as [192.0.2.1] are not accepted")]
    AddressLiteral,
}

/// A valid mailbox address. The domain is lower-cased punycode; the local part is kept as given,
/// since RFC 5321 leaves its case to the receiving server.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    address: String,
    at: usize,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(EmailError::ControlCharacter);
        }
        let at = trimmed.rfind('@').ok_or(EmailError::MissingAt)?;
        let (local, domain) = (&trimmed[..at], &trimmed[at + 1..]);
        parse_local(local)?;
        let domain = parse_domain(domain)?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_ADDRESS_LEN {
            return Err(EmailError::AddressTooLong);
        }
        Ok(Self { address, at: local.len() })
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// The identity used to find duplicates: the whole address lower-cased. Mailboxes that differ
    /// only in case are one person everywhere that matters (the practice of Mailman and listmonk),
    /// so one of them is never mailed twice.
    pub fn key(&self) -> String {
        self.address.to_ascii_lowercase()
    }

    /// SHA-256 of `key()`: what [`SuppressionKey::hash`] keys into the suppression list's entry.
    pub fn suppression_digest(&self) -> [u8; 32] {
        Sha256::digest(self.key().as_bytes()).into()
    }
}

/// The key of the suppression list's hashes, one per installation. A bare SHA-256 of an address
/// can be looked up in any list of addresses' hashes and linked across databases; keyed, an
/// entry means nothing without this installation's key. It never rotates (an entry hashed under
/// a forgotten key would let the address be mailed again), so it is not `security.secret_key`.
#[derive(Clone)]
pub struct SuppressionKey([u8; 32]);

impl SuppressionKey {
    /// Entries keyed with this scheme start with it; older bare SHA-256 entries are plain hex.
    pub const PREFIX: &'static str = "k1:";

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).expect("the OS provides randomness");
        Self(key)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = unhex(text)?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The suppression entry for an address.
    pub fn hash(&self, email: &EmailAddress) -> String {
        self.hash_digest(&email.suppression_digest())
    }

    /// The entry for an address's [`EmailAddress::suppression_digest`].
    pub fn hash_digest(&self, digest: &[u8; 32]) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(digest);
        format!("{}{}", Self::PREFIX, hex(&mac.finalize().into_bytes()))
    }

    /// An entry written before keys, a bare SHA-256 in hex, keyed; None if it is not one.
    pub fn rekey_legacy(&self, entry: &str) -> Option<String> {
        let digest: [u8; 32] = unhex(entry)?.try_into().ok()?;
        Some(self.hash_digest(&digest))
    }
}

impl fmt::Debug for SuppressionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SuppressionKey(<redacted>)")
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [HEX[usize::from(b >> 4)] as char, HEX[usize::from(b & 0xf)] as char]).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({:?})", self.address)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.address
    }
}

fn parse_local(local: &str) -> Result<(), EmailError> {
    if local.is_empty() {
        return Err(EmailError::EmptyLocalPart);
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err(EmailError::LocalPartTooLong);
    }
    if !local.is_ascii() {
        return Err(EmailError::NonAsciiLocalPart);
    }
    if local.starts_with('"') {
        return parse_quoted_local(local);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailError::MisplacedDot);
    }
    match local.chars().find(|c| !is_atext(*c) && *c != '.') {
        Some(c) => Err(EmailError::InvalidLocalCharacter(c)),
        None => Ok(()),
    }
}

/// RFC 5322 §3.2.3 atext.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// RFC 5322 §3.2.4 quoted-string: qtext or quoted-pairs between double quotes.
fn parse_quoted_local(local: &str) -> Result<(), EmailError> {
    let inner = local
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|_| local.len() >= 2)
        .ok_or(EmailError::BadQuotedString)?;
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(' '..='~') => {}
                _ => return Err(EmailError::BadQuotedString),
            },
            '"' => return Err(EmailError::BadQuotedString),
            ' '..='~' => {}
            _ => return Err(EmailError::BadQuotedString),
        }
    }
    Ok(())
}

fn parse_domain(domain: &str) -> Result<String, EmailError> {
    if domain.is_empty() {
        return Err(EmailError::EmptyDomain);
    }
    if domain.starts_with('[') {
        return Err(EmailError::AddressLiteral);
    }
    // A trailing dot is the DNS root; a mailbox is written without it.
    let invalid = || EmailError::InvalidDomain(domain.to_string());
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| invalid())?;
    if ascii.is_empty() || ascii.len() > MAX_DOMAIN_LEN || ascii.ends_with('.') {
        return Err(invalid());
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(EmailError::DomainWithoutDot(domain.to_string()));
    }
    if labels.iter().any(|l| !is_ldh_label(l)) {
        return Err(invalid());
    }
    let tld = labels[labels.len() - 1];
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    Ok(ascii)
}

/// RFC 1035 letters-digits-hyphens, no hyphen at either end.
fn is_ldh_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_parse_to_their_normal_form() {
        let cases = [
            ("alice@example.com", "alice@example.com"),
            ("  Alice@Example.COM \t", "Alice@example.com"),
            ("first.last+news@sub.example.co.uk", "first.last+news@sub.example.co.uk"),
            ("o'brien@example.ie", "o'brien@example.ie"),
            ("x@a.io", "x@a.io"),
            ("\"john doe\"@example.com", "\"john doe\"@example.com"),
            ("\"a@b\"@example.com", "\"a@b\"@example.com"),
            ("\"quote\\\"d\"@example.com", "\"quote\\\"d\"@example.com"),
            ("user@例子.广告", "user@xn--fsqu00a.xn--4rr70v"),
            ("user@bücher.de", "user@xn--bcher-kva.de"),
            ("user@BÜCHER.DE", "user@xn--bcher-kva.de"),
            ("a-b_c{d}@x-y.example", "a-b_c{d}@x-y.example"),
            ("user@xn--bcher-kva.de", "user@xn--bcher-kva.de"),
        ];
        for (input, expected) in cases {
            let parsed = EmailAddress::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(parsed.as_str(), expected, "input {input:?}");
        }
    }

    #[test]
    fn invalid_addresses_are_refused_with_a_reason() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        let long_address = format!("{}@{}.example.com", "a".repeat(60), vec!["c".repeat(60); 4].join("."));
        let cases: Vec<(&str, EmailError)> = vec![
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("plainaddress", EmailError::MissingAt),
            ("@example.com", EmailError::EmptyLocalPart),
            ("alice@", EmailError::EmptyDomain),
            ("alice@example.com\r\nBcc: victim@example.org", EmailError::ControlCharacter),
            ("alice\n@example.com", EmailError::ControlCharacter),
            ("ali\0ce@example.com", EmailError::ControlCharacter),
            (".alice@example.com", EmailError::MisplacedDot),
            ("alice.@example.com", EmailError::MisplacedDot),
            ("al..ice@example.com", EmailError::MisplacedDot),
            ("al ice@example.com", EmailError::InvalidLocalCharacter(' ')),
            ("a(b)c@example.com", EmailError::InvalidLocalCharacter('(')),
            ("a,b@example.com", EmailError::InvalidLocalCharacter(',')),
            ("\"unclosed@example.com", EmailError::BadQuotedString),
            ("\"bad\"quote\"@example.com", EmailError::BadQuotedString),
            ("用户@example.com", EmailError::NonAsciiLocalPart),
            ("alice@localhost", EmailError::DomainWithoutDot("localhost".into())),
            ("alice@[192.0.2.1]", EmailError::AddressLiteral),
            ("alice@-example.com", EmailError::InvalidDomain("-example.com".into())),
            ("alice@example..com", EmailError::InvalidDomain("example..com".into())),
            ("alice@exa mple.com", EmailError::InvalidDomain("exa mple.com".into())),
            ("alice@example.com.", EmailError::InvalidDomain("example.com.".into())),
            ("alice@192.168.1.1", EmailError::InvalidDomain("192.168.1.1".into())),
            ("alice@under_score.com", EmailError::InvalidDomain("under_score.com".into())),
            (long_local.as_str(), EmailError::LocalPartTooLong),
        ];
        for (input, expected) in cases {
            assert_eq!(EmailAddress::parse(input), Err(expected), "input {input:?}");
        }
        assert!(EmailAddress::parse(&long_label).is_err(), "64-character label");
        assert!(EmailAddress::parse(&long_address).is_err(), "address over 254 characters");
    }

    #[test]
    fn key_folds_case_and_hash_is_stable() {
        let a = EmailAddress::parse("Alice@Example.com").unwrap();
        let b = EmailAddress::parse("alice@EXAMPLE.COM").unwrap();
        assert_ne!(a, b, "the local part keeps its case for delivery");
        assert_eq!(a.key(), b.key());
        let key = SuppressionKey::generate();
        assert_eq!(key.hash(&a), key.hash(&b));
        // SHA-256("alice@example.com"), as `printf %s alice@example.com | sha256sum` prints it:
        // what entries held before they were keyed.
        let legacy = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";
        assert_eq!(hex(&a.suppression_digest()), legacy);
        assert_eq!(key.rekey_legacy(legacy).as_deref(), Some(key.hash(&a).as_str()), "old entries are keyed in place");
        assert_ne!(key.hash(&a), SuppressionKey::generate().hash(&a), "another installation's entry differs");
        assert!(key.hash(&a).starts_with(SuppressionKey::PREFIX) && !key.hash(&a).contains(legacy));
        assert_eq!(SuppressionKey::from_hex(&key.to_hex()).unwrap().hash(&a), key.hash(&a));
        assert_eq!(key.rekey_legacy("k1:00"), None);
        assert_eq!(a.local_part(), "Alice");
        assert_eq!(a.domain(), "example.com");
    }

    #[test]
    fn any_string_with_a_line_break_is_refused() {
        for i in 0..200u32 {
            let local: String = (0..(i % 20 + 1)).map(|k| char::from(b'a' + ((i + k) % 26) as u8)).collect();
            for brk in ["\r", "\n", "\r\n"] {
                let pos = (i as usize) % (local.len() + 1);
                let mut s = format!("{local}@example.com");
                s.insert_str(pos, brk);
                let trimmed_only = pos == 0;
                if !trimmed_only {
                    assert!(EmailAddress::parse(&s).is_err(), "{s:?} must not parse");
                }
            }
        }
    }
}
