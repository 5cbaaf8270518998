//! `tidings db status` and `tidings db copy`: an operator moves a SQLite installation into
//! PostgreSQL and carries on there as if nothing had changed.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::Tidings;

#[test]
fn db_status_shows_the_backend_the_schema_and_what_is_pending_without_changing_anything() {
    let t = Tidings::new();
    if !t.is_postgres() {
        // No file yet: status makes none.
        assert!(t.fails(&["db", "status"], 1).contains("cannot open the database"));
        assert!(!t.db_path().exists(), "status made no database");
    } else {
        assert_eq!(t.json(&["db", "status"])["backend"], "postgres");
    }
    t.ok(&["init"]);
    let ready = t.json(&["db", "status"]);
    assert_eq!(ready["schema_version"], ready["latest_known"], "{ready}");
    assert_eq!(ready["pending"].as_array().unwrap().len(), 0);
    let text = t.ok(&["db", "status"]);
    assert!(text.contains("pending migrations: none"), "{text}");
    if t.is_postgres() {
        assert!(!text.contains("postgres://"), "no URL (and so no password) is printed: {text}");
    }
}

fn staff_add(t: &Tidings, email: &str, role: &str) {
    let mut child = t.command(&["staff", "add", email, "--role", role, "--password-stdin"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"correct horse battery staple\n").unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_sqlite_installation_copied_into_postgresql_carries_on_there_unchanged() {
    let Some(target) = support::empty_postgres_database() else { return };
    let sqlite = Tidings::sqlite().with_list("news");
    let file = sqlite.write("people.csv", "email,name,city\nann@example.com,Ann,Lyon\nbob@example.com,Bob,\nli@example.cn,李伟,北京\n");
    sqlite.ok(&["subscriber", "import", &file, "--list", "news", "--confirmed"]);
    sqlite.ok(&["subscriber", "add", "gone@example.com", "--list", "news", "--confirmed"]);
    sqlite.ok(&["subscriber", "erase", "gone@example.com"]);
    sqlite.ok(&["unsubscribe", "bob@example.com"]);
    staff_add(&sqlite, "owner@example.com", "owner");
    let token = sqlite.ok(&["token", "create", "--name", "ci", "--role", "viewer"]).trim().to_string();
    let issue = sqlite.write("one.md", "+++\nlist = \"news\"\nslug = \"one\"\ntitle = \"One\"\ndate = 2021-01-31\n+++\n\nBody.\n");
    sqlite.ok(&["issue", "add", &issue]);
    sqlite.ok(&["issue", "send", "one"]);
    sqlite.ok(&["deliver", "--until-idle"]);
    let before = sqlite.ok(&["subscriber", "show", "ann@example.com"]);

    let report = sqlite.json(&["db", "copy", "--to", &target]);
    let tables = report["tables"].as_array().unwrap();
    assert!(tables.iter().all(|t| t["source_rows"] == t["target_rows"]), "{report:#}");
    let rows = |name: &str| tables.iter().find(|t| t["table"] == name).unwrap()["target_rows"].as_i64().unwrap();
    assert_eq!((rows("subscribers"), rows("suppressions"), rows("deliveries"), rows("staff"), rows("api_tokens")), (3, 1, 2, 1, 1), "{report:#}");
    assert!(!report.to_string().contains("postgres://"), "the target's URL is not printed");
    assert!(sqlite.fails(&["db", "copy", "--to", &target], 2).contains("not empty"), "a second copy is refused");

    let pg = Tidings::on_database(&target);
    assert_eq!(pg.ok(&["subscriber", "show", "ann@example.com"]), before, "the same person, the same consent and deliveries");
    assert!(pg.fails(&["subscriber", "add", "Gone@example.com", "--list", "news"], 2).contains("suppressed"), "the suppression hashes and their key came along");
    assert!(pg.ok(&["issue", "status", "one"]).contains("sent"));
    assert!(pg.ok(&["token", "ls"]).contains("ci") && !token.is_empty());
    assert!(pg.ok(&["staff", "ls"]).contains("owner@example.com"));
    // New rows get new ids: the sequences were moved past the copied ones.
    pg.ok(&["list", "create", "more", "--name", "More"]);
    pg.ok(&["subscriber", "add", "new@example.com", "--list", "more", "--confirmed"]);
    assert_eq!(pg.sql("SELECT COUNT(DISTINCT id) FROM subscribers"), "4");
}

#[test]
fn db_copy_refuses_a_target_that_is_not_postgresql_or_not_empty_and_a_running_installation() {
    let sqlite = Tidings::sqlite().with_list("news");
    assert!(sqlite.fails(&["db", "copy", "--to", "sqlite://elsewhere.db"], 2).contains("postgres://"));
    let Some(target) = support::empty_postgres_database() else { return };
    let other = Tidings::on_database(&target).with_list("taken");
    assert!(sqlite.fails(&["db", "copy", "--to", &target], 2).contains("not empty"));
    assert_eq!(other.sql("SELECT COUNT(*) FROM lists"), "1", "the target is untouched");
    // A daemon using the source: nothing is copied while it may change.
    let mut running = sqlite.command(&["deliver"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let target = support::empty_postgres_database().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = sqlite.run(&["db", "copy", "--to", &target]);
        if out.status.code() == Some(2) && String::from_utf8_lossy(&out.stderr).contains("is using the database") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "copy was not refused: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = running.kill();
    let _ = running.wait();
}

#[test]
fn postgresql_faults_at_start_are_one_sentence_without_the_password_and_exit_1() {
    if support::postgres_server().is_none() {
        return;
    }
    // Nothing listens there.
    let port = support::smtp::free_port();
    let t = Tidings::on_database(&format!("postgres://tidings:s3cret-pw@127.0.0.1:{port}/news"));
    let err = t.fails(&["list", "ls"], 1);
    assert!(err.contains(&format!("\"news\" on 127.0.0.1:{port}")) && !err.contains("s3cret-pw") && !err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");

    // A wrong password.
    let cluster = support::pg::Cluster::start_with_password("right-password");
    let url = cluster.url("postgres").replace("postgres@", "postgres:wrong-password@");
    let err = Tidings::on_database(&url).fails(&["list", "ls"], 1);
    assert!(err.contains("password authentication failed") && !err.contains("wrong-password"), "{err}");
    let good = Tidings::on_database(&cluster.url("postgres").replace("postgres@", "postgres:right-password@"));
    good.ok(&["init"]);

    // A database a newer tidings migrated: refused, saying which versions, and left alone.
    good.sql("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (999, 'from the future', true, '\\x00', 0)");
    let err = good.fails(&["list", "ls"], 1);
    assert!(err.contains("schema version 999") && err.contains("newer than this tidings"), "{err}");
    assert!(good.ok(&["db", "status"]).contains("999"), "db status still reads it");
}
