//! `tidings serve` on a free port, up and answering before the test goes on; killed on drop.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::Tidings;
use super::smtp::free_port;

pub struct Serving {
    child: Child,
    pub base: String,
}

impl Serving {
    /// Points `t` at a free port (and `site.base_url` at it), starts the daemon, waits for
    /// `/healthz`.
    pub fn start(t: &mut Tidings) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        t.set_env("TIDINGS_HTTP__BIND", &format!("127.0.0.1:{port}"));
        t.set_env("TIDINGS_SITE__BASE_URL", &base);
        let child = t.command(&["serve"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn tidings serve");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tidings serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
