//! Personal data kept out of what is stored for diagnosis. A relay's reply ("550 5.1.1
//! <reader@example.org>: user unknown") and a bounce's diagnostic name the reader; stored as they
//! are, they outlive an erasure in the delivery log and the append-only event log. So every
//! address is replaced before such text is written — which also makes the same failure for
//! different readers read the same.

use std::borrow::Cow;

/// What an address is replaced with.
pub const ADDRESS: &str = "[address]";

/// `text` with every address-like `local@domain.tld` replaced by [`ADDRESS`].
pub fn scrub_addresses(text: &str) -> Cow<'_, str> {
    if !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // byte offset in `text` up to which `out` is complete
    let mut i = 0;
    let mut changed = false;
    while i < chars.len() {
        if chars[i].1 != '@' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && is_local(chars[start - 1].1) && chars[start - 1].0 >= copied {
            start -= 1;
        }
        // A quoted local part (`"jo doe"@example.org`, in JSON `\"jo doe\"@…`): back to its
        // opening quote, escape included. A local part is at most 64 characters.
        if start == i && i > 0 && chars[i - 1].1 == '"' {
            let close = i - 1 - usize::from(i >= 2 && chars[i - 2].1 == '\\');
            if let Some(open) = (close.saturating_sub(66)..close).rev().find(|&k| chars[k].1 == '"' && chars[k].0 >= copied) {
                start = if open > 0 && chars[open - 1].1 == '\\' && chars[open - 1].0 >= copied { open - 1 } else { open };
            }
        }
        let mut end = i + 1;
        while end < chars.len() && is_domain(chars[end].1) {
            end += 1;
        }
        // A sentence may end right after the address.
        while end > i + 1 && matches!(chars[end - 1].1, '.' | '-') {
            end -= 1;
        }
        let domain: String = chars[i + 1..end].iter().map(|&(_, c)| c).collect();
        if start < i && domain.contains('.') && !domain.starts_with('.') {
            out.push_str(&text[copied..chars[start].0]);
            out.push_str(ADDRESS);
            copied = chars.get(end).map_or(text.len(), |&(at, _)| at);
            changed = true;
        }
        i = end.max(i + 1);
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// RFC 5322 atext and dots, and any letter (addresses may be internationalised). Not `"` or
/// `\`, so a JSON document stays one.
fn is_local(c: char) -> bool {
    c.is_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn is_domain(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '.'
}

/// Whether a subscriber's attributes hold a NUL character in a key or a text: refused on input,
/// as no backend should have to store one (PostgreSQL cannot).
pub fn attributes_hold_nul(attributes: &serde_json::Map<String, serde_json::Value>) -> bool {
    fn value(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(value),
            serde_json::Value::Object(map) => attributes_hold_nul(map),
            _ => false,
        }
    }
    attributes.iter().any(|(k, v)| k.contains('\0') || value(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_replies_and_json_are_replaced() {
        assert_eq!(scrub_addresses("550 5.1.1 <Reader.One+news@Example.ORG>: Recipient address rejected"), "550 5.1.1 <[address]>: Recipient address rejected");
        assert_eq!(scrub_addresses("mail for 读者@例子.中国 and x@y.example."), "mail for [address] and [address].");
        assert_eq!(scrub_addresses(r#"{"error":"550 a@b.example: no","code":550}"#), r#"{"error":"550 [address]: no","code":550}"#);
        assert_eq!(scrub_addresses("a@b.example,c@d.example"), "[address],[address]");
        assert_eq!(scrub_addresses(r#"550 <"jo doe"@example.org> unknown"#), "550 <[address]> unknown");
        let json = serde_json::json!({"error": "550 <\"jo doe\"@example.org> unknown"}).to_string();
        let scrubbed = scrub_addresses(&json);
        assert!(!scrubbed.contains("jo doe") && serde_json::from_str::<serde_json::Value>(&scrubbed).is_ok(), "{scrubbed}");
        serde_json::from_str::<serde_json::Value>(&scrub_addresses(r#"{"d":"\"q\"@x.example \\@y.example"}"#)).expect("still JSON");
    }

    #[test]
    fn text_without_addresses_is_unchanged() {
        // Nothing here is a routable address (`user@localhost` included: staff may need to see it).
        for text in ["451 4.7.1 greylisted", "@ the start", "user@localhost", "at@.", "end @", "a@b", "@@@"] {
            assert_eq!(scrub_addresses(text), text);
        }
    }
}
