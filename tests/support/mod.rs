//! Test support: runs the real `tidings` binary in a fresh directory with its own SQLite file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
