//! Staff accounts and API tokens from the CLI.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::Tidings;

fn add_staff(t: &Tidings, email: &str, role: &str, password: &str) -> std::process::Output {
    let mut child = t.command(&["staff", "add", email, "--role", role, "--password-stdin"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn staff_accounts_are_added_listed_and_removed_and_weak_input_is_refused() {
    let t = Tidings::new();
    assert!(add_staff(&t, "Editor@Example.com", "editor", "a long enough passphrase").status.success());
    let short = add_staff(&t, "owner@example.com", "owner", "short");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let bad_role = add_staff(&t, "owner@example.com", "admin", "a long enough passphrase");
    assert_eq!(bad_role.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("owner, editor or viewer"));
    let twice = add_staff(&t, "editor@example.com", "viewer", "a long enough passphrase");
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already exists"));

    assert!(add_staff(&t, "boss@example.com", "owner", "a long enough passphrase").status.success());
    assert!(t.fails(&["staff", "remove", "boss@example.com"], 2).contains("last owner"), "someone must be able to manage staff");
    let staff = t.json(&["staff", "ls"]);
    assert_eq!(staff.as_array().unwrap().len(), 2);
    assert_eq!((staff[1]["email"].as_str(), staff[1]["role"].as_str()), (Some("editor@example.com"), Some("editor")));
    assert!(!staff.to_string().contains("argon2"), "the hash is never printed");
    t.ok(&["staff", "remove", "editor@example.com"]);
    assert!(t.fails(&["staff", "remove", "editor@example.com"], 2).contains("no staff account"));
    let audit = t.sql("SELECT type || ' ' || actor FROM events ORDER BY id");
    assert!(audit.contains("staff.added cli") && audit.contains("staff.removed cli"), "{audit}");
}

#[test]
fn a_token_is_shown_once_stored_hashed_and_revoked_by_name() {
    let t = Tidings::new();
    let token = t.ok(&["token", "create", "--name", "ci", "--role", "viewer"]).trim().to_string();
    assert!(token.starts_with("tid_") && token.len() == 47, "{token}");
    let stored = t.sql("SELECT token_hash FROM api_tokens");
    assert!(!stored.contains(&token[4..]) && stored.trim().len() == 64, "only a digest is kept: {stored}");
    assert!(t.fails(&["token", "create", "--name", "ci", "--role", "viewer"], 2).contains("already exists"));
    assert!(t.ok(&["token", "ls"]).contains("ci"));
    t.ok(&["token", "revoke", "ci"]);
    assert!(!t.ok(&["token", "ls"]).contains("ci"));
    assert!(t.fails(&["token", "revoke", "ci"], 2).contains("no live token"));
    // The name is free again once revoked.
    t.ok(&["token", "create", "--name", "ci", "--role", "owner"]);
}
