//! `bounce ingest` end to end: real sends through smtp-sink, the bounces that would come back,
//! and the policy applied to the subscribers.

mod support;

use support::Tidings;
use support::smtp::Sink;

const ISSUE: &str = "+++
list = \"news\"
slug = \"2026-11\"
title = \"Tech Newsletter, November 2026\"
date = 2026-11-20
+++

Hello.
";

/// Three confirmed readers, the issue sent to them through smtp-sink; returns the VERP sender
/// each reader's message went out with.
fn sent(t: &mut Tidings) -> (Sink, std::collections::HashMap<String, String>) {
    let sink = Sink::start(&[]);
    t.set_env("TIDINGS_SMTP__TRANSPORT", "smtp");
    t.set_env("TIDINGS_SMTP__PORT", &sink.port.to_string());
    t.set_env("TIDINGS_SECURITY__SECRET_KEY", "bounce-test-key-0123456789abcdef0123456789");
    t.set_env("TIDINGS_BOUNCE__SOFT_BOUNCE_THRESHOLD", "2");
    t.ok(&["list", "create", "news", "--name", "Tech News"]);
    t.ok(&["list", "create", "digest", "--name", "Digest"]);
    for r in ["reader1@example.com", "reader2@example.com", "reader3@example.com"] {
        t.ok(&["subscriber", "add", r, "--list", "news", "--confirmed"]);
    }
    t.ok(&["subscriber", "add", "reader3@example.com", "--list", "digest", "--confirmed"]);
    let issue = t.write("i.md", ISSUE);
    t.ok(&["issue", "add", &issue]);
    t.ok(&["issue", "send", "2026-11"]);
    t.ok(&["deliver", "--until-idle"]);
    let dump = sink.dump();
    let mut verp = std::collections::HashMap::new();
    let mut sender = String::new();
    for line in dump.lines() {
        if let Some(s) = line.strip_prefix("X-Mail-Args: <") {
            sender = s.split('>').next().unwrap().to_string();
        }
        if let Some(r) = line.strip_prefix("X-Rcpt-Args: <") {
            verp.insert(r.split('>').next().unwrap().to_string(), sender.clone());
        }
    }
    assert_eq!(verp.len(), 3);
    (sink, verp)
}

fn dsn(to: &str, rcpt: &str, action: &str, status: &str, diagnostic: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b1@mx.example.com>\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\nRemote-MTA: dns; mail.example.com\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n--B--\r\n"
    )
}

#[test]
fn a_hard_bounce_through_verp_suppresses_the_reader_and_the_next_send_skips_them() {
    let mut t = Tidings::new();
    let (sink, verp) = sent(&mut t);
    // Delivered to the VERP address, naming a forwarding address the reader never gave us.
    let bounce = t.write("b.eml", dsn(&verp["reader1@example.com"], "forwarded@elsewhere.example", "failed", "5.1.1", "550 5.1.1 <forwarded@elsewhere.example>: User unknown"));
    let v = t.json(&["bounce", "ingest", &bounce]);
    assert_eq!((v["kind"].as_str(), v["source"].as_str()), (Some("hard"), Some("dsn")), "{v}");
    assert_eq!(v["subscriber"], "reader1@example.com", "VERP names the reader: {v}");
    assert_eq!(v["issue"], "2026-11");
    assert_eq!(v["recipients"][0]["reason"], "user_unknown");
    assert_eq!(v["recipients"][0]["remote_mta"], "mail.example.com");

    let shown = t.json(&["subscriber", "show", "reader1@example.com"]);
    assert_eq!(shown["status"], "bounced", "{shown}");
    assert_eq!(shown["bounces"][0]["source"], "dsn");
    assert!(t.json(&["issue", "status", "2026-11"])["deliveries"]["bounced"] == 1, "the delivery is counted as bounced");
    // Suppressed: an import cannot bring the address back…
    let csv = t.write("again.csv", "email\nREADER1@example.com\n");
    let report = t.json(&["subscriber", "import", &csv, "--list", "digest", "--confirmed"]);
    assert_eq!(report["report"]["skipped"], 1, "{report}");
    // …and the next send leaves them out.
    let next = t.write("n.md", ISSUE.replace("2026-11", "2026-12"));
    t.ok(&["issue", "add", &next]);
    t.ok(&["issue", "send", "2026-12"]);
    t.ok(&["deliver", "--until-idle"]);
    let second: Vec<String> = sink.recipients().into_iter().skip(3).collect();
    assert_eq!(second.len(), 2);
    assert!(!second.contains(&"reader1@example.com".to_string()));
}

#[test]
fn soft_bounces_count_toward_the_threshold_but_blocks_never_do() {
    let mut t = Tidings::new();
    let (_sink, verp) = sent(&mut t);
    for _ in 0..3 {
        let blocked = t.write("blocked.eml", dsn(&verp["reader2@example.com"], "reader2@example.com", "failed", "5.7.1", "554 5.7.1 Message rejected as spam"));
        let v = t.json(&["bounce", "ingest", &blocked]);
        assert_eq!((v["kind"].as_str(), v["recipients"][0]["reason"].as_str()), (Some("soft"), Some("blocked")));
    }
    assert_eq!(t.json(&["subscriber", "show", "reader2@example.com"])["status"], "active", "blocks are about our message, not the reader");
    let delayed = t.write("delayed.eml", dsn("newsletter@localhost.localdomain", "reader2@example.com", "delayed", "4.4.1", "connect to mx: Connection timed out"));
    assert_eq!(t.json(&["bounce", "ingest", &delayed])["subscriber"], "reader2@example.com", "found by the report's recipient");
    assert_eq!(t.json(&["subscriber", "show", "reader2@example.com"])["status"], "active", "a delay warning does not count");
    for n in 1..=2 {
        let full = t.write("full.eml", dsn(&verp["reader2@example.com"], "reader2@example.com", "failed", "5.2.2", "552 5.2.2 Mailbox full"));
        t.ok(&["bounce", "ingest", &full]);
        let status = t.json(&["subscriber", "show", "reader2@example.com"])["status"].as_str().unwrap().to_string();
        assert_eq!(status, if n < 2 { "active" } else { "bounced" }, "after {n} mailbox-full bounces (threshold 2)");
    }
}

#[test]
fn a_complaint_unsubscribes_from_every_list_and_an_auto_reply_changes_nothing() {
    let mut t = Tidings::new();
    let (_sink, verp) = sent(&mut t);
    let arf = format!(
        "From: feedback@fbl.example.net\r\nTo: fbl@news.example.org\r\nSubject: FW: abuse report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: FBL/1.0\r\nVersion: 1\r\nOriginal-Mail-From: <{}>\r\nOriginal-Rcpt-To: <reader3@example.com>\r\n\r\n--F--\r\n",
        verp["reader3@example.com"]
    );
    let file = t.write("arf.eml", arf);
    let v = t.json(&["bounce", "ingest", &file]);
    assert_eq!((v["kind"].as_str(), v["source"].as_str(), v["subscriber"].as_str()), (Some("complaint"), Some("arf"), Some("reader3@example.com")), "{v}");
    let shown = t.json(&["subscriber", "show", "reader3@example.com"]);
    assert_eq!(shown["status"], "complained");
    assert!(shown["subscriptions"].as_array().unwrap().iter().all(|s| s["status"] == "unsubscribed"), "{shown}");

    let vacation = t.write(
        "ooo.eml",
        format!("From: reader1@example.com\r\nTo: {}\r\nSubject: =?utf-8?b?6Ieq5Yqo5Zue5aSNOiBUZWNo?=\r\nAuto-Submitted: auto-replied\r\n\r\n我正在休假。\r\n", verp["reader1@example.com"]),
    );
    let v = t.json(&["bounce", "ingest", &vacation]);
    assert_eq!(v["kind"], "auto_reply", "{v}");
    assert_eq!(t.json(&["subscriber", "show", "reader1@example.com"])["status"], "active", "vacation replies are never bounces");
    assert_eq!(t.json(&["subscriber", "show", "reader1@example.com"])["bounces"].as_array().unwrap().len(), 0);
}

#[test]
fn unreadable_input_exits_2_and_a_forged_verp_token_maps_to_no_one() {
    let mut t = Tidings::new();
    let (_sink, verp) = sent(&mut t);
    let empty = t.write("empty.eml", "");
    let err = t.fails(&["bounce", "ingest", &empty], 2);
    assert!(err.contains("empty.eml"), "{err}");
    let forged_to = verp["reader1@example.com"].replacen("-", "-0", 1);
    let forged = t.write("forged.eml", dsn(&forged_to, "nobody@nowhere.example", "failed", "5.1.1", "550 5.1.1 User unknown"));
    let v = t.json(&["bounce", "ingest", &forged]);
    assert_eq!(v["subscriber"], serde_json::Value::Null, "{v}");
    assert_eq!(t.json(&["subscriber", "show", "reader1@example.com"])["status"], "active");
    // From stdin, as an MTA pipe delivers it.
    let mut child = t.command(&["bounce", "ingest", "--json"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(dsn(&verp["reader2@example.com"], "reader2@example.com", "failed", "5.1.1", "550 5.1.1 no such user").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["kind"].as_str(), v["subscriber"].as_str()), (Some("hard"), Some("reader2@example.com")));
}

/// `serve` on a free port with webhooks and a bounce Maildir; killed on drop.
struct Serving(std::process::Child, String);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(t: &mut Tidings) -> Serving {
    let port = support::smtp::free_port();
    t.set_env("TIDINGS_HTTP__BIND", &format!("127.0.0.1:{port}"));
    t.set_env("TIDINGS_BOUNCE__WEBHOOK_SECRET", "hook-secret");
    t.set_env("TIDINGS_BOUNCE__MAILDIR", &t.path().join("Maildir").display().to_string());
    let child = t.command(&["serve"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while reqwest::blocking::get(format!("{base}/healthz")).is_err() {
        assert!(std::time::Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Serving(child, base)
}

#[test]
fn webhooks_are_authenticated_idempotent_and_apply_the_policy() {
    let mut t = Tidings::new();
    let _sent = sent(&mut t);
    let s = serve(&mut t);
    let client = reqwest::blocking::Client::new();
    let url = |provider: &str| format!("{}/webhooks/bounces/{provider}", s.1);
    let ses = r#"{"Type":"Notification","Message":"{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"feedbackId\":\"f1\",\"bouncedRecipients\":[{\"emailAddress\":\"reader1@example.com\",\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}]}}"}"#;
    assert_eq!(client.post(url("ses")).body(ses).send().unwrap().status(), 401, "no secret, no entry");
    assert_eq!(client.post(url("ses")).basic_auth("sns", Some("wrong")).body(ses).send().unwrap().status(), 401);
    let first: serde_json::Value = client.post(url("ses")).basic_auth("sns", Some("hook-secret")).body(ses).send().unwrap().json().unwrap();
    assert_eq!(first["recorded"], 1, "{first}");
    let again: serde_json::Value = client.post(url("ses")).header("X-Tidings-Secret", "hook-secret").body(ses).send().unwrap().json().unwrap();
    assert_eq!(again["duplicates"], 1, "the same event twice is recorded once: {again}");
    let shown = t.json(&["subscriber", "show", "reader1@example.com"]);
    assert_eq!((shown["status"].as_str(), shown["bounces"].as_array().unwrap().len()), (Some("bounced"), 1), "{shown}");
    assert_eq!(shown["bounces"][0]["source"], "webhook:ses");

    let complaint = r#"[{"email":"reader2@example.com","event":"spamreport","sg_event_id":"sg-1"}]"#;
    let r: serde_json::Value = client.post(format!("{}?secret=hook-secret", url("sendgrid"))).body(complaint).send().unwrap().json().unwrap();
    assert_eq!(r["recorded"], 1);
    assert_eq!(t.json(&["subscriber", "show", "reader2@example.com"])["status"], "complained");
    // A large batch (5 MiB) is read whole; beyond 8 MiB it is refused, and without the secret
    // it is refused before it is read.
    let big = format!(r#"[{{"email":"nobody@example.com","event":"bounce","sg_event_id":"sg-big","padding":"{}"}}]"#, "x".repeat(5 << 20));
    let r = client.post(url("sendgrid")).header("X-Tidings-Secret", "hook-secret").body(big.clone()).send().unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let huge = format!(r#"[{{"padding":"{}"}}]"#, "x".repeat(9 << 20));
    // The server answers before the body is sent and closes: the client may see the answer or
    // only the closed connection, never a 200.
    let refused_early = |r: reqwest::Result<reqwest::blocking::Response>, status: u16| match r {
        Ok(r) => assert_eq!(r.status(), status),
        Err(e) => assert!(e.is_request(), "{e}"),
    };
    refused_early(client.post(url("sendgrid")).header("X-Tidings-Secret", "hook-secret").body(huge).send(), 413);
    refused_early(client.post(url("sendgrid")).body(big).send(), 401);

    let bad = client.post(url("generic")).header("X-Tidings-Secret", "hook-secret").body("{\"email\": \"x@example.com\"}").send().unwrap();
    assert_eq!(bad.status(), 400);
    let body: serde_json::Value = bad.json().unwrap();
    assert_eq!(body["error"]["code"], "bad_payload");
    assert_eq!(client.post(url("nope")).header("X-Tidings-Secret", "hook-secret").body("{}").send().unwrap().status(), 404);
    // The SNS handshake fetches only Amazon's own URLs: anything else is refused, not requested.
    let hello = r#"{"Type":"SubscriptionConfirmation","SubscribeURL":"https://169.254.169.254/latest/meta-data"}"#;
    let r = client.post(url("ses")).header("X-Tidings-Secret", "hook-secret").body(hello).send().unwrap();
    assert_eq!(r.status(), 400);
}

#[test]
fn serve_reads_bounces_dropped_into_its_maildir_and_moves_them_to_cur() {
    let mut t = Tidings::new();
    let (_sink, verp) = sent(&mut t);
    let s = serve(&mut t);
    let maildir = t.path().join("Maildir");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !maildir.join("new").exists() {
        assert!(std::time::Instant::now() < deadline, "the maildir was not created");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::write(maildir.join("tmp/1.host"), dsn(&verp["reader3@example.com"], "reader3@example.com", "failed", "5.1.1", "550 5.1.1 no such user")).unwrap();
    std::fs::rename(maildir.join("tmp/1.host"), maildir.join("new/1.host")).unwrap();
    std::fs::write(maildir.join("new/2.host"), "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(maildir.join("cur")).unwrap().count() < 2 {
        assert!(std::time::Instant::now() < deadline, "the messages were not moved to cur/");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    assert!(maildir.join("cur/1.host:2,S").exists() && maildir.join("cur/2.host:2,T").exists());
    assert_eq!(t.json(&["subscriber", "show", "reader3@example.com"])["status"], "bounced");
    drop(s);
}

#[test]
fn a_fifty_megabyte_bounce_is_read_whole_without_trouble() {
    let mut t = Tidings::new();
    let (_sink, verp) = sent(&mut t);
    let mut big = dsn(&verp["reader1@example.com"], "reader1@example.com", "failed", "5.2.2", "552 5.2.2 Mailbox full");
    big = big.replace("--B--\r\n", "--B\r\nContent-Type: text/plain\r\n\r\n");
    let line = "x".repeat(998) + "\r\n";
    while big.len() < 50 * 1024 * 1024 {
        big.push_str(&line);
    }
    big.push_str("--B--\r\n");
    let file = t.write("big.eml", big);
    let v = t.json(&["bounce", "ingest", &file]);
    assert_eq!((v["kind"].as_str(), v["recipients"][0]["reason"].as_str()), (Some("soft"), Some("mailbox_full")), "{v}");
}

#[test]
fn a_forged_report_naming_subscribers_without_our_signed_tags_is_evidence_only() {
    let mut t = Tidings::new();
    let (_sink, _verp) = sent(&mut t);
    // Anyone can mail the bounce address a DSN naming three readers…
    let report = dsn("bounces@news.example.org", "reader1@example.com", "failed", "5.1.1", "550 5.1.1 User unknown").replace(
        "Final-Recipient: rfc822; reader1@example.com",
        "Final-Recipient: rfc822; reader1@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\nFinal-Recipient: rfc822; reader2@example.com",
    );
    let v = t.json(&["bounce", "ingest", &t.write("forged.eml", report)]);
    assert_eq!(v["kind"], "hard", "{v}");
    assert!(v["decisions"].as_array().unwrap().iter().all(|d| d == "unverified"), "{v}");
    // …or an abuse report naming a fourth, without our VERP sender.
    let arf = "From: feedback@fbl.example.net\r\nTo: fbl@news.example.org\r\nSubject: abuse report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nabuse\r\n\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: FBL/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: <reader3@example.com>\r\n\r\n--F--\r\n";
    let v = t.json(&["bounce", "ingest", &t.write("arf.eml", arf)]);
    assert_eq!((v["kind"].as_str(), v["decisions"][0].as_str()), (Some("complaint"), Some("unverified")), "{v}");
    for r in ["reader1@example.com", "reader2@example.com", "reader3@example.com"] {
        let shown = t.json(&["subscriber", "show", r]);
        assert_eq!(shown["status"], "active", "{r}: {shown}");
        assert!(shown["subscriptions"].as_array().unwrap().iter().all(|s| s["status"] == "confirmed"), "{shown}");
        assert_eq!(shown["bounces"][0]["verified"], false, "kept for staff as unverified evidence: {shown}");
    }
    let csv = t.write("again.csv", "email\nreader1@example.com\n");
    assert_eq!(t.json(&["subscriber", "import", &csv, "--list", "digest", "--confirmed"])["report"]["skipped"], 0, "not suppressed");
    // Naming one reader five times in one forged report counts once.
    let before = t.json(&["subscriber", "show", "reader2@example.com"]);
    let block = "Final-Recipient: rfc822; reader2@example.com\r\nAction: failed\r\nStatus: 5.2.2\r\n\r\n";
    let many = dsn("bounces@news.example.org", "reader2@example.com", "failed", "5.2.2", "552 5.2.2 Mailbox full").replace("Final-Recipient: rfc822; reader2@example.com\r\n", &format!("{}Final-Recipient: rfc822; reader2@example.com\r\n", block.repeat(4)));
    let v = t.json(&["bounce", "ingest", &t.write("many.eml", many)]);
    assert_eq!(v["decisions"].as_array().unwrap().len(), 1, "{v}");
    let shown = t.json(&["subscriber", "show", "reader2@example.com"]);
    assert_eq!(shown["bounces"].as_array().unwrap().len(), before["bounces"].as_array().unwrap().len() + 1, "{shown}");
    assert!(shown["soft_bounces"].as_i64().unwrap() <= before["soft_bounces"].as_i64().unwrap() + 1, "{shown}");
}

#[test]
fn mail_to_the_list_unsubscribe_mailto_address_unsubscribes_once_and_forgeries_do_nothing() {
    let mut t = Tidings::new();
    let (sink, _verp) = sent(&mut t);
    let dump = sink.dump().replace("\r\n ", " ").replace("\n ", " ");
    let header = dump.lines().find(|l| l.starts_with("List-Unsubscribe:") && l.contains("mailto:")).expect("a mailto in List-Unsubscribe");
    let address = header.split("mailto:").nth(1).unwrap().split(['>', '?']).next().unwrap().to_string();
    let mail = |to: &str| format!("From: someone@example.com\r\nTo: <{to}>\r\nSubject: unsubscribe\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <u1@example.com>\r\n\r\nunsubscribe\r\n");
    let forged = address.replacen("-l", "-l1", 1);
    let v = t.json(&["bounce", "ingest", &t.write("forged.eml", mail(&forged))]);
    assert!(v["unsubscribed"].is_null(), "a forged address unsubscribes no one: {v}");
    let v = t.json(&["bounce", "ingest", &t.write("u.eml", mail(&address))]);
    assert_eq!((v["source"].as_str(), v["unsubscribed"].as_str()), (Some("mailto"), Some("news")), "{v}");
    let who = v["subscriber"].as_str().unwrap().to_string();
    let shown = t.json(&["subscriber", "show", &who]);
    let news = shown["subscriptions"].as_array().unwrap().iter().find(|s| s["list"] == "news").unwrap().clone();
    assert_eq!(news["status"], "unsubscribed", "{shown}");
    assert!(shown["events"].to_string().contains("mailto"), "the event says how: {shown}");
    // Idempotent: a second mail changes nothing and fails nothing.
    let again = t.json(&["bounce", "ingest", &t.write("u2.eml", mail(&address))]);
    assert_eq!(again["unsubscribed"], "news");
    let others = ["reader1@example.com", "reader2@example.com", "reader3@example.com"].into_iter().filter(|r| *r != who);
    for r in others {
        let s = t.json(&["subscriber", "show", r]);
        assert!(s["subscriptions"].as_array().unwrap().iter().all(|x| x["status"] == "confirmed"), "{r}: {s}");
    }
}

#[test]
fn a_captured_mailgun_notification_cannot_be_posted_again_or_late() {
    use hmac::{Hmac, Mac};
    let mut t = Tidings::new();
    let _sent = sent(&mut t);
    t.set_env("TIDINGS_BOUNCE__MAILGUN_SIGNING_KEY", "mailgun-signing-key");
    let s = serve(&mut t);
    let signed = |timestamp: i64, token: &str, id: &str| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"mailgun-signing-key").unwrap();
        mac.update(format!("{timestamp}{token}").as_bytes());
        let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!(
            r#"{{"signature":{{"timestamp":"{timestamp}","token":"{token}","signature":"{signature}"}},"event-data":{{"id":"{id}","event":"failed","severity":"temporary","recipient":"reader1@example.com","delivery-status":{{"code":452,"message":"4.2.2 mailbox full"}}}}}}"#
        )
    };
    let post = |body: String| reqwest::blocking::Client::new().post(format!("{}/webhooks/bounces/mailgun", s.1)).header("X-Tidings-Secret", "hook-secret").body(body).send().unwrap();
    let now = chrono::Utc::now().timestamp();
    let first = post(signed(now, "token-1", "ev-1"));
    assert_eq!(first.status(), 200, "{:?}", first.text());
    let replayed = post(signed(now, "token-1", "ev-2"));
    assert_eq!(replayed.status(), 401);
    assert_eq!(replayed.json::<serde_json::Value>().unwrap()["error"]["code"], "replayed_signature");
    let late = post(signed(now - 3600, "token-2", "ev-3"));
    assert_eq!(late.status(), 401);
    assert_eq!(late.json::<serde_json::Value>().unwrap()["error"]["code"], "stale_signature");
    assert_eq!(t.json(&["subscriber", "show", "reader1@example.com"])["bounces"].as_array().unwrap().len(), 1, "only the first was recorded");
}
