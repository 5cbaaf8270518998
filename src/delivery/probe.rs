//! What `tidings doctor` asks of the relay: every step a send takes up to the first recipient —
//! connect, TLS, greeting, EHLO, STARTTLS, AUTH, our VERP sender accepted — and then RSET and
//! QUIT, so no message is ever sent.

use std::time::Duration;

use super::smtp_client::{Connection, Step};
use super::smtp_pool::relay_settings;
use crate::config::SmtpConfig;

/// A step of a send, as the probe reports it (the connection's steps, then the sender).
pub use super::smtp_client::Step as ProbeStep;

#[derive(Debug, Clone, serde::Serialize)]
pub struct RelayProbe {
    /// Steps that succeeded, in order.
    pub passed: Vec<ProbeStep>,
    /// The step that failed and what the relay (or the TLS library) said.
    pub failed: Option<(ProbeStep, String)>,
    /// Whether the relay offered PIPELINING (known once EHLO succeeded).
    pub pipelining: Option<bool>,
}

/// Probes the relay `smtp` names, trying `sender` as the envelope sender. Each step must answer
/// within `smtp.timeout_secs` (10 s at most here): a relay that stops answering is a failed step,
/// never a hang.
pub async fn probe_relay(smtp: &SmtpConfig, sender: &str) -> RelayProbe {
    let mut probe = RelayProbe { passed: Vec::new(), failed: None, pipelining: None };
    let settings = match relay_settings(smtp) {
        Ok(s) => s,
        Err(e) => {
            probe.failed = Some((ProbeStep::Tls, e.to_string()));
            return probe;
        }
    };
    let wait = Duration::from_secs(smtp.timeout_secs.clamp(1, 10));
    let expected = expected_steps(smtp);
    let mut done = Vec::new();
    let opened = tokio::time::timeout(wait * expected.len() as u32, Connection::open_observed(&settings, &mut done)).await;
    probe.passed = done.clone();
    if done.contains(&Step::Ehlo) || done.contains(&Step::StartTls) {
        probe.pipelining = Some(false);
    }
    let mut conn = match opened {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            probe.failed = Some((next_step(&expected, &probe.passed), e.message().to_string()));
            return probe;
        }
        Err(_) => {
            let at = next_step(&expected, &probe.passed);
            probe.failed = Some((at, format!("the relay {}:{} stopped answering ({at:?} took longer than {} s)", smtp.host, smtp.port, wait.as_secs() * expected.len() as u64)));
            return probe;
        }
    };
    probe.pipelining = Some(conn.offers_pipelining());
    match tokio::time::timeout(wait, conn.try_sender(sender)).await {
        Ok(Ok(())) => probe.passed.push(ProbeStep::Sender),
        Ok(Err(e)) => probe.failed = Some((ProbeStep::Sender, e.message().to_string())),
        Err(_) => probe.failed = Some((ProbeStep::Sender, format!("the relay did not answer MAIL FROM within {} s", wait.as_secs()))),
    }
    let _ = tokio::time::timeout(wait, conn.quit()).await;
    probe
}

/// The steps opening a connection takes with this configuration.
fn expected_steps(smtp: &SmtpConfig) -> Vec<ProbeStep> {
    use crate::config::TlsMode;
    let mut steps = vec![ProbeStep::Connect];
    if smtp.tls == TlsMode::Tls {
        steps.push(ProbeStep::Tls);
    }
    steps.extend([ProbeStep::Greeting, ProbeStep::Ehlo]);
    if smtp.tls == TlsMode::Starttls {
        steps.push(ProbeStep::StartTls);
    }
    if !smtp.username.is_empty() {
        steps.push(ProbeStep::Auth);
    }
    steps
}

fn next_step(expected: &[ProbeStep], passed: &[ProbeStep]) -> ProbeStep {
    expected.iter().copied().find(|s| !passed.contains(s)).unwrap_or(ProbeStep::Sender)
}
