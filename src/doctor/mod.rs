//! `tidings doctor`: everything a send depends on, checked before the first send, each failure
//! with one line of advice — the configuration, the relay (reached, encrypted, authenticated,
//! taking our sender) and the DNS records receivers judge our mail by (SPF, DKIM, DMARC, the
//! bounce domain's MX, the relay's PTR).
//!
//! A trial install (`smtp.transport = "file"`) sends no mail: its configuration gets warnings, and
//! the relay and DNS are not checked.

mod checks;
mod dns;
mod relay;
mod settings;

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::config::TransportKind;

pub use checks::{Check, Status};

/// One run of the doctor.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub at: DateTime<Utc>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// Whether something a send needs is wrong.
    pub fn failed(&self) -> bool {
        self.count(Status::Fail) > 0
    }
}

/// Runs every check. `App` gives the keys (for the VERP sender tried on the relay) and the
/// configuration.
pub async fn examine(app: &App) -> Report {
    let config = &app.config;
    let production = config.smtp.transport == TransportKind::Smtp;
    let mut checks = settings::check(config, production);
    if production {
        checks.extend(relay::check(app).await);
        checks.extend(dns::check(config).await);
    } else {
        checks.push(Check::skip("relay", "the relay and the DNS records", "smtp.transport is \"file\": this install writes mail to a folder and sends none (set smtp.transport = \"smtp\" and the [smtp] relay to send)"));
    }
    Report { at: crate::store::now(), checks }
}
