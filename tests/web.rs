//! The public web against the real daemon: `tidings serve` on a random port with a fresh
//! database, an SMTP sink for the mail, and a real HTTP client.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use support::Tidings;
use support::browser::{Driver, wait_for_text};
use support::smtp::{Sink, free_port};

const ISSUE: &str = "+++
list = \"news\"
slug = \"2026-11\"
title = \"Tech Newsletter, November 2026\"
date = 2026-11-20
+++

## Focus

◇ A piece of news. (Source: test)
";

struct Site {
    t: Tidings,
    sink: Sink,
    serve: Child,
    base: String,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.serve.kill();
        let _ = self.serve.wait();
    }
}

/// An English list `news` with one issue, and the daemon serving it.
fn site(extra_env: &[(&str, &str)]) -> Site {
    let sink = Sink::start(&[]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut t = Tidings::new();
    for (k, v) in [
        ("TIDINGS_SMTP__TRANSPORT", "smtp"),
        ("TIDINGS_SMTP__PORT", &sink.port.to_string()),
        ("TIDINGS_HTTP__BIND", &format!("127.0.0.1:{port}")),
        ("TIDINGS_SITE__BASE_URL", &base),
        ("TIDINGS_SECURITY__SECRET_KEY", "web-test-key-0123456789abcdef0123456789"),
        ("TIDINGS_CONTENT__ISSUES_DIR", &support::repo().join("content/issues").display().to_string()),
    ] {
        t.set_env(k, v);
    }
    for (k, v) in extra_env {
        t.set_env(k, v);
    }
    t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
    let issue = t.write("2026-11.md", ISSUE);
    t.ok(&["issue", "add", &issue]);
    let serve = t.command(&["serve"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let client = Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Site { t, sink, serve, base }
}

impl Site {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: keeps cookies, does not follow redirects, no automatic gzip.
    fn browser(&self) -> Client {
        Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).no_gzip().build().unwrap()
    }

    /// Loads the form and posts it; returns the answer.
    fn subscribe(&self, client: &Client, fields: &[(&str, &str)]) -> Response {
        let form = client.get(self.url("/subscribe")).send().unwrap().text().unwrap();
        let csrf = between(&form, "name=\"csrf\" value=\"", "\"").expect("the form carries a CSRF token");
        let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf), ("list", "news")];
        all.extend_from_slice(fields);
        client.post(self.url("/subscribe")).form(&all).send().unwrap()
    }

    fn subscription_status(&self, email: &str) -> String {
        self.t.json(&["subscriber", "show", email])["subscriptions"][0]["status"].as_str().unwrap().to_string()
    }

    /// The message the sink got for `rcpt` that contains `needle`, with soft line breaks undone.
    fn wait_for_mail(&self, rcpt: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let dump = self.sink.dump().replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
            let found = dump.split("X-Rcpt-Args: <").filter(|m| m.starts_with(&format!("{rcpt}>"))).find(|m| m.contains(needle)).map(str::to_string);
            if let Some(message) = found {
                return message;
            }
            assert!(Instant::now() < deadline, "no mail for {rcpt} containing {needle}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    Some(text[from..from + text[from..].find(end)?].to_string())
}

/// The token of the first link in `message` that starts with `path`.
fn link_token(message: &str, path: &str) -> String {
    let from = message.find(path).unwrap_or_else(|| panic!("no {path} link in {message}")) + path.len();
    message[from..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

#[test]
fn a_reader_subscribes_confirms_receives_an_issue_and_leaves_with_one_click() {
    let s = site(&[]);
    let browser = s.browser();
    let answer = s.subscribe(&browser, &[("email", "Reader@Example.com"), ("name", "Ann Reader")]);
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().unwrap().contains("Check your inbox"));
    assert_eq!(s.subscription_status("reader@example.com"), "pending");
    let show = s.t.json(&["subscriber", "show", "reader@example.com"]);
    let consent = &show["subscriptions"][0];
    assert_eq!((consent["consent_source"].as_str(), consent["consent_ip"].as_str()), (Some("form"), Some("127.0.0.1")), "consent evidence: {show}");

    let confirmation = s.wait_for_mail("Reader@example.com", "/confirm/");
    let token = link_token(&confirmation, "/confirm/");
    // A link scanner opening the link confirms nothing: the page has a button.
    let page = Client::new().get(s.url(&format!("/confirm/{token}"))).send().unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().unwrap();
    assert!(page.contains("<button") && page.contains(&format!("action=\"/confirm/{token}\"")), "{page}");
    assert_eq!(s.subscription_status("reader@example.com"), "pending", "a GET changes nothing");
    let confirmed = browser.post(s.url(&format!("/confirm/{token}"))).send().unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(confirmed.text().unwrap().contains("You are subscribed"));
    assert_eq!(s.subscription_status("reader@example.com"), "confirmed");
    assert_eq!(browser.post(s.url(&format!("/confirm/{token}"))).send().unwrap().status(), StatusCode::OK, "confirming twice is harmless");

    s.t.ok(&["issue", "send", "2026-11"]);
    let issue = s.wait_for_mail("Reader@example.com", "Tech Newsletter");
    let unfolded = issue.replace("\r\n ", " ").replace("\r\n\t", " ");
    let header = unfolded.lines().find(|l| l.starts_with("List-Unsubscribe: ")).expect("a List-Unsubscribe header");
    let url = between(header, "<", ">").unwrap();
    assert!(url.starts_with(&s.url("/unsubscribe/")), "{url}");

    // A mail scanner fetching the link changes nothing.
    let page = Client::new().get(&url).send().unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().unwrap().contains("<button"));
    assert_eq!(s.subscription_status("reader@example.com"), "confirmed");

    // RFC 8058: the mail provider posts the body, without cookies or anything else.
    let one_click = Client::new().post(&url).header("Content-Type", "application/x-www-form-urlencoded").body("List-Unsubscribe=One-Click").send().unwrap();
    assert_eq!(one_click.status(), StatusCode::OK);
    assert_eq!(s.subscription_status("reader@example.com"), "unsubscribed");
    let again = Client::new().post(&url).body("List-Unsubscribe=One-Click").send().unwrap();
    assert_eq!(again.status(), StatusCode::OK, "a repeated one-click is answered the same");
    let events = s.t.json(&["subscriber", "show", "reader@example.com"])["events"].to_string();
    assert!(events.contains("one_click"), "the unsubscribe is an event with how it happened: {events}");
}

#[test]
fn forged_altered_and_misused_tokens_change_nothing() {
    let s = site(&[]);
    s.t.ok(&["subscriber", "add", "a@example.com", "--list", "news"]);
    let confirmation = s.wait_for_mail("a@example.com", "/confirm/");
    let token = link_token(&confirmation, "/confirm/");
    let mut altered = token.clone().into_bytes();
    let last = altered.len() - 3;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let client = Client::new();
    for path in ["/confirm/garbage", &format!("/confirm/{altered}"), &format!("/unsubscribe/{token}"), "/preferences/x"] {
        let r = client.get(s.url(path)).send().unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(r.text().unwrap().contains("This link does not work"));
    }
    assert_eq!(client.post(s.url(&format!("/confirm/{altered}"))).send().unwrap().status(), StatusCode::BAD_REQUEST);
    // A confirm token is not an unsubscribe token.
    assert_eq!(client.post(s.url(&format!("/unsubscribe/{token}"))).body("List-Unsubscribe=One-Click").send().unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.subscription_status("a@example.com"), "pending");
}

#[test]
fn the_answer_to_a_sign_up_never_reveals_whether_the_address_is_known() {
    let s = site(&[]);
    s.t.ok(&["subscriber", "add", "confirmed@example.com", "--list", "news", "--confirmed"]);
    s.t.ok(&["subscriber", "add", "erased@example.com", "--list", "news", "--confirmed"]);
    s.t.ok(&["subscriber", "erase", "erased@example.com"]);
    let answers: Vec<(StatusCode, String)> = ["new@example.com", "confirmed@example.com", "erased@example.com", "new@example.com"]
        .iter()
        .map(|email| {
            let r = s.subscribe(&s.browser(), &[("email", email)]);
            (r.status(), r.text().unwrap())
        })
        .collect();
    assert!(answers.iter().all(|a| a == &answers[0]), "the same page for new, pending, confirmed and suppressed addresses");
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(s.subscription_status("confirmed@example.com"), "confirmed", "a stranger's sign-up changes nothing for a confirmed reader");
}

#[test]
fn the_time_a_sign_up_takes_does_not_tell_new_pending_confirmed_and_suppressed_addresses_apart() {
    let s = site(&[("TIDINGS_HTTP__SUBSCRIBE_PER_IP_PER_MINUTE", "1000"), ("TIDINGS_HTTP__SUBSCRIBE_PER_ADDRESS_PER_HOUR", "1000")]);
    s.t.ok(&["subscriber", "add", "confirmed@example.com", "--list", "news", "--confirmed"]);
    s.t.ok(&["subscriber", "add", "pending@example.com", "--list", "news"]);
    s.t.ok(&["subscriber", "add", "erased@example.com", "--list", "news", "--confirmed"]);
    s.t.ok(&["subscriber", "erase", "erased@example.com"]);
    let browser = s.browser();
    let form = browser.get(s.url("/subscribe")).send().unwrap().text().unwrap();
    let csrf = between(&form, "name=\"csrf\" value=\"", "\"").unwrap();
    let median_ms = |address: &dyn Fn(usize) -> String| {
        let mut times: Vec<f64> = (0..15)
            .map(|i| {
                let start = Instant::now();
                let r = browser.post(s.url("/subscribe")).form(&[("csrf", csrf.as_str()), ("list", "news"), ("email", &address(i))]).send().unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let medians = [
        ("new", median_ms(&|i| format!("new{i}@example.com"))),
        ("pending", median_ms(&|_| "pending@example.com".into())),
        ("confirmed", median_ms(&|_| "confirmed@example.com".into())),
        ("suppressed", median_ms(&|_| "erased@example.com".into())),
    ];
    let (fastest, slowest) = medians.iter().fold((f64::MAX, 0f64), |(lo, hi), (_, m)| (lo.min(*m), hi.max(*m)));
    assert!(slowest / fastest < 1.15, "median milliseconds per kind of address: {medians:?}");
}

#[test]
fn bad_sign_ups_are_refused_with_a_reason_and_nothing_is_stored() {
    let s = site(&[]);
    let browser = s.browser();
    let bad = s.subscribe(&browser, &[("email", "not an address")]);
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text().unwrap();
    assert!(page.contains("not a valid email address") && page.contains("value=\"not an address\""), "the form comes back with the reason and what was typed");
    let injected = s.subscribe(&browser, &[("email", "x@example.com"), ("name", "Eve\r\nBcc: victim@example.com")]);
    assert_eq!(injected.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_list = s.browser().post(s.url("/subscribe")).form(&[("email", "y@example.com"), ("list", "nope")]).send().unwrap();
    assert_eq!(unknown_list.status(), StatusCode::FORBIDDEN, "no CSRF token, no sign-up");
    let robot = s.subscribe(&browser, &[("email", "robot@example.com"), ("website", "http://spam.example")]);
    assert_eq!(robot.status(), StatusCode::OK, "the honeypot answers as if all went well");
    for email in ["x@example.com", "y@example.com", "robot@example.com"] {
        s.t.fails(&["subscriber", "show", email], 2);
    }
    let huge = "a".repeat(40_000);
    let too_big = browser.post(s.url("/subscribe")).form(&[("email", huge.as_str())]).send().unwrap();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn sign_ups_are_rate_limited_per_ip_and_per_address() {
    let s = site(&[("TIDINGS_HTTP__SUBSCRIBE_PER_IP_PER_MINUTE", "4"), ("TIDINGS_HTTP__SUBSCRIBE_PER_ADDRESS_PER_HOUR", "2")]);
    let codes: Vec<u16> = (0..3).map(|_| s.subscribe(&s.browser(), &[("email", "bombed@example.com")]).status().as_u16()).collect();
    assert_eq!(codes, [200, 200, 429], "the third sign-up of one address within the hour");
    let codes: Vec<u16> = (0..2).map(|i| s.subscribe(&s.browser(), &[("email", &format!("other{i}@example.com"))]).status().as_u16()).collect();
    assert_eq!(codes, [200, 429], "the fifth request from one IP within the minute");
}

#[test]
fn preferences_choose_lists_or_leave_all() {
    let s = site(&[]);
    s.t.ok(&["list", "create", "digest", "--name", "Weekly Digest"]);
    s.t.ok(&["subscriber", "add", "p@example.com", "--list", "news", "--confirmed"]);
    s.t.ok(&["issue", "send", "2026-11"]);
    let issue = s.wait_for_mail("p@example.com", "Tech Newsletter");
    let token = link_token(&issue, "/preferences/");
    let browser = s.browser();
    let page = browser.get(s.url(&format!("/preferences/{token}"))).send().unwrap().text().unwrap();
    assert!(page.contains("p@example.com") && page.contains("Weekly Digest"));
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").unwrap();
    let ids: Vec<String> = page.match_indices("name=\"list\" value=\"").map(|(i, m)| page[i + m.len()..].split('"').next().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2);
    let body: Vec<(&str, &str)> = vec![("csrf", &csrf), ("list", &ids[0]), ("list", &ids[1]), ("action", "save")];
    let saved = browser.post(s.url(&format!("/preferences/{token}"))).form(&body).send().unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    let lists = s.t.json(&["subscriber", "show", "p@example.com"])["subscriptions"].to_string();
    assert_eq!(lists.matches("\"confirmed\"").count(), 2, "now on both lists: {lists}");
    let leave = browser.post(s.url(&format!("/preferences/{token}"))).form(&[("csrf", csrf.as_str()), ("action", "leave_all")]).send().unwrap();
    assert_eq!(leave.status(), StatusCode::OK);
    let lists = s.t.json(&["subscriber", "show", "p@example.com"])["subscriptions"].to_string();
    assert_eq!(lists.matches("\"unsubscribed\"").count(), 2, "{lists}");
    let forged = Client::new().post(s.url(&format!("/preferences/{token}"))).form(&[("list", ids[0].as_str()), ("action", "save")]).send().unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a cross-site post without the form's token");
}

#[test]
fn archive_and_feeds_answer_conditional_requests_with_304() {
    let s = site(&[]);
    let client = s.browser();
    let home = client.get(s.url("/")).send().unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().unwrap().contains("Tech Newsletter, November 2026"));
    assert!(client.get(s.url("/issues/2026-11")).send().unwrap().text().unwrap().contains("A piece of news"));
    assert_eq!(client.get(s.url("/issues/nope")).send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(client.get(s.url("/page/9/")).send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(client.get(s.url("/lists/news/")).send().unwrap().status(), StatusCode::OK);

    for feed in ["/feed.xml", "/atom.xml", "/lists/news/feed.xml", "/lists/news/atom.xml"] {
        let first = client.get(s.url(feed)).send().unwrap();
        assert_eq!(first.status(), StatusCode::OK, "{feed}");
        let etag = first.headers()["etag"].to_str().unwrap().to_string();
        let modified = first.headers()["last-modified"].to_str().unwrap().to_string();
        assert!(first.headers()["cache-control"].to_str().unwrap().contains("max-age"));
        assert!(first.text().unwrap().contains("Tech Newsletter, November 2026"));
        let by_etag = client.get(s.url(feed)).header("If-None-Match", &etag).send().unwrap();
        assert_eq!(by_etag.status(), StatusCode::NOT_MODIFIED, "{feed}");
        let by_date = client.get(s.url(feed)).header("If-Modified-Since", &modified).send().unwrap();
        assert_eq!(by_date.status(), StatusCode::NOT_MODIFIED, "{feed}");
    }
    let etag = client.get(s.url("/feed.xml")).send().unwrap().headers()["etag"].clone();
    let second = s.t.write("2026-12.md", ISSUE.replace("2026-11", "2026-12").replace("November", "December").replace("2026-12-20", "2026-11-21"));
    s.t.ok(&["issue", "add", &second]);
    std::thread::sleep(Duration::from_millis(1100)); // feeds trust what they last read for a second
    let after = client.get(s.url("/feed.xml")).header("If-None-Match", etag.to_str().unwrap()).send().unwrap();
    assert_eq!(after.status(), StatusCode::OK, "a new issue changes the feed");
    assert!(after.text().unwrap().contains("December"));

    let gz = client.get(s.url("/feed.xml")).header("Accept-Encoding", "gzip").send().unwrap();
    assert_eq!(gz.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
}

#[test]
fn images_are_served_but_issue_files_and_paths_outside_are_not() {
    let s = site(&[]);
    let client = s.browser();
    let image = client.get(s.url("/media/images/2021-01-fig1.png")).send().unwrap();
    assert_eq!((image.status(), image.headers()["content-type"].to_str().unwrap()), (StatusCode::OK, "image/png"));
    for path in ["/media/2021-01.md", "/media/../../Cargo.toml", "/media/%2e%2e/Cargo.toml", "/media/images/.hidden.png"] {
        assert_eq!(client.get(s.url(path)).send().unwrap().status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[test]
fn pages_carry_security_headers_speak_the_readers_language_and_health_and_metrics_answer() {
    let metrics_port = free_port().to_string();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let s = site(&[("TIDINGS_HTTP__METRICS_BIND", &metrics_bind)]);
    let client = s.browser();
    let form = client.get(s.url("/subscribe")).header("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8").send().unwrap();
    let h = form.headers().clone();
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let page = form.text().unwrap();
    assert!(page.contains("lang=\"zh-CN\"") && page.contains("电子邮箱"), "Chinese for a Chinese browser");
    assert!(page.contains("<label for=\"email\""), "inputs have labels");
    assert!(!page.contains("http://") || !page.contains("<script"), "no external scripts");

    let health = client.get(s.url("/healthz")).send().unwrap();
    assert_eq!((health.status(), health.text().unwrap()), (StatusCode::OK, "ok\n".to_string()));
    // Counters can tell whether a sign-up address was known: never on the public port.
    assert_eq!(client.get(s.url("/metrics")).send().unwrap().status(), StatusCode::NOT_FOUND);
    // Any method string a client invents is counted as `other`, not kept as a label.
    for n in 0..3 {
        let method = reqwest::Method::from_bytes(format!("X{n}METHOD").as_bytes()).unwrap();
        client.request(method, s.url("/subscribe")).send().unwrap();
    }
    let metrics = client.get(format!("http://{metrics_bind}/metrics")).send().unwrap().text().unwrap();
    assert!(!metrics.contains("X0METHOD") && metrics.contains("method=\"other\""), "{metrics}");
    for needle in ["tidings_deliveries{state=\"sent\"}", "tidings_http_requests_total{route=\"/subscribe\",method=\"GET\",status=\"200\"} 1", "tidings_http_request_duration_seconds_bucket{route=\"/healthz\"", "tidings_unsubscribes_total 0"] {
        assert!(metrics.contains(needle), "{needle} in\n{metrics}");
    }
}

#[test]
fn in_a_real_browser_a_reader_subscribes_with_the_form_and_leaves_with_the_button() {
    use fantoccini::Locator;

    let s = site(&[]);
    s.t.ok(&["subscriber", "add", "leaver@example.com", "--list", "news", "--confirmed"]);
    s.t.ok(&["issue", "send", "2026-11"]);
    let issue = s.wait_for_mail("leaver@example.com", "Tech Newsletter");
    let unsubscribe = s.url(&format!("/unsubscribe/{}", link_token(&issue, "/unsubscribe/")));
    let driver = Driver::start();
    let shots = support::browser::screenshots();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let browser = driver.session(1024, 900, None).await;
        let result = async {
            browser.goto(&s.url("/subscribe")).await?;
            browser.find(Locator::Css("#email")).await?.send_keys("browser.reader@example.com").await?;
            browser.find(Locator::Css("#name")).await?.send_keys("李 读者").await?;
            std::fs::write(shots.join("subscribe-form.png"), browser.screenshot().await?).unwrap();
            browser.find(Locator::Css("button[type=submit]")).await?.click().await?;
            wait_for_text(&browser, "h1", "Check your inbox").await;
            std::fs::write(shots.join("subscribe-answer.png"), browser.screenshot().await?).unwrap();

            browser.goto(&unsubscribe).await?;
            std::fs::write(shots.join("unsubscribe-page.png"), browser.screenshot().await?).unwrap();
            browser.find(Locator::Css("button[type=submit]")).await?.click().await?;
            wait_for_text(&browser, "h1", "You are unsubscribed").await;
            std::fs::write(shots.join("unsubscribed.png"), browser.screenshot().await?).unwrap();
            Ok::<_, fantoccini::error::CmdError>(())
        }
        .await;
        let _ = browser.close().await;
        result.expect("the browser steps");
    });
    assert_eq!(s.subscription_status("browser.reader@example.com"), "pending");
    assert_eq!(s.t.json(&["subscriber", "show", "browser.reader@example.com"])["name"], "李 读者");
    assert_eq!(s.subscription_status("leaver@example.com"), "unsubscribed");
}

/// Reads until the server closes the connection; how long that took, or None if it stayed open.
fn closed_within(stream: &mut std::net::TcpStream, limit: Duration) -> Option<Duration> {
    use std::io::Read;
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

#[test]
fn silent_and_idle_connections_are_closed_and_one_client_cannot_hold_every_connection() {
    use std::io::Write;
    use std::net::TcpStream;
    let s = site(&[("TIDINGS_HTTP__MAX_CONNECTIONS_PER_CLIENT", "4")]);
    let addr = s.base.trim_start_matches("http://").to_string();
    std::thread::sleep(Duration::from_millis(300));
    let mut silent = TcpStream::connect(&addr).unwrap();
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut fourth = TcpStream::connect(&addr).unwrap();
    // The fifth at once from the same client is closed without an answer.
    let mut fifth = TcpStream::connect(&addr).unwrap();
    fifth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(closed_within(&mut fifth, Duration::from_secs(3)).is_some(), "a fifth connection from one client is refused");
    // The kept-alive one was answered, then all four are closed by the header-read timeout.
    for (name, stream) in [("silent", &mut silent), ("half a request head", &mut half), ("kept alive after a request", &mut kept), ("fourth", &mut fourth)] {
        let took = closed_within(stream, Duration::from_secs(20)).unwrap_or_else(|| panic!("the {name} connection stayed open"));
        assert!(took < Duration::from_secs(15), "{name}: {took:?}");
    }
    assert_eq!(Client::new().get(s.url("/healthz")).send().unwrap().status(), StatusCode::OK, "the slots are free again");
}

#[test]
fn behind_a_trusted_proxy_limits_and_consent_see_the_forwarded_client_and_nobody_else_can_claim_one() {
    let s = site(&[("TIDINGS_HTTP__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"), ("TIDINGS_HTTP__SUBSCRIBE_PER_IP_PER_MINUTE", "2")]);
    // The client forged the left part; our proxy appended the address it saw.
    let via_proxy = |client: &str| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", format!("198.51.100.66, {client}").parse().unwrap());
        Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
    };
    let codes: Vec<u16> = ["a1", "a2", "a3"].iter().map(|n| s.subscribe(&via_proxy("203.0.113.1"), &[("email", &format!("{n}@example.com"))]).status().as_u16()).collect();
    assert_eq!(codes, [200, 200, 429], "one forwarded client is limited");
    assert_eq!(s.subscribe(&via_proxy("203.0.113.2"), &[("email", "b@example.com")]).status(), StatusCode::OK, "another client behind the same proxy is not");
    let consent = s.t.sql("SELECT consent_ip FROM subscriptions JOIN subscribers ON subscribers.id = subscriber_id WHERE email = 'b@example.com'");
    assert_eq!(consent, "203.0.113.2", "the consent record holds the client, not the proxy");

    // Without trusted proxies the header is the client's own claim and changes nothing.
    let direct = site(&[("TIDINGS_HTTP__SUBSCRIBE_PER_IP_PER_MINUTE", "1")]);
    assert_eq!(direct.subscribe(&via_proxy("203.0.113.3"), &[("email", "c1@example.com")]).status(), StatusCode::OK);
    assert_eq!(direct.subscribe(&via_proxy("203.0.113.4"), &[("email", "c2@example.com")]).status(), StatusCode::TOO_MANY_REQUESTS);
}
