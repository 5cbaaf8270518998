//! `tidings doctor` against a real DNS server (dnsmasq on 127.0.0.1, with a zone each test
//! writes) and real relays (our own SMTP servers, in clear and over TLS with a test CA): a green
//! list for a good setup, and each fault named, with what to do.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::Tidings;
use support::smtp::{RELAY_PASSWORD, RELAY_USER, TestSmtp};
use support::tls::{TestCa, TlsMode, TlsRelay};

/// dnsmasq answering for the test's zone on a port of its own.
struct Zone {
    child: Child,
    port: u16,
}

impl Zone {
    /// `records` are dnsmasq options (`--txt-record=…`, `--mx-host=…`, …). Names under `.test`
    /// that have no record get NXDOMAIN.
    fn start(records: &[String]) -> Self {
        let binary = "/usr/sbin/dnsmasq";
        assert!(std::path::Path::new(binary).exists(), "{binary} is missing: `bash .ci/run` installs Debian's dnsmasq-base");
        let port = free_udp_and_tcp_port();
        let child = Command::new(binary)
            .args(["--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1", "--local=/test/", "--local=/2.0.192.in-addr.arpa/"])
            .arg(format!("--port={port}"))
            .args(records)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "dnsmasq did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }
}

impl Drop for Zone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_and_tcp_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn key(file: &str) -> String {
    std::fs::read_to_string(support::repo().join("tests/fixtures/dkim").join(file)).unwrap().trim().to_string()
}

/// Everything right for example.test: SPF for both domains, the DKIM key of the ed25519
/// fixture, DMARC, the bounce domain's MX, and the relay host's address and PTR agreeing.
fn good_records() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("spf_from", "--txt-record=example.test,v=spf1 ip4:192.0.2.25 -all".to_string()),
        ("spf_bounce", "--txt-record=bounces.example.test,v=spf1 ip4:192.0.2.25 -all".to_string()),
        ("dkim", format!("--txt-record=t2026._domainkey.example.test,{}", key("ed25519.txt"))),
        ("dmarc", "--txt-record=_dmarc.example.test,v=DMARC1; p=reject; rua=mailto:dmarc@example.test".to_string()),
        ("mx", "--mx-host=bounces.example.test,mail.example.test,10".to_string()),
        ("host", "--host-record=mail.example.test,192.0.2.25".to_string()),
        ("ptr", "--ptr-record=25.2.0.192.in-addr.arpa,mail.example.test".to_string()),
    ])
}

/// A production install for example.test, its relay on 127.0.0.1:`relay`, asking `dns`.
fn install(relay: u16, dns: u16) -> Tidings {
    let mut t = Tidings::new();
    for (k, v) in [
        ("TIDINGS_SMTP__TRANSPORT", "smtp"),
        ("TIDINGS_SMTP__HOST", "127.0.0.1"),
        ("TIDINGS_SMTP__TIMEOUT_SECS", "2"),
        ("TIDINGS_SITE__BASE_URL", "https://news.example.test"),
        ("TIDINGS_SITE__FROM", "Example News <news@example.test>"),
        ("TIDINGS_SITE__POSTAL_ADDRESS", "Example News, 1 Test Street, Testville"),
        ("TIDINGS_BOUNCE__RETURN_PATH_DOMAIN", "bounces.example.test"),
        ("TIDINGS_SECURITY__SECRET_KEY", "doctor-test-key-0123456789abcdef0123456789"),
        ("TIDINGS_DKIM__DOMAIN", "example.test"),
        ("TIDINGS_DKIM__SELECTOR", "t2026"),
        ("TIDINGS_DNS__MAIL_HOSTNAME", "mail.example.test"),
    ] {
        t.set_env(k, v);
    }
    t.set_env("TIDINGS_DKIM__PRIVATE_KEY_PATH", &support::repo().join("tests/fixtures/dkim/ed25519.pem").display().to_string());
    t.set_env("TIDINGS_SMTP__PORT", &relay.to_string());
    t.set_env("TIDINGS_DNS__NAMESERVER", &format!("127.0.0.1:{dns}"));
    t
}

/// Runs the doctor; returns its exit code and each check's (status, detail, advice) by name.
fn doctor(t: &Tidings) -> (i32, BTreeMap<String, (String, String, String)>) {
    let out = t.run(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    let checks = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), (c["status"].as_str().unwrap().to_string(), c["detail"].as_str().unwrap_or_default().to_string(), c["advice"].as_str().unwrap_or_default().to_string())))
        .collect();
    (out.status.code().unwrap(), checks)
}

fn status(checks: &BTreeMap<String, (String, String, String)>, name: &str) -> String {
    checks.get(name).unwrap_or_else(|| panic!("no check {name:?} in {checks:#?}")).0.clone()
}

#[test]
fn a_trial_install_gets_warnings_and_passes() {
    let t = Tidings::new();
    let (code, checks) = doctor(&t);
    assert_eq!(code, 0, "{checks:#?}");
    assert!(checks.values().all(|(s, ..)| s != "fail"), "{checks:#?}");
    assert_eq!(status(&checks, "site.base_url"), "warn");
    let text = t.ok(&["doctor"]);
    assert!(text.contains("! site.base_url") && text.contains("→ "), "a checklist with advice: {text}");
}

#[test]
fn a_good_setup_is_all_green_and_the_dashboard_shows_it() {
    let zone = Zone::start(&good_records().into_values().collect::<Vec<_>>());
    let relay = TestSmtp::start(|_, _| None);
    let mut t = install(relay.port, zone.port);
    t.set_env("TIDINGS_SMTP__USERNAME", RELAY_USER);
    t.set_env("TIDINGS_SMTP__PASSWORD", RELAY_PASSWORD);
    let (code, checks) = doctor(&t);
    let not_green: Vec<_> = checks.iter().filter(|(_, (s, ..))| s != "pass").collect();
    assert!(not_green.is_empty(), "{not_green:#?}");
    assert_eq!(code, 0);
    assert!(relay.delivered().is_empty(), "the doctor sends nothing");
    for name in ["SPF of the From domain", "SPF of the return-path domain", "DKIM key", "DMARC", "MX of the return-path domain", "PTR of the relay", "AUTH", "our sender", "PIPELINING"] {
        assert_eq!(status(&checks, name), "pass", "{name}");
    }
    let printed = t.ok(&["doctor"]);
    assert!(printed.contains("✔ DKIM key") && printed.contains("0 failed"), "{printed}");
    assert!(!printed.contains(RELAY_PASSWORD), "no secret is printed");

    // The admin dashboard shows the last run.
    let mut child = t.command(&["staff", "add", "owner@example.test", "--role", "owner"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"correct horse battery staple\n").unwrap();
    assert!(child.wait().unwrap().success());
    t.set_env("TIDINGS_SMTP__TRANSPORT", "file");
    let server = support::serve::Serving::start(&mut t);
    let browser = reqwest::blocking::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = browser.get(server.url("/admin/login")).send().unwrap().text().unwrap();
    let csrf = form.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    browser.post(server.url("/admin/login")).form(&[("csrf", csrf.as_str()), ("email", "owner@example.test"), ("password", "correct horse battery staple")]).send().unwrap();
    let dashboard = browser.get(server.url("/admin")).send().unwrap().text().unwrap();
    assert!(dashboard.contains("id=\"doctor\"") && dashboard.contains("0 failed"), "{dashboard}");
}

#[test]
fn wrong_records_each_fail_with_what_to_do() {
    let mut records = good_records();
    records.remove("spf_from");
    records.insert("spf_bounce", "--txt-record=bounces.example.test,v=spf1 +all".to_string());
    // The RSA fixture's key published where the ed25519 key should be.
    records.insert("dkim", format!("--txt-record=t2026._domainkey.example.test,{}", key("rsa.txt").replace("\"", "")));
    records.remove("dmarc");
    records.remove("mx");
    records.insert("ptr", "--ptr-record=25.2.0.192.in-addr.arpa,somebody-else.example.test".to_string());
    let zone = Zone::start(&records.into_values().collect::<Vec<_>>());
    let relay = TestSmtp::start(|_, _| None);
    let t = install(relay.port, zone.port);
    let (code, checks) = doctor(&t);
    assert_eq!(code, 1, "{checks:#?}");
    let expect = |name: &str, detail: &str, advice: &str| {
        let (s, d, a) = checks.get(name).unwrap_or_else(|| panic!("{name}: {checks:#?}"));
        assert_eq!(s, "fail", "{name}: {d}");
        assert!(d.contains(detail), "{name}: {d:?} should say {detail:?}");
        assert!(a.contains(advice), "{name}: advice {a:?} should say {advice:?}");
    };
    expect("SPF of the From domain", "no SPF record", "v=spf1");
    expect("SPF of the return-path domain", "lets anyone send", "-all");
    expect("DKIM key", "does not match", "publish the public half");
    expect("DMARC", "no DMARC record", "v=DMARC1");
    expect("MX of the return-path domain", "no MX and no address", "publish an MX record");
    expect("PTR of the relay", "somebody-else.example.test", "PTR record naming mail.example.test");
    let text = String::from_utf8_lossy(&t.run(&["doctor"]).stderr).to_string();
    assert!(text.contains("failed"), "one sentence on stderr: {text}");
}

#[test]
fn a_dns_server_that_times_out_or_fails_is_named_quickly() {
    // Something on the port that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let _tcp = TcpListener::bind(("127.0.0.1", port));
    let relay = TestSmtp::start(|_, _| None);
    let t = install(relay.port, port);
    let started = Instant::now();
    let (code, checks) = doctor(&t);
    assert_eq!(code, 1);
    assert!(started.elapsed() < Duration::from_secs(20), "the questions are asked side by side, each bounded: {:?}", started.elapsed());
    let (s, detail, advice) = &checks["DMARC"];
    assert!(s == "fail" && detail.contains("timed out") && advice.contains("dns.nameserver"), "{detail} / {advice}");

    // A server that answers every question with SERVFAIL (a domain whose servers are broken).
    let failing = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = failing.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut packet = [0u8; 512];
        while let Ok((n, from)) = failing.recv_from(&mut packet) {
            // The query's id and question back, flagged a response with RCODE 2, no records.
            let question_end = 12 + packet[12..n].iter().position(|&b| b == 0).unwrap_or(0) + 5;
            let mut answer = packet[..question_end.min(n)].to_vec();
            answer[2] = 0x81;
            answer[3] = 0x82;
            answer[6..12].fill(0);
            let _ = failing.send_to(&answer, from);
        }
    });
    let t = install(relay.port, port);
    let (code, checks) = doctor(&t);
    assert_eq!(code, 1);
    let (s, detail, advice) = &checks["SPF of the From domain"];
    assert!(s == "fail" && detail.contains("SERVFAIL") && advice.contains("DNSSEC"), "{detail} / {advice}");
}

#[test]
fn relay_faults_each_fail_with_what_to_do() {
    let zone = Zone::start(&good_records().into_values().collect::<Vec<_>>());

    // Our VERP sender refused.
    let refusing = TestSmtp::start_refusing_sender(Some("553 5.7.1 Sender address rejected: not owned by user"), |_, _| None);
    let (_, checks) = doctor(&install(refusing.port, zone.port));
    let (s, detail, advice) = &checks["our sender"];
    assert!(s == "fail" && detail.contains("553") && advice.contains("bounces.example.test"), "{detail} / {advice}");

    // Wrong credentials.
    let relay = TestSmtp::start(|_, _| None);
    let mut t = install(relay.port, zone.port);
    t.set_env("TIDINGS_SMTP__USERNAME", RELAY_USER);
    t.set_env("TIDINGS_SMTP__PASSWORD", "not-the-password");
    let out = t.run(&["doctor", "--json"]);
    let printed = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!printed.contains("not-the-password"), "the password is never printed");
    let (code, checks) = doctor(&t);
    assert_eq!((code, status(&checks, "AUTH")), (1, "fail".to_string()));

    // A relay that stops answering after EHLO: a failed step within the timeout, not a hang.
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hanging.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in hanging.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                writer.write_all(b"220 hang.example.test ESMTP\r\n").unwrap();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                writer.write_all(b"250-hang.example.test\r\n250 PIPELINING\r\n").unwrap();
                std::thread::sleep(Duration::from_secs(60));
            });
        }
    });
    let started = Instant::now();
    let (code, checks) = doctor(&install(port, zone.port));
    assert_eq!(code, 1);
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    let (s, detail, _) = &checks["our sender"];
    assert!(s == "fail" && detail.contains("did not answer"), "{detail}");
}

#[test]
fn relay_certificates_are_checked_and_each_fault_named() {
    let zone = Zone::start(&good_records().into_values().collect::<Vec<_>>());
    let ca = TestCa::new("Doctor Test CA");
    let stranger = TestCa::new("Someone Else's CA");
    let cases = [
        ("a good certificate", TlsMode::Starttls, ca.server_cert(&["127.0.0.1"], false), "pass", ""),
        ("a good certificate, implicit TLS", TlsMode::Implicit, ca.server_cert(&["127.0.0.1"], false), "pass", ""),
        ("another host's certificate", TlsMode::Starttls, ca.server_cert(&["relay.example.net"], false), "fail", "is not for 127.0.0.1"),
        ("an expired certificate", TlsMode::Starttls, ca.server_cert(&["127.0.0.1"], true), "fail", "expired"),
        ("an untrusted CA", TlsMode::Starttls, stranger.server_cert(&["127.0.0.1"], false), "fail", "does not trust"),
        ("an incomplete chain", TlsMode::Implicit, ca.intermediate("Doctor Test Intermediate").server_cert(&["127.0.0.1"], false), "fail", "intermediate"),
    ];
    for (what, mode, cert, expected, advice) in cases {
        let relay = TlsRelay::start(mode, cert);
        let mut t = install(relay.port, zone.port);
        let ca_file = t.write("ca.pem", &ca.pem);
        t.set_env("TIDINGS_SMTP__CA_FILE", &ca_file);
        t.set_env("TIDINGS_SMTP__TLS", if mode == TlsMode::Implicit { "tls" } else { "starttls" });
        let (_, checks) = doctor(&t);
        let (s, detail, a) = &checks["TLS"];
        assert_eq!(s, expected, "{what}: {detail}");
        assert!(a.contains(advice), "{what}: {detail} → {a}");
        assert!(relay.received().is_empty(), "{what}: nothing is sent");
    }
}
