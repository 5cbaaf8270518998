//! Retention: a finished send's delivery rows and old bounce and confirmation events go; every
//! number staff see stays the same; what must stay (running sends, consent, staff actions)
//! stays; and a prune killed half way leaves a sound database that the next prune finishes.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::Tidings;
use support::smtp::TestSmtp;

const ISSUE: &str = "+++\nlist = \"news\"\nslug = \"old\"\ntitle = \"Old news\"\ndate = 2025-01-10\n+++\n\nOnce upon a time.\n";

/// A list of `n` readers, the issue `old` sent to them through a relay that refuses a few (so
/// there are bounces and errors to keep), finished long ago.
fn sent_long_ago(n: usize) -> (Tidings, TestSmtp) {
    let relay = TestSmtp::start(|rcpt, _| rcpt.starts_with("gone").then(|| "550 5.1.1 <x@example.com>: user unknown".to_string()));
    let mut t = Tidings::new().with_list("news");
    t.set_env("TIDINGS_SMTP__TRANSPORT", "smtp");
    t.set_env("TIDINGS_SMTP__PORT", &relay.port.to_string());
    t.set_env("TIDINGS_SECURITY__SECRET_KEY", "retention-test-key-0123456789abcdef0123456789");
    let mut csv = String::from("email\n");
    for i in 0..n {
        csv.push_str(&if i % 10 == 0 { format!("gone{i}@example.com\n") } else { format!("reader{i}@example.com\n") });
    }
    let file = t.write("readers.csv", csv);
    t.ok(&["subscriber", "import", &file, "--list", "news", "--confirmed"]);
    let issue = t.write("old.md", ISSUE);
    t.ok(&["issue", "add", &issue]);
    t.ok(&["issue", "send", "old"]);
    t.ok(&["deliver", "--until-idle"]);
    t.sql("UPDATE issues SET finished_at = '2025-01-11T00:00:00Z' WHERE slug = 'old'");
    (t, relay)
}

/// What staff see of the send: status (counts, errors) without the moment's rate.
fn numbers(t: &Tidings) -> serde_json::Value {
    let mut status = t.json(&["issue", "status", "old"]);
    status.as_object_mut().unwrap().remove("rate_per_minute");
    status.as_object_mut().unwrap().remove("eta_seconds");
    status
}

/// Backdates events of `kinds` (the log refuses changes: the test lifts its guard for this).
fn backdate_events(t: &Tidings, kinds: &str) {
    let update = format!("UPDATE events SET at = '2024-01-01T00:00:00Z' WHERE type LIKE '{kinds}'");
    if t.is_postgres() {
        t.sql(&format!("ALTER TABLE events DISABLE TRIGGER events_append_only_update; {update}; ALTER TABLE events ENABLE TRIGGER events_append_only_update;"));
    } else {
        t.sql(&format!(
            "DROP TRIGGER events_append_only_update; {update};
             CREATE TRIGGER events_append_only_update BEFORE UPDATE OF id, at, type, actor, list_id, issue_id, detail ON events BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;"
        ));
    }
}

#[test]
fn pruning_keeps_every_number_staff_see_and_takes_only_what_it_may() {
    let (t, _relay) = sent_long_ago(50);
    let before = numbers(&t);
    assert_eq!(before["deliveries"]["sent"], 45);
    assert_eq!(before["deliveries"]["bounced"], 5, "{before}");
    // Old events of every kind: only bounce and confirmation events may go.
    t.ok(&["subscriber", "add", "new@example.com", "--list", "news"]);
    backdate_events(&t, "%");
    let kinds_before = t.sql("SELECT type FROM events WHERE type NOT LIKE 'bounce.%' AND type NOT LIKE 'confirmation.%' ORDER BY id");

    let dry = t.json(&["prune", "--dry-run"]);
    assert_eq!((dry["issues"].as_i64(), dry["deliveries"].as_i64(), dry["events"].as_i64()), (Some(1), Some(50), Some(5)), "{dry}");
    assert_eq!(t.sql("SELECT COUNT(*) FROM deliveries"), "50", "a dry run changes nothing");

    let done = t.json(&["prune"]);
    assert_eq!((done["issues"].as_i64(), done["deliveries"].as_i64(), done["events"].as_i64()), (Some(1), Some(50), Some(5)), "{done}");
    assert_eq!(t.sql("SELECT COUNT(*) FROM deliveries"), "0");
    assert_eq!(numbers(&t), before, "issue status shows what it showed before");
    assert_eq!(t.sql("SELECT type FROM events WHERE type NOT LIKE 'bounce.%' AND type NOT LIKE 'confirmation.%' ORDER BY id"), kinds_before, "consent, staff and send events stay");
    assert_eq!(t.sql("SELECT COUNT(*) FROM events WHERE type LIKE 'bounce.%' OR type LIKE 'confirmation.%'"), "0");
    assert_eq!(t.sql("SELECT COUNT(*) FROM bounces"), "5", "the bounce log stays");
    assert!(t.fails(&["subscriber", "add", "gone0@example.com", "--list", "news"], 2).contains("suppressed"), "suppressions stay");
    // The log's guard is back: nothing else deletes from it.
    let (ok, out) = t.try_sql("DELETE FROM events WHERE type LIKE 'subscription.%'");
    assert!(!ok && out.contains("append-only"), "{out}");
    let (ok, out) = t.try_sql("DELETE FROM events");
    assert!(!ok && out.contains("append-only"), "{out}");

    // Nothing more to do the second time.
    let again = t.json(&["prune"]);
    assert_eq!((again["issues"].as_i64(), again["deliveries"].as_i64(), again["events"].as_i64()), (Some(0), Some(0), Some(0)));
    assert_eq!(numbers(&t), before);
}

#[test]
fn the_api_and_the_dashboards_charts_read_a_pruned_issue_from_its_summary() {
    let (mut t, _relay) = sent_long_ago(20);
    let token = t.ok(&["token", "create", "--name", "r", "--role", "viewer"]).trim().to_string();
    t.set_env("TIDINGS_SMTP__TRANSPORT", "file");
    let server = support::serve::Serving::start(&mut t);
    let api = reqwest::blocking::Client::new();
    let status = |path: &str| api.get(server.url(path)).bearer_auth(&token).send().unwrap().text().unwrap();
    let before = status("/api/v1/issues/old/status");
    t.ok(&["prune"]);
    let after = status("/api/v1/issues/old/status");
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        v.as_object_mut().unwrap().remove("rate_per_minute");
        v
    };
    assert_eq!(strip(&after), strip(&before));
    assert_eq!(strip(&after)["deliveries"]["sent"], 18);
}

#[test]
fn a_send_that_is_not_finished_is_never_pruned() {
    let (t, _relay) = sent_long_ago(10);
    t.sql("UPDATE issues SET status = 'paused', finished_at = NULL, updated_at = '2020-01-01T00:00:00Z'");
    let done = t.json(&["prune"]);
    assert_eq!(done["deliveries"].as_i64(), Some(0), "{done}");
    assert_eq!(t.sql("SELECT COUNT(*) FROM deliveries"), "10");
}

#[test]
fn a_prune_killed_half_way_leaves_the_same_numbers_and_the_next_one_finishes() {
    let (t, _relay) = sent_long_ago(10);
    let before = numbers(&t);
    // Many more rows of the same issue, as a big list leaves (written directly).
    t.sql(
        "INSERT INTO subscribers (email, email_key, created_at, updated_at)
           SELECT 'p' || g || '@example.org', 'p' || g || '@example.org', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z' FROM (WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 60000) SELECT g FROM n) AS x;
         INSERT INTO deliveries (issue_id, subscriber_id, state, attempts, sent_at, updated_at)
           SELECT i.id, s.id, 'sent', 1, '2025-01-10T08:00:00Z', '2025-01-10T08:00:00Z' FROM issues i, subscribers s WHERE i.slug = 'old' AND s.email LIKE 'p%';",
    );
    // Its summary was written when it finished, before these rows: the prune writes it afresh,
    // as for a send finished before summaries were written at the end of a send.
    t.sql("DELETE FROM issue_summaries");
    let before_sent = before["deliveries"]["sent"].as_i64().unwrap() + 60_000;
    let size_before = database_size(&t);
    let mut prune = t.command(&["prune"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Kill it once it has started deleting.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while t.try_sql("SELECT COUNT(*) FROM deliveries").1.parse::<i64>().unwrap_or(i64::MAX) == 60_010 {
        assert!(std::time::Instant::now() < deadline, "the prune did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = prune.kill();
    let _ = prune.wait();
    let left: i64 = t.sql("SELECT COUNT(*) FROM deliveries").parse().unwrap();
    assert!(left < 60_010, "killed mid-prune: {left} rows left");
    let mid = numbers(&t);
    assert_eq!(mid["deliveries"]["sent"].as_i64(), Some(before_sent), "half pruned, the numbers are the summary's: {mid}");
    if !t.is_postgres() {
        assert_eq!(t.sql("PRAGMA integrity_check"), "ok");
    }
    let done = t.json(&["prune"]);
    assert_eq!(done["issues"].as_i64(), Some(1), "{done}");
    assert_eq!(t.sql("SELECT COUNT(*) FROM deliveries"), "0");
    assert_eq!(numbers(&t)["deliveries"]["sent"].as_i64(), Some(before_sent));
    if !t.is_postgres() {
        assert_eq!(t.sql("PRAGMA integrity_check"), "ok");
        assert_eq!(t.sql("PRAGMA freelist_count"), "0", "the freed pages went back to the disk");
        assert!(database_size(&t) < size_before, "{} < {size_before}", database_size(&t));
    }
}

fn database_size(t: &Tidings) -> u64 {
    if t.is_postgres() {
        return 0;
    }
    t.sql("PRAGMA wal_checkpoint(TRUNCATE)");
    std::fs::metadata(t.db_path()).unwrap().len()
}

#[test]
fn a_finished_send_is_summarised_at_once_and_late_bounces_move_its_numbers() {
    let (t, relay) = sent_long_ago(20);
    assert_eq!(t.sql("SELECT sent || ' ' || bounced FROM issue_summaries"), "18 2", "the summary is written when the send finishes");
    // A late DSN for a reader whose message was accepted.
    let (sender, rcpt, _) = relay.delivered().into_iter().find(|(_, rcpt, _)| rcpt == "reader1@example.com").expect("reader1 was mailed");
    let dsn = format!(
        "From: MAILER-DAEMON@mx.example.com\r\nTo: {sender}\r\nSubject: Undelivered Mail\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <late@mx.example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.2.1\r\nDiagnostic-Code: smtp; 550 5.2.1 mailbox disabled late\r\n\r\n--B--\r\n"
    );
    let file = t.write("late.eml", dsn);
    t.ok(&["bounce", "ingest", &file]);
    let status = numbers(&t);
    assert_eq!((status["deliveries"]["sent"].as_i64(), status["deliveries"]["bounced"].as_i64()), (Some(17), Some(3)), "{status}");
    assert!(status["top_errors"].to_string().contains("mailbox disabled late"), "the rows are whole: errors are read from them: {status}");
    t.ok(&["prune"]);
    let after = numbers(&t);
    assert_eq!(after["deliveries"], status["deliveries"], "the prune keeps what the late bounce changed");
}
