//! A PostgreSQL cluster of a test's own, for faults that would disturb the shared server (a
//! restart mid-send). PostgreSQL refuses to run as root: when the tests are root, it runs as the
//! `postgres` user.

use std::path::PathBuf;
use std::process::Command;

use super::smtp::free_port;

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl Cluster {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A cluster whose `postgres` user needs this password over TCP.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_with(Some(password))
    }

    fn start_with(password: Option<&str>) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (bash .ci/run installs Debian's postgresql)")
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql");
        let dir = tempfile::tempdir().unwrap();
        let cluster = Self { port: free_port(), bin, dir };
        if super::smtp::is_root() {
            assert!(Command::new("chown").args(["postgres"]).arg(cluster.dir.path()).status().unwrap().success());
        }
        let auth = match password {
            Some(p) => {
                let file = cluster.dir.path().join("pw");
                std::fs::write(&file, p).unwrap();
                if super::smtp::is_root() {
                    assert!(Command::new("chown").args(["postgres"]).arg(&file).status().unwrap().success());
                }
                format!("--auth-host=scram-sha-256 --auth-local=trust --pwfile={}", file.display())
            }
            None => "-A trust".to_string(),
        };
        cluster.as_postgres(&format!("{}/initdb -D {}/data {auth} -U postgres", cluster.bin.display(), cluster.dir.path().display()));
        cluster.pg_ctl("start");
        cluster
    }

    /// A URL for database `name` on this cluster, creating the database.
    pub fn database(&self, name: &str) -> String {
        let out = Command::new("psql").args(["-X", "-q", "-d", &self.url("postgres"), "-c", &format!("CREATE DATABASE {name}")]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        self.url(name)
    }

    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server at once (open connections are cut) and starts it again.
    pub fn restart(&self) {
        self.pg_ctl("restart -m fast");
    }

    fn pg_ctl(&self, action: &str) {
        let dir = self.dir.path().display();
        self.as_postgres(&format!(
            "{}/pg_ctl -D {dir}/data -l {dir}/log -w -o '-c fsync=off -c synchronous_commit=off -c listen_addresses=127.0.0.1 -p {} -k {dir}' {action}",
            self.bin.display(),
            self.port
        ));
    }

    fn as_postgres(&self, command: &str) {
        let out = if super::smtp::is_root() { Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", command]).output() } else { Command::new("sh").args(["-c", command]).output() }.unwrap();
        assert!(out.status.success(), "{command}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let dir = self.dir.path().display();
        let command = format!("{}/pg_ctl -D {dir}/data -m immediate stop", self.bin.display());
        let _ = if super::smtp::is_root() { Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", &command]).output() } else { Command::new("sh").args(["-c", &command]).output() };
    }
}
