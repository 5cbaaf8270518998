//! The delivery engine against real SMTP servers on 127.0.0.1: Postfix's smtp-sink, and a
//! server of our own that refuses recipients as a test tells it to.

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::Tidings;
use support::smtp::{RELAY_PASSWORD, RELAY_USER, Sink, TestSmtp, free_port};

const ISSUE: &str = "+++
list = \"news\"
slug = \"2026-11\"
title = \"科技通讯 2026 年第 11 期\"
subtitle = \"Tech Newsletter, November 2026\"
date = 2026-11-20
language = \"zh-CN\"
+++

## 聚焦

◇ 一条新闻。(来源：测试)
";

/// A list `news` with `n` confirmed subscribers `reader{i}@example.com`, an issue `2026-11`,
/// and SMTP pointed at `port`.
fn newsletter(n: usize, port: u16) -> Tidings {
    let mut t = Tidings::new().with_list("news");
    t.set_env("TIDINGS_SMTP__TRANSPORT", "smtp");
    t.set_env("TIDINGS_SMTP__PORT", &port.to_string());
    t.set_env("TIDINGS_SMTP__TIMEOUT_SECS", "10");
    t.set_env("TIDINGS_DELIVERY__RETRY_BASE_SECS", "1");
    t.set_env("TIDINGS_SECURITY__SECRET_KEY", "delivery-test-key-0123456789abcdef0123456789");
    let mut csv = String::from("email,name\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@example.com,读者 {i}\n"));
    }
    let file = t.write("readers.csv", csv);
    t.ok(&["subscriber", "import", &file, "--list", "news", "--confirmed"]);
    let issue = t.write("2026-11.md", ISSUE);
    t.ok(&["issue", "add", &issue]);
    t
}

fn readers(n: usize) -> Vec<String> {
    let mut all: Vec<String> = (0..n).map(|i| format!("reader{i}@example.com")).collect();
    all.sort();
    all
}

fn status(t: &Tidings) -> serde_json::Value {
    t.json(&["issue", "status", "2026-11"])
}

fn count(t: &Tidings, state: &str) -> i64 {
    status(t)["deliveries"][state].as_i64().unwrap()
}

/// The envelope recipients the sink got, each once per message, sorted.
fn received(sink: &Sink) -> Vec<String> {
    let mut r = sink.recipients();
    r.sort();
    r
}

fn tally(recipients: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in recipients {
        *m.entry(r.clone()).or_default() += 1;
    }
    m
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_deliver(t: &Tidings) -> Child {
    t.command(&["deliver", "--until-idle"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

#[test]
fn every_confirmed_subscriber_gets_exactly_one_message_and_the_send_finishes() {
    let sink = Sink::start(&[]);
    let t = newsletter(150, sink.port);
    // Pending and unsubscribed people are not part of the audience.
    t.ok(&["subscriber", "add", "pending@example.com", "--list", "news"]);
    t.ok(&["subscriber", "add", "left@example.com", "--list", "news", "--confirmed"]);
    t.ok(&["unsubscribe", "left@example.com"]);

    let queued = t.json(&["issue", "send", "2026-11"]);
    assert_eq!(queued["detail"]["recipients"], 150);
    let report = t.json(&["deliver", "--until-idle"]);
    assert_eq!((report["sent"].as_i64(), report["confirmations_sent"].as_i64()), (Some(150), Some(1)), "{report}");

    // The pending person got their confirmation email, not the issue.
    let mut expected = readers(150);
    expected.insert(0, "pending@example.com".to_string());
    assert_eq!(received(&sink), expected);
    let s = status(&t);
    assert_eq!(s["status"], "sent", "{s}");
    assert_eq!(s["deliveries"]["sent"], 150);
    assert_eq!(s["deliveries"]["queued"], 0);

    // Nothing is left to do, and nothing is sent twice.
    let again = t.json(&["deliver", "--until-idle"]);
    assert_eq!(again["sent"], 0);
    assert_eq!(sink.recipients().len(), 151);
    let refused = t.fails(&["issue", "send", "2026-11"], 2);
    assert!(refused.contains("2026-11"), "{refused}");
}

#[test]
fn each_message_carries_a_verp_sender_and_the_list_headers() {
    let sink = Sink::start(&[]);
    let t = newsletter(3, sink.port);
    t.ok(&["issue", "send", "2026-11"]);
    t.ok(&["deliver", "--until-idle"]);
    let dump = sink.dump();
    let senders: Vec<&str> = dump.lines().filter_map(|l| l.strip_prefix("X-Mail-Args: <")).collect();
    assert_eq!(senders.len(), 3, "{dump}");
    for s in &senders {
        assert!(s.starts_with("bounces+s") && s.contains("@bounces.localhost.localdomain>"), "VERP sender: {s}");
    }
    assert_eq!(senders.iter().collect::<std::collections::HashSet<_>>().len(), 3, "one VERP address per recipient");
    for header in ["List-Unsubscribe-Post: List-Unsubscribe=One-Click", "List-Id: ", "Message-ID: <", "Subject: =?utf-8?", "Precedence: bulk"] {
        assert_eq!(dump.matches(header).count(), 3, "{header} in each message");
    }
    assert!(dump.contains("To: =?utf-8?"), "the CJK name is encoded in To");
}

#[test]
fn someone_who_leaves_after_the_send_is_queued_is_skipped() {
    // `-p`: a relay without PIPELINING, so the step-by-step envelope is exercised too.
    let sink = Sink::start(&["-p"]);
    let t = newsletter(5, sink.port);
    t.ok(&["issue", "send", "2026-11"]);
    t.ok(&["unsubscribe", "reader3@example.com"]);
    t.ok(&["subscriber", "erase", "reader4@example.com"]);
    t.ok(&["deliver", "--until-idle"]);
    assert_eq!(received(&sink), readers(3));
    let s = status(&t);
    assert_eq!((s["deliveries"]["sent"].as_i64(), s["deliveries"]["skipped"].as_i64()), (Some(3), Some(2)), "{s}");
    assert_eq!(s["status"], "sent");
}

#[test]
fn temporary_refusals_are_retried_and_permanent_ones_recorded_as_bounces() {
    let server = TestSmtp::start(|rcpt, attempt| match rcpt {
        "reader0@example.com" if attempt == 1 => Some("451 4.7.1 greylisted, try again".into()),
        "reader1@example.com" => Some("550 5.1.1 <reader1@example.com>: Recipient address rejected: User unknown".into()),
        "reader2@example.com" => Some("554 5.7.1 Message rejected as spam by content filter".into()),
        "reader3@example.com" => Some("450 4.2.0 mailbox busy".into()),
        _ => None,
    });
    let mut t = newsletter(6, server.port);
    t.set_env("TIDINGS_DELIVERY__MAX_ATTEMPTS", "2");
    t.ok(&["issue", "send", "2026-11"]);
    t.ok(&["deliver", "--until-idle"]);

    let mut delivered: Vec<String> = server.delivered().into_iter().map(|(_, rcpt, _)| rcpt).collect();
    delivered.sort();
    assert_eq!(delivered, ["reader0@example.com", "reader4@example.com", "reader5@example.com"]);
    assert_eq!(server.attempts("reader0@example.com"), 2, "greylisted once, then accepted");
    assert_eq!(server.attempts("reader1@example.com"), 1, "a 5xx is not retried");
    assert_eq!(server.attempts("reader3@example.com"), 2, "retried up to max_attempts");

    let s = status(&t);
    let d = &s["deliveries"];
    assert_eq!((d["sent"].as_i64(), d["bounced"].as_i64(), d["failed"].as_i64()), (Some(3), Some(1), Some(2)), "{s}");
    assert_eq!(s["status"], "sent");
    let errors = s["top_errors"].to_string();
    assert!(errors.contains("User unknown") && errors.contains("gave up after 2 attempts"), "{errors}");

    // The 550 is in the unknown reader's record as a hard bounce; the spam block is soft, blamed
    // on our message rather than the reader.
    let unknown = t.json(&["subscriber", "show", "reader1@example.com"]);
    let bounce = &unknown["bounces"][0];
    assert_eq!((bounce["kind"].as_str(), bounce["reason"].as_str(), bounce["source"].as_str()), (Some("hard"), Some("user_unknown"), Some("smtp")), "{unknown}");
    let blocked = t.json(&["subscriber", "show", "reader2@example.com"]);
    assert_eq!((blocked["bounces"][0]["kind"].as_str(), blocked["bounces"][0]["reason"].as_str()), (Some("soft"), Some("blocked")), "{blocked}");
    assert_eq!(blocked["status"], "active", "a receiver blocking us does not drop the reader");
}

#[test]
fn a_relay_that_is_down_spends_no_attempts_and_the_send_completes_once_it_is_back() {
    let port = free_port();
    let t = newsletter(20, port);
    t.ok(&["issue", "send", "2026-11"]);
    let stderr = t.fails(&["deliver", "--until-idle"], 1);
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert_eq!(count(&t, "queued"), 20, "every delivery is still queued");
    assert_eq!(t.sql("SELECT MAX(attempts) FROM deliveries"), "0", "a relay outage costs no recipient an attempt");

    let sink = Sink::start_on(port, &[]);
    t.ok(&["deliver", "--until-idle"]);
    assert_eq!(received(&sink), readers(20));
    assert_eq!(status(&t)["status"], "sent");
}

#[test]
fn after_kill_9_mid_send_a_new_process_resumes_at_once_and_loses_no_one() {
    // The sink waits a second before answering each DATA, so the send is still running when killed.
    let sink = Sink::start(&["-w", "1"]);
    let mut t = newsletter(60, sink.port);
    t.set_env("TIDINGS_DELIVERY__CONCURRENCY", "4");
    t.set_env("TIDINGS_SMTP__POOL_SIZE", "4");
    t.ok(&["issue", "send", "2026-11"]);
    let mut first = spawn_deliver(&t);
    wait_for("a few messages", Duration::from_secs(30), || sink.recipients().len() >= 8);
    first.kill().unwrap();
    first.wait().unwrap();
    let before = sink.recipients().len();
    assert!(before < 60, "the send was interrupted midway");
    assert!(count(&t, "sending") > 0 || count(&t, "queued") > 0);

    let started = Instant::now();
    t.ok(&["deliver", "--until-idle"]);
    // Reclaiming a dead process's claims must not wait for its leases (2 minutes) to run out.
    assert!(started.elapsed() < Duration::from_secs(60), "resumed at once");
    let got = tally(&sink.recipients());
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), readers(60), "every reader got the issue");
    let repeated: usize = got.values().map(|n| n - 1).sum();
    assert!(repeated <= 8, "only messages in flight at the kill are repeated, here {repeated}");
    let s = status(&t);
    assert_eq!((s["status"].as_str(), s["deliveries"]["sent"].as_i64()), (Some("sent"), Some(60)), "{s}");
}

#[test]
fn pause_stops_the_send_and_resume_finishes_it_without_doubles() {
    let sink = Sink::start(&["-w", "1"]);
    let mut t = newsletter(40, sink.port);
    t.set_env("TIDINGS_DELIVERY__CONCURRENCY", "4");
    t.ok(&["issue", "send", "2026-11"]);
    let mut worker = spawn_deliver(&t);
    wait_for("a few messages", Duration::from_secs(30), || sink.recipients().len() >= 4);
    t.ok(&["issue", "pause", "2026-11"]);
    // The worker finishes what it holds, then finds nothing due and stops.
    assert!(worker.wait().unwrap().success());
    let paused = sink.recipients().len();
    assert!(paused < 40, "the pause took effect midway ({paused} sent)");
    assert_eq!(status(&t)["status"], "paused");
    t.ok(&["deliver", "--until-idle"]);
    assert_eq!(sink.recipients().len(), paused, "nothing is sent while paused");

    t.fails(&["issue", "pause", "2026-11"], 2);
    t.ok(&["issue", "resume", "2026-11"]);
    t.ok(&["deliver", "--until-idle"]);
    assert_eq!(received(&sink), readers(40), "each reader exactly once across pause and resume");
    assert_eq!(status(&t)["status"], "sent");
}

#[test]
fn cancel_skips_what_is_left() {
    let sink = Sink::start(&[]);
    let t = newsletter(10, sink.port);
    t.ok(&["issue", "send", "2026-11"]);
    t.ok(&["issue", "cancel", "2026-11"]);
    t.ok(&["deliver", "--until-idle"]);
    assert!(sink.recipients().is_empty());
    let s = status(&t);
    assert_eq!((s["status"].as_str(), s["deliveries"]["skipped"].as_i64()), (Some("cancelled"), Some(10)), "{s}");
    t.fails(&["issue", "resume", "2026-11"], 2);
}

#[test]
fn a_scheduled_send_waits_for_its_time() {
    let sink = Sink::start(&[]);
    let t = newsletter(4, sink.port);
    t.ok(&["issue", "send", "2026-11", "--at", "2099-01-01T08:00:00Z"]);
    t.ok(&["deliver", "--until-idle"]);
    assert!(sink.recipients().is_empty(), "not before its time");
    assert_eq!(status(&t)["status"], "scheduled");
    // Moving the time into the past makes it due.
    t.ok(&["issue", "send", "2026-11", "--at", "2020-01-01T08:00:00Z"]);
    t.ok(&["deliver", "--until-idle"]);
    assert_eq!(received(&sink), readers(4));
    let bad = t.fails(&["issue", "send", "2026-11", "--at", "tomorrow"], 2);
    assert!(bad.contains("--at"), "{bad}");
}

#[test]
fn a_test_copy_goes_to_one_address_and_touches_no_list() {
    let sink = Sink::start(&[]);
    let t = newsletter(5, sink.port);
    t.ok(&["issue", "send", "2026-11", "--test", "editor@example.org"]);
    assert_eq!(received(&sink), ["editor@example.org"]);
    let s = status(&t);
    assert_eq!((s["status"].as_str(), s["total"].as_i64()), (Some("draft"), Some(0)), "{s}");
    t.fails(&["issue", "send", "2026-11", "--test", "not an address"], 2);
}

#[test]
fn the_file_transport_writes_one_eml_per_recipient() {
    let t = newsletter(7, 1);
    let mut t = t;
    t.set_env("TIDINGS_SMTP__TRANSPORT", "file");
    t.ok(&["issue", "send", "2026-11"]);
    t.ok(&["deliver", "--until-idle"]);
    let outbox: Vec<_> = std::fs::read_dir(t.path().join("outbox")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(outbox.len(), 7);
    assert!(outbox.iter().all(|p| p.extension().is_some_and(|e| e == "eml")));
    let one = std::fs::read_to_string(&outbox[0]).unwrap();
    assert!(one.starts_with("Return-Path: <bounces+s"), "{one}");
}

#[test]
fn a_pending_subscriber_gets_one_confirmation_email_ahead_of_the_issue() {
    let sink = Sink::start(&[]);
    let t = newsletter(2, sink.port);
    t.ok(&["subscriber", "add", "new@example.com", "--list", "news", "--name", "新读者"]);
    t.ok(&["issue", "send", "2026-11"]);
    let report = t.json(&["deliver", "--until-idle"]);
    assert_eq!((report["confirmations_sent"].as_i64(), report["sent"].as_i64()), (Some(1), Some(2)), "{report}");
    let order = sink.recipients();
    assert_eq!(order[0], "new@example.com", "the confirmation goes first: {order:?}");
    let dump = sink.dump();
    assert!(dump.contains("Auto-Submitted: auto-generated"), "{dump}");
    assert!(dump.contains("/confirm/"), "the confirm link is in the message");
    assert_eq!(t.json(&["subscriber", "show", "new@example.com"])["subscriptions"][0]["status"], "pending", "sending the email confirms nothing");

    // Asking again at once does not send another one (no inbox bombing through the form).
    t.ok(&["subscriber", "add", "new@example.com", "--list", "news"]);
    assert_eq!(t.json(&["deliver", "--until-idle"])["confirmations_sent"], 0);
    // Confirmed by staff: nothing more to send.
    t.ok(&["subscriber", "add", "new@example.com", "--list", "news", "--confirmed"]);
    assert_eq!(sink.recipients().iter().filter(|r| *r == "new@example.com").count(), 1);
}

#[test]
fn messages_are_dkim_signed_over_the_unsubscribe_headers_with_rsa_or_ed25519() {
    for (key, algorithm) in [("rsa", "rsa-sha256"), ("ed25519", "ed25519-sha256")] {
        let relay = TestSmtp::start(|_, _| None);
        let mut t = newsletter(1, relay.port);
        let fixtures = support::repo().join("tests/fixtures/dkim");
        t.set_env("TIDINGS_DKIM__DOMAIN", "news.example.org");
        t.set_env("TIDINGS_DKIM__SELECTOR", "t2026");
        t.set_env("TIDINGS_DKIM__PRIVATE_KEY_PATH", &fixtures.join(format!("{key}.pem")).display().to_string());
        t.ok(&["subscriber", "add", "new@example.com", "--list", "news"]);
        t.ok(&["issue", "send", "2026-11"]);
        t.ok(&["deliver", "--until-idle"]);
        // dkimpy verifies each message as the relay received it: the issue and the confirmation.
        let received = relay.delivered();
        assert_eq!(received.len(), 2, "the issue and the confirmation");
        for (_, rcpt, data) in &received {
            let file = t.write(&format!("{rcpt}.eml"), data);
            let report = support::python_check("check_dkim.py", &[&file, &fixtures.join(format!("{key}.txt")).display().to_string()]);
            assert_eq!(report["valid"], true, "{key} {rcpt}: {report}");
            assert_eq!(report["tags"]["a"], algorithm);
            assert_eq!(report["tags"]["d"], "news.example.org");
            let signed = report["tags"]["h"].as_str().unwrap().to_ascii_lowercase();
            let wanted: &[&str] = if rcpt == "reader0@example.com" { &["from", "subject", "list-unsubscribe", "list-unsubscribe-post", "list-id"] } else { &["from", "subject"] };
            for h in wanted {
                assert!(signed.split(':').any(|x| x == *h), "{h} is signed: {signed}");
            }
        }
        // A preview is never signed: staff cannot mint signed copies that were not sent.
        let eml = t.run(&["issue", "render", "2026-11", "--format", "eml", "--to", "reader0@example.com"]);
        assert!(eml.status.success());
        assert!(!String::from_utf8_lossy(&eml.stdout).contains("DKIM-Signature"));
    }
    let t = Tidings::new().with_list("news");
    let mut t = t;
    t.set_env("TIDINGS_DKIM__DOMAIN", "news.example.org");
    t.set_env("TIDINGS_DKIM__SELECTOR", "t2026");
    t.set_env("TIDINGS_DKIM__PRIVATE_KEY_PATH", "/nonexistent/key.pem");
    let issue = t.write("i.md", ISSUE);
    t.ok(&["issue", "add", &issue]);
    t.ok(&["issue", "send", "2026-11"]);
    let err = t.run(&["deliver", "--until-idle"]);
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(!err.status.success() && stderr.contains("dkim.private_key_path"), "{stderr}");
}

#[test]
fn serve_adds_and_schedules_issue_files_dropped_in_the_content_folder_and_stops_on_sigterm() {
    let sink = Sink::start(&[]);
    let mut t = newsletter(12, sink.port);
    let content = t.path().join("issues");
    std::fs::create_dir_all(&content).unwrap();
    t.set_env("TIDINGS_CONTENT__ISSUES_DIR", &content.display().to_string());
    t.set_env("TIDINGS_HTTP__BIND", &format!("127.0.0.1:{}", free_port()));
    // A draft waiting in the folder before the daemon starts is picked up at start.
    std::fs::write(content.join("draft.md"), ISSUE.replace("slug = \"2026-11\"", "slug = \"draft\"")).unwrap();
    let mut serve = t.command(&["serve"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for("the draft to be added", Duration::from_secs(20), || t.run(&["issue", "status", "draft"]).status.success());
    assert_eq!(t.json(&["issue", "status", "draft"])["status"], "draft", "a file without send_at is only a draft");

    // A file that says when to send is scheduled, and sent when the time has come.
    let scheduled = ISSUE.replace("slug = \"2026-11\"", "slug = \"2026-12\"").replace("language", "send_at = 2026-01-01T08:00:00Z\nlanguage");
    std::fs::write(content.join(".2026-12.md.swp"), "editor junk").unwrap();
    std::fs::write(content.join("2026-12.md"), scheduled).unwrap();
    wait_for("the scheduled issue to reach every reader", Duration::from_secs(30), || sink.recipients().len() >= 12);
    assert_eq!(received(&sink), readers(12));
    assert!(sink.recipients().len() == 12);

    std::process::Command::new("kill").args(["-TERM", &serve.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    std::io::Read::read_to_string(serve.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {log}");
    assert!(log.contains("issue added from the content folder"), "{log}");
    assert_eq!(t.json(&["issue", "status", "2026-12"])["status"], "sent");
}

#[test]
fn a_relay_refusing_our_sender_pauses_the_send_instead_of_failing_the_readers() {
    let server = TestSmtp::start_refusing_sender(Some("530 5.7.0 Authentication required"), |_, _| None);
    let t = newsletter(5, server.port);
    t.ok(&["issue", "send", "2026-11"]);
    let err = t.fails(&["deliver", "--until-idle"], 1);
    assert!(err.contains("530") && err.contains("MAIL FROM"), "{err}");
    let s = status(&t);
    assert_eq!((s["deliveries"]["queued"].as_i64(), s["deliveries"]["bounced"].as_i64()), (Some(5), Some(0)), "nobody is failed for the relay's refusal: {s}");
}

#[test]
fn a_relay_refusing_our_credentials_pauses_the_send_and_the_right_ones_deliver() {
    let server = TestSmtp::start(|_, _| None);
    let mut t = newsletter(3, server.port);
    t.set_env("TIDINGS_SMTP__USERNAME", RELAY_USER);
    t.set_env("TIDINGS_SMTP__PASSWORD", "wrong-password");
    t.ok(&["issue", "send", "2026-11"]);
    let err = t.fails(&["deliver", "--until-idle"], 1);
    assert!(err.contains("authentication refused") && err.contains("535"), "{err}");
    assert!(!err.contains("wrong-password"), "the password is never logged: {err}");
    assert_eq!(count(&t, "queued"), 3);
    t.set_env("TIDINGS_SMTP__PASSWORD", RELAY_PASSWORD);
    t.ok(&["deliver", "--until-idle"]);
    assert_eq!(server.delivered().len(), 3);
    assert_eq!(count(&t, "sent"), 3);
}

#[test]
fn a_connection_dropped_mid_data_is_retried_without_losing_the_reader() {
    let server = TestSmtp::start(|rcpt, attempt| (rcpt == "reader1@example.com" && attempt == 1).then(|| "DROP".to_string()));
    let t = newsletter(3, server.port);
    t.ok(&["issue", "send", "2026-11"]);
    t.ok(&["deliver", "--until-idle"]);
    let mut delivered: Vec<String> = server.delivered().into_iter().map(|(_, rcpt, _)| rcpt).collect();
    delivered.sort();
    assert_eq!(delivered, readers(3), "{}", status(&t));
    assert_eq!(server.attempts("reader1@example.com"), 2);
    assert_eq!(status(&t)["deliveries"]["sent"], 3);
}

/// Whether the database holds `needle`: any of SQLite's files, or (PostgreSQL) a dump of every row.
fn database_holds(t: &Tidings, needle: &str) -> Option<String> {
    let holds = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    if t.is_postgres() {
        let dump = std::process::Command::new("pg_dump").args(["--data-only", "-d", &t.database_url()]).output().expect("pg_dump");
        assert!(dump.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
        return holds(&dump.stdout).then(|| "pg_dump".to_string());
    }
    ["tidings.db", "tidings.db-wal"].into_iter().find(|file| std::fs::read(t.path().join(file)).is_ok_and(|bytes| holds(&bytes))).map(str::to_string)
}

#[test]
fn an_erased_reader_leaves_no_address_in_delivery_diagnostics_events_or_the_status() {
    let server = TestSmtp::start(|rcpt, _| match rcpt {
        "reader1@example.com" => Some("550 5.1.1 <reader1@example.com>: Recipient address rejected: User unknown".into()),
        "reader2@example.com" => Some("451 4.2.0 <reader2@example.com> mailbox busy".into()),
        _ => None,
    });
    let mut t = newsletter(3, server.port);
    t.set_env("TIDINGS_DELIVERY__MAX_ATTEMPTS", "1");
    t.ok(&["issue", "send", "2026-11"]);
    t.ok(&["deliver", "--until-idle"]);
    let errors = status(&t)["top_errors"].to_string();
    assert!(errors.contains("<[address]>: Recipient address rejected") && !errors.contains("reader1@"), "{errors}");
    t.ok(&["subscriber", "erase", "reader1@example.com"]);
    t.ok(&["subscriber", "erase", "reader2@example.com"]);
    for gone in ["reader1@example.com", "reader2@example.com"] {
        assert_eq!(database_holds(&t, gone), None, "{gone} is still stored");
    }
    assert!(database_holds(&t, "reader0@example.com").is_some(), "the check can find an address that is there");
}

#[test]
fn addresses_stored_before_the_upgrade_are_scrubbed_once_and_the_log_stays_append_only() {
    let t = newsletter(1, 25);
    if t.is_postgres() {
        // Rows written by binaries from before scrubbing exist only in SQLite files (a PostgreSQL
        // database is only ever written scrubbed); the guard on the log is tested below.
        let (ok, out) = t.try_sql("UPDATE events SET detail = '{}' WHERE id = (SELECT MIN(id) FROM events)");
        assert!(!ok && out.contains("append-only"), "the event log refuses rewrites: {out}");
        let (ok, out) = t.try_sql("DELETE FROM events");
        assert!(!ok && out.contains("append-only"), "and deletions: {out}");
        return;
    }
    let sql = |q: &str| t.try_sql(q);
    // What an older version wrote: addresses in a diagnostic and in an event's detail.
    let (ok, out) = sql(
        "DROP TRIGGER events_append_only_update;
         INSERT INTO events (at, type, actor, detail) VALUES ('2026-01-01T00:00:00Z', 'confirmation.failed', 'delivery', '{\"error\":\"550 old.reader@example.com unknown\"}');
         CREATE TRIGGER events_append_only_update BEFORE UPDATE OF id, at, type, actor, list_id, issue_id, detail ON events BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
         INSERT INTO deliveries (issue_id, subscriber_id, state, last_error, updated_at) SELECT id, NULL, 'failed', '550 <old.reader@example.com> gone', '2026-01-01T00:00:00Z' FROM issues;
         DELETE FROM settings WHERE key = 'addresses_scrubbed';",
    );
    assert!(ok, "{out}");
    t.ok(&["list", "ls"]);
    assert_eq!(sql("SELECT last_error FROM deliveries WHERE last_error LIKE '550 <%'").1, "550 <[address]> gone");
    assert_eq!(sql("SELECT detail FROM events WHERE type = 'confirmation.failed'").1, r#"{"error":"550 [address] unknown"}"#);
    let (ok, out) = sql("UPDATE events SET detail = '{}' WHERE type = 'confirmation.failed'");
    assert!(!ok && out.contains("append-only"), "the guard is back: {out}");
    assert_eq!(database_holds(&t, "old.reader@example.com"), None);
}

#[test]
fn a_backup_taken_mid_send_restores_and_the_resumed_send_mails_nobody_twice() {
    if let Some(server) = support::postgres_server() {
        // Backups of a PostgreSQL database are pg_dump's job: the verbs say so and touch nothing.
        let t = newsletter(1, 25);
        assert!(t.fails(&["backup", "--out", "x.db"], 2).contains("pg_dump"));
        assert!(t.fails(&["restore", "x.db"], 2).contains("pg_restore"));
        assert!(!server.is_empty());
        return;
    }
    let sql = |db: &std::path::Path, q: &str| {
        let out = std::process::Command::new("sqlite3").arg(db).arg(q).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    // Each message waits a second at DATA: the send takes several seconds.
    let sink = Sink::start(&["-w", "1"]);
    let t = newsletter(40, sink.port);
    t.ok(&["issue", "send", "2026-11"]);
    let mut sending = t.command(&["deliver", "--until-idle"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.recipients().len() < 8 {
        assert!(Instant::now() < deadline, "the send started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let backup = t.path().join("mid-send.db");
    let report = t.json(&["backup", "--out", &backup.display().to_string()]);
    assert_eq!((report["integrity"].as_str(), report["subscribers"].as_i64(), report["deliveries"].as_i64()), (Some("ok"), Some(40), Some(40)), "{report}");
    assert!(t.fails(&["backup", "--out", &backup.display().to_string()], 2).contains("already exists"), "a backup never overwrites");
    let refused = t.fails(&["restore", &backup.display().to_string()], 2);
    assert!(refused.contains("in use by tidings"), "not over a running installation: {refused}");
    assert!(sending.wait().unwrap().success());
    let everyone: std::collections::BTreeSet<String> = (0..40).map(|i| format!("reader{i}@example.com")).collect();
    assert_eq!(received(&sink).into_iter().collect::<std::collections::BTreeSet<_>>(), everyone);

    let recorded_sent: std::collections::BTreeSet<String> =
        sql(&backup, "SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.state = 'sent'").into_iter().collect();
    assert!(!recorded_sent.is_empty() && recorded_sent.len() < 40, "the backup is of a send in progress: {}", recorded_sent.len());

    // Restored on another machine, the send goes on from the backup's point.
    let second = Sink::start(&[]);
    let mut elsewhere = Tidings::new();
    elsewhere.set_env("TIDINGS_SMTP__TRANSPORT", "smtp");
    elsewhere.set_env("TIDINGS_SMTP__PORT", &second.port.to_string());
    elsewhere.set_env("TIDINGS_SECURITY__SECRET_KEY", "delivery-test-key-0123456789abcdef0123456789");
    elsewhere.ok(&["init"]);
    let restored = elsewhere.json(&["restore", &backup.display().to_string()]);
    assert_eq!((restored["deliveries_sent"].as_u64(), restored["integrity"].as_str()), (Some(recorded_sent.len() as u64), Some("ok")), "{restored}");
    elsewhere.ok(&["deliver", "--until-idle"]);
    let resumed = received(&second);
    assert!(resumed.iter().all(|r| !recorded_sent.contains(r)), "nobody recorded sent is mailed again");
    let mut all: Vec<String> = resumed.iter().cloned().chain(recorded_sent.iter().cloned()).collect();
    all.sort();
    assert_eq!(all, everyone.iter().cloned().collect::<Vec<_>>(), "everyone else gets it, once");
    assert_eq!(elsewhere.json(&["issue", "status", "2026-11"])["deliveries"]["sent"], 40);

    // A mistyped database path is not backed up as an empty database.
    let mut lost = Tidings::new();
    lost.set_env("TIDINGS_DATABASE__URL", "sqlite://no-such-dir/tidings.db");
    assert!(lost.fails(&["backup", "--out", &lost.path().join("b.db").display().to_string()], 2).contains("there is no database"));
    // A file that is not a backup, or from a newer schema, is refused and changes nothing.
    let junk = elsewhere.write("junk.db", "not a database");
    assert!(elsewhere.fails(&["restore", &junk], 2).contains("cannot be restored"));
    sql(&backup, "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) VALUES (9999, 'future', '2030-01-01', 1, x'00', 0)");
    assert!(elsewhere.fails(&["restore", &backup.display().to_string()], 2).contains("newer than this tidings knows"));
    assert_eq!(elsewhere.json(&["issue", "status", "2026-11"])["deliveries"]["sent"], 40, "the database is unchanged");
}

/// A newsletter whose relay is `relay` over `tls`, trusting the CA in `ca_pem`.
fn over_tls(n: usize, port: u16, tls: &str, ca_pem: &str) -> Tidings {
    let mut t = newsletter(n, port);
    let ca = t.write("ca.pem", ca_pem);
    t.set_env("TIDINGS_SMTP__TLS", tls);
    t.set_env("TIDINGS_SMTP__CA_FILE", &ca);
    t.ok(&["issue", "send", "2026-11"]);
    t
}

#[test]
fn mail_goes_to_the_relay_over_verified_tls_and_a_bad_certificate_holds_the_send_without_spending_attempts() {
    use support::tls::{TestCa, TlsMode, TlsRelay};
    let ca = TestCa::new("Tidings test CA");
    for (mode, tls) in [(TlsMode::Starttls, "starttls"), (TlsMode::Implicit, "tls")] {
        let relay = TlsRelay::start(mode, ca.server_cert(&["127.0.0.1"], false));
        let t = over_tls(3, relay.port, tls, &ca.pem);
        t.ok(&["deliver", "--until-idle"]);
        let mut got = relay.received();
        got.sort();
        assert_eq!(got, (0..3).map(|i| (format!("reader{i}@example.com"), true)).collect::<Vec<_>>(), "{tls}: every message over TLS");
        assert_eq!(count(&t, "sent"), 3);
    }

    let stranger = TestCa::new("Somebody else's CA");
    let bad = [
        ("a certificate for another host", ca.server_cert(&["relay.example.net"], false)),
        ("an expired certificate", ca.server_cert(&["127.0.0.1"], true)),
        ("a certificate from an untrusted CA", stranger.server_cert(&["127.0.0.1"], false)),
    ];
    for (what, cert) in bad {
        let relay = TlsRelay::start(TlsMode::Starttls, cert);
        let t = over_tls(2, relay.port, "starttls", &ca.pem);
        let err = t.fails(&["deliver", "--until-idle"], 1);
        assert!(err.contains("STARTTLS") && (err.contains("certificate") || err.contains("Certificate")), "{what}: {err}");
        assert!(relay.received().is_empty(), "{what}: nothing is sent");
        assert_eq!(count(&t, "queued"), 2, "{what}: the send waits");
        assert_eq!(t.sql("SELECT MAX(attempts) FROM deliveries"), "0", "{what}: nobody's attempts are spent");
    }

    // A lab may turn checking off, and is told so at every start.
    let relay = TlsRelay::start(TlsMode::Starttls, stranger.server_cert(&["relay.example.net"], true));
    let mut t = over_tls(1, relay.port, "starttls", &ca.pem);
    t.set_env("TIDINGS_SMTP__TLS_VERIFY", "false");
    let out = t.run(&["deliver", "--until-idle"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls_verify = false"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(relay.received().len(), 1);
    let unreadable = t.write("not-a-ca.pem", "hello");
    t.set_env("TIDINGS_SMTP__TLS_VERIFY", "true");
    t.set_env("TIDINGS_SMTP__CA_FILE", &unreadable);
    let err = t.run(&["deliver", "--until-idle"]);
    assert!(!err.status.success() && String::from_utf8_lossy(&err.stderr).contains("smtp.ca_file"), "{}", String::from_utf8_lossy(&err.stderr));
}
