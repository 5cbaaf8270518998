//! The relay, step by step as a send meets it: reached, encrypted with a certificate that is
//! valid for its name, our credentials taken, our VERP sender accepted. No message is sent.

use std::net::IpAddr;

use super::checks::Check;
use crate::app::App;
use crate::config::{SmtpConfig, TlsMode};
use crate::delivery::probe::{ProbeStep, RelayProbe, probe_relay};
use crate::domain::verp::{self, VerpTarget};

const GROUP: &str = "relay";

pub async fn check(app: &App) -> Vec<Check> {
    let smtp = &app.config.smtp;
    // The sender a send would use (subscriber 0, issue 0: nobody's): the relay must take it.
    let sender = verp::address(&app.keys, VerpTarget { subscriber_id: 0, issue_id: 0 }, &app.config.bounce.return_path_domain);
    let probe = probe_relay(smtp, &sender).await;
    let mut checks = vec![reached(smtp, &probe), encryption(smtp, &probe)];
    if !smtp.username.is_empty() {
        checks.push(step_check(&probe, ProbeStep::Auth, "AUTH", format!("the relay accepts user {:?}", smtp.username), "check smtp.username and smtp.password (TIDINGS_SMTP__PASSWORD) with the relay's operator or your ESP's SMTP settings"));
    }
    checks.push(match probe.pipelining {
        Some(true) => Check::pass(GROUP, "PIPELINING", "offered: a message costs two round trips"),
        Some(false) => Check::warn(GROUP, "PIPELINING", "not offered: each command waits for its answer, so sends are slower", "enable PIPELINING on the relay (Postfix offers it by default)"),
        None => Check::skip(GROUP, "PIPELINING", "not reached"),
    });
    checks.push(step_check(
        &probe,
        ProbeStep::Sender,
        "our sender",
        format!("the relay accepts MAIL FROM:<{sender}>"),
        format!("let the relay send as any address at {} (Postfix: smtpd_sender_restrictions, or the ESP's verified domains)", app.config.bounce.return_path_domain),
    ));
    checks
}

fn reached(smtp: &SmtpConfig, probe: &RelayProbe) -> Check {
    let name = format!("{}:{}", smtp.host, smtp.port);
    match &probe.failed {
        Some((step @ (ProbeStep::Connect | ProbeStep::Greeting | ProbeStep::Ehlo), why)) => Check::fail(
            GROUP,
            name,
            why.clone(),
            match step {
                ProbeStep::Connect => "check smtp.host and smtp.port, that the relay runs, and that a firewall lets this machine reach it",
                _ => "the relay does not speak SMTP as expected there: check smtp.port (587 for STARTTLS, 465 for TLS, 25 for a local Postfix) and the relay's logs",
            },
        ),
        Some((ProbeStep::Tls, why)) if !probe.passed.contains(&ProbeStep::Connect) => Check::fail(GROUP, name, why.clone(), "check the [smtp] settings"),
        _ => Check::pass(GROUP, name, "answers SMTP"),
    }
}

fn encryption(smtp: &SmtpConfig, probe: &RelayProbe) -> Check {
    let name = "TLS";
    if smtp.tls == TlsMode::None {
        return if is_loopback(&smtp.host) {
            Check::pass(GROUP, name, "none, to a relay on this machine (nothing crosses a network)")
        } else {
            Check::warn(GROUP, name, format!("none: mail (and any password) crosses the network to {} in clear", smtp.host), "set smtp.tls = \"starttls\" (port 587) or \"tls\" (port 465)")
        };
    }
    let step = if smtp.tls == TlsMode::Tls { ProbeStep::Tls } else { ProbeStep::StartTls };
    match &probe.failed {
        Some((failed, why)) if *failed == step => Check::fail(GROUP, name, why.clone(), certificate_advice(why, smtp)),
        _ if probe.passed.contains(&step) => Check::pass(GROUP, name, format!("{} with a certificate valid for {}", if step == ProbeStep::Tls { "implicit TLS" } else { "STARTTLS" }, smtp.host)),
        _ => Check::skip(GROUP, name, "not reached"),
    }
}

/// What to do about a TLS failure, from what the TLS library said.
fn certificate_advice(why: &str, smtp: &SmtpConfig) -> String {
    let host = &smtp.host;
    let said = why.to_ascii_lowercase().replace(' ', "");
    if said.contains("notvalidforname") {
        format!("the relay's certificate is not for {host}: set smtp.host to a name the certificate lists, or have the certificate reissued for {host}")
    } else if said.contains("expired") || said.contains("notvalidyet") {
        "the relay's certificate has expired (or is not valid yet): renew it on the relay".into()
    } else if said.contains("unknownissuer") || said.contains("badsignature") {
        "the certificate is signed by a CA this machine does not trust, or the relay does not send its intermediate certificates: install the full chain on the relay, or set smtp.ca_file to the private CA's certificate".into()
    } else if said.contains("doesnotofferstarttls") {
        "the relay offers no STARTTLS on this port: use port 465 with smtp.tls = \"tls\", or enable STARTTLS on the relay".into()
    } else {
        "check smtp.tls against what the relay offers on smtp.port (587: starttls, 465: tls)".into()
    }
}

fn step_check(probe: &RelayProbe, step: ProbeStep, name: &str, passed: String, advice: impl Into<String>) -> Check {
    match &probe.failed {
        _ if probe.passed.contains(&step) => Check::pass(GROUP, name, passed),
        Some((failed, why)) if *failed == step => Check::fail(GROUP, name, why.clone(), advice),
        _ => Check::skip(GROUP, name, "not reached"),
    }
}

/// Whether the relay runs on this machine.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
