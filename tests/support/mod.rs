//! Test support: runs the real `tidings` binary in a fresh directory with its own SQLite file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod browser;
pub mod serve;
pub mod smtp;
pub mod tls;

pub struct Tidings {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Tidings {
    /// A fresh working directory and database; no config file, so built-in defaults apply.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("tidings.db");
        let env = vec![("TIDINGS_DATABASE__URL".to_string(), format!("sqlite://{}", db.display()))];
        Self { dir, env }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("tidings.db")
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidings"));
        // Only what we set: a developer's own TIDINGS_* variables must not leak into tests.
        cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(self.dir.path()).args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run tidings")
    }

    /// Runs a verb that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "tidings {args:?} failed ({:?}):\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    /// Runs a verb that must fail with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "tidings {args:?}: stdout {}\nstderr {stderr}", String::from_utf8_lossy(&out.stdout));
        stderr
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("tidings {args:?} --json printed invalid JSON ({e}):\n{text}"))
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write file");
        path.display().to_string()
    }

    /// A list to work with.
    pub fn with_list(self, slug: &str) -> Self {
        self.ok(&["list", "create", slug, "--name", "Test list"]);
        self
    }
}

/// The repository's root, where the sample content lives.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs one of the third-party checkers in `tests/checks` with the Python that has them
/// (`bash .ci/run` sets it up); returns its JSON report, or panics with what it said.
pub fn python_check(script: &str, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("TIDINGS_TEST_PYTHON").unwrap_or_else(|_| repo().join("target/checkers-venv/bin/python3").display().to_string());
    assert!(Path::new(&python).exists(), "no Python with the checkers at {python}: run the tests with `bash .ci/run` once to set it up");
    let out = Command::new(&python).arg(repo().join("tests/checks").join(script)).args(args).output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{script} {args:?} failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}"))
}

/// `xmllint --noout FILE` must accept the file as well-formed XML.
pub fn xmllint(path: &Path) {
    let out = Command::new("xmllint").arg("--noout").arg(path).output().expect("xmllint is installed (bash .ci/run installs libxml2-utils)");
    assert!(out.status.success(), "xmllint rejects {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
}

/// Replaces the signed tokens in links (which change with the key and the time) by `TOKEN`.
pub fn mask_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = ["/unsubscribe/", "/preferences/"].iter().filter_map(|m| rest.find(m).map(|i| i + m.len())).min() {
        out.push_str(&rest[..i]);
        out.push_str("TOKEN");
        rest = rest[i..].trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    }
    out.push_str(rest);
    out
}
