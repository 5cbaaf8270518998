//! What a refusal says about an address. One reading for every source: a relay's reply at send
//! time, a DSN's Status and Diagnostic-Code, a bounce's free text.
//!
//! The verdict is about the address, because it decides whether a person stops getting mail: hard
//! only when the address itself is bad. A receiver refusing *our message or our server* (spam
//! filters, policy, authentication, reputation, relaying) is soft with reason `blocked` — a
//! deliverability problem for staff, never held against the reader.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    UserUnknown,
    DomainUnknown,
    Moved,
    MailboxDisabled,
    MailboxFull,
    MessageTooLarge,
    RateLimited,
    Blocked,
    Expired,
    Transient,
    Other,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserUnknown => "user_unknown",
            Self::DomainUnknown => "domain_unknown",
            Self::Moved => "moved",
            Self::MailboxDisabled => "mailbox_disabled",
            Self::MailboxFull => "mailbox_full",
            Self::MessageTooLarge => "message_too_large",
            Self::RateLimited => "rate_limited",
            Self::Blocked => "blocked",
            Self::Expired => "expired",
            Self::Transient => "transient",
            Self::Other => "other",
        }
    }

    /// Whether this reason condemns the address.
    pub fn is_hard(self) -> bool {
        matches!(self, Self::UserUnknown | Self::DomainUnknown | Self::Moved | Self::MailboxDisabled)
    }
}

/// Phrases, lower-case, in the languages bounces come in.
const USER_UNKNOWN: &[&str] = &[
    "user unknown", "unknown user", "no such user", "no such recipient", "user not found", "recipient not found", "recipientnotfound", "does not exist",
    "doesn't exist", "no mailbox here", "mailbox not found", "invalid recipient", "invalid mailbox", "unknown recipient", "recipient unknown",
    "address rejected: user", "not a valid mailbox", "no such account", "doesn't have a", "account that you tried to reach does not exist", "unrouteable address",
    "收件人不存在", "用户不存在", "帐号不存在", "账号不存在", "账户不存在", "地址不存在",
];
const DOMAIN_UNKNOWN: &[&str] = &["host not found", "host unknown", "domain not found", "no such domain", "name service error", "nxdomain", "domain does not exist", "null mx", "unrouteable domain", "域名不存在"];
const MOVED: &[&str] = &["has moved", "user has moved", "address has changed", "no longer valid, please use"];
/// Not a bare "suspended": Postfix's "delivery temporarily suspended" is about the route, not the mailbox.
const DISABLED: &[&str] = &[
    "disabled", "deactivated", "inactive", "account suspended", "account is suspended", "account has been suspended", "mailbox suspended", "mailbox is suspended",
    "user suspended", "account is locked", "account has been locked", "已停用", "已冻结",
];
const FULL: &[&str] = &["mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage", "insufficient storage", "out of storage", "mailbox size limit", "邮箱已满", "空间不足", "容量已满"];
const TOO_LARGE: &[&str] = &["too large", "message size exceeds", "size limit", "exceeds fixed maximum message size", "message too big", "邮件过大"];
const RATE: &[&str] = &["rate limit", "rate-limit", "ratelimit", "too many", "try again later", "throttl", "频率"];
const EXPIRED: &[&str] = &["retry timeout exceeded", "delivery time expired", "time expired", "expired", "gave up", "could not be delivered for", "unable to deliver for"];
const BLOCKED: &[&str] = &[
    "spam", "blocked", "blacklist", "blocklist", "block list", "policy", "reputation", "dmarc", "spf", "dkim", "unauthenticated", "authentication",
    "relay access denied", "relaying denied", "not permitted to relay", "ptr", "reverse dns", "rdns", "content rejected", "rejected due to content",
    "message rejected", "listed at", "spamhaus", "denied", "垃圾邮件", "拒绝", "拦截",
];

/// Reads a refusal: `status` is an enhanced status code (`5.1.1`) when known, `text` the
/// diagnostic or the surrounding prose, `temporary` whether the sender will retry (a 4xx, a
/// `delayed` action).
pub fn classify(status: Option<&str>, text: &str, temporary: bool) -> (bool, Reason) {
    let reason = reason(status, &text.to_lowercase(), temporary);
    (reason.is_hard() && !temporary, if temporary && reason.is_hard() { Reason::Transient } else { reason })
}

fn reason(status: Option<&str>, t: &str, temporary: bool) -> Reason {
    let has = |phrases: &[&str]| phrases.iter().any(|p| t.contains(p));
    let status = status.or_else(|| find_enhanced_status(t)).unwrap_or("");
    let (class, detail) = status.split_once('.').unwrap_or((status, ""));
    match detail {
        "1.1" | "1.0" if has(BLOCKED) && !has(USER_UNKNOWN) => return Reason::Blocked,
        "1.1" | "1.0" | "1.3" => return Reason::UserUnknown,
        "1.10" if t.contains("null mx") => return Reason::DomainUnknown,
        "1.10" => return Reason::UserUnknown,
        "1.2" | "4.4" => return Reason::DomainUnknown,
        "1.6" => return Reason::Moved,
        "2.1" => return Reason::MailboxDisabled,
        "2.2" => return Reason::MailboxFull,
        "2.3" | "3.4" => return Reason::MessageTooLarge,
        "4.7" => return Reason::Expired,
        _ => {}
    }
    if t.contains("greylist") {
        return Reason::Transient;
    }
    if detail.starts_with("7.") {
        return if has(RATE) { Reason::RateLimited } else { Reason::Blocked };
    }
    // No telling status code: the words decide, the address's faults first.
    if has(USER_UNKNOWN) {
        Reason::UserUnknown
    } else if has(DOMAIN_UNKNOWN) {
        Reason::DomainUnknown
    } else if has(MOVED) {
        Reason::Moved
    } else if has(FULL) {
        Reason::MailboxFull
    } else if has(TOO_LARGE) {
        Reason::MessageTooLarge
    } else if has(RATE) {
        Reason::RateLimited
    } else if has(BLOCKED) {
        Reason::Blocked
    } else if has(DISABLED) {
        Reason::MailboxDisabled
    } else if has(EXPIRED) {
        Reason::Expired
    } else if temporary || class == "4" {
        Reason::Transient
    } else {
        Reason::Other
    }
}

/// The first enhanced status code (`5.1.1`) in a text.
pub fn find_enhanced_status(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    // Status codes are ASCII: start only at ASCII digits, which are always char boundaries.
    (0..bytes.len()).find_map(|i| {
        if !matches!(bytes[i], b'2' | b'4' | b'5') || (i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.')) {
            return None;
        }
        let rest = &text[i..];
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let candidate = rest[..end].trim_end_matches('.');
        let parts: Vec<&str> = candidate.split('.').collect();
        (parts.len() == 3 && parts[0].len() == 1 && (1..=3).contains(&parts[1].len()) && (1..=3).contains(&parts[2].len())).then_some(candidate)
    })
}

/// The first SMTP reply code (`550`) in a text.
pub fn find_reply_code(text: &str) -> Option<u16> {
    text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 3 && matches!(w.as_bytes()[0], b'4' | b'5')).and_then(|w| w.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_condemned_only_for_its_own_faults() {
        assert_eq!(classify(Some("5.1.1"), "550 5.1.1 User unknown", false), (true, Reason::UserUnknown));
        assert_eq!(classify(None, "550 5.1.2 Host or domain name not found", false), (true, Reason::DomainUnknown));
        assert_eq!(classify(None, "551 5.1.6 User has moved", false), (true, Reason::Moved));
        assert_eq!(classify(Some("5.2.2"), "552 Mailbox full", false), (false, Reason::MailboxFull));
        assert_eq!(classify(None, "554 5.7.1 Message rejected as spam", false), (false, Reason::Blocked));
        assert_eq!(classify(None, "550 5.7.26 Unauthenticated email is not accepted due to DMARC policy", false), (false, Reason::Blocked));
        assert_eq!(classify(None, "554 5.7.1 <x@y>: Relay access denied", false), (false, Reason::Blocked));
        assert_eq!(classify(None, "421 4.7.0 Try again later (rate limited)", true), (false, Reason::RateLimited));
        assert_eq!(classify(None, "552 5.3.4 Message size exceeds fixed maximum message size", false), (false, Reason::MessageTooLarge));
        assert_eq!(classify(Some("4.4.7"), "retry timeout exceeded", false), (false, Reason::Expired));
        assert_eq!(classify(None, "delivery temporarily suspended: connect to mx.example.org[192.0.2.1]:25: Connection timed out", false), (false, Reason::Other));
        assert_eq!(classify(None, "550 This account has been suspended", false), (true, Reason::MailboxDisabled));
        assert_eq!(classify(None, "550 收件人不存在", false), (true, Reason::UserUnknown));
        assert_eq!(classify(Some("4.1.1"), "450 user unknown (greylisted?)", true), (false, Reason::Transient), "a temporary refusal never condemns");
        assert_eq!(classify(None, "451 4.3.0 temporary failure", true), (false, Reason::Transient));
        assert_eq!(classify(None, "something odd", false), (false, Reason::Other));
    }

    #[test]
    fn finds_status_codes_in_prose() {
        assert_eq!(find_enhanced_status("550-5.1.1 The email account"), Some("5.1.1"));
        assert_eq!(find_enhanced_status("version 10.2.3.4 and 5.7.26 policy"), Some("5.7.26"));
        assert_eq!(find_enhanced_status("no code"), None);
        assert_eq!(find_reply_code("host said: 554 delivery error"), Some(554));
    }
}
