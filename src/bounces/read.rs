//! Reading one inbound message into a verdict, without the database: a DSN (RFC 3464), an ARF
//! complaint (RFC 5965), an auto-reply (RFC 3834 and the usual vacation styles), or a bounce in
//! prose (Exim, qmail, Exchange, Yahoo, Chinese providers…). Also collected: every address that
//! may be our VERP sender, and the returned original's Message-ID, for mapping to a subscriber.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::html::html_to_text;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, Message, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

use super::classify::{Reason, classify, find_enhanced_status, find_reply_code, has_evidence};

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
    } else if let Some(v) = jmrp_report(&message) {
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

/// RFC 3464 (and RFC 6533's global form): one verdict per recipient block. A block whose
/// address is not an address (`LOCAL;jsmith`, an X.400 name) is read for the verdict but names
/// no one.
fn delivery_status(message: &Message<'_>) -> Option<Verdict> {
    let part = parts_of_type(message, "message", &["delivery-status", "global-delivery-status"]).into_iter().next()?;
    let text = String::from_utf8_lossy(part.contents()).replace("\r\n", "\n");
    let blocks = dsn_blocks(&text);
    if blocks.is_empty() {
        return None;
    }
    let human = body_text(message);
    let human = &human[..copy_start(&human)];
    let segments = Segments::new(human);
    let mut readings: Vec<RecipientVerdict> = blocks.iter().map(|f| recipient_block(f, &segments)).collect();
    let kind = overall(&readings);
    readings.retain(|r| !r.address.is_empty());
    let mut seen = std::collections::HashSet::new();
    let recipients: Vec<RecipientVerdict> = readings.into_iter().filter(|r| seen.insert(r.address.to_ascii_lowercase())).collect();
    Some(Verdict { kind, source: Source::Dsn, recipients, verp_candidates: Vec::new(), original_message_id: None })
}

/// The recipient blocks of DSN fields. Blocks are separated by blank lines, which some MTAs
/// fill with spaces; some leave out the per-message block, so any block naming a recipient is one.
/// Quoting (`> `) and indentation of a DSN pasted into text are removed.
fn dsn_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut block = String::new();
    for line in text.lines().chain([""]) {
        let unquoted = match line.strip_prefix('>') {
            Some(rest) => {
                let rest = rest.trim_start_matches('>');
                rest.strip_prefix(' ').unwrap_or(rest)
            }
            None => line,
        };
        if unquoted.trim().is_empty() {
            let f = fields(&block);
            if f.iter().any(|(k, _)| k.eq_ignore_ascii_case("Final-Recipient") || k.eq_ignore_ascii_case("Original-Recipient")) {
                blocks.push(f);
            }
            block.clear();
        } else {
            block.push_str(unquoted.trim_end());
            block.push('\n');
        }
    }
    blocks
}

/// One recipient's block; `human` is the report's text, read for this recipient when the block
/// itself says nothing telling (a bare 5.0.0, no diagnostic).
fn recipient_block(f: &[(String, String)], human: &Segments<'_>) -> RecipientVerdict {
    let get = |name: &str| f.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let typed = |v: String| v.split_once(';').map_or(v.clone(), |(_, a)| a.trim().to_string());
    let address = ["Final-Recipient", "Original-Recipient", "X-Actual-Recipient"].iter().filter_map(|n| get(n)).map(typed).find_map(|a| clean_address(&a)).unwrap_or_default();
    let action = get("Action").map(|a| a.to_ascii_lowercase());
    let status = get("Status").map(|s| s.split_whitespace().next().unwrap_or_default().to_string());
    let diagnostic = get("Diagnostic-Code").map(typed);
    let remote_mta = get("Remote-MTA").map(typed);
    let success = matches!(action.as_deref(), Some("delivered" | "relayed" | "expanded"));
    // Failed with a temporary status: the sender retried until the message expired.
    let gave_up = action.as_deref() == Some("failed") && status.as_deref().is_some_and(|s| s.starts_with("4."));
    let (kind, reason) = if success {
        (None, None)
    } else if gave_up && !diagnostic.as_deref().is_some_and(has_evidence) {
        (Some(AddressKind::Soft), Some(Reason::Expired))
    } else if gave_up {
        let (_, reason) = classify(status.as_deref(), diagnostic.as_deref().unwrap_or_default(), true);
        (Some(AddressKind::Soft), Some(if reason == Reason::Transient { Reason::Expired } else { reason }))
    } else {
        let temporary = action.as_deref() == Some("delayed") || status.as_deref().is_some_and(|s| s.starts_with("4."));
        let mut said = diagnostic.clone().unwrap_or_default();
        let generic = status.as_deref().is_none_or(|s| s.ends_with(".0.0") || s.ends_with(".0"));
        if generic && !has_evidence(&said) && !address.is_empty() {
            said = human.of(&address).unwrap_or_default().to_string();
        }
        let (hard, reason) = classify(status.as_deref().filter(|_| !generic), &said, temporary);
        (Some(if hard { AddressKind::Hard } else { AddressKind::Soft }), Some(reason))
    };
    RecipientVerdict { address, kind, reason, status, action, diagnostic, remote_mta }
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
    let kind = if matches!(feedback_type.as_str(), "abuse" | "fraud" | "virus" | "other" | "complaint" | "spam" | "") { Kind::Complaint } else { Kind::NotBounce };
    let recipients = get("Original-Rcpt-To").or_else(|| get("Removal-Recipient")).and_then(|a| clean_address(&a)).map(|address| RecipientVerdict { address, ..Default::default() });
    let verp = get("Original-Mail-From").map(|a| a.trim_matches(['<', '>', ' ']).to_string());
    Some(Verdict { kind, source: Source::Arf, recipients: recipients.into_iter().collect(), verp_candidates: verp.into_iter().collect(), original_message_id: None })
}

/// Outlook.com's junk-mail reporting program (JMRP) without ARF: the reported message attached,
/// its recipient in the `X-HmXmrOriginalRecipient` header Outlook.com adds to it.
/// AOL's older SCOMP reports likewise (the reported message attached, its recipient redacted).
fn jmrp_report(message: &Message<'_>) -> Option<Verdict> {
    let from = message.from().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_ascii_lowercase();
    let attached = || message.parts.iter().filter_map(|p| p.message()).next();
    let reported = match message.parts.iter().filter_map(|p| p.message()).find(|m| m.header_raw("X-HmXmrOriginalRecipient").is_some()) {
        Some(m) => m,
        None if ["scomp@aol.net", "staff@hotmail.com"].contains(&from.as_str()) => attached()?,
        None => return None,
    };
    let address = reported.header_raw("X-HmXmrOriginalRecipient").and_then(|v| addresses_in(v).into_iter().next());
    let recipients = address.map(|address| RecipientVerdict { address, ..Default::default() }).into_iter().collect();
    Some(Verdict { kind: Kind::Complaint, source: Source::Heuristic, recipients, verp_candidates: Vec::new(), original_message_id: None })
}

/// Markers of a bounce written as prose, in the subject or the sender.
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliver", "undelivered", "delivery status notification (failure)", "delivery status notification (delay)", "delivery failure", "mail delivery failed",
    "failure notice", "returned mail", "delivery has failed", "could not be delivered", "non remis", "nicht zustellbar", "unzustellbar", "nondeliver", "non-deliver",
    "non deliver", "delivery notification", "mail delivery status", "delivery status notification: error", "delivery status notification: delay", "mail system error",
    "delivery problem", "failed delivery", "delivery failed", "message not delivered", "was not delivered", "mail could not", "message delivery failure",
    "warning: could not send", "mail failure", "no se puede entregar", "não entregue", "non recapitabile", "onbestelbaar", "olevererbart", "недоставлен",
    "unable to deliver", "delivery delayed", "delayed mail", "message delayed", "mail delivery problem", "undeliverable mail", "delivery final failure",
    "无法发送", "未送达", "반송", "전송 실패", "配信エラー", "delivery_failure", "delivery status",
    "не доставлено", "配信不能", "配送エラー", "退信", "无法投递", "投递失败", "发送失败", "未能成功投递", "退回",
];
const BOUNCE_SENDERS: &[&str] = &["mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster", "mail delivery", "mail-daemon", "microsoftexchange", "mail administrator", "mail.delivery"];
/// Where the returned copy of the original starts in a prose bounce: addresses after it are not
/// failures.
/// Each counts only at the start of a line, after any dashes: "The original message was received
/// at …" (sendmail) opens the report, it does not end it.
const COPY_MARKERS: &[&str] = &[
    "this is a copy of the message", "below this line is a copy", "below is a copy", "original message", "original-message", "possibly truncated original message",
    "a copy of the original message", "the original message headers", "message headers follow", "unsent message below", "returned message", "headers of the original",
    "原始邮件", "原邮件", "以下为原邮件", "以下是原邮件", "原信件",
];
/// Header names that open the returned copy (or its headers) when they follow a marker.
const COPY_HEADERS: &[&str] = &["return-path:", "received:", "from:", "to:", "subject:", "date:", "message-id:", "mime-version:", "dkim-signature:", "x-", "content-type:", "reply-to:"];
/// Lines of the report that quote the original's headers rather than name a failed recipient.
const QUOTED_HEADERS: &[&str] = &[
    "return-path:", "from:", "to:", "cc:", "bcc:", "reply-to:", "sender:", "errors-to:", "list-", "message-id:", "in-reply-to:", "references:", "received:",
    "delivered-to:", "x-original-to:", "envelope-to:", "resent-", "x-envelope-from:", "x-sender:", "original-message-id:", "x-original-message-id:", "x-message-id:",
    "message-id ", "dkim-signature:", "feedback-id:",
];

/// Where the returned copy starts in a prose report (its length when there is none): at a
/// marker whose next non-blank line is a header, or at a marker that ends the text. A marker
/// followed by prose ("原邮件信息：" and a summary) introduces the report, it is not the copy.
/// Some MTAs paste the copy with no marker: a `Received:` or `Return-Path:` line followed by
/// another header starts it too.
fn copy_start(body: &str) -> usize {
    let lines: Vec<(usize, &str)> = body.split_inclusive('\n').scan(0, |at, l| {
        let start = *at;
        *at += l.len();
        Some((start, l))
    }).collect();
    let header_like = |l: &str| l.split_once(':').is_some_and(|(name, _)| !name.is_empty() && name.len() < 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    for (i, (at, line)) in lines.iter().enumerate() {
        let bare = line.get(..9).is_some_and(|h| h.eq_ignore_ascii_case("received:")) || line.get(..12).is_some_and(|h| h.eq_ignore_ascii_case("return-path:"));
        if bare && lines[i + 1..].iter().take(4).any(|(_, l)| header_like(l) && !l.starts_with([' ', '\t'])) {
            return *at;
        }
        let head: String = line.trim_start_matches(|c: char| c == '-' || c == '=' || c == '*' || c == '_' || c.is_whitespace()).chars().take(48).collect::<String>().to_lowercase();
        if !COPY_MARKERS.iter().any(|m| head.starts_with(m)) {
            continue;
        }
        match lines[i + 1..].iter().map(|(_, l)| l.trim()).find(|l| !l.is_empty()) {
            None => return *at,
            Some(next) if COPY_HEADERS.iter().any(|h| next.to_lowercase().starts_with(h)) => return *at,
            Some(_) => {}
        }
    }
    body.len()
}

/// A report cut into the parts about each address it names: from the line of an address's
/// first mention to the next line that names another address (or the end). Built in one pass,
/// so a report with thousands of recipients costs no more than reading it.
struct Segments<'a> {
    report: &'a str,
    /// Each line's start, and the addresses it names (lower case).
    lines: Vec<(usize, Vec<String>)>,
    first: std::collections::HashMap<String, usize>,
}

impl<'a> Segments<'a> {
    fn new(report: &'a str) -> Self {
        let mut lines = Vec::new();
        let mut first = std::collections::HashMap::new();
        let mut at = 0;
        for line in report.split_inclusive('\n') {
            let named: Vec<String> = if line.contains('@') { addresses_in(line).into_iter().map(|a| a.to_ascii_lowercase()).collect() } else { Vec::new() };
            for a in &named {
                first.entry(a.clone()).or_insert(lines.len());
            }
            lines.push((at, named));
            at += line.len();
        }
        Self { report, lines, first }
    }

    /// The part about `address`, `None` when the report does not name it.
    fn of(&self, address: &str) -> Option<&'a str> {
        let address = address.to_ascii_lowercase();
        let i = *self.first.get(&address)?;
        let next = self.lines[i + 1..].iter().find(|(_, named)| !named.is_empty() && !named.contains(&address) );
        let end = next.map_or(self.report.len(), |(at, _)| *at);
        Some(&self.report[self.lines[i].0..end])
    }
}

fn prose_bounce(message: &Message<'_>) -> Option<Verdict> {
    let subject = message.subject().unwrap_or_default().to_lowercase();
    let from = message.from().and_then(|a| a.first()).map(|a| format!("{} {}", a.name().unwrap_or_default(), a.address().unwrap_or_default()).to_lowercase()).unwrap_or_default();
    let failed_header: Vec<String> = message.header_values("X-Failed-Recipients").filter_map(|v| v.as_text()).flat_map(addresses_in).collect();
    let ndr_header = message.header_raw("X-MS-Exchange-Message-Is-Ndr").is_some();
    let report_type = message.content_type().is_some_and(|ct| {
        ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report")) && ct.attribute("report-type").is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    });
    let bounce_subject = BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s));
    let looks = bounce_subject || BOUNCE_SENDERS.iter().any(|s| from.contains(s)) || !failed_header.is_empty() || ndr_header || report_type;
    // A postmaster's vacation reply is a reply: a bounce never has an auto-reply's subject.
    if !looks || (!bounce_subject && failed_header.is_empty() && !ndr_header && auto_reply_subject(&subject)) {
        return None;
    }
    let body = body_text(message);
    let report = &body[..copy_start(&body)];
    let lower = report.to_lowercase();
    let mut excluded: Vec<String> = message.from().into_iter().chain(message.to()).flat_map(|a| a.iter()).filter_map(|a| a.address()).map(str::to_lowercase).collect();
    excluded.extend(original_senders(message, &body[report.len()..]));
    let eligible = |a: &str| !excluded.iter().any(|x| x.eq_ignore_ascii_case(a)) && !is_service_address(a);
    let mut addresses: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // Exim names its failed recipients in a header: the most reliable list there is.
    let named = failed_header.iter().filter(|a| eligible(a)).map(|a| a.to_lowercase());
    let found = report.lines().filter(|l| !is_quoted_header(l)).flat_map(addresses_in).filter(|a| eligible(a)).map(|a| a.to_lowercase());
    let candidates: Vec<String> = if failed_header.iter().any(|a| eligible(a)) { named.collect() } else { found.collect() };
    for candidate in candidates {
        if seen.insert(candidate.clone()) {
            addresses.push(candidate);
        }
    }
    let permanent = lower.contains("permanent") || lower.contains("fatal error");
    // A delay warning: the sender is still trying, whatever the last error sounded like.
    let warning = ["has not yet been delivered", "still being retried", "will be retried", "will keep trying", "warning: message", "this is a warning", "delivery delayed", "delayed mail", "延迟"]
        .iter()
        .any(|p| lower.contains(p) || subject.contains(p));
    let read = |text: &str| {
        let status = find_enhanced_status(text).map(str::to_string);
        let code = find_reply_code(text);
        let temporary = warning || ((code.is_some_and(|c| c < 500) || status.as_deref().is_some_and(|s| s.starts_with("4."))) && !permanent);
        let diagnostic = text.lines().map(str::trim).find(|l| code.is_some_and(|c| l.contains(&c.to_string())) || status.as_deref().is_some_and(|s| l.contains(s))).map(str::to_string);
        let (hard, reason) = classify(status.as_deref(), text, temporary);
        (hard, reason, status, diagnostic)
    };
    // Some MTAs write the DSN fields into the text instead of a message/delivery-status part.
    if report.to_ascii_lowercase().contains("final-recipient:") {
        let inline = dsn_blocks(report);
        if !inline.is_empty() {
            let segments = Segments::new(report);
            let mut seen = std::collections::HashSet::new();
            let readings: Vec<RecipientVerdict> = inline.iter().map(|f| recipient_block(f, &segments)).collect();
            let kind = overall(&readings);
            let recipients = readings.into_iter().filter(|r| !r.address.is_empty() && eligible(&r.address) && seen.insert(r.address.to_ascii_lowercase())).collect();
            return Some(Verdict { kind, source: Source::Heuristic, recipients, verp_candidates: Vec::new(), original_message_id: None });
        }
    }
    let whole = read(report);
    // A success notice in prose (no DSN part) is about a delivery, not a failure.
    let delivered = ["successfully delivered", "delivery to the following recipients succeeded", "delivered to the following recipient", "successfully relayed", "delivery succeeded"];
    if delivered.iter().any(|p| lower.contains(p)) && !has_evidence(report) && find_reply_code(report).is_none_or(|c| c < 400) {
        let recipients = addresses.into_iter().map(|address| RecipientVerdict { address, action: Some("delivered".into()), ..Default::default() }).collect();
        return Some(Verdict { kind: Kind::NotBounce, source: Source::Heuristic, recipients, verp_candidates: Vec::new(), original_message_id: None });
    }
    let segments = Segments::new(report);
    let recipients: Vec<RecipientVerdict> = addresses
        .iter()
        .map(|address| {
            // With several recipients, each is read from its own lines when they say enough.
            let own = (addresses.len() > 1).then(|| segments.of(address)).flatten().filter(|s| has_evidence(s)).map(read);
            let (hard, reason, status, diagnostic) = own.unwrap_or_else(|| whole.clone());
            let kind = Some(if hard { AddressKind::Hard } else { AddressKind::Soft });
            RecipientVerdict { address: address.clone(), kind, reason: Some(reason), status, action: Some("failed".into()), diagnostic, remote_mta: None }
        })
        .collect();
    let kind = if recipients.is_empty() { if whole.0 { Kind::Hard } else { Kind::Soft } } else { overall(&recipients) };
    Some(Verdict { kind, source: Source::Heuristic, recipients, verp_candidates: Vec::new(), original_message_id: None })
}

fn is_quoted_header(line: &str) -> bool {
    let l = line.trim_start().to_ascii_lowercase();
    QUOTED_HEADERS.iter().any(|h| l.starts_with(h))
}

/// Addresses that are never a failed recipient: reporting systems, our own VERP senders and list
/// machinery (ours or another list manager's, e.g. Mailman's `mailman.0.…@` VERP), and message
/// IDs quoted in prose (Postfix's `20261125061709.6F1A29DA201@host`: more digits than a phone
/// number or a QQ number has).
fn is_service_address(address: &str) -> bool {
    let local = address.split('@').next().unwrap_or_default().to_ascii_lowercase();
    if local.bytes().filter(u8::is_ascii_digit).count() >= 14 {
        return true;
    }
    ["bounces+", "bounce+", "bounce-", "mailman.", "owner-", "mailer-daemon", "postmaster", "mailer_daemon"].iter().any(|p| local.starts_with(p))
        || ["abuse", "hostmaster", "noc", "helpdesk"].contains(&local.as_str())
        || ["-bounces", "-owner", "-request", "-admin"].iter().any(|s| local.ends_with(s) || local.contains(&format!("{s}+")))
}

/// The returned original's own sender-side addresses (From, Reply-To, Sender, Return-Path, list
/// headers), from an attached copy or the copy quoted after the report: never a failed recipient.
fn original_senders(message: &Message<'_>, quoted: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in &message.parts {
        if let PartType::Message(inner) = &part.body {
            for list in [inner.from(), inner.reply_to(), inner.sender()].into_iter().flatten() {
                out.extend(list.iter().filter_map(|a| a.address()).map(str::to_lowercase));
            }
            out.extend(inner.return_address().map(str::to_lowercase));
        }
    }
    let senders = ["from:", "reply-to:", "sender:", "return-path:", "errors-to:", "list-"];
    out.extend(quoted.lines().filter(|l| senders.iter().any(|h| l.to_ascii_lowercase().starts_with(h))).flat_map(addresses_in).map(|a| a.to_lowercase()));
    out
}

/// The first text body, decoded. Text whose declared charset does not fit its bytes is read as
/// what the bytes are: UTF-8 labelled as a single-byte charset, GB18030/GBK labelled as
/// anything else (Chinese providers do both).
fn body_text(message: &Message<'_>) -> String {
    // The first text body that names an address or a reply (an empty or boilerplate first part
    // is skipped), else the first.
    let says = |t: &str| t.contains('@') || find_reply_code(t).is_some();
    let index = (0..4).find(|i| message.body_text(*i).is_some_and(|t| says(&t))).unwrap_or(0);
    let decoded = message.body_text(index).map(|b| b.into_owned()).unwrap_or_default();
    let Some(part) = message.text_part(index as u32) else { return decoded };
    let charset = part.content_type().and_then(|ct| ct.attribute("charset")).unwrap_or("us-ascii").to_ascii_lowercase();
    let single_byte = ["us-ascii", "ascii", "iso-8859", "iso8859", "latin", "windows-125", "cp125"].iter().any(|c| charset.starts_with(c));
    let utf8 = charset.starts_with("utf-8") || charset.starts_with("utf8");
    if !(single_byte || utf8) || decoded.is_ascii() {
        return decoded;
    }
    let raw = message.raw_message().get(part.raw_body_offset() as usize..part.raw_end_offset() as usize).unwrap_or_default();
    let bytes = match part.encoding {
        Encoding::Base64 => base64_decode(raw),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::None => Some(raw.to_vec()),
    };
    let Some(bytes) = bytes else { return decoded };
    let text = match String::from_utf8(bytes) {
        Ok(text) if single_byte && !text.is_ascii() => text,
        Ok(_) => return decoded,
        Err(e) => match gb18030(e.as_bytes()) {
            Some(text) => text,
            None => return decoded,
        },
    };
    if part.is_text_html() { html_to_text(&text) } else { text }
}

/// The bytes read as GB18030 (a superset of GBK and GB2312), when that reads cleanly and yields
/// Chinese text.
fn gb18030(bytes: &[u8]) -> Option<String> {
    let decode = mail_parser::decoders::charsets::map::charset_decoder(b"gb18030")?;
    let text = decode(bytes);
    let clean = !text.contains('\u{fffd}');
    let chinese = text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    (clean && chinese).then_some(text)
}

/// Email addresses in free text (between angle brackets or standing alone, after a label such as
/// `mailto:` or `收件人：`), with known wrappers removed (`SMTP=`, `RFC822;`, brackets, quotes,
/// trailing dots). Only ASCII addresses are taken: a stray byte of a mis-decoded charset must
/// never become part of an address.
fn addresses_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "<>()[]\"',;".contains(c)).filter_map(clean_address).collect()
}

/// One address from a token, or `None` when the token is not one.
fn clean_address(token: &str) -> Option<String> {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let token = token.trim().trim_matches(['<', '>', '"', '\'', ' ']);
    let (local, domain) = token.rsplit_once('@')?;
    let mut local = local.rsplit(|c: char| !atext(c)).next()?.trim_matches('.');
    for prefix in ["smtp=", "rfc822=", "ex="] {
        if local.len() > prefix.len() && local[..prefix.len()].eq_ignore_ascii_case(prefix) {
            local = &local[prefix.len()..];
        }
    }
    let domain = domain.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).next()?.trim_end_matches('.');
    // Exchange's encapsulated X.500 names (IMCEAEX-…) and X.400 O/R names are not mailboxes.
    let x400 = (local.contains('/') && local.contains('=')) || local.to_ascii_lowercase().starts_with("imcea");
    let labels_ok = domain.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    let tld_ok = domain.rsplit('.').next().is_some_and(|t| t.len() >= 2 && t.chars().any(|c| c.is_ascii_alphabetic()));
    (!local.is_empty() && local.len() <= 64 && domain.contains('.') && labels_ok && tld_ok && !x400).then(|| format!("{local}@{domain}"))
}

/// RFC 3834 and the vacation responders that ignore it.
fn is_auto_reply(message: &Message<'_>) -> bool {
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if header("Auto-Submitted").is_some_and(|v| v != "no") {
        return true;
    }
    if ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autoresponder", "X-Mail-Autoreply", "X-Vacation", "X-Zimbra-Autoreply"].iter().any(|h| header(h).is_some()) {
        return true;
    }
    if header("Precedence").is_some_and(|p| p == "auto_reply") {
        return true;
    }
    if auto_reply_subject(&message.subject().unwrap_or_default().to_lowercase()) {
        return true;
    }
    // No header, no telling subject ("Re: …"): the opening words of the text.
    let opening: String = message.body_text(0).unwrap_or_default().chars().take(400).collect::<String>().to_lowercase();
    [
        "out of the office", "out of office", "on vacation", "on annual leave", "on leave until", "away from the office", "away from my desk", "this is an automatic reply",
        "this is an automated reply", "auto-reply", "autoreply", "i am currently away", "i'm currently away", "自动回复", "休假", "abwesend", "absent du bureau",
    ]
    .iter()
    .any(|p| opening.contains(p))
}

/// `subject` in lower case.
fn auto_reply_subject(subject: &str) -> bool {
    [
        "out of office", "out of the office", "automatic reply", "auto-reply", "autoreply", "auto reply", "auto response", "autoresponse", "vacation", "away from",
        "自动回复", "自動回覆", "自動応答", "自動返信", "不在通知", "abwesenheit", "außer haus", "réponse automatique", "respuesta automática", "resposta automática",
        "risposta automatica", "automatisch antwoord", "afwezig", "autosvar", "automaattinen vastaus", "odpowiedź automatyczna", "автоответ", "автоматический ответ",
    ]
    .iter()
    .any(|s| subject.contains(s))
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
        let seeds: [&[u8]; 7] = [
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822;",
            "Subject: 退信\r\nFrom: MAILER-DAEMON\r\n\r\n550 收件人不存在 5.".as_bytes(),
            b"From: a\r\n\r\n\xff\xfe\x00<@>:\r\n--",
            b"Content-Type: message/feedback-report\r\n\r\nFeedback-Type:",
            "From: MAILER-DAEMON\r\nX-Failed-Recipients: a@b.cn\r\n\r\n> Final-Recipient: rfc822; a@b.cn\r\n> Status: 5.1.1\r\nReceived: 收件人\r\nFrom: x@y.z\r\n".as_bytes(),
            b"From: staff@hotmail.com\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: message/rfc822\r\n\r\nX-HmXmrOriginalRecipient: <a@b.c>\r\n",
            "Subject: Undeliverable\r\n\r\nSMTP=IMCEAEX-_O=X@y.z 'a@b.c'; #< #5.1.1 smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound>\r\n退".as_bytes(),
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
    fn message_ids_and_list_machinery_are_not_recipients() {
        for not_one in ["20261125061709.6F1A29DA201@out1.news.example.org", "mailman.0.15a2.x@lists.other.example", "news-bounces@lists.example.org", "bounces+s1-i3-x@bounce.news.example.org"] {
            assert!(is_service_address(not_one), "{not_one}");
        }
        for reader in ["13812345678@139.com", "123456789@qq.com", "jane.doe@example.com"] {
            assert!(!is_service_address(reader), "{reader}");
        }
        assert_eq!(clean_address("'SMTP=j.doe@legacy.example'."), Some("j.doe@legacy.example".into()));
        assert_eq!(clean_address("IMCEAEX-_O=CONTOSO_CN=JSMITH@contoso.example"), None);
        assert_eq!(clean_address("yy.reader@mailhost"), None, "a host name without a domain");
    }

    #[test]
    fn finds_addresses_after_labels_and_the_copy_after_its_marker() {
        assert_eq!(addresses_in("收 件 人：chen.jing@qq.com，<mailto:a+1@x.example> b@c"), ["chen.jing@qq.com", "a+1@x.example"]);
        let sendmail = "The original message was received at Wed\n<u@x.example>\n   ----- Original message follows -----\nTo: v@x.example\n";
        assert_eq!(&sendmail[..copy_start(sendmail)], "The original message was received at Wed\n<u@x.example>\n");
    }

    /// Text cut at byte offsets must stay on character boundaries: a report in Chinese is read,
    /// not refused as unreadable because a slice panicked.
    #[test]
    fn multibyte_lines_are_read_not_refused() {
        let raw = "From: MAILER-DAEMON@mx.example.cn\r\nSubject: 退信\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n收件人不存在收件人不存在\r\n收件人：a.b@example.cn\r\nReceived：来自\r\n".as_bytes();
        let v = read(raw).expect("a readable bounce");
        assert_eq!((v.kind, v.recipients.iter().map(|r| r.address.as_str()).collect::<Vec<_>>()), (Kind::Hard, vec!["a.b@example.cn"]));
    }

    #[test]
    fn a_human_reply_is_not_a_bounce() {
        let v = read(b"From: reader@example.com\r\nTo: newsletter@example.org\r\nSubject: Re: Tech\r\n\r\nThanks!\r\n").unwrap();
        assert_eq!((v.kind, v.recipients.len()), (Kind::NotBounce, 0));
        assert_eq!(read(b"   \r\n").err(), Some(Unreadable("the input is empty")));
    }
}
