//! The staff pages against the real daemon: accounts made with the CLI, a cookie-keeping HTTP
//! client for the rules, and headless Chromium for the whole flow an editor goes through.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use support::Tidings;
use support::browser::{Driver, screenshots, wait_for_text};
use support::serve::Serving;
use support::smtp::Sink;

const PASSWORD: &str = "correct horse battery";

struct Admin {
    t: Tidings,
    sink: Sink,
    server: Serving,
}

impl Admin {
    /// A list `news`, staff `owner@`, `editor@` and `viewer@example.com`, and the daemon.
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(env: &[(&str, &str)]) -> Self {
        let sink = Sink::start(&[]);
        let mut t = Tidings::new();
        for (k, v) in env {
            t.set_env(k, v);
        }
        t.set_env("TIDINGS_SMTP__TRANSPORT", "smtp");
        t.set_env("TIDINGS_SMTP__PORT", &sink.port.to_string());
        t.set_env("TIDINGS_SECURITY__SECRET_KEY", "admin-test-key-0123456789abcdef0123456789");
        t.set_env("TIDINGS_CONTENT__ISSUES_DIR", &t.path().join("content").display().to_string());
        t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
        for role in ["owner", "editor", "viewer"] {
            let mut child = t.command(&["staff", "add", &format!("{role}@example.com"), "--role", role]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
            child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
            assert!(child.wait().unwrap().success());
        }
        let server = Serving::start(&mut t);
        Self { t, sink, server }
    }

    fn client(&self) -> Client {
        Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// The login page's form token, then the login; returns the answer.
    fn login(&self, client: &Client, email: &str, password: &str) -> reqwest::blocking::Response {
        let form = client.get(self.server.url("/admin/login")).send().unwrap().text().unwrap();
        let csrf = field(&form, "csrf").expect("the login form has a token");
        client.post(self.server.url("/admin/login")).form(&[("csrf", csrf.as_str()), ("email", email), ("password", password)]).send().unwrap()
    }

    /// A signed-in client and the session's form token.
    fn signed_in(&self, role: &str) -> (Client, String) {
        let client = self.client();
        assert_eq!(self.login(&client, &format!("{role}@example.com"), PASSWORD).status(), StatusCode::SEE_OTHER);
        let page = client.get(self.server.url("/admin/lists")).send().unwrap().text().unwrap();
        (client, field(&page, "csrf").unwrap())
    }
}

fn field(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    Some(html[start..].split('"').next()?.to_string())
}

#[test]
fn logins_fail_alike_are_rate_limited_and_pages_need_a_session() {
    let a = Admin::start_with(&[("TIDINGS_HTTP__TRUSTED_PROXIES", "127.0.0.1")]);
    let from = |ip: &str| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
    };
    let client = from("203.0.113.9");
    let anonymous = client.get(a.server.url("/admin")).send().unwrap();
    assert_eq!((anonymous.status(), anonymous.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/admin/login"));

    let wrong = a.login(&client, "owner@example.com", "not the password");
    let unknown = a.login(&client, "nobody@example.com", PASSWORD);
    assert_eq!((wrong.status(), unknown.status()), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    let (wrong, unknown) = (wrong.text().unwrap(), unknown.text().unwrap());
    assert!(wrong.contains("Wrong email or password.") && unknown.contains("Wrong email or password."), "the same answer either way");

    // Five tries an account at once, then it waits.
    let statuses: Vec<StatusCode> = (0..5).map(|_| a.login(&client, "editor@example.com", "guess").status()).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(a.login(&client, "editor@example.com", PASSWORD).status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    // Spelling the address differently (a soft hyphen the store ignores, case) is the same account.
    for spelling in ["editor@exam\u{ad}ple.com", "EDITOR@example.com"] {
        assert_eq!(a.login(&client, spelling, PASSWORD).status(), StatusCode::TOO_MANY_REQUESTS, "{spelling:?} gets no fresh limit");
    }

    // The login form is read before anyone is known: a huge body is refused, not held.
    let huge = client.post(a.server.url("/admin/login")).header("content-type", "application/x-www-form-urlencoded").body(vec![b'a'; 3 << 20]).send().unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A fresh address: the one above has used up its ten tries a minute (or nearly).
    let client = from("203.0.113.10");
    let signed = a.login(&client, "owner@example.com", PASSWORD);
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let cookie = signed.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("tidings_admin=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let dashboard = client.get(a.server.url("/admin")).send().unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    let csp = dashboard.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline' ;") && !csp.contains("script-src 'unsafe-inline'"), "{csp}");

    // The login is in the audit trail, with where it came from.
    let events = a.t.sql("SELECT type, actor, detail FROM events WHERE type = 'staff.login'");
    assert!(events.contains("staff:owner@example.com") && events.contains("203.0.113.10"), "the client behind the proxy: {events}");
}

#[test]
fn forms_need_their_token_roles_are_enforced_and_a_double_clicked_send_sends_once() {
    let a = Admin::start();
    let (editor, editor_csrf) = a.signed_in("editor");
    let forged = editor.post(a.server.url("/admin/lists")).form(&[("csrf", "forged"), ("slug", "other"), ("name", "Other")]).send().unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let made = editor.post(a.server.url("/admin/lists")).form(&[("csrf", editor_csrf.as_str()), ("slug", "other"), ("name", "Other")]).send().unwrap();
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let lists = a.t.json(&["list", "ls"]);
    assert_eq!(lists.as_array().unwrap().len(), 2, "only the genuine form made a list: {lists}");

    let (viewer, viewer_csrf) = a.signed_in("viewer");
    assert_eq!(viewer.get(a.server.url("/admin/staff")).send().unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(viewer.get(a.server.url("/admin/import")).send().unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(editor.get(a.server.url("/admin/staff")).send().unwrap().status(), StatusCode::FORBIDDEN);

    a.t.ok(&["subscriber", "add", "reader@example.com", "--list", "news", "--confirmed"]);
    let issue = a.t.write("2026-12.md", "+++\nlist = \"news\"\nslug = \"2026-12\"\ntitle = \"December\"\ndate = 2026-12-01\n+++\n\nHello.\n");
    a.t.ok(&["issue", "add", &issue]);
    let send = |client: &Client, csrf: &str| client.post(a.server.url("/admin/issues/2026-12/send")).form(&[("csrf", csrf), ("at", "")]).send().unwrap().status();
    assert_eq!(send(&viewer, &viewer_csrf), StatusCode::FORBIDDEN);
    assert_eq!(send(&editor, &editor_csrf), StatusCode::FORBIDDEN, "only an owner sends to a list");
    let (owner, owner_csrf) = a.signed_in("owner");
    let confirm = owner.get(a.server.url("/admin/issues/2026-12/send")).send().unwrap().text().unwrap();
    assert!(confirm.contains("goes to the 1 confirmed subscribers of the list “Tech News”"), "the confirmation names list and count");
    assert_eq!(send(&owner, &owner_csrf), StatusCode::SEE_OTHER);
    assert_eq!(send(&owner, &owner_csrf), StatusCode::CONFLICT, "the second click is refused");
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.sink.recipients().is_empty() {
        assert!(Instant::now() < deadline, "the send went out");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(a.sink.recipients(), ["reader@example.com"]);

    // Erasure takes a confirmation step and a genuine form.
    let ask = owner.get(a.server.url("/admin/subscribers/reader@example.com/erase")).send().unwrap().text().unwrap();
    assert!(ask.contains("cannot be undone"));
    let erased = owner.post(a.server.url("/admin/subscribers/reader@example.com/erase")).form(&[("csrf", owner_csrf.as_str())]).send().unwrap();
    assert_eq!(erased.status(), StatusCode::SEE_OTHER);
    assert!(a.t.fails(&["subscriber", "show", "reader@example.com"], 2).contains("no subscriber"));
}

#[test]
fn in_a_real_browser_an_editor_imports_drafts_previews_tests_and_the_owner_sends_and_watches() {
    use fantoccini::{Locator, elements::Element};

    let a = Admin::start();
    let csv = a.t.write("readers.csv", "email,name\nann@example.com,Ann\nbo@example.com,Bo\nnot-an-address,Bad\n读者@example.com,Bad too\ncy@example.com,赵 六\n");
    let shots = screenshots();
    let driver = Driver::start();
    let base = a.server.base.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let browser = driver.session(1280, 1000, None).await;
        let shot = |name: &'static str| {
            let browser = browser.clone();
            let path = shots.join(name);
            async move { std::fs::write(path, browser.screenshot().await.unwrap()).unwrap() }
        };
        let wait_text = |css: &'static str, wanted: &'static str| {
            let browser = browser.clone();
            async move { wait_for_text(&browser, css, wanted).await }
        };
        let result = async {
            // Log in.
            browser.goto(&format!("{base}/admin/login")).await?;
            browser.find(Locator::Css("#email")).await?.send_keys("owner@example.com").await?;
            browser.find(Locator::Css("#password")).await?.send_keys(PASSWORD).await?;
            shot("admin-login.png").await;
            browser.find(Locator::Css("button[type=submit]")).await?.click().await?;
            wait_text("h1", "Dashboard").await;

            // Import a CSV and watch it finish.
            browser.goto(&format!("{base}/admin/import")).await?;
            browser.find(Locator::Css("#file")).await?.send_keys(&csv).await?;
            browser.find(Locator::Css("input[name=confirmed]")).await?.click().await?;
            browser.find(Locator::Css("#start-import")).await?.click().await?;
            wait_text("#imported", "3").await;
            assert_eq!(browser.find(Locator::Css("#skipped")).await?.text().await?, "2");
            shot("admin-import-done.png").await;

            // Draft an issue and see the live preview.
            browser.goto(&format!("{base}/admin/issues/new")).await?;
            let source: Element = browser.find(Locator::Css("#source")).await?;
            source.clear().await?;
            source.send_keys("+++\nlist = \"news\"\nslug = \"2026-12\"\ntitle = \"Tech Newsletter, December 2026\"\ndate = 2026-12-01\n+++\n\n## Focus\n\n◇ Quantum sensors reach the clinic. (Source: test)\n").await?;
            wait_text("#preview-text", "Quantum sensors reach the clinic").await;
            // The email itself, in the desktop frame, as subscribers will see it.
            browser.clone().enter_frame(0).await?;
            wait_text("body", "Quantum sensors reach the clinic").await;
            browser.clone().enter_parent_frame().await?;
            shot("admin-draft-preview.png").await;
            browser.find(Locator::Css("button[value=save]")).await?.click().await?;
            wait_text(".notice", "Saved").await;

            // A test copy to the editor's own address.
            browser.find(Locator::Css("form[action$='/test'] button")).await?.click().await?;
            wait_text(".notice", "Test copy sent").await;
            shot("admin-issue-test-sent.png").await;

            // Send to the list: the confirmation names the list and the count; then progress.
            browser.find(Locator::Css("a[href$='/send']")).await?.click().await?;
            wait_text("#send-question", "3 confirmed subscribers").await;
            shot("admin-send-confirm.png").await;
            browser.find(Locator::Css("#confirm-send")).await?.click().await?;
            wait_text("#percent", "100%").await;
            wait_text("#send-status", "sent").await;
            shot("admin-send-progress.png").await;

            // The dashboard; then on a phone, in Chinese.
            browser.goto(&format!("{base}/admin")).await?;
            wait_text("#lists", "Tech News").await;
            // Counted once the import finished: the dashboard shows the new readers.
            let confirmed = browser.find(Locator::Css("#lists tbody td:nth-child(2)")).await?.text().await?;
            assert_eq!(confirmed, "3");
            browser.set_window_size(1280, 2600).await?;
            shot("admin-dashboard.png").await;
            Ok::<_, fantoccini::error::CmdError>(())
        }
        .await;
        let _ = browser.close().await;
        result.expect("the browser steps");

        let phone = driver.session(390, 844, Some("zh-CN")).await;
        let result = async {
            phone.goto(&format!("{base}/admin/login")).await?;
            phone.find(Locator::Css("#email")).await?.send_keys("viewer@example.com").await?;
            phone.find(Locator::Css("#password")).await?.send_keys(PASSWORD).await?;
            phone.find(Locator::Css("button[type=submit]")).await?.click().await?;
            wait_for_text(&phone, "h1", "概览").await;
            std::fs::write(shots.join("admin-dashboard-phone-zh.png"), phone.screenshot().await?).unwrap();
            Ok::<_, fantoccini::error::CmdError>(())
        }
        .await;
        let _ = phone.close().await;
        result.expect("the phone steps");
    });
    let mut mailed = a.sink.recipients();
    mailed.sort();
    assert_eq!(mailed, ["ann@example.com", "bo@example.com", "cy@example.com", "owner@example.com"]);
}

#[test]
fn test_copies_refuse_suppressed_addresses_are_limited_per_staff_member_and_errors_are_not_taken_from_links() {
    let a = Admin::start();
    let issue = a.t.write("2026-12.md", "+++\nlist = \"news\"\nslug = \"2026-12\"\ntitle = \"December\"\ndate = 2026-12-01\n+++\n\nHello.\n");
    a.t.ok(&["issue", "add", &issue]);
    a.t.ok(&["subscriber", "add", "gone@example.com", "--list", "news", "--confirmed"]);
    a.t.ok(&["subscriber", "erase", "gone@example.com"]);
    let (editor, csrf) = a.signed_in("editor");
    let test = |client: &Client, csrf: &str, to: &str| client.post(a.server.url("/admin/issues/2026-12/test")).form(&[("csrf", csrf), ("test", to)]).send().unwrap();

    let refused = test(&editor, &csrf, "Gone@example.com");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().unwrap().contains("is suppressed"), "the reason is on the page");
    for i in 0..10 {
        assert_eq!(test(&editor, &csrf, &format!("me{i}@example.com")).status(), StatusCode::SEE_OTHER, "test copy {i}");
    }
    let limited = test(&editor, &csrf, "me10@example.com");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.text().unwrap().contains("too many test copies"));
    let (owner, owner_csrf) = a.signed_in("owner");
    assert_eq!(test(&owner, &owner_csrf, "owner-copy@example.com").status(), StatusCode::SEE_OTHER, "another staff member has their own allowance");
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.sink.recipients().len() < 11 {
        assert!(Instant::now() < deadline, "the test copies went out: {:?}", a.sink.recipients());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!a.sink.recipients().iter().any(|r| r.eq_ignore_ascii_case("gone@example.com")));

    // A link cannot put words on the page.
    let page = editor.get(a.server.url("/admin/issues/2026-12?error=Your+session+expired%3A+call+555-0100&notice=Wire+money")).send().unwrap().text().unwrap();
    assert!(!page.contains("555-0100") && !page.contains("Wire money"), "{page}");
}

#[test]
fn password_checks_do_not_stall_other_requests() {
    let a = Admin::start();
    let logins: Vec<_> = (0..4)
        .map(|i| {
            let (client, url) = (a.client(), a.server.url("/admin/login"));
            std::thread::spawn(move || {
                let form = client.get(&url).send().unwrap().text().unwrap();
                let csrf = field(&form, "csrf").unwrap();
                let start = Instant::now();
                let r = client.post(&url).form(&[("csrf", csrf.as_str()), ("email", &format!("owner{i}@example.com")), ("password", "wrong password, slowly")]).send().unwrap();
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
                start.elapsed()
            })
        })
        .collect();
    let health = Client::new();
    let mut latencies = Vec::new();
    while logins.iter().any(|l| !l.is_finished()) {
        let start = Instant::now();
        assert_eq!(health.get(a.server.url("/healthz")).send().unwrap().status(), StatusCode::OK);
        latencies.push(start.elapsed());
    }
    let slowest_login = logins.into_iter().map(|l| l.join().unwrap()).max().unwrap();
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    eprintln!("healthz median {median:?} of {}, slowest login {slowest_login:?}", latencies.len());
    assert!(median * 4 < slowest_login, "/healthz took {median:?} (median of {}) while logins took up to {slowest_login:?}", latencies.len());
}

#[test]
fn guessing_one_account_from_many_addresses_is_limited_too() {
    let a = Admin::start_with(&[("TIDINGS_HTTP__TRUSTED_PROXIES", "127.0.0.1")]);
    let from = |n: usize| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", format!("2001:db8:{n:x}::1").parse().unwrap());
        Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
    };
    let codes: Vec<u16> = (0..31).map(|n| a.login(&from(n), "owner@example.com", "a wrong guess").status().as_u16()).collect();
    assert!(codes[..30].iter().all(|c| *c == 401), "{codes:?}");
    assert_eq!(codes[30], 429, "the 31st guess within the hour waits, whatever address it comes from");
    assert_eq!(a.login(&from(99), "editor@example.com", PASSWORD).status(), StatusCode::SEE_OTHER, "other accounts are not affected");
}

#[test]
fn the_draft_form_takes_an_issue_in_the_text_layout_for_the_list_chosen_and_previews_it() {
    let a = Admin::start();
    let (editor, csrf) = a.signed_in("editor");
    let form = editor.get(a.server.url("/admin/issues/new")).send().unwrap().text().unwrap();
    assert!(form.contains("name=\"list\"") && form.contains("<option value=\"news\"") && form.contains("type=\"date\""), "the form has list and date fields");
    let source = std::fs::read_to_string(support::repo().join("tests/fixtures/text-layout/2022-03.txt")).unwrap();
    let preview = |list: &str, source: &str| -> serde_json::Value {
        let answer = editor.post(a.server.url("/admin/preview")).form(&[("csrf", csrf.as_str()), ("source", source), ("list", list), ("date", "2022-03-28")]).send().unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        answer.json().unwrap()
    };
    let p = preview("news", &source);
    assert!(p["error"].is_null(), "{p}");
    let html = p["html"].as_str().unwrap();
    assert!(html.contains("<figcaption") && html.contains("◇ 公交线网“微循环”上线") && html.contains("总第 900 期"), "the preview shows the converted issue");
    assert!(p["text"].as_str().unwrap().contains("[市民在地铁站旁的电子围栏内停放共享单车。]"), "{p}");
    assert_eq!(p["warnings"], serde_json::json!([]));
    let p = preview("", &source);
    assert!(p["error"].as_str().unwrap().contains("needs its list"), "{p}");
    let renamed = source.replace("新型储能电站在西部并网运行\n\n一座", "西部储能项目投入使用\n\n一座");
    let p = preview("news", &renamed);
    assert!(p["warnings"][0].as_str().unwrap().contains("matches no article heading"), "what to check is shown with the preview: {p}");

    let saved = editor.post(a.server.url("/admin/issues/new")).form(&[("csrf", csrf.as_str()), ("source", source.as_str()), ("list", "news"), ("date", "2022-03-28"), ("action", "save")]).send().unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(saved.headers()["location"], "/admin/issues/2022-03?notice=saved");
    assert_eq!(a.t.json(&["issue", "status", "2022-03"])["status"], "draft");
}
