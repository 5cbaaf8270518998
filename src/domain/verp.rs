//! VERP: the envelope sender `bounces+TAG@domain` names the recipient and the issue, so a bounce
//! maps back to them without reading its body. The tag is short, lower-case, and signed, so a
//! forged bounce cannot mark someone else bounced.

use super::token::Keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerpTarget {
    pub subscriber_id: i64,
    pub issue_id: i64,
}

const PREFIX: &str = "bounces+";

fn mac_input(target: &VerpTarget) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&target.subscriber_id.to_be_bytes());
    bytes[8..].copy_from_slice(&target.issue_id.to_be_bytes());
    bytes
}

/// `s<subscriber>-i<issue>-<mac>`, numbers in base 36.
pub fn tag(keys: &Keys, target: VerpTarget) -> String {
    let mac = keys.short_tag(&[b"verp", &mac_input(&target)], 0).expect("the current key exists");
    format!("s{}-i{}-{mac}", base36(target.subscriber_id), base36(target.issue_id))
}

/// The envelope sender for one recipient of one issue.
pub fn address(keys: &Keys, target: VerpTarget, domain: &str) -> String {
    format!("{PREFIX}{}@{domain}", tag(keys, target))
}

/// Reads a VERP address (or its local part) back, checking the signature with every key.
pub fn parse(keys: &Keys, address: &str) -> Option<VerpTarget> {
    let local = address.trim().trim_matches(['<', '>']).split('@').next()?.to_ascii_lowercase();
    parse_tag(keys, local.strip_prefix(PREFIX)?)
}

/// Reads a tag as `tag` writes it, checking the signature with every key.
fn parse_tag(keys: &Keys, tag: &str) -> Option<VerpTarget> {
    let mut parts = tag.split('-');
    let subscriber_id = from_base36(parts.next()?.strip_prefix('s')?)?;
    let issue_id = from_base36(parts.next()?.strip_prefix('i')?)?;
    let mac = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let target = VerpTarget { subscriber_id, issue_id };
    let input = mac_input(&target);
    let matches = (0..keys.key_count()).filter_map(|i| keys.short_tag(&[b"verp", &input], i)).any(|expected| constant_time_eq(expected.as_bytes(), mac.as_bytes()));
    matches.then_some(target)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn base36(mut n: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n <= 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

fn from_base36(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    i64::from_str_radix(s, 36).ok()
}

/// The `Message-ID` of one recipient's copy: `<RANDOM.TAG@domain>`. A bounce that names no
/// recipient but returns our message still maps back, and only through the signed tag.
pub fn message_id(keys: &Keys, target: VerpTarget, random: &str, domain: &str) -> String {
    format!("<{random}.{}@{domain}>", tag(keys, target))
}

/// Reads a `Message-ID` that `message_id` wrote.
pub fn parse_message_id(keys: &Keys, id: &str) -> Option<VerpTarget> {
    let local = id.trim().trim_matches(['<', '>']).split('@').next()?.to_ascii_lowercase();
    parse_tag(keys, local.split_once('.')?.1)
}

/// The `mailto:` unsubscribe address of `List-Unsubscribe`: `unsubscribe+s<subscriber>-l<list>-<mac>`,
/// signed like VERP so that mail to it can only unsubscribe the person it was sent to.
pub fn unsubscribe_address(keys: &Keys, subscriber_id: i64, list_id: i64, domain: &str) -> String {
    let mac = keys.short_tag(&[b"unsub", &pair(subscriber_id, list_id)], 0).expect("the current key exists");
    format!("unsubscribe+s{}-l{}-{mac}@{domain}", base36(subscriber_id), base36(list_id))
}

/// Reads an unsubscribe address back into (subscriber, list).
pub fn parse_unsubscribe(keys: &Keys, address: &str) -> Option<(i64, i64)> {
    let local = address.trim().trim_matches(['<', '>']).split('@').next()?.to_ascii_lowercase();
    let mut parts = local.strip_prefix("unsubscribe+")?.split('-');
    let subscriber_id = from_base36(parts.next()?.strip_prefix('s')?)?;
    let list_id = from_base36(parts.next()?.strip_prefix('l')?)?;
    let mac = parts.next()?;
    let input = pair(subscriber_id, list_id);
    let ok = (0..keys.key_count()).filter_map(|i| keys.short_tag(&[b"unsub", &input], i)).any(|t| constant_time_eq(t.as_bytes(), mac.as_bytes()));
    (ok && parts.next().is_none()).then_some((subscriber_id, list_id))
}

fn pair(a: i64, b: i64) -> [u8; 16] {
    mac_input(&VerpTarget { subscriber_id: a, issue_id: b })
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_message_id_names_its_recipient_only_with_a_good_signature() {
        let keys = Keys::new(b"k".to_vec(), vec![]);
        let target = VerpTarget { subscriber_id: 15, issue_id: 2 };
        let id = message_id(&keys, target, "a1b2c3", "news.example.org");
        assert_eq!(parse_message_id(&keys, &id), Some(target));
        assert_eq!(parse_message_id(&Keys::new(b"other".to_vec(), vec![]), &id), None);
        assert_eq!(parse_message_id(&keys, &id.replace("s","s1")), None);
        assert_eq!(parse_message_id(&keys, "<2.15.a1b2c3@news.example.org>"), None, "the old unsigned form is not trusted");
        assert_eq!(parse_message_id(&keys, "CAF=abc@mail.gmail.com"), None);
    }

    use super::*;

    #[test]
    fn verp_round_trips_and_refuses_forgeries() {
        let keys = Keys::new(b"k".to_vec(), vec![]);
        let target = VerpTarget { subscriber_id: 123_456, issue_id: 7 };
        let addr = address(&keys, target, "bounces.example.com");
        assert!(addr.starts_with("bounces+s2n9c-i7-") && addr.ends_with("@bounces.example.com"), "{addr}");
        assert_eq!(parse(&keys, &addr), Some(target));
        assert_eq!(parse(&keys, &addr.to_uppercase()), Some(target), "case-folded by an MTA");
        assert_eq!(parse(&keys, &format!("<{addr}>")), Some(target));
        let forged = addr.replace("s2n9c", "s2n9d");
        assert_eq!(parse(&keys, &forged), None);
        assert_eq!(parse(&Keys::new(b"other".to_vec(), vec![]), &addr), None);
        assert_eq!(parse(&keys, "bounces@example.com"), None);
    }

    #[test]
    fn unsubscribe_addresses_round_trip_and_differ_from_verp() {
        let keys = Keys::new(b"k".to_vec(), vec![]);
        let addr = unsubscribe_address(&keys, 42, 3, "example.org");
        assert_eq!(parse_unsubscribe(&keys, &addr), Some((42, 3)));
        assert_eq!(parse(&keys, &addr), None);
        assert_eq!(parse_unsubscribe(&keys, &addr.replace("-l3-", "-l4-")), None);
    }
}
