//! Test support: runs the real `tidings` binary in a fresh directory with its own database: a
//! SQLite file, or, when `TIDINGS_TEST_POSTGRES` names a PostgreSQL server (`postgres://user@host:port`),
//! a database of its own on that server, made from a migrated template.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub mod browser;
pub mod callback;
pub mod pg;
pub mod serve;
pub mod smtp;
pub mod tls;

pub struct Tidings {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// The test's own PostgreSQL database, dropped with it.
    pg_database: Option<String>,
}

impl Tidings {
    /// A fresh working directory and database; no config file, so built-in defaults apply.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg_database) = match postgres_server() {
            Some(server) => {
                let name = format!("t_{}", random_hex());
                psql(&format!("{server}/postgres"), &format!("CREATE DATABASE {name} TEMPLATE {}", template(&server)));
                (format!("{server}/{name}"), Some(name))
            }
            None => (format!("sqlite://{}", dir.path().join("tidings.db").display()), None),
        };
        Self { dir, env: vec![("TIDINGS_DATABASE__URL".to_string(), url)], pg_database }
    }

    /// A fresh working directory and SQLite file, whichever backend the suite runs on.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tidings.db").display());
        Self { dir, env: vec![("TIDINGS_DATABASE__URL".to_string(), url)], pg_database: None }
    }

    /// A fresh working directory on the database at `url` (a PostgreSQL database of the test's
    /// own cluster, say), which the test owns.
    pub fn on_database(url: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self { dir, env: vec![("TIDINGS_DATABASE__URL".to_string(), url.to_string())], pg_database: None }
    }

    /// Whether this test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url().starts_with("postgres")
    }

    /// The database URL the binary is given.
    pub fn database_url(&self) -> String {
        self.env.iter().find(|(k, _)| k == "TIDINGS_DATABASE__URL").map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// Runs SQL on the test's database (sqlite3 or psql); returns whether it succeeded and what
    /// it printed (rows one a line, columns joined by `|`, as both tools print them).
    pub fn try_sql(&self, query: &str) -> (bool, String) {
        let out = match self.is_postgres() {
            true => Command::new("psql").args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", &self.database_url(), "-c", query]).output(),
            false => Command::new("sqlite3").arg(self.db_path()).arg(query).output(),
        }
        .expect("sqlite3 or psql is installed (bash .ci/run installs them)");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_string() + &String::from_utf8_lossy(&out.stderr))
    }

    /// Runs SQL that must succeed; returns its output.
    pub fn sql(&self, query: &str) -> String {
        let (ok, out) = self.try_sql(query);
        assert!(ok, "{query}: {out}");
        out
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

impl Drop for Tidings {
    fn drop(&mut self) {
        if let (Some(name), Some(server)) = (&self.pg_database, postgres_server()) {
            let _ = Command::new("psql").args(["-X", "-q", "-d", &format!("{server}/postgres"), "-c", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")]).output();
        }
    }
}

/// The PostgreSQL server the suite runs against, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var("TIDINGS_TEST_POSTGRES").ok().filter(|s| !s.is_empty()).map(|s| s.trim_end_matches('/').to_string())
}

/// A new, empty database on the suite's PostgreSQL server; returns its URL.
pub fn empty_postgres_database() -> Option<String> {
    let server = postgres_server()?;
    let name = format!("t_{}", random_hex());
    psql(&format!("{server}/postgres"), &format!("CREATE DATABASE {name}"));
    Some(format!("{server}/{name}"))
}

fn psql(url: &str, command: &str) {
    let out = Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", command]).output().expect("psql is installed");
    assert!(out.status.success(), "psql {command}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A database migrated by this build, to copy for each test: named for the migrations it holds,
/// made once by whichever test gets there first.
fn template(server: &str) -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut files: Vec<_> = std::fs::read_dir(repo().join("migrations/postgres")).expect("migrations").map(|e| e.unwrap().path()).collect();
        files.sort();
        let text: Vec<u8> = files.iter().flat_map(|f| std::fs::read(f).unwrap()).collect();
        let name = format!("tidings_tpl_{:016x}", fnv(&text));
        let exists = Command::new("psql").args(["-X", "-A", "-t", "-d", &format!("{server}/postgres"), "-c", &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'")]).output().unwrap();
        if String::from_utf8_lossy(&exists.stdout).trim() != "1" {
            // Built under a name of its own and renamed when ready: a test binary running beside
            // this one never copies a template that is still being migrated.
            let building = format!("{name}_{}", random_hex());
            psql(&format!("{server}/postgres"), &format!("CREATE DATABASE {building}"));
            let out = Command::new(env!("CARGO_BIN_EXE_tidings")).arg("init").env_clear().env("TIDINGS_DATABASE__URL", format!("{server}/{building}")).output().unwrap();
            assert!(out.status.success(), "tidings init on the template: {}", String::from_utf8_lossy(&out.stderr));
            // Each test's installation makes its own keys when it first opens.
            psql(&format!("{server}/{building}"), "DELETE FROM settings WHERE key <> 'addresses_scrubbed'");
            let renamed = Command::new("psql").args(["-X", "-q", "-d", &format!("{server}/postgres"), "-c", &format!("ALTER DATABASE {building} RENAME TO {name}")]).output().unwrap();
            if !renamed.status.success() {
                let _ = Command::new("psql").args(["-X", "-q", "-d", &format!("{server}/postgres"), "-c", &format!("DROP DATABASE {building}")]).output();
            }
        }
        name
    })
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes)).expect("randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
