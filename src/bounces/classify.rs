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

/// Phrases, lower-case, in the languages bounces come in. Learned from the texts MTAs and
/// providers send (Postfix, Exim, Sendmail, qmail, Courier, Exchange, Gmail, Yahoo, Outlook.com,
/// GMX, Mail.ru, Yandex, QQ, NetEase, Sina, Domino, X.400 gateways…).
const USER_UNKNOWN: &[&str] = &[
    "user unknown", "unknown user", "no such user", "no such recipient", "user not found", "recipient not found", "recipientnotfound", "recipnotfound",
    "does not exist", "doesn't exist", "no mailbox here", "mailbox not found", "invalid recipient", "invalid mailbox", "unknown recipient", "recipient unknown",
    "address rejected: user", "not a valid mailbox", "no such account", "doesn't have a", "account that you tried to reach does not exist", "unrouteable address",
    "mailbox unavailable", "no such mailbox", "unknown mailbox", "mailbox unknown", "no such address", "unknown address", "address unknown", "address not found",
    "addressee unknown", "unknown local part", "unknown local-part", "user doesn't exist", "no such person", "not our customer", "couldn't be found",
    "wasn't found at the destination", "not listed in domino directory", "not listed in public name", "unrecognised o/r name", "unrecognized o/r name",
    "name is not recognized", "recipient not recognized", "invalid address", "bad destination mailbox", "mailbox does not exist", "account not found",
    "user not exist", "unknown or illegal alias", "utilisateur inconnu", "adresse inconnue", "usuario desconocido", "usuário inexistente",
    "user is unknown", "recipient is unknown", "address is unknown", "mailbox is unknown", "mailbox is not found", "user is not found", "recipient is not found",
    "not a valid recipient", "not a valid user", "no such local user", "mailbox name not allowed", "无此用户", "地址无效", "empfänger unbekannt", "benutzer unbekannt", "unbekannter empfänger", "utente sconosciuto", "нет такого пользователя", "пользователь не найден",
    "收件人不存在", "用户不存在", "帐号不存在", "账号不存在", "账户不存在", "帐户不存在", "地址不存在", "邮箱不存在", "用户名不存在",
];
const DOMAIN_UNKNOWN: &[&str] = &[
    "host not found", "host unknown", "domain not found", "no such domain", "name service error", "nxdomain", "domain does not exist", "null mx", "nullmx",
    "unrouteable domain", "unroutable domain", "non-existent host", "nonexistent domain", "non-existent domain", "unknown domain", "domain unknown",
    "domain name not found", "couldn't find any host", "no such host", "no mx record", "unknown host", "unrouteable mail domain", "name or service not known", "域名不存在",
];
/// The receiving domain takes no mail at all (a null MX and its kin, RFC 7505): as bad as no domain.
const NOT_ACCEPT: &[&str] = &["does not accept mail", "domain does not accept", "accepts no mail", "not accepting any mail"];
const MOVED: &[&str] = &["has moved", "user has moved", "address has changed", "no longer valid, please use"];
/// Not a bare "suspended": Postfix's "delivery temporarily suspended" is about the route, not the mailbox.
const DISABLED: &[&str] = &[
    "disabled", "deactivated", "inactive", "account suspended", "account is suspended", "account has been suspended", "mailbox suspended", "mailbox is suspended",
    "user suspended", "account is locked", "account has been locked", "已停用", "已冻结",
];
const FULL: &[&str] = &[
    "mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage", "insufficient storage", "out of storage", "mailbox size limit", "inbox is full",
    "quota exceed", "exceeds quota", "over its quota", "mailbox has exceeded", "not enough storage", "boîte pleine", "postfach voll", "邮箱已满", "空间不足", "容量已满", "空间已满", "邮箱满",
];
const TOO_LARGE: &[&str] = &["too large", "message size exceeds", "size limit", "exceeds fixed maximum message size", "message too big", "size exceeds", "邮件过大"];
const RATE: &[&str] = &[
    "rate limit", "rate-limit", "ratelimit", "too many", "throttl", "at a rate that", "slow down", "sending rate", "频率", "过于频繁",
];
const EXPIRED: &[&str] = &["retry timeout exceeded", "delivery time expired", "time expired", "expired", "gave up", "could not be delivered for", "unable to deliver for"];
const BLOCKED: &[&str] = &[
    "spam", "blocked", "blacklist", "blocklist", "block list", "black list", "policy", "reputation", "dmarc", "spf", "dkim", "unauthenticated", "authentication",
    "relay access denied", "relaying denied", "not permitted to relay", "ptr", "reverse dns", "rdns", "content rejected", "rejected due to content",
    "message rejected", "listed at", "spamhaus", "denied", "unsolicited", "prohibit", "not allowed", "banned", "junk", "virus", "malware",
    "phish", "complaints", "rbl", "dnsbl", "spamcop", "barracuda", "cloudmark", "not authorized", "unauthorized", "client host", "[tss0", "[ts0",
    "suspicion", "suspicious", "mail content", "垃圾邮件", "拒绝", "拦截", "被拒", "拒收",
];
/// Words that mean the receiver refused *our message or server* rather than the address, strong
/// enough to outweigh an address-sounding status code.
const REFUSED_US: &[&str] = &[
    "spam", "blacklist", "blocklist", "block list", "black list", "reputation", "dmarc", "spamhaus", "unsolicited", "listed at", "dnsbl", "rbl", "spamcop",
    "barracuda", "policy", "垃圾邮件",
];
/// The refusal names our sender (MAIL FROM, the envelope or header sender): about us, never the reader.
const SENDER_REFUSED: &[&str] = &[
    "sender address rejected", "sender rejected", "sender verify failed", "sender verification failed", "envelope sender", "sender domain", "unknown sender",
    "sender unknown", "sender denied", "invalid sender", "sender address invalid", "sender address is invalid", "badmailfrom", "after mail from", "mail from address", "sender is not allowed", "spoof", "from address",
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
    // RFC 3463's codes for a bad sender (5.1.7, 5.1.8) and RFC 7505's for our sender's null MX.
    if matches!(detail, "1.7" | "1.8" | "7.27") || has(SENDER_REFUSED) {
        return Reason::Blocked;
    }
    let user = has(USER_UNKNOWN);
    let not_accept = NOT_ACCEPT.iter().any(|p| t.match_indices(p).any(|(at, _)| !t[at + p.len()..].trim_start().starts_with("from")));
    // An address-sounding code with words that say otherwise (a full mailbox sent as 5.1.1, a
    // spam block sent as 5.1.0, a rate limit as 5.2.1): the words win, unless they also name
    // the address as unknown.
    let address_code = matches!(detail, "1.0" | "1.1" | "1.2" | "1.3" | "1.6" | "1.10" | "2.1" | "4.4");
    if address_code && !user {
        if has(FULL) {
            return Reason::MailboxFull;
        }
        if has(REFUSED_US) || (detail.starts_with("1.") && has(BLOCKED)) {
            return Reason::Blocked;
        }
        if has(RATE) {
            return Reason::RateLimited;
        }
    }
    match detail {
        "1.10" | "1.2" if not_accept || has(&["null mx", "nullmx"]) => return Reason::DomainUnknown,
        "1.1" | "1.0" | "1.3" | "1.10" => return Reason::UserUnknown,
        "1.2" => return Reason::DomainUnknown,
        // "Unable to route" is a DNS answer of no such domain, or a network failure.
        "4.4" if has(DOMAIN_UNKNOWN) && !t.contains("try again") => return Reason::DomainUnknown,
        // Office 365's directory-based edge blocking: the tenant has no such recipient.
        "4.1" if t.contains("recipient address rejected: access denied") => return Reason::UserUnknown,
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
        // Some receivers answer an unknown user with 5.7.1 ("No such user!").
        return if user && !has(BLOCKED) {
            Reason::UserUnknown
        } else if has(REFUSED_US) || !has(RATE) {
            Reason::Blocked
        } else {
            Reason::RateLimited
        };
    }
    // No telling status code: the words decide, the address's faults first.
    if user {
        Reason::UserUnknown
    } else if has(DOMAIN_UNKNOWN) && !t.contains("try again") || not_accept {
        Reason::DomainUnknown
    } else if has(MOVED) {
        Reason::Moved
    } else if has(FULL) {
        Reason::MailboxFull
    } else if has(TOO_LARGE) {
        Reason::MessageTooLarge
    } else if has(REFUSED_US) {
        Reason::Blocked
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

/// Whether a text says anything the classifier can read: a status code or a known phrase.
pub fn has_evidence(text: &str) -> bool {
    let t = text.to_lowercase();
    find_enhanced_status(&t).is_some_and(|s| !s.ends_with(".0.0"))
        || [USER_UNKNOWN, DOMAIN_UNKNOWN, NOT_ACCEPT, MOVED, DISABLED, FULL, TOO_LARGE, RATE, EXPIRED, BLOCKED, SENDER_REFUSED].iter().any(|l| l.iter().any(|p| t.contains(p)))
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
/// Only a number standing alone: not part of a host name (`x400gw`), an IP address or a date.
pub fn find_reply_code(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    let apart = |i: usize| b.get(i).is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'.'));
    (0..b.len().saturating_sub(2)).find_map(|i| {
        let word = &b[i..i + 3];
        let standalone = (i == 0 || apart(i - 1)) && apart(i + 3);
        (standalone && matches!(word[0], b'4' | b'5') && word.iter().all(u8::is_ascii_digit)).then(|| u16::from(word[0] - b'0') * 100 + u16::from(word[1] - b'0') * 10 + u16::from(word[2] - b'0'))
    })
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
        assert_eq!(find_reply_code("<k@x400gw.example.de> at 203.0.113.45 said: 550-5.1.1"), Some(550), "not a host name's digits, not an IP address");
    }
}
