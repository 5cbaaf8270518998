//! Feed readers against the real daemon: the WebSub hub with a subscriber's callback server of
//! the test's own, JSON Feed checked by a third-party JSON Schema validator, an RFC 5005 walk of a
//! 300-issue archive, OPML, private lists' personal feeds, and readers that poll too often.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use support::Tidings;
use support::callback::Callback;
use support::serve::Serving;
use support::smtp::Sink;

const KEY: &str = "feeds-test-key-0123456789abcdef0123456789";

fn issue(list: &str, slug: &str, title: &str, date: &str, body: &str) -> String {
    format!("+++\nlist = \"{list}\"\nslug = \"{slug}\"\ntitle = \"{title}\"\ndate = {date}\n+++\n\n## Focus\n\n{body}\n\n## Briefs\n\n◇ A short one. (Source: test)\n")
}

/// A public list `news` with one issue, the daemon serving it, mail to an smtp-sink.
struct Site {
    t: Tidings,
    sink: Sink,
    serve: Option<Serving>,
}

impl Site {
    fn start(env: &[(&str, &str)]) -> Self {
        let sink = Sink::start(&[]);
        let mut t = Tidings::new();
        for (k, v) in [("TIDINGS_SMTP__TRANSPORT", "smtp"), ("TIDINGS_SMTP__PORT", &sink.port.to_string()), ("TIDINGS_SECURITY__SECRET_KEY", KEY)] {
            t.set_env(k, v);
        }
        for (k, v) in env {
            t.set_env(k, v);
        }
        t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
        let first = t.write("first.md", issue("news", "2026-11", "November issue", "2026-11-20", "◇ A piece of news. (Source: test)"));
        t.ok(&["issue", "add", &first]);
        let serve = Serving::start(&mut t);
        Self { t, sink, serve: Some(serve) }
    }

    fn url(&self, path: &str) -> String {
        self.serve.as_ref().expect("serving").url(path)
    }

    fn restart(&mut self) {
        self.serve = None;
        self.serve = Some(Serving::start(&mut self.t));
    }

    fn add_issue(&self, list: &str, slug: &str, title: &str) {
        let path = self.t.write(&format!("{slug}.md"), issue(list, slug, title, "2026-11-25", "◇ Fresh news. (Source: test)"));
        self.t.ok(&["issue", "add", &path]);
    }

    fn hub_post(&self, fields: &[(&str, &str)]) -> reqwest::blocking::Response {
        Client::new().post(self.url("/websub")).form(fields).send().unwrap()
    }

    fn count(&self, table: &str) -> i64 {
        self.t.sql(&format!("SELECT COUNT(*) FROM {table}")).trim().parse().unwrap()
    }

    /// The message the sink got for `rcpt` containing `needle`, soft line breaks undone.
    fn wait_for_mail(&self, rcpt: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let dump = self.sink.dump().replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
            if let Some(m) = dump.split("X-Rcpt-Args: <").filter(|m| m.starts_with(&format!("{rcpt}>"))).find(|m| m.contains(needle)) {
                return m.to_string();
            }
            assert!(Instant::now() < deadline, "no mail for {rcpt} containing {needle}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The `<url>` of `rel` in a Link header.
fn link(header: &str, rel: &str) -> Option<String> {
    header.split(',').find(|part| part.contains(&format!("rel=\"{rel}\""))).and_then(|part| Some(part[part.find('<')? + 1..part.find('>')?].to_string()))
}

fn subscribe(site: &Site, topic: &str, callback: &str, extra: &[(&str, &str)]) {
    let mut fields = vec![("hub.mode", "subscribe"), ("hub.topic", topic), ("hub.callback", callback)];
    fields.extend_from_slice(extra);
    let answer = site.hub_post(&fields);
    assert_eq!(answer.status(), StatusCode::ACCEPTED, "{}", answer.text().unwrap());
}

fn subscriptions_of(site: &Site, callback: &str) -> i64 {
    site.t.sql(&format!("SELECT COUNT(*) FROM websub_subscriptions WHERE callback = '{callback}'")).trim().parse().unwrap()
}

fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "waited {secs} s for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn websub_subscribers_get_a_new_issue_within_seconds_signed_with_their_own_secret() {
    let site = Site::start(&[("TIDINGS_FEEDS__HUB_ALLOW_PRIVATE_CALLBACKS", "true")]);
    let cb = Callback::start();

    // Discovery, as a reader does it: the feed's Link header and the document name the hub and the topic.
    let feed = Client::new().get(site.url("/feed.xml")).send().unwrap();
    let links = feed.headers()["link"].to_str().unwrap().to_string();
    let (hub, topic) = (link(&links, "hub").expect("rel=hub"), link(&links, "self").expect("rel=self"));
    assert_eq!(hub, site.url("/websub"));
    assert_eq!(topic, site.url("/feed.xml"));
    let body = feed.text().unwrap();
    assert!(body.contains(&format!("href=\"{hub}\"")) && body.contains("rel=\"hub\""), "the RSS document names its hub too");
    for json_topic in ["/feed.json", "/lists/news/feed.json"] {
        let answer = Client::new().get(site.url(json_topic)).send().unwrap();
        assert_eq!(link(answer.headers()["link"].to_str().unwrap(), "hub"), Some(hub.clone()), "{json_topic}");
    }

    // Five subscribers: two with secrets, one that fails a push once, one that leaves, one whose lease is short.
    let (a, b, flaky, leaver, brief, shy) = ("/a", "/b", "/flaky", "/leaver", "/brief", "/shy");
    subscribe(&site, &topic, &cb.url(a), &[("hub.secret", "alpha-secret"), ("hub.lease_seconds", "3600")]);
    subscribe(&site, &topic, &cb.url(b), &[("hub.secret", "beta-secret")]);
    subscribe(&site, &topic, &cb.url(flaky), &[]);
    subscribe(&site, &topic, &cb.url(leaver), &[]);
    subscribe(&site, &topic, &cb.url(brief), &[("hub.lease_seconds", "2")]);
    cb.wait_for(10, "five verifications", |r| r.iter().filter(|r| r.method == "GET").count() == 5);
    let check = &cb.verifications(a)[0];
    assert_eq!(check.param("hub.mode").as_deref(), Some("subscribe"));
    assert_eq!(check.param("hub.topic").as_deref(), Some(topic.as_str()));
    assert_eq!(check.param("hub.lease_seconds").as_deref(), Some("3600"));
    assert!(check.param("hub.challenge").is_some_and(|c| c.len() >= 32), "an unguessable challenge");
    wait_until(10, "five subscriptions", || site.count("websub_subscriptions") == 5);

    // A callback that does not echo the challenge gets no subscription.
    let refusing = Callback::start();
    refusing.refuse_challenges();
    subscribe(&site, &topic, &refusing.url(shy), &[]);
    refusing.wait_for(10, "the verification", |r| !r.is_empty());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(subscriptions_of(&site, &refusing.url(shy)), 0, "intent not confirmed, nothing kept");

    // The leaver unsubscribes (verified the same way); the brief lease runs out.
    let answer = site.hub_post(&[("hub.mode", "unsubscribe"), ("hub.topic", &topic), ("hub.callback", &cb.url(leaver))]);
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    wait_until(10, "the unsubscribe to be verified", || subscriptions_of(&site, &cb.url(leaver)) == 0);
    assert_eq!(cb.verifications(leaver).last().unwrap().param("hub.mode").as_deref(), Some("unsubscribe"));
    wait_until(10, "the brief lease to run out", || subscriptions_of(&site, &cb.url(brief)) == 0);
    assert_eq!(site.count("websub_pushes"), 0, "nothing changed yet, nothing pushed");

    cb.answer_pushes_with(&[500]);
    let published = Instant::now();
    site.add_issue("news", "2026-12", "December issue");
    cb.wait_for(5, "the pushes to a and b", |r| r.iter().filter(|r| r.method == "POST" && (r.target == a || r.target == b)).count() == 2);
    let pushed_a = &cb.pushes(a)[0];
    assert!(pushed_a.at.duration_since(published) < Duration::from_secs(5), "pushed {:?} after publication", pushed_a.at.duration_since(published));
    assert!(String::from_utf8_lossy(&pushed_a.body).contains("December issue"), "the push carries the new feed");
    assert_eq!(pushed_a.header("content-type"), Some("application/rss+xml; charset=utf-8"));
    assert_eq!(link(pushed_a.header("link").unwrap(), "self"), Some(topic.clone()));
    let sig_a = pushed_a.header("x-hub-signature").expect("a signed push");
    assert_eq!(sig_a, signature("alpha-secret", &pushed_a.body), "a's signature verifies with a's secret");
    assert_ne!(sig_a, signature("beta-secret", &pushed_a.body), "and not with another's");
    let pushed_b = &cb.pushes(b)[0];
    assert_eq!(pushed_b.header("x-hub-signature").unwrap(), signature("beta-secret", &pushed_b.body));
    assert_ne!(pushed_b.header("x-hub-signature").unwrap(), signature("wrong-secret", &pushed_b.body), "a wrong secret does not verify");

    // The flaky callback answered 500 (or was the first to be pushed: 500 went to one of them) and is retried.
    cb.wait_for(10, "every subscriber to get the issue, retries included", |r| {
        let ok = |p: &str| r.iter().filter(|x| x.method == "POST" && x.target == p).count();
        ok(a) + ok(b) + ok(flaky) == 4
    });
    let retried: Vec<&str> = [a, b, flaky].into_iter().filter(|p| cb.pushes(p).len() == 2).collect();
    assert_eq!(retried.len(), 1, "exactly one push failed and was repeated: {retried:?}");
    let tries = cb.pushes(retried[0]);
    assert!(tries[1].at.duration_since(tries[0].at) >= Duration::from_millis(1500), "the retry waits");
    wait_until(5, "the retried push to be settled", || site.count("websub_pushes") == 0);
    assert!(cb.pushes(leaver).is_empty() && cb.pushes(brief).is_empty(), "no push after an unsubscribe or an expired lease");
    assert!(refusing.received().iter().all(|r| r.method == "GET"), "no push to a callback that never confirmed");

    // An issue that does not change this feed (another list's private issue) pushes nothing.
    site.t.ok(&["list", "create", "club", "--name", "Club", "--private"]);
    site.add_issue("club", "club-1", "Members only");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(cb.pushes(a).len() + cb.pushes(b).len() + cb.pushes(flaky).len(), 4, "nothing new for the public feed");
}

#[test]
fn the_hub_refuses_bad_requests_and_private_callbacks_and_keeps_nothing_of_them() {
    let site = Site::start(&[("TIDINGS_FEEDS__HUB_REQUESTS_PER_IP_PER_HOUR", "12")]);
    let cb = Callback::start();
    let topic = site.url("/feed.xml");
    let long_secret = "s".repeat(200);
    let long_callback = format!("https://reader.example/{}", "x".repeat(2100));
    let private_callback = cb.url("/cb");
    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", &private_callback)], StatusCode::BAD_REQUEST, "not a public address"),
        (vec![("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", "http://localhost:9/cb")], StatusCode::BAD_REQUEST, "not a public address"),
        (vec![("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", "http://[::ffff:127.0.0.1]/cb")], StatusCode::BAD_REQUEST, "not a public address"),
        (vec![("hub.mode", "publish"), ("hub.topic", &topic), ("hub.callback", "https://reader.example/cb")], StatusCode::BAD_REQUEST, "hub.mode"),
        (vec![("hub.mode", "subscribe"), ("hub.topic", "https://elsewhere.example/feed.xml"), ("hub.callback", "https://reader.example/cb")], StatusCode::BAD_REQUEST, "not a feed of this site"),
        (vec![("hub.mode", "subscribe"), ("hub.topic", &topic)], StatusCode::BAD_REQUEST, "hub.callback is missing"),
        (vec![("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", "https://reader.example/cb"), ("hub.secret", &long_secret)], StatusCode::BAD_REQUEST, "hub.secret"),
        (vec![("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", "https://reader.example/cb"), ("hub.lease_seconds", "-1")], StatusCode::BAD_REQUEST, "hub.lease_seconds"),
        (vec![("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", &long_callback)], StatusCode::BAD_REQUEST, "longer than"),
        (vec![("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", "file:///etc/passwd")], StatusCode::BAD_REQUEST, "http or https"),
    ];
    for (fields, status, says) in &cases {
        let answer = site.hub_post(fields);
        assert_eq!(answer.status(), *status, "{fields:?}");
        let text = answer.text().unwrap();
        assert!(text.contains(says), "{fields:?}: {text}");
    }
    let not_form = Client::new().post(site.url("/websub")).header("content-type", "application/json").body("{}").send().unwrap();
    assert_eq!(not_form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = Client::new().post(site.url("/websub")).header("content-type", "application/x-www-form-urlencoded").body(vec![b'a'; 4 << 20]).send();
    assert!(huge.map(|r| r.status() == StatusCode::PAYLOAD_TOO_LARGE).unwrap_or(true), "a huge body is cut off");
    assert_eq!(site.count("websub_requests") + site.count("websub_subscriptions"), 0, "nothing stored for a refused request");

    // A flood from one address is asked to wait (the limit is 12 an hour; a request cut off for
    // its size never reached the hub).
    let flood: Vec<StatusCode> = (0..3).map(|_| site.hub_post(&[("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", "https://reader.example/cb")]).status()).collect();
    let limited = site.hub_post(&[("hub.mode", "subscribe"), ("hub.topic", &topic), ("hub.callback", "https://reader.example/cb")]);
    assert!(flood.contains(&StatusCode::TOO_MANY_REQUESTS) || limited.status() == StatusCode::TOO_MANY_REQUESTS, "{flood:?}");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "past twelve requests this hour");
    assert!(limited.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert!(cb.received().is_empty(), "the hub never called the private address");
}

#[test]
fn a_callback_that_hangs_or_answers_gigabytes_does_not_hold_the_hub_up() {
    let site = Site::start(&[("TIDINGS_FEEDS__HUB_ALLOW_PRIVATE_CALLBACKS", "true")]);
    let topic = site.url("/feed.xml");
    // One that accepts and never answers, one that answers an endless body, one that redirects.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let flood = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (hang_port, flood_port, redirect_port) = (hang.local_addr().unwrap().port(), flood.local_addr().unwrap().port(), redirect.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hang.incoming().flatten() {
            held.push(s);
        }
    });
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut s in flood.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
                let chunk = vec![b'x'; 1 << 16];
                for _ in 0..(1 << 14) {
                    if s.write_all(&chunk).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let good = Callback::start();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut s in redirect.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(s, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{}/stolen\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 1);
        }
    });
    for port in [hang_port, flood_port, redirect_port] {
        subscribe(&site, &topic, &format!("http://127.0.0.1:{port}/cb"), &[]);
    }
    let started = Instant::now();
    subscribe(&site, &topic, &good.url("/ok"), &[]);
    wait_until(8, "the good subscriber to be verified while the others hang", || subscriptions_of(&site, &good.url("/ok")) == 1);
    assert!(started.elapsed() < Duration::from_secs(8));
    wait_until(15, "the bad callbacks to be given up", || site.count("websub_requests") == 0 && site.count("websub_subscriptions") == 1);
    let published = Instant::now();
    site.add_issue("news", "2026-12", "December issue");
    good.wait_for(5, "the push", |r| r.iter().any(|r| r.method == "POST"));
    assert!(good.pushes("/ok")[0].at.duration_since(published) < Duration::from_secs(5));
}

#[test]
fn json_feeds_validate_and_carry_the_same_items_with_stable_ids() {
    let site = Site::start(&[]);
    site.add_issue("news", "2026-12", "December issue");
    let client = Client::builder().no_gzip().build().unwrap();
    for path in ["/feed.json", "/lists/news/feed.json"] {
        let answer = client.get(site.url(path)).send().unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert_eq!(answer.headers()["content-type"], "application/feed+json; charset=utf-8");
        let etag = answer.headers()["etag"].to_str().unwrap().to_string();
        let file = site.t.write("feed.json", answer.bytes().unwrap());
        let report = support::python_check("check_jsonfeed.py", &[&file, "2"]);
        assert_eq!(report["ids"][0], site.url("/issues/2026-12"), "{report}");
        assert_eq!(report["hubs"][0]["url"], site.url("/websub"));
        assert_eq!(client.get(site.url(path)).header("If-None-Match", &etag).send().unwrap().status(), StatusCode::NOT_MODIFIED);
        let gz = client.get(site.url(path)).header("Accept-Encoding", "gzip").send().unwrap();
        assert_eq!(gz.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    }
    // The same ids in all three formats.
    let json: serde_json::Value = client.get(site.url("/feed.json")).send().unwrap().json().unwrap();
    let rss = client.get(site.url("/feed.xml")).send().unwrap().text().unwrap();
    let atom = client.get(site.url("/atom.xml")).send().unwrap().text().unwrap();
    for item in json["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        assert!(rss.contains(&format!(">{id}</guid>")) && atom.contains(&format!("<id>{id}</id>")), "{id}");
        assert_eq!(item["tags"], serde_json::json!(["Focus", "Briefs"]), "categories from the sections");
    }
    assert!(rss.contains("<category>Focus</category>") && atom.contains("term=\"Focus\""));
    assert!(rss.contains("<ttl>") && rss.contains("<image>") && atom.contains("<icon>"));
    // Every page names the JSON Feed for autodiscovery.
    let home = client.get(site.url("/")).send().unwrap().text().unwrap();
    assert!(home.contains("type=\"application/feed+json\""), "autodiscovery of the JSON Feed");

    // A correction changes `updated`, never the id.
    let before = json["items"][0].clone();
    std::thread::sleep(Duration::from_millis(1100));
    let corrected = site.t.write("2026-12.md", issue("news", "2026-12", "December issue", "2026-11-25", "◇ Corrected news. (Source: test)"));
    site.t.ok(&["issue", "add", &corrected]);
    let after: serde_json::Value = client.get(site.url("/feed.json")).send().unwrap().json().unwrap();
    let after = &after["items"][0];
    assert_eq!(after["id"], before["id"]);
    assert!(after["content_html"].as_str().unwrap().contains("Corrected"));
    assert_ne!(after["date_modified"], before["date_modified"], "the correction shows as an update");
    assert_eq!(after["date_published"], before["date_published"]);

    // Sending an issue is not a change of its content: the feed stays as it was (no push, no update).
    let etag = client.get(site.url("/feed.json")).send().unwrap().headers()["etag"].clone();
    site.t.ok(&["subscriber", "add", "reader@example.com", "--list", "news", "--confirmed"]);
    site.t.ok(&["issue", "send", "2026-12"]);
    wait_until(30, "the send to finish", || site.t.json(&["issue", "status", "2026-12"])["status"] == "sent");
    assert_eq!(client.get(site.url("/feed.json")).send().unwrap().headers()["etag"], etag, "a send leaves the feed alone");
}

/// 300 public issues, written straight into the database (SQL for either backend).
fn three_hundred_issues(t: &Tidings) {
    let (date, timestamp) = if t.is_postgres() { ("(DATE '2000-01-01' + k)", "now()") } else { ("date('2000-01-01', '+' || k || ' days')", "strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')") };
    t.sql(&format!(
        "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 300)
         INSERT INTO issues (list_id, slug, title, published_on, language, source_markdown, body_html, created_at, updated_at)
         SELECT (SELECT id FROM lists WHERE slug = 'news'), 'old-' || k, 'Old issue ' || k, {date}, 'en', '', '<h2>Focus</h2><p>Item ' || k || '</p>', {timestamp}, {timestamp} FROM n"
    ));
}

#[test]
fn an_rfc5005_walk_from_the_feed_reaches_every_issue_of_a_300_issue_archive_once() {
    let mut site = Site::start(&[("TIDINGS_FEEDS__MAX_ITEMS", "40")]);
    three_hundred_issues(&site.t);
    site.restart(); // the archive's cache starts empty
    let client = Client::new();
    for (start, older) in [("/feed.xml", "prev-archive"), ("/atom.xml", "prev-archive"), ("/lists/news/feed.xml", "prev-archive"), ("/feed.json", "next_url")] {
        let mut seen: Vec<String> = Vec::new();
        let mut next = Some(site.url(start));
        let mut documents = 0;
        while let Some(url) = next.take() {
            documents += 1;
            assert!(documents < 20, "the walk from {start} does not end");
            let answer = client.get(&url).send().unwrap();
            assert_eq!(answer.status(), StatusCode::OK, "{url}");
            if documents > 1 {
                assert_eq!(answer.headers()["cache-control"], "public, max-age=86400", "an archive document is cached long: {url}");
            }
            let text = answer.text().unwrap();
            if start.ends_with(".json") {
                let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
                seen.extend(doc["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()));
                next = doc["next_url"].as_str().map(str::to_string);
            } else {
                let file = site.t.write("doc.xml", &text);
                support::xmllint(std::path::Path::new(&file));
                let ids = if start.contains("atom") { between_all(&text, "<id>", "</id>").into_iter().filter(|i| i.contains("/issues/")).collect() } else { between_all(&text, ">", "</guid>").into_iter().map(|g| g.rsplit('>').next().unwrap().to_string()).collect::<Vec<_>>() };
                seen.extend(ids);
                if documents > 1 {
                    assert!(text.contains("<fh:archive"), "RFC 5005 marks archive documents: {url}");
                }
                next = rel_link(&text, older);
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(seen.len(), 301, "{start}: every issue once ({} documents)", documents);
        assert_eq!(unique.len(), 301, "{start}: no issue twice");
        assert!(documents >= 7, "{start}: the archive has pages ({documents})");
    }
    // Archive pages are full and fixed: the first holds the 40 oldest.
    let first = client.get(site.url("/archive/1/feed.json")).send().unwrap().json::<serde_json::Value>().unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 40);
    assert_eq!(first["items"][39]["id"], site.url("/issues/old-1"));
    let file = site.t.write("archive.json", serde_json::to_vec(&first).unwrap());
    support::python_check("check_jsonfeed.py", &[&file, "40"]);
    assert_eq!(client.get(site.url("/archive/99/feed.xml")).send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(client.get(site.url("/archive/0/feed.xml")).send().unwrap().status(), StatusCode::NOT_FOUND);
}

fn between_all(text: &str, start: &str, end: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(e) = rest.find(end) {
        let chunk = &rest[..e];
        if let Some(s) = chunk.rfind(start) {
            out.push(chunk[s + start.len()..].to_string());
        }
        rest = &rest[e + end.len()..];
    }
    out
}

/// The href of `<link rel="REL" href="…"/>` (RSS's atom:link or Atom's link), in either attribute order.
fn rel_link(text: &str, rel: &str) -> Option<String> {
    text.split('<').filter(|tag| tag.starts_with("link") || tag.starts_with("atom:link")).find(|tag| tag.contains(&format!("rel=\"{rel}\""))).and_then(|tag| {
        let from = tag.find("href=\"")? + 6;
        Some(tag[from..from + tag[from..].find('"')?].replace("&amp;", "&"))
    })
}

#[test]
fn private_lists_stay_out_of_public_feeds_and_each_reader_has_a_personal_feed() {
    let metrics_port = support::smtp::free_port();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let mut site = Site::start(&[("TIDINGS_HTTP__METRICS_BIND", &metrics_bind)]);
    site.t.ok(&["list", "create", "club", "--name", "Members Club", "--language", "en", "--private"]);
    site.add_issue("club", "club-1", "Members only issue");
    site.t.ok(&["subscriber", "add", "member@example.com", "--list", "club", "--confirmed"]);
    site.t.ok(&["subscriber", "add", "other@example.com", "--list", "club", "--confirmed"]);
    let client = Client::new();
    for path in ["/feed.xml", "/atom.xml", "/feed.json", "/", "/feeds.opml"] {
        let text = client.get(site.url(path)).send().unwrap().text().unwrap();
        assert!(!text.contains("Members only") && !text.contains("/lists/club"), "{path} shows nothing of the private list");
    }
    for path in ["/lists/club/feed.xml", "/lists/club/feed.json", "/lists/club/", "/issues/club-1"] {
        assert_eq!(client.get(site.url(path)).send().unwrap().status(), StatusCode::NOT_FOUND, "{path}");
    }

    site.t.ok(&["issue", "send", "club-1"]);
    let mail = site.wait_for_mail("member@example.com", "/personal/");
    let from = mail.find("/personal/").unwrap();
    let token: String = mail[from + 10..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    let other_mail = site.wait_for_mail("other@example.com", "/personal/");
    assert!(!other_mail.contains(&token), "each reader has a feed of their own");
    for kind in ["feed.xml", "atom.xml", "feed.json"] {
        let answer = client.get(site.url(&format!("/personal/{token}/{kind}"))).send().unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{kind}");
        assert!(answer.headers()["cache-control"].to_str().unwrap().starts_with("private"), "a personal feed is not for shared caches");
        assert!(answer.text().unwrap().contains("Members only issue"), "{kind}");
    }
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(client.get(site.url(&format!("/personal/{forged}/feed.xml"))).send().unwrap().status(), StatusCode::NOT_FOUND);
    let metrics = client.get(format!("http://{metrics_bind}/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.contains("tidings_personal_feed_requests_total 4"), "requests are counted");
    assert!(!metrics.contains(&token[..20]), "and the token is nowhere in the metrics");

    // The preferences page shows the same feed.
    let prefs_from = mail.find("/preferences/").expect("a preferences link");
    let prefs_token: String = mail[prefs_from + 13..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    let prefs = client.get(site.url(&format!("/preferences/{prefs_token}"))).send().unwrap().text().unwrap();
    assert!(prefs.contains("/personal/"), "the preferences page shows the personal feed");

    // Leaving ends it (one click on the List-Unsubscribe link).
    let unfolded = mail.replace("\r\n ", " ");
    let header = unfolded.lines().find(|l| l.starts_with("List-Unsubscribe: ")).unwrap();
    let unsubscribe = &header[header.find("<http").unwrap() + 1..header.find(">").unwrap()];
    let left = client.post(unsubscribe).form(&[("List-Unsubscribe", "One-Click")]).send().unwrap();
    assert!(left.status().is_success(), "{}", left.status());
    assert_eq!(client.get(site.url(&format!("/personal/{token}/feed.xml"))).send().unwrap().status(), StatusCode::NOT_FOUND, "gone once they leave");

    // Rotating the key ends every personal feed (old links keep working for unsubscribing).
    let other_from = other_mail.find("/personal/").unwrap();
    let other_token: String = other_mail[other_from + 10..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    assert_eq!(client.get(site.url(&format!("/personal/{other_token}/feed.xml"))).send().unwrap().status(), StatusCode::OK);
    site.t.set_env("TIDINGS_SECURITY__SECRET_KEY", "feeds-test-rotated-key-0123456789abcdef01");
    site.t.set_env("TIDINGS_SECURITY__PREVIOUS_KEYS", KEY);
    site.restart();
    assert_eq!(client.get(site.url(&format!("/personal/{other_token}/feed.xml"))).send().unwrap().status(), StatusCode::NOT_FOUND, "a rotated key ends personal feeds");
}

#[test]
fn readers_that_poll_too_often_are_asked_to_wait_and_opml_lists_the_public_feeds() {
    let site = Site::start(&[("TIDINGS_FEEDS__POLLS_PER_IP_PER_MINUTE", "4")]);
    site.t.ok(&["list", "create", "club", "--name", "Club", "--private"]);
    let client = Client::new();
    let opml = client.get(site.url("/feeds.opml")).send().unwrap();
    assert_eq!(opml.status(), StatusCode::OK);
    let opml = opml.text().unwrap();
    let file = site.t.write("feeds.opml", &opml);
    support::xmllint(std::path::Path::new(&file));
    assert!(opml.contains(&format!("xmlUrl=\"{}\"", site.url("/lists/news/feed.xml"))), "{opml}");
    assert!(!opml.contains("/lists/club/"), "no private list in the OPML");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(client.get(site.url("/feed.xml")).send().unwrap());
    }
    let last = statuses.pop().unwrap();
    assert!(statuses.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS, "the fifth feed request this minute");
    assert!(last.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(client.get(site.url("/")).send().unwrap().status(), StatusCode::OK, "pages are not feed polls");
}

#[test]
fn an_external_hub_is_named_by_the_feeds_and_pinged_when_they_change() {
    let hub = Callback::start();
    let site = Site::start(&[("TIDINGS_FEEDS__EXTERNAL_HUB", &hub.url("/hub"))]);
    let feed = Client::new().get(site.url("/lists/news/atom.xml")).send().unwrap();
    assert_eq!(link(feed.headers()["link"].to_str().unwrap(), "hub"), Some(hub.url("/hub")), "the feeds advertise the external hub");
    std::thread::sleep(Duration::from_millis(1500)); // the hub notes every feed's state first
    assert!(hub.pushes("/hub").is_empty(), "nothing changed yet");
    site.add_issue("news", "2026-12", "December issue");
    hub.wait_for(5, "pings for the six feeds that changed", |r| r.iter().filter(|r| r.method == "POST").count() >= 6);
    let pinged: HashSet<String> = hub
        .pushes("/hub")
        .iter()
        .map(|r| {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&r.body).into_owned().collect();
            assert!(form.contains(&("hub.mode".to_string(), "publish".to_string())), "{form:?}");
            form.into_iter().find(|(k, _)| k == "hub.url").unwrap().1
        })
        .collect();
    let expected: HashSet<String> = ["/feed.xml", "/atom.xml", "/feed.json", "/lists/news/feed.xml", "/lists/news/atom.xml", "/lists/news/feed.json"].iter().map(|p| site.url(p)).collect();
    assert_eq!(pinged, expected);
}
