//! Bad input gets one clear sentence on stderr, exit 2, and nothing half-written; a runtime
//! failure exits 1.

mod support;

use support::Tidings;

#[test]
fn init_is_idempotent() {
    let t = Tidings::new();
    let versions = |backend: &str| -> Vec<u32> {
        let mut v: Vec<u32> = std::fs::read_dir(support::repo().join("migrations").join(backend)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy()[..4].parse().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(versions("sqlite"), versions("postgres"), "both backends have every version");
    let latest = *versions("sqlite").last().unwrap();
    let said = format!("schema version {latest}");
    assert!(t.ok(&["init"]).contains(&said));
    assert!(t.ok(&["init"]).contains(&said));
}

#[test]
fn bad_input_exits_2_with_what_and_where() {
    let t = Tidings::new().with_list("news");
    let missing = t.fails(&["subscriber", "import", "nope.csv", "--list", "news"], 2);
    assert!(missing.contains("nope.csv"), "{missing}");

    let no_email = t.write("no-email.csv", "mail,name\na@example.com,A\n");
    let e = t.fails(&["subscriber", "import", &no_email, "--list", "news"], 2);
    assert!(e.contains("no-email.csv") && e.contains("no \"email\" column") && e.contains("mail, name"), "{e}");

    let e = t.fails(&["subscriber", "import", &no_email, "--list", "nosuch"], 2);
    assert!(e.contains("no list with slug \"nosuch\""), "{e}");

    let e = t.fails(&["subscriber", "add", "not an address", "--list", "news"], 2);
    assert!(e.contains("invalid email address \"not an address\""), "{e}");

    let e = t.fails(&["list", "create", "Bad Slug", "--name", "x"], 2);
    assert!(e.contains("not a valid slug"), "{e}");
    t.fails(&["list", "create", "news", "--name", "again"], 2);
    t.fails(&["subscriber", "frobnicate"], 2);
}

#[test]
fn a_file_that_is_not_utf8_is_refused_whole() {
    let t = Tidings::new().with_list("news");
    let latin1 = t.write("latin1.csv", b"email,name\na@example.com,Ann\nb@example.com,Jos\xe9\n");
    let e = t.fails(&["subscriber", "import", &latin1, "--list", "news"], 2);
    assert!(e.contains("latin1.csv") && e.contains("not UTF-8") && e.contains("line 3"), "{e}");
    assert_eq!(t.json(&["list", "ls"])[0]["pending"], 0, "nothing half-written");
}

#[test]
fn configuration_errors_name_the_key() {
    let mut t = Tidings::new();
    t.set_env("TIDINGS_SMTP__PROT", "25");
    let e = t.fails(&["init"], 2);
    assert!(e.contains("TIDINGS_SMTP__PROT") && e.contains("smtp.prot"), "{e}");

    let t = Tidings::new();
    let bad = t.write("bad.toml", "[smtp]\nport = \"twenty-five\"\n");
    let e = t.fails(&["--config", &bad, "init"], 2);
    assert!(e.contains("bad.toml"), "{e}");
}

#[test]
fn a_password_is_never_sent_in_clear_text_to_a_relay_on_another_host() {
    let relay = |host: &str, tls: &str, allow: &str| {
        let mut t = Tidings::new();
        for (k, v) in [("TIDINGS_SMTP__TRANSPORT", "smtp"), ("TIDINGS_SMTP__HOST", host), ("TIDINGS_SMTP__TLS", tls), ("TIDINGS_SMTP__USERNAME", "mailer"), ("TIDINGS_SMTP__PASSWORD", "hunter2-secret"), ("TIDINGS_SMTP__ALLOW_PLAINTEXT_AUTH", allow)] {
            t.set_env(k, v);
        }
        t
    };
    let e = relay("relay.example.net", "none", "false").fails(&["init"], 2);
    assert!(e.contains("smtp.tls") && e.contains("relay.example.net") && e.contains("allow_plaintext_auth"), "{e}");
    assert!(!e.contains("hunter2-secret"), "{e}");
    for (host, tls, allow) in [("127.0.0.1", "none", "false"), ("localhost", "none", "false"), ("::1", "none", "false"), ("relay.example.net", "starttls", "false"), ("relay.example.net", "none", "true")] {
        relay(host, tls, allow).ok(&["init"]);
    }
}

#[test]
fn an_unreachable_database_is_a_runtime_failure() {
    let mut t = Tidings::new();
    t.set_env("TIDINGS_DATABASE__URL", "sqlite:///nonexistent-dir/for-sure/t.db");
    let e = t.fails(&["init"], 1);
    assert!(e.contains("cannot open the database"), "{e}");
}

#[test]
fn version_names_the_commit_and_completions_man_and_json_logs_work_without_a_configuration() {
    let t = Tidings::new();
    let version = t.ok(&["--version"]);
    assert!(version.starts_with("tidings ") && version.contains('('), "{version}");
    let commit = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(support::repo()).output().unwrap();
    if commit.status.success() {
        assert!(version.contains(String::from_utf8_lossy(&commit.stdout).trim()), "{version}");
    }
    // A broken configuration does not stop them.
    let mut broken = Tidings::new();
    broken.set_env("TIDINGS_SMTP__PROT", "1");
    let bash = broken.ok(&["completions", "bash"]);
    assert!(bash.contains("complete -F _tidings") && bash.contains("backup"), "{}", &bash[..200.min(bash.len())]);
    assert!(broken.ok(&["completions", "zsh"]).contains("#compdef tidings"));
    let man = broken.ok(&["man"]);
    assert!(man.contains(".TH tidings 1") && man.contains("newsletter"), "{}", &man[..200.min(man.len())]);

    let mut json = Tidings::new();
    json.set_env("TIDINGS_LOG__FORMAT", "json");
    json.set_env("TIDINGS_LOG", "info");
    json.set_env("TIDINGS_SMTP__PASSWORD", "never-logged-secret");
    let out = json.run(&["deliver", "--until-idle"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events: Vec<serde_json::Value> = stderr.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))).collect();
    assert!(events.iter().any(|e| e["message"] == "delivery stopped" && e["level"] == "INFO" && e["sent"] == 0), "{stderr}");
    assert!(!stderr.contains("never-logged-secret"));
    let mut bad = Tidings::new();
    bad.set_env("TIDINGS_LOG__FORMAT", "xml");
    assert!(bad.fails(&["init"], 2).contains("expected `text` or `json`"));
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let analyze = std::path::Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("systemd-analyze is not installed here: the unit is not verified");
        return;
    }
    let unit = std::fs::read_to_string(support::repo().join("dist/tidings.service")).unwrap();
    for needed in ["ProtectSystem=strict", "NoNewPrivileges=yes", "ReadWritePaths=/var/lib/tidings", "User=tidings"] {
        assert!(unit.contains(needed), "{needed}");
    }
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let t = Tidings::new();
    let local = t.write("tidings.service", unit.replace("/usr/local/bin/tidings", env!("CARGO_BIN_EXE_tidings")));
    let out = std::process::Command::new(analyze).args(["verify", &local]).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
}
