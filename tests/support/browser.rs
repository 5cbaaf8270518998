//! Headless Chromium over WebDriver (Debian's chromium and chromium-driver), for the page tests.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::smtp::free_port;

/// chromedriver on a free port; stopped on drop.
pub struct Driver(Child, u16);

impl Driver {
    pub fn start() -> Self {
        let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().find(|p| std::path::Path::new(p).exists());
        let binary = binary.expect("chromedriver is missing: `bash .ci/run` installs Debian's chromium and chromium-driver");
        let port = free_port();
        let child = std::process::Command::new(binary).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child, port)
    }

    /// A new browser session with this window size and, when given, this Accept-Language.
    pub async fn session(&self, width: u32, height: u32, language: Option<&str>) -> fantoccini::Client {
        let mut args = vec!["--headless=new".to_string(), "--no-sandbox".into(), "--disable-gpu".into(), "--disable-dev-shm-usage".into(), "--disable-background-networking".into(), format!("--window-size={width},{height}")];
        if let Some(language) = language {
            args.push(format!("--lang={language}"));
        }
        let mut options = serde_json::json!({"binary": "/usr/bin/chromium", "args": args});
        if let Some(language) = language {
            options["prefs"] = serde_json::json!({"intl.accept_languages": language});
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        fantoccini::ClientBuilder::new(connector).capabilities(caps).connect(&format!("http://127.0.0.1:{}", self.1)).await.expect("a WebDriver session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the tests leave their screenshots.
pub fn screenshots() -> std::path::PathBuf {
    let dir = super::repo().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until the first element matching `css` shows `wanted` (pages load after a click in
/// their own time); on timeout, saves a screenshot and fails with the page's source.
pub async fn wait_for_text(browser: &fantoccini::Client, css: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(e) = browser.find(fantoccini::Locator::Css(css)).await
            && e.text().await.unwrap_or_default().contains(wanted)
        {
            return;
        }
        if Instant::now() > deadline {
            let page = browser.source().await.unwrap_or_default();
            std::fs::write(screenshots().join("failure.png"), browser.screenshot().await.unwrap_or_default()).unwrap();
            panic!("{css} never showed {wanted:?} on {page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
