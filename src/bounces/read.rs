//! Reading one inbound message into a verdict, without the database: a DSN (RFC 3464), an ARF
//! complaint (RFC 5965), an auto-reply (RFC 3834 and the usual vacation styles), or a bounce in
//! prose (Exim, qmail, Exchange, Yahoo, Chinese providers…). Also collected: every address that
//! may be our VERP sender, and the returned original's Message-ID, for mapping to a subscriber.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::html::html_to_text;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, Message, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

use super::classify::{Reason, classify, find_enhanced_status, find_reply_code};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Hard,
    Soft,
    Complaint,
    AutoReply,
    NotBounce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Verp,
    Dsn,
    Arf,
    Heuristic,
    /// Mail to the `mailto:` address of `List-Unsubscribe`.
    Mailto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    Hard,
    Soft,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RecipientVerdict {
    pub address: String,
    pub kind: Option<AddressKind>,
    pub reason: Option<Reason>,
    pub status: Option<String>,
    pub action: Option<String>,
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub kind: Kind,
    pub source: Source,
    pub recipients: Vec<RecipientVerdict>,
    /// Addresses that may be our VERP envelope sender (the bounce's recipient headers, the
    /// report's Original-Mail-From, the returned message's Return-Path).
    #[serde(skip)]
    pub verp_candidates: Vec<String>,
    /// The returned original message's Message-ID, when the bounce carries it.
    #[serde(skip)]
    pub original_message_id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an RFC 5322 message: {0}")]
pub struct Unreadable(pub &'static str);

/// Reads a message. Only input that is not a message at all is an error.
///
/// The MIME parser panics on some malformed multipart structures (found by fuzzing, mail-parser
/// 0.11.9, "Invalid part ID"); such a message is unreadable, not a crash of the daemon.
pub fn read(raw: &[u8]) -> Result<Verdict, Unreadable> {
    std::panic::catch_unwind(|| read_message(raw)).unwrap_or(Err(Unreadable("its MIME structure is malformed beyond reading")))
}

/// Keeps the MIME parser's caught panics (see `read`) out of stderr: they are an unreadable
/// message, reported as such. Every other panic still reports as before.
pub fn quiet_parser_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.location().is_some_and(|l| l.file().contains("mail-parser")) {
            tracing::debug!(panic = %info, "the MIME parser gave up on a message");
        } else {
            report(info);
        }
    }));
}

fn read_message(raw: &[u8]) -> Result<Verdict, Unreadable> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(Unreadable("the input is empty"));
    }
    let message = MessageParser::default().parse(raw).ok_or(Unreadable("no header section"))?;
    if message.headers().is_empty() {
        return Err(Unreadable("no header section"));
    }
    // A report forwarded as an attachment (a mailbox rule, a colleague) is read as if it came directly.
    let carrier = report_carrier(&message, 3).unwrap_or(&message);
    let heuristic = |kind, recipients| Verdict { kind, source: Source::Heuristic, recipients, verp_candidates: Vec::new(), original_message_id: None };
    let mut verdict = if let Some(v) = delivery_status(carrier) {
        v
    } else if let Some(v) = feedback_report(carrier) {
        v
    } else if let Some(v) = prose_bounce(&message) {
        v
    } else if is_auto_reply(&message) {
        // About whoever replied: the From address.
        let from = message.from().and_then(|a| a.first()).and_then(|a| a.address());
        heuristic(Kind::AutoReply, from.map(|address| RecipientVerdict { address: address.to_string(), ..Default::default() }).into_iter().collect())
    } else {
        heuristic(Kind::NotBounce, Vec::new())
    };
    verdict.verp_candidates.extend(recipient_headers(&message));
    if !std::ptr::eq(carrier, &message) {
        verdict.verp_candidates.extend(recipient_headers(carrier));
    }
    if verdict.original_message_id.is_none() {
        verdict.original_message_id = returned_message_id(carrier).or_else(|| returned_message_id(&message));
    }
    Ok(verdict)
}

/// The message holding a delivery or feedback report: this one, or one attached to it (looking
/// `depth` levels down) when this one has none.
fn report_carrier<'a, 'x>(message: &'a Message<'x>, depth: usize) -> Option<&'a Message<'x>> {
    let report = ["delivery-status", "global-delivery-status", "feedback-report"];
    if !parts_of_type(message, "message", &report).is_empty() {
        return Some(message);
    }
    let depth = depth.checked_sub(1)?;
    message.parts.iter().filter_map(|p| p.message()).find_map(|m| report_carrier(m, depth))
}

/// The message's kind from its recipients' verdicts.
fn overall(recipients: &[RecipientVerdict]) -> Kind {
    if recipients.iter().any(|r| r.kind == Some(AddressKind::Hard)) {
        Kind::Hard
    } else if recipients.iter().any(|r| r.kind == Some(AddressKind::Soft)) {
        Kind::Soft
    } else {
        Kind::NotBounce
    }
}

fn parts_of_type<'a>(message: &'a Message<'a>, ctype: &str, subtypes: &[&str]) -> Vec<&'a mail_parser::MessagePart<'a>> {
    let mut found = Vec::new();
    for part in &message.parts {
        if let Some(ct) = part.content_type()
            && ct.ctype().eq_ignore_ascii_case(ctype)
            && ct.subtype().is_some_and(|s| subtypes.iter().any(|x| s.eq_ignore_ascii_case(x)))
        {
            found.push(part);
        }
    }
    found
}

/// RFC 3464 (and RFC 6533's global form): one verdict per recipient block.
fn delivery_status(message: &Message<'_>) -> Option<Verdict> {
    let part = parts_of_type(message, "message", &["delivery-status", "global-delivery-status"]).into_iter().next()?;
    let text = String::from_utf8_lossy(part.contents()).replace("\r\n", "\n");
    let mut blocks = text.split("\n\n").map(fields).filter(|f| !f.is_empty());
    let _per_message = blocks.next();
    let recipients: Vec<RecipientVerdict> = blocks.filter_map(|f| recipient_block(&f)).collect();
    if recipients.is_empty() {
        return None;
    }
    Some(Verdict { kind: overall(&recipients), source: Source::Dsn, recipients, verp_candidates: Vec::new(), original_message_id: None })
}

fn recipient_block(f: &[(String, String)]) -> Option<RecipientVerdict> {
    let get = |name: &str| f.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let typed = |v: String| v.split_once(';').map_or(v.clone(), |(_, a)| a.trim().to_string());
    let address = get("Final-Recipient").or_else(|| get("Original-Recipient")).map(typed)?.trim_matches(['<', '>']).to_string();
    let action = get("Action").map(|a| a.to_ascii_lowercase());
    let status = get("Status").map(|s| s.split_whitespace().next().unwrap_or_default().to_string());
    let diagnostic = get("Diagnostic-Code").map(typed);
    let remote_mta = get("Remote-MTA").map(typed);
    let success = matches!(action.as_deref(), Some("delivered" | "relayed" | "expanded"));
    // Failed with a temporary status: the sender retried until the message expired.
    let gave_up = action.as_deref() == Some("failed") && status.as_deref().is_some_and(|s| s.starts_with("4."));
    let (kind, reason) = if success {
        (None, None)
    } else if gave_up {
        (Some(AddressKind::Soft), Some(Reason::Expired))
    } else {
        let temporary = action.as_deref() == Some("delayed");
        let (hard, reason) = classify(status.as_deref(), diagnostic.as_deref().unwrap_or_default(), temporary);
        (Some(if hard { AddressKind::Hard } else { AddressKind::Soft }), Some(reason))
    };
    Some(RecipientVerdict { address, kind, reason, status, action, diagnostic, remote_mta })
}

/// "Name: value" fields with continuation lines, as in a DSN or feedback report block.
fn fields(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// RFC 5965: an abuse report is a complaint about the original recipient.
fn feedback_report(message: &Message<'_>) -> Option<Verdict> {
    let part = parts_of_type(message, "message", &["feedback-report"]).into_iter().next()?;
    let text = String::from_utf8_lossy(part.contents()).replace("\r\n", "\n");
    let f = fields(&text);
    let get = |name: &str| f.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let feedback_type = get("Feedback-Type").unwrap_or_default().to_ascii_lowercase();
    let kind = if matches!(feedback_type.as_str(), "abuse" | "fraud" | "virus" | "other" | "") { Kind::Complaint } else { Kind::NotBounce };
    let recipients = get("Original-Rcpt-To").or_else(|| get("Removal-Recipient")).map(|a| RecipientVerdict { address: a.trim_matches(['<', '>', ' ']).to_string(), ..Default::default() });
    let verp = get("Original-Mail-From").map(|a| a.trim_matches(['<', '>', ' ']).to_string());
    Some(Verdict { kind, source: Source::Arf, recipients: recipients.into_iter().collect(), verp_candidates: verp.into_iter().collect(), original_message_id: None })
}

/// Markers of a bounce written as prose, in the subject or the sender.
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliver", "undelivered", "delivery status notification (failure)", "delivery failure", "mail delivery failed", "failure notice", "returned mail",
    "delivery has failed", "could not be delivered", "non remis", "nicht zustellbar", "退信", "无法投递", "投递失败", "发送失败", "未能成功投递",
];
const BOUNCE_SENDERS: &[&str] = &["mailer-daemon", "postmaster", "mail delivery", "mail-daemon"];
/// Where the returned copy of the original starts in a prose bounce: addresses after it are not
/// failures.
/// Each counts only at the start of a line, after any dashes: "The original message was received
/// at …" (sendmail) opens the report, it does not end it.
const COPY_MARKERS: &[&str] = &[
    "this is a copy of the message", "below this line is a copy", "original message", "original-message", "possibly truncated original message",
    "a copy of the original message", "原始邮件", "原邮件",
];

/// Where the returned copy starts in a prose report (its length when there is none).
fn copy_start(body: &str) -> usize {
    let mut at = 0;
    for line in body.split_inclusive('\n') {
        let head = line.trim_start_matches(|c: char| c == '-' || c == '=' || c.is_whitespace()).to_lowercase();
        if COPY_MARKERS.iter().any(|m| head.starts_with(m)) {
            return at;
        }
        at += line.len();
    }
    body.len()
}

fn prose_bounce(message: &Message<'_>) -> Option<Verdict> {
    let subject = message.subject().unwrap_or_default().to_lowercase();
    let from = message.from().and_then(|a| a.first()).map(|a| format!("{} {}", a.name().unwrap_or_default(), a.address().unwrap_or_default()).to_lowercase()).unwrap_or_default();
    let looks = BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s)) || BOUNCE_SENDERS.iter().any(|s| from.contains(s));
    if !looks {
        return None;
    }
    let body = body_text(message);
    let lower = body.to_lowercase();
    let report = &body[..copy_start(&body)];
    let own: Vec<String> = message.from().into_iter().chain(message.to()).flat_map(|a| a.iter()).filter_map(|a| a.address()).map(|a| a.to_lowercase()).collect();
    let mut addresses: Vec<String> = Vec::new();
    for candidate in addresses_in(report) {
        let l = candidate.to_lowercase();
        if !own.contains(&l) && !l.starts_with("bounces+") && !l.starts_with("mailer-daemon") && !l.starts_with("postmaster") && !addresses.contains(&l) {
            addresses.push(l);
        }
    }
    let status = find_enhanced_status(report).map(str::to_string);
    let code = find_reply_code(report);
    let temporary = code.is_some_and(|c| c < 500) && !lower.contains("permanent");
    let diagnostic = report.lines().map(str::trim).find(|l| code.is_some_and(|c| l.contains(&c.to_string())) || status.as_deref().is_some_and(|s| l.contains(s))).map(str::to_string);
    let (hard, reason) = classify(status.as_deref(), report, temporary);
    let kind = Some(if hard { AddressKind::Hard } else { AddressKind::Soft });
    let recipients: Vec<RecipientVerdict> = addresses
        .into_iter()
        .map(|address| RecipientVerdict { address, kind, reason: Some(reason), status: status.clone(), action: Some("failed".into()), diagnostic: diagnostic.clone(), remote_mta: None })
        .collect();
    let kind = if recipients.is_empty() { if hard { Kind::Hard } else { Kind::Soft } } else { overall(&recipients) };
    Some(Verdict { kind, source: Source::Heuristic, recipients, verp_candidates: Vec::new(), original_message_id: None })
}

/// The first text body, decoded. A part labelled with a single-byte charset whose bytes are in
/// fact UTF-8 (Chinese providers do this) is read as UTF-8.
fn body_text(message: &Message<'_>) -> String {
    let decoded = message.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    let Some(part) = message.text_part(0) else { return decoded };
    let charset = part.content_type().and_then(|ct| ct.attribute("charset")).unwrap_or("us-ascii").to_ascii_lowercase();
    let single_byte = ["us-ascii", "ascii", "iso-8859", "iso8859", "latin", "windows-125", "cp125"].iter().any(|c| charset.starts_with(c));
    if !single_byte || decoded.is_ascii() {
        return decoded;
    }
    let raw = message.raw_message().get(part.raw_body_offset() as usize..part.raw_end_offset() as usize).unwrap_or_default();
    let bytes = match part.encoding {
        Encoding::Base64 => base64_decode(raw),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::None => Some(raw.to_vec()),
    };
    match bytes.map(String::from_utf8) {
        Some(Ok(text)) if !text.is_ascii() => if part.is_text_html() { html_to_text(&text) } else { text },
        _ => decoded,
    }
}

/// Email addresses in free text (between angle brackets or standing alone, after a label such as
/// `mailto:` or `收件人：`).
fn addresses_in(text: &str) -> Vec<String> {
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    text.split(|c: char| c.is_whitespace() || "<>()[]\"',;".contains(c))
        .filter_map(|w| {
            let (local, domain) = w.split_once('@')?;
            let local = local.rsplit(|c: char| !atext(c)).next()?.trim_matches('.');
            let domain = domain.split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-')).next()?.trim_end_matches('.');
            (!local.is_empty() && domain.contains('.') && !domain.starts_with('.')).then(|| format!("{local}@{domain}"))
        })
        .collect()
}

/// RFC 3834 and the vacation responders that ignore it.
fn is_auto_reply(message: &Message<'_>) -> bool {
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if header("Auto-Submitted").is_some_and(|v| v != "no") {
        return true;
    }
    if ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autoresponder"].iter().any(|h| header(h).is_some()) {
        return true;
    }
    if header("Precedence").is_some_and(|p| p == "auto_reply") {
        return true;
    }
    let subject = message.subject().unwrap_or_default().to_lowercase();
    ["out of office", "automatic reply", "auto-reply", "autoreply", "auto reply", "vacation", "away from", "自动回复", "abwesenheit", "réponse automatique"].iter().any(|s| subject.contains(s))
}

/// The bounce's own recipient headers, where an MTA puts the VERP address it delivered to.
fn recipient_headers(message: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To"] {
        for value in message.header_values(name) {
            if let Some(text) = value.as_text() {
                out.extend(addresses_in(text));
            } else if let Some(addr) = value.as_address() {
                out.extend(addr.iter().filter_map(|a| a.address()).map(str::to_string));
            }
        }
    }
    // The returned original's envelope sender, when the bounce includes it.
    for part in &message.parts {
        if let PartType::Message(inner) = &part.body {
            out.extend(inner.return_address().map(str::to_string));
        }
        if let Some(text) = returned_headers_text(part) {
            out.extend(text.lines().filter(|l| l.to_ascii_lowercase().starts_with("return-path:")).flat_map(addresses_in));
        }
    }
    out
}

fn returned_headers_text<'a>(part: &'a mail_parser::MessagePart<'a>) -> Option<&'a str> {
    let ct = part.content_type()?;
    let rfc822_headers = ct.ctype().eq_ignore_ascii_case("text") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"));
    rfc822_headers.then(|| part.text_contents()).flatten()
}

/// The Message-ID of the original the bounce returns (a message/rfc822 part, or its headers).
fn returned_message_id(message: &Message<'_>) -> Option<String> {
    for part in &message.parts {
        if let PartType::Message(inner) = &part.body
            && let Some(id) = inner.message_id()
        {
            return Some(id.to_string());
        }
        if let Some(text) = returned_headers_text(part) {
            let line = text.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:"))?;
            return Some(line.split_once(':')?.1.trim().trim_matches(['<', '>']).to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arbitrary bytes — truncated, binary, mixed with report markers — never panic the reader.
    #[test]
    fn never_panics_on_garbage() {
        let seeds: [&[u8]; 4] = [
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822;",
            "Subject: 退信\r\nFrom: MAILER-DAEMON\r\n\r\n550 收件人不存在 5.".as_bytes(),
            b"From: a\r\n\r\n\xff\xfe\x00<@>:\r\n--",
            b"Content-Type: message/feedback-report\r\n\r\nFeedback-Type:",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for seed in seeds {
            for n in 0..300 {
                let mut bytes = seed.to_vec();
                for _ in 0..(n % 40) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let at = (state as usize) % (bytes.len() + 1);
                    bytes.insert(at, (state >> 32) as u8);
                }
                bytes.truncate(bytes.len() - (n % bytes.len().max(1)).min(bytes.len()));
                let _ = read(&bytes);
            }
        }
    }

    #[test]
    fn finds_addresses_after_labels_and_the_copy_after_its_marker() {
        assert_eq!(addresses_in("收 件 人：chen.jing@qq.com，<mailto:a+1@x.example> b@c"), ["chen.jing@qq.com", "a+1@x.example"]);
        let sendmail = "The original message was received at Wed\n<u@x.example>\n   ----- Original message follows -----\nTo: v@x.example\n";
        assert_eq!(&sendmail[..copy_start(sendmail)], "The original message was received at Wed\n<u@x.example>\n");
    }

    #[test]
    fn a_human_reply_is_not_a_bounce() {
        let v = read(b"From: reader@example.com\r\nTo: newsletter@example.org\r\nSubject: Re: Tech\r\n\r\nThanks!\r\n").unwrap();
        assert_eq!((v.kind, v.recipients.len()), (Kind::NotBounce, 0));
        assert_eq!(read(b"   \r\n").err(), Some(Unreadable("the input is empty")));
    }
}
