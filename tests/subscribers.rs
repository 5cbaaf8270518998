//! Subscribers and lists from the command line: import, export, add, show, unsubscribe, erase.

mod support;

use support::Tidings;

/// A CSV as people really send them: BOM, CRLF, quoted commas, the same person twice in
/// different case, bad addresses, a short row, a header-injection attempt and extra columns.
const MESSY: &[u8] = b"\xef\xbb\xbfEmail,Name,City,Plan\r\n\
alice@example.com,\"Liddell, Alice\",Oxford,pro\r\n\
bob@EXAMPLE.org,Bob,,\r\n\
not-an-address,Nobody,Nowhere,\r\n\
ALICE@Example.COM,,London,\r\n\
short@example.com\r\n\
\"eve@example.com\",\"Eve\r\nBcc: everyone@example.com\",,\r\n\
wang@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a,\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e,\xe5\x8c\x97\xe4\xba\xac,free\r\n\
carol@example.net,Carol,\"Paris, France\",pro,extra\r\n\
dave@example.net,Dave,Berlin,free\r\n";

fn import(t: &Tidings, file: &str, list: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["subscriber", "import", file, "--list", list];
    args.extend_from_slice(extra);
    t.json(&args)["report"].clone()
}

#[test]
fn messy_csv_keeps_good_rows_and_reports_each_bad_one_with_its_line() {
    let t = Tidings::new().with_list("news");
    let file = t.write("messy.csv", MESSY);
    let report = import(&t, &file, "news", &["--confirmed"]);
    assert_eq!(report["imported"], 4, "{report:#}");
    assert_eq!(report["updated"], 1, "the second Alice merges into the first: {report:#}");
    assert_eq!(report["skipped"], 4, "{report:#}");
    let problems: Vec<(u64, String)> = report["problems"].as_array().unwrap().iter().map(|p| (p["line"].as_u64().unwrap(), p["reason"].as_str().unwrap().to_string())).collect();
    let lines: Vec<u64> = problems.iter().map(|p| p.0).collect();
    assert_eq!(lines, vec![4, 6, 7, 10], "{problems:#?}");
    assert!(problems[0].1.contains("not-an-address"), "{problems:?}");
    assert!(problems[1].1.contains("1 fields but the header has 4"), "{problems:?}");
    assert!(problems[2].1.contains("control character"), "{problems:?}");
    assert!(problems[3].1.contains("5 fields"), "{problems:?}");

    let alice = t.json(&["subscriber", "show", "Alice@example.com"]);
    assert_eq!(alice["name"], "Liddell, Alice", "an empty name in a later row keeps the earlier one");
    assert_eq!(alice["attributes"], serde_json::json!({"City": "London", "Plan": "pro"}));
    assert_eq!(alice["subscriptions"][0]["status"], "confirmed");
    assert_eq!(alice["subscriptions"][0]["consent_source"], "import");
    let wang = t.json(&["subscriber", "show", "wang@例子.广告"]);
    assert_eq!(wang["email"], "wang@xn--fsqu00a.xn--4rr70v");
    assert_eq!(wang["name"], "王小明");
}

#[test]
fn the_text_report_names_the_file_and_line_on_stderr() {
    let t = Tidings::new().with_list("news");
    let file = t.write("messy.csv", MESSY);
    let out = t.run(&["subscriber", "import", &file, "--list", "news"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("messy.csv: line 4: invalid email address \"not-an-address\""), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 imported, 1 updated, 4 skipped"), "{stdout}");
}

#[test]
fn export_writes_import_columns_plus_status_and_dates_and_imports_back() {
    let t = Tidings::new().with_list("news").with_list("other");
    import(&t, &t.write("messy.csv", MESSY), "news", &["--confirmed"]);
    let csv_text = t.ok(&["subscriber", "export", "--list", "news"]);
    let mut lines = csv_text.lines();
    assert_eq!(lines.next().unwrap(), "email,name,City,Plan,list,status,consent_source,subscribed_at,confirmed_at,unsubscribed_at");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4, "{csv_text}");
    assert!(rows.iter().any(|r| r.starts_with("alice@example.com,\"Liddell, Alice\",London,pro,news,confirmed,import,")), "{csv_text}");

    // The export is a valid import: the same people land on another list, nothing else.
    let exported = t.write("export.csv", &csv_text);
    let report = import(&t, &exported, "other", &["--confirmed"]);
    assert_eq!((report["imported"].as_u64(), report["skipped"].as_u64()), (Some(4), Some(0)), "{report:#}");
    let again = t.ok(&["subscriber", "export", "--list", "other"]);
    assert_eq!(again.lines().count(), 5);
    assert!(!again.lines().next().unwrap().contains("status,status"), "reserved columns must not become attributes");
}

#[test]
fn export_filters_by_status() {
    let t = Tidings::new().with_list("news");
    t.ok(&["subscriber", "add", "a@example.com", "--list", "news", "--confirmed"]);
    t.ok(&["subscriber", "add", "b@example.com", "--list", "news"]);
    t.ok(&["subscriber", "add", "c@example.com", "--list", "news", "--confirmed"]);
    t.ok(&["unsubscribe", "c@example.com", "--list", "news"]);
    let count = |status: &str| t.ok(&["subscriber", "export", "--status", status]).lines().count() - 1;
    assert_eq!((count("confirmed"), count("pending"), count("unsubscribed")), (1, 1, 1));
    assert!(t.fails(&["subscriber", "export", "--status", "gone"], 2).contains("--status"));
}

#[test]
fn suppressed_and_unsubscribed_addresses_are_not_resubscribed_by_import() {
    let t = Tidings::new().with_list("news");
    let file = t.write("people.csv", "email,name\nkeep@example.com,Keep\nleave@example.com,Leave\nforget@example.com,Forget\n");
    import(&t, &file, "news", &["--confirmed"]);
    t.ok(&["unsubscribe", "leave@example.com"]);
    t.ok(&["subscriber", "erase", "forget@example.com"]);

    let report = import(&t, &file, "news", &["--confirmed"]);
    assert_eq!(report["updated"], 1, "{report:#}");
    assert_eq!(report["skipped"], 2, "{report:#}");
    let reasons = report["problems"].to_string();
    assert!(reasons.contains("unsubscribed from this list"), "{reasons}");
    assert!(reasons.contains("suppressed"), "{reasons}");
    let leave = t.json(&["subscriber", "show", "leave@example.com"]);
    assert_eq!(leave["subscriptions"][0]["status"], "unsubscribed");
    t.fails(&["subscriber", "show", "forget@example.com"], 2);
    let refused = t.fails(&["subscriber", "add", "FORGET@example.com", "--list", "news", "--confirmed"], 2);
    assert!(refused.contains("suppressed"), "{refused}");
}

#[test]
fn a_status_column_saying_unsubscribed_is_honoured() {
    let t = Tidings::new().with_list("news");
    let file = t.write("with-status.csv", "email,status\nin@example.com,confirmed\nout@example.com,unsubscribed\n");
    let report = import(&t, &file, "news", &["--confirmed"]);
    assert_eq!((report["imported"].as_u64(), report["skipped"].as_u64()), (Some(1), Some(1)), "{report:#}");
}

#[test]
fn erase_leaves_no_trace_of_the_address_in_the_database_files() {
    let t = Tidings::new().with_list("news");
    t.ok(&["subscriber", "add", "secret.person@example.com", "--list", "news", "--name", "Secret Person", "--confirmed"]);
    t.ok(&["subscriber", "add", "other@example.com", "--list", "news", "--confirmed"]);
    t.ok(&["subscriber", "erase", "secret.person@example.com"]);
    for file in ["tidings.db", "tidings.db-wal"] {
        let path = t.path().join(file);
        let Ok(bytes) = std::fs::read(&path) else { continue };
        for needle in [&b"secret.person"[..], b"Secret Person"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{file} still holds {:?}", String::from_utf8_lossy(needle));
        }
    }
    let lists = t.json(&["list", "ls"]);
    assert_eq!(lists[0]["confirmed"], 1);
    let erased_again = t.fails(&["subscriber", "erase", "secret.person@example.com"], 2);
    assert!(erased_again.contains("no subscriber"), "{erased_again}");
}

#[test]
fn add_without_confirmed_is_pending_and_confirmed_upgrades_it() {
    let t = Tidings::new().with_list("news");
    let first = t.json(&["subscriber", "add", "p@example.com", "--list", "news", "--name", "Pat"]);
    assert_eq!(first["outcome"], serde_json::json!({"added": "pending"}));
    let second = t.json(&["subscriber", "add", "p@example.com", "--list", "news", "--confirmed"]);
    assert_eq!(second["outcome"], "confirmed");
    let shown = t.json(&["subscriber", "show", "p@example.com"]);
    assert_eq!(shown["subscriptions"][0]["consent_source"], "cli");
    assert!(shown["subscriptions"][0]["confirmed_at"].is_string());
    let kinds: Vec<&str> = shown["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["subscription.confirmed", "subscription.requested"]);
}

#[test]
fn list_ls_counts_subscribers_by_status() {
    let t = Tidings::new().with_list("news");
    t.ok(&["subscriber", "add", "a@example.com", "--list", "news", "--confirmed"]);
    t.ok(&["subscriber", "add", "b@example.com", "--list", "news", "--confirmed"]);
    t.ok(&["subscriber", "add", "c@example.com", "--list", "news"]);
    t.ok(&["unsubscribe", "b@example.com"]);
    let lists = t.json(&["list", "ls"]);
    assert_eq!((lists[0]["confirmed"].as_i64(), lists[0]["pending"].as_i64(), lists[0]["unsubscribed"].as_i64()), (Some(1), Some(1), Some(1)));
    let table = t.ok(&["list", "ls"]);
    assert!(table.lines().nth(1).unwrap().starts_with("news"), "{table}");
}

#[test]
fn staff_unsubscribe_reports_what_changed() {
    let t = Tidings::new().with_list("news").with_list("digest");
    t.ok(&["subscriber", "add", "a@example.com", "--list", "news", "--confirmed"]);
    t.ok(&["subscriber", "add", "a@example.com", "--list", "digest", "--confirmed"]);
    let one = t.json(&["unsubscribe", "a@example.com", "--list", "news"]);
    assert_eq!(one["unsubscribed"], serde_json::json!(["news"]));
    let all = t.json(&["unsubscribe", "A@EXAMPLE.COM"]);
    assert_eq!(all["unsubscribed"], serde_json::json!(["digest"]));
    assert_eq!(all["already"], serde_json::json!(["news"]));
    t.fails(&["unsubscribe", "nobody@example.com"], 2);
}

#[test]
fn export_cells_a_spreadsheet_would_run_as_formulas_are_written_as_text() {
    let t = Tidings::new().with_list("news");
    let csv = t.write("evil.csv", "email,name,note\nmallory@example.com,\"=HYPERLINK(\"\"https://evil.example\"\",\"\"x\"\")\",@SUM(1)\n-dash@example.com,+1,ok\n");
    import(&t, &csv, "news", &["--confirmed"]);
    let out = t.ok(&["subscriber", "export", "--list", "news"]);
    assert!(out.contains("mallory@example.com,\"'=HYPERLINK(\"\"https://evil.example\"\",\"\"x\"\")\",'@SUM(1),"), "{out}");
    assert!(out.contains("-dash@example.com,'+1,ok,"), "the address stays as it is, the name is defused: {out}");
}

#[test]
fn suppression_entries_are_keyed_per_installation_and_old_bare_hashes_keep_suppressing() {
    let sql = |t: &Tidings, q: &str| t.sql(q);
    // SHA-256 of the lower-cased address: what an entry was before keys.
    let bare = |address: &str| {
        use sha2::Digest;
        sha2::Sha256::digest(address.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let (one, two) = (Tidings::new().with_list("news"), Tidings::new().with_list("news"));
    for t in [&one, &two] {
        t.ok(&["subscriber", "add", "gone@example.com", "--list", "news", "--confirmed"]);
        t.ok(&["subscriber", "erase", "gone@example.com"]);
    }
    let (entry_one, entry_two) = (sql(&one, "SELECT email_hash FROM suppressions"), sql(&two, "SELECT email_hash FROM suppressions"));
    assert!(entry_one.starts_with("k1:") && entry_one != entry_two, "{entry_one} / {entry_two}");
    assert!(!entry_one.contains(&bare("gone@example.com")));

    // A database from before keys: bare entries, no key yet. Opening it keys them in place.
    sql(&one, &format!("DELETE FROM settings WHERE key = 'suppression_key'; DELETE FROM suppressions; INSERT INTO suppressions (email_hash, reason, created_at) VALUES ('{}', 'complaint', '2026-01-01T00:00:00Z'), ('{}', 'erased', '2026-01-01T00:00:00Z')", bare("old.complainer@example.com"), bare("gone@example.com")));
    let refused = one.fails(&["subscriber", "add", "Old.Complainer@example.com", "--list", "news", "--confirmed"], 2);
    assert!(refused.contains("suppressed"), "{refused}");
    let file = one.write("back.csv", "email\ngone@example.com\nnew@example.com\n");
    let report = import(&one, &file, "news", &["--confirmed"]);
    assert_eq!((report["imported"].as_u64(), report["skipped"].as_u64()), (Some(1), Some(1)), "{report:#}");
    let entries = sql(&one, "SELECT email_hash FROM suppressions ORDER BY 1");
    assert!(entries.lines().all(|e| e.starts_with("k1:")) && entries.lines().count() == 2, "{entries}");
    // A binary from before the upgrade, still running, writes a bare entry after the key exists
    // (here for an address that has a keyed entry too): the next open keys it all the same.
    sql(&one, &format!("INSERT INTO suppressions (email_hash, reason, created_at) VALUES ('{}', 'hard_bounce', '2026-01-01T00:00:00Z'), ('{}', 'erased', '2026-01-01T00:00:00Z')", bare("late@example.com"), bare("gone@example.com")));
    assert!(one.fails(&["subscriber", "add", "late@example.com", "--list", "news", "--confirmed"], 2).contains("suppressed"));
    let entries = sql(&one, "SELECT email_hash FROM suppressions ORDER BY 1");
    assert!(entries.lines().all(|e| e.starts_with("k1:")) && entries.lines().count() == 3, "{entries}");
}
