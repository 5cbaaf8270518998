//! Several instances on one PostgreSQL database: claims that never overlap, outcomes a stale
//! owner cannot overwrite, schedulers that queue once, a claim that stays an index scan, and real
//! processes delivering together through kills, freezes and a database restart.
//!
//! These run in the PostgreSQL pass of the suite (`TIDINGS_TEST_POSTGRES` set, as `bash .ci/run`
//! does); on SQLite there is one writer and one host, and they return at once.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as Lease;
use support::Tidings;
use support::pg::Cluster;
use support::smtp::Sink;
use tidings::store::{Actor, BouncePolicy, Outcome, Store};

const ISSUE: &str = "+++\nlist = \"news\"\nslug = \"wide\"\ntitle = \"Wide\"\ndate = 2026-11-20\n+++\n\nShort.\n";

/// Messages a killed or frozen instance may send again: those it had sent but not recorded (the
/// workers in flight plus the recorder's queue, one batch at most).
const IN_FLIGHT: usize = 16 * 8;

fn on_postgres() -> bool {
    support::postgres_server().is_some()
}

/// A list `news` of `n` confirmed readers and the issue `wide` to them, on `t`'s database.
fn audience(t: &Tidings, n: usize) {
    t.ok(&["list", "create", "news", "--name", "News"]);
    let mut csv = String::with_capacity(n * 30 + 6);
    csv.push_str("email\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@example.com\n"));
    }
    let file = t.write("readers.csv", csv);
    t.ok(&["subscriber", "import", &file, "--list", "news", "--confirmed"]);
    let issue = t.write("wide.md", ISSUE);
    t.ok(&["issue", "add", &issue]);
}

fn policy() -> BouncePolicy {
    BouncePolicy { soft_threshold: 5, window_days: 30 }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap()
}

#[test]
fn concurrent_claims_get_disjoint_rows_and_together_every_row() {
    if !on_postgres() {
        return;
    }
    let t = Tidings::new();
    audience(&t, 3000);
    t.ok(&["issue", "send", "wide"]);
    runtime().block_on(async {
        let store = Store::open(&t.database_url(), 16).await.unwrap();
        let mut tasks = Vec::new();
        for worker in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_deliveries(&format!("claimer-{worker}"), 50, Lease::seconds(120)).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|d| d.id));
                }
            }));
        }
        let mut seen = HashSet::new();
        let mut per_worker = Vec::new();
        for task in tasks {
            let ids = task.await.unwrap();
            per_worker.push(ids.len());
            for id in ids {
                assert!(seen.insert(id), "delivery {id} was claimed twice");
            }
        }
        assert_eq!(seen.len(), 3000, "every row was claimed once");
        assert!(per_worker.iter().filter(|&&n| n > 0).count() > 1, "the claimers worked side by side: {per_worker:?}");
    });
}

#[test]
fn an_owner_whose_lease_was_taken_back_changes_nothing_with_its_outcomes() {
    if !on_postgres() {
        return;
    }
    let t = Tidings::new();
    audience(&t, 20);
    t.ok(&["issue", "send", "wide"]);
    runtime().block_on(async {
        let store = Store::open(&t.database_url(), 4).await.unwrap();
        let stale = store.claim_deliveries("stale-owner", 20, Lease::seconds(120)).await.unwrap();
        assert_eq!(stale.len(), 20);
        // The owner froze: its lease ran out and another instance took the rows.
        t.sql("UPDATE deliveries SET lease_until = now() - interval '1 second'");
        assert_eq!(store.reclaim_leases("fresh-owner", "elsewhere", |_| true).await.unwrap(), 20);
        let fresh = store.claim_deliveries("fresh-owner", 20, Lease::seconds(120)).await.unwrap();
        assert_eq!(fresh.len(), 20);
        let failed: Vec<_> = stale.into_iter().map(|d| (d, Outcome::Failed { code: Some(554), error: "stale".into() })).collect();
        store.record_outcomes("stale-owner", &failed, policy()).await.unwrap();
        assert_eq!(t.sql("SELECT state || ' ' || lease_owner || ' ' || COUNT(*) FROM deliveries GROUP BY state, lease_owner"), "sending fresh-owner 20", "the stale outcomes wrote nothing");
        let sent: Vec<_> = fresh.into_iter().map(|d| (d, Outcome::Sent)).collect();
        store.record_outcomes("fresh-owner", &sent, policy()).await.unwrap();
        assert_eq!(t.sql("SELECT state || ' ' || COUNT(*) FROM deliveries GROUP BY state"), "sent 20");
    });
}

#[test]
fn three_schedulers_queue_a_due_issue_once() {
    if !on_postgres() {
        return;
    }
    let t = Tidings::new();
    audience(&t, 500);
    t.ok(&["issue", "send", "wide", "--at", "2026-01-01T00:00:00Z"]);
    runtime().block_on(async {
        let store = Store::open(&t.database_url(), 8).await.unwrap();
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.queue_due_issues(&Actor("scheduler".into())).await.unwrap() })
            })
            .collect();
        let mut queued = Vec::new();
        for task in tasks {
            queued.extend(task.await.unwrap());
        }
        assert_eq!(queued.len(), 1, "one scheduler queued it: {queued:?}");
        assert_eq!(queued[0].1, 500);
    });
    assert_eq!(t.sql("SELECT COUNT(*) FROM deliveries"), "500");
    assert_eq!(t.sql("SELECT COUNT(*) FROM events WHERE type = 'issue.queued'"), "1");
}

#[test]
fn owners_removing_each_other_at_once_leave_an_owner_and_one_address_signing_up_twice_is_one_person() {
    if !on_postgres() {
        return;
    }
    let t = Tidings::new();
    t.ok(&["list", "create", "news", "--name", "News"]);
    for (who, role) in [("a@example.com", "owner"), ("b@example.com", "owner"), ("c@example.com", "viewer")] {
        t.command(&["staff", "add", who, "--role", role, "--password-stdin"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().map(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
            assert!(c.wait().unwrap().success());
        }).unwrap();
    }
    runtime().block_on(async {
        let store = Store::open(&t.database_url(), 8).await.unwrap();
        let removals: Vec<_> = ["a@example.com", "b@example.com"]
            .into_iter()
            .map(|email| {
                let store = store.clone();
                tokio::spawn(async move { store.remove_staff(&tidings::domain::EmailAddress::parse(email).unwrap(), &Actor::cli()).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for r in removals {
            outcomes.push(r.await.unwrap().is_ok());
        }
        assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "one removal wins, the other finds the last owner: {outcomes:?}");
    });
    assert_eq!(t.sql("SELECT COUNT(*) FROM staff WHERE role = 'owner'"), "1");

    // Ten sign-ups of one new address at once, as from ten instances: one person, one subscription.
    let children: Vec<Child> = (0..10).map(|_| t.command(&["subscriber", "add", "Twice@Example.com", "--list", "news", "--confirmed"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(t.sql("SELECT COUNT(*) FROM subscribers"), "1");
    assert_eq!(t.sql("SELECT COUNT(*) FROM subscriptions"), "1");
}

#[test]
fn the_claim_stays_an_index_scan_under_a_generic_plan() {
    if !on_postgres() {
        return;
    }
    let t = Tidings::new();
    audience(&t, 10);
    // A big send in progress: 300,000 queued rows, the statistics up to date.
    t.sql(
        "INSERT INTO subscribers (email, email_key, created_at, updated_at) SELECT 'p' || g || '@example.org', 'p' || g || '@example.org', now(), now() FROM generate_series(1, 300000) g;
         INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at)
           SELECT l.id, s.id, 'confirmed', 'import', now(), now(), now() FROM lists l, subscribers s WHERE s.email LIKE 'p%';",
    );
    t.ok(&["issue", "send", "wide"]);
    t.sql("ANALYZE");
    let explain = |statement: &str| {
        t.sql(&format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE claim(text, interval, bigint) AS {statement}; EXPLAIN EXECUTE claim('x', interval '2 minutes', 128);"
        ))
    };
    let ours = explain(tidings::store::postgres_claim_statement());
    assert!(!ours.contains("Seq Scan on deliveries"), "the claim reads deliveries through its indexes:\n{ours}");
    assert!(ours.contains("deliveries_queued") && ours.contains("deliveries_pkey"), "queued rows from their partial index, updates by id:\n{ours}");
    // The shape it replaces scans the table: the check can tell them apart.
    let naive = explain(
        "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = now() + $2
         WHERE id IN (SELECT id FROM deliveries WHERE issue_id = (SELECT id FROM issues WHERE status = 'sending' LIMIT 1)
                      AND state = 'queued' AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    );
    assert!(naive.contains("Seq Scan on deliveries"), "id IN (SELECT … LIMIT $n) under a generic plan:\n{naive}");
}

/// Starts `n` delivery processes (`deliver`, running until stopped) on `t`'s database.
fn instances(t: &Tidings, n: usize) -> Vec<Child> {
    (0..n).map(|_| t.command(&["deliver"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()).collect()
}

fn stop_all(children: Vec<Child>) -> String {
    let mut logs = String::new();
    for mut child in children {
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    logs
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every reader got the issue; returns how many got it more than once (messages sent again).
fn everyone_once_or_again(sink: &Sink, n: usize) -> usize {
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for r in sink.recipients() {
        *tally.entry(r).or_default() += 1;
    }
    let missing: Vec<_> = (0..n).map(|i| format!("reader{i}@example.com")).filter(|r| !tally.contains_key(r)).take(5).collect();
    assert!(missing.is_empty(), "never mailed: {missing:?}…");
    assert_eq!(tally.len(), n, "only the readers were mailed");
    tally.values().map(|c| c - 1).sum()
}

fn sent(t: &Tidings) -> i64 {
    t.sql("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'").parse().unwrap()
}

fn relay(t: &mut Tidings, sink: &Sink) {
    t.set_env("TIDINGS_SMTP__TRANSPORT", "smtp");
    t.set_env("TIDINGS_SMTP__PORT", &sink.port.to_string());
    t.set_env("TIDINGS_SECURITY__SECRET_KEY", "scale-out-test-key-0123456789abcdef0123456789");
    t.set_env("TIDINGS_LOG", "info");
}

#[test]
fn three_instances_deliver_twenty_thousand_recipients_exactly_once() {
    if !on_postgres() {
        return;
    }
    let sink = Sink::start(&[]);
    let mut t = Tidings::new();
    relay(&mut t, &sink);
    audience(&t, 20_000);
    t.ok(&["issue", "send", "wide"]);
    let running = instances(&t, 3);
    wait_for("the send to finish", Duration::from_secs(600), || t.sql("SELECT status FROM issues WHERE slug = 'wide'") == "sent");
    let logs = stop_all(running);
    assert_eq!(everyone_once_or_again(&sink, 20_000), 0, "nobody was mailed twice\n{logs}");
    assert_eq!(sent(&t), 20_000);
    assert_eq!(t.sql("SELECT COUNT(*) FROM events WHERE type = 'issue.sent'"), "1", "the send finished once");
}

/// A slow send under way: 1,200 readers, a relay that takes a second over each message, three
/// instances sending, `started` messages out already.
struct SlowSend {
    sink: Sink,
    t: Tidings,
    running: Vec<Child>,
}

impl SlowSend {
    fn start(t: Tidings, started: usize) -> Self {
        let sink = Sink::start(&["-w", "1"]);
        let mut t = t;
        relay(&mut t, &sink);
        audience(&t, 1200);
        t.ok(&["issue", "send", "wide"]);
        let running = instances(&t, 3);
        wait_for("the send to be under way", Duration::from_secs(120), || sink.recipients().len() > started);
        Self { sink, t, running }
    }

    /// Waits for the send to finish, stops the instances, and checks that every reader got the
    /// issue, and at most the messages in flight twice; returns the instances' logs.
    fn finish(self) -> String {
        let t = &self.t;
        wait_for("the send to finish", Duration::from_secs(300), || t.try_sql("SELECT status FROM issues WHERE slug = 'wide'").1 == "sent");
        std::thread::sleep(Duration::from_secs(2));
        let logs = stop_all(self.running);
        let again = everyone_once_or_again(&self.sink, 1200);
        eprintln!("sent again: {again}");
        assert!(again <= IN_FLIGHT, "{again} messages were sent twice, more than were in flight\n{logs}");
        assert_eq!(sent(t), 1200, "every delivery is recorded sent, none overwritten");
        logs
    }
}

#[test]
fn kill_9_of_one_instance_mid_send_loses_nobody_and_repeats_at_most_its_messages_in_flight() {
    if !on_postgres() {
        return;
    }
    let mut send = SlowSend::start(Tidings::new(), 200);
    let victim = send.running.remove(1);
    assert!(Command::new("kill").arg("-9").arg(victim.id().to_string()).status().unwrap().success());
    let logs = send.finish();
    assert!(logs.contains("took back deliveries"), "the survivors took back the dead one's deliveries:\n{logs}");
}

#[test]
fn an_instance_frozen_past_its_heartbeat_overwrites_nothing_and_sends_at_most_its_batch_again() {
    if !on_postgres() {
        return;
    }
    let send = SlowSend::start(Tidings::new(), 150);
    let frozen = send.running[0].id().to_string();
    assert!(Command::new("kill").args(["-STOP", &frozen]).status().unwrap().success());
    // Past the heartbeat timeout (30 s): the others declare it dead and take its deliveries.
    std::thread::sleep(Duration::from_secs(40));
    assert!(Command::new("kill").args(["-CONT", &frozen]).status().unwrap().success());
    let logs = send.finish();
    assert!(logs.contains("declared dead"), "the frozen instance learnt it had been declared dead:\n{logs}");
}

#[test]
fn postgres_restarted_mid_send_every_instance_reconnects_and_the_send_completes_once() {
    if !on_postgres() {
        return;
    }
    let cluster = Cluster::start();
    let send = SlowSend::start(Tidings::on_database(&cluster.database("restarted")), 200);
    cluster.restart();
    let logs = send.finish();
    assert!(!logs.contains("panicked"), "{logs}");
}

fn form_field(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    Some(html[start..].split('"').next()?.to_string())
}

#[test]
fn any_instance_answers_any_request_sessions_forms_links_and_imports() {
    if !on_postgres() {
        return;
    }
    use reqwest::blocking::Client;
    use reqwest::StatusCode;
    use std::io::Write;
    let mut t = Tidings::new();
    t.set_env("TIDINGS_SECURITY__SECRET_KEY", "two-instances-key-0123456789abcdef0123456789");
    t.ok(&["list", "create", "news", "--name", "News"]);
    let mut child = t.command(&["staff", "add", "owner@example.com", "--role", "owner"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"correct horse battery staple\n").unwrap();
    assert!(child.wait().unwrap().success());
    let token = t.ok(&["token", "create", "--name", "script", "--role", "owner"]).trim().to_string();
    let a = support::serve::Serving::start(&mut t);
    let b = support::serve::Serving::start(&mut t);

    // A session made on A works on B, and so does the form token it carries.
    let browser = Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = browser.get(a.url("/admin/login")).send().unwrap().text().unwrap();
    let csrf = form_field(&login, "csrf").unwrap();
    let signed_in = browser.post(a.url("/admin/login")).form(&[("csrf", csrf.as_str()), ("email", "owner@example.com"), ("password", "correct horse battery staple")]).send().unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let page = browser.get(b.url("/admin/lists")).send().unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the session is the database's, not an instance's");
    let csrf = form_field(&page.text().unwrap(), "csrf").unwrap();
    let made = browser.post(b.url("/admin/lists")).form(&[("csrf", csrf.as_str()), ("slug", "more"), ("name", "More")]).send().unwrap();
    assert_eq!(made.status(), StatusCode::SEE_OTHER);

    // A sign-up form served by A and posted to B; its link, signed by whichever instance sent
    // the email, confirms on B.
    let reader = Client::builder().cookie_store(true).build().unwrap();
    let form = reader.get(a.url("/subscribe")).send().unwrap().text().unwrap();
    let csrf = form_field(&form, "csrf").unwrap();
    let fields = [("email", "reader@example.com"), ("list", "news"), ("csrf", csrf.as_str())];
    assert_eq!(reader.post(b.url("/subscribe")).form(&fields).send().unwrap().status(), StatusCode::OK);
    let outbox = t.path().join("outbox");
    let mut link = None;
    wait_for("the confirmation email", Duration::from_secs(30), || {
        for entry in std::fs::read_dir(&outbox).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default().replace("=\r\n", "").replace("=\n", "");
            if let Some(at) = text.find("/confirm/") {
                link = Some(text[at..].split(|c: char| c.is_whitespace() || c == '"' || c == '<').next().unwrap().to_string());
                return true;
            }
        }
        false
    });
    let confirmed = Client::new().post(b.url(&link.unwrap())).send().unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(t.sql("SELECT u.status FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id WHERE s.email = 'reader@example.com'"), "confirmed");

    // An import uploaded to A is followed on B.
    let api = Client::new();
    let started = api.post(a.url("/api/v1/lists/news/import")).bearer_auth(&token).header("content-type", "text/csv").body("email\none@example.com\ntwo@example.com\n").send().unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let id = started.json::<serde_json::Value>().unwrap()["id"].as_i64().unwrap();
    wait_for("the import to finish", Duration::from_secs(30), || {
        api.get(b.url(&format!("/api/v1/imports/{id}"))).bearer_auth(&token).send().unwrap().json::<serde_json::Value>().unwrap()["state"] == "done"
    });
}
