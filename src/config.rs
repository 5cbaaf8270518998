//! The one typed `Config`: built-in defaults, then `config/tidings.toml` (or `--config PATH`),
//! then `TIDINGS_<SECTION>__<KEY>` environment variables, each layer over the last.
//!
//! An unknown section or key, in the file or the environment, is an error that names it, so a
//! typo never silently falls back to a default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod secret;
pub use secret::Secret;

/// Where `--config` points when it is not given, if that file exists.
pub const DEFAULT_CONFIG_PATH: &str = "config/tidings.toml";
const ENV_PREFIX: &str = "TIDINGS_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub smtp: SmtpConfig,
    pub delivery: DeliveryConfig,
    pub site: SiteConfig,
    pub bounce: BounceConfig,
    pub security: SecurityConfig,
    pub http: HttpConfig,
    pub content: ContentConfig,
    pub feeds: FeedsConfig,
    pub dkim: DkimConfig,
    pub dns: DnsConfig,
    pub retention: RetentionConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for a person reading a terminal or the journal.
    #[default]
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative to the working directory) or `sqlite:///ABSOLUTE/PATH`.
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: "sqlite://tidings.db".into(), max_connections: 4 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Smtp,
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub transport: TransportKind,
    pub outbox_dir: PathBuf,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: Secret,
    pub pool_size: u32,
    pub timeout_secs: u64,
    /// AUTH over an unencrypted connection to a relay that is not on this host. Off: the
    /// password would cross the network in clear text.
    pub allow_plaintext_auth: bool,
    /// PEM file of the CAs that may sign the relay's certificate (a private CA); empty: the
    /// system's trust store.
    pub ca_file: PathBuf,
    /// Check the relay's certificate (chain, host name, dates). Off only for a lab: anyone on
    /// the path could read the mail and the password.
    pub tls_verify: bool,
}

impl SmtpConfig {
    /// Whether AUTH would send the password in clear text across a network.
    fn plaintext_auth_over_network(&self) -> bool {
        let loopback = self.host.eq_ignore_ascii_case("localhost") || self.host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        self.transport == TransportKind::Smtp && self.tls == TlsMode::None && !self.username.is_empty() && !loopback && !self.allow_plaintext_auth
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            transport: TransportKind::File,
            outbox_dir: "outbox".into(),
            host: "127.0.0.1".into(),
            port: 25,
            tls: TlsMode::None,
            username: String::new(),
            password: Secret::default(),
            pool_size: 8,
            timeout_secs: 30,
            allow_plaintext_auth: false,
            ca_file: PathBuf::new(),
            tls_verify: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    pub concurrency: u32,
    /// Messages per second handed to the relay; 0 means no limit.
    pub rate_per_second: u32,
    pub max_attempts: u32,
    /// The first retry waits this long; each further one twice as long (with jitter), up to 6 h.
    pub retry_base_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self { concurrency: 16, rate_per_second: 0, max_attempts: 5, retry_base_secs: 60 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    pub base_url: String,
    pub title: String,
    pub from: String,
    pub reply_to: String,
    pub postal_address: String,
    pub default_language: String,
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self {
            base_url: "http://localhost:8080".into(),
            title: "Tidings".into(),
            from: "Tidings <newsletter@localhost.localdomain>".into(),
            reply_to: String::new(),
            postal_address: "Tidings, 1 Example Road, Example City".into(),
            default_language: "en".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BounceConfig {
    pub return_path_domain: String,
    /// Soft bounces within `soft_bounce_window_days` that mark a subscriber bounced.
    pub soft_bounce_threshold: u32,
    pub soft_bounce_window_days: u32,
    /// A Maildir that `serve` polls for bounces (its `new/`), moving each message to `cur/` once
    /// recorded; empty = off.
    pub maildir: String,
    /// The shared secret of `POST /webhooks/bounces/{provider}` (as the Basic auth password, the
    /// `X-Tidings-Secret` header or `?secret=`); empty = webhooks off.
    pub webhook_secret: Secret,
    /// Mailgun's webhook signing key: Mailgun's own signature is checked when it is set.
    pub mailgun_signing_key: Secret,
}

impl Default for BounceConfig {
    fn default() -> Self {
        Self {
            return_path_domain: "bounces.localhost.localdomain".into(),
            soft_bounce_threshold: 5,
            soft_bounce_window_days: 30,
            maildir: String::new(),
            webhook_secret: Secret::default(),
            mailgun_signing_key: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Signs confirm, unsubscribe and VERP tokens. Set a long random value in production.
    pub secret_key: Secret,
    /// Keys that were `secret_key` before a rotation: tokens they signed are still accepted.
    pub previous_keys: Vec<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub bind: String,
    /// Sign-ups accepted from one IP address a minute (a burst of that many, then one each
    /// 60/n seconds).
    pub subscribe_per_ip_per_minute: u32,
    /// Sign-ups for one address an hour, whoever sends them: no inbox bombing.
    pub subscribe_per_address_per_hour: u32,
    /// Where `/metrics` (and a `/healthz`) are served, e.g. `127.0.0.1:9187`; empty: nowhere.
    /// Never the public port: counters can tell whether a sign-up address was known.
    pub metrics_bind: String,
    /// Reverse proxies (CIDRs or addresses) whose `X-Forwarded-For` / `Forwarded` is believed:
    /// rate limits and consent records then see the client, not the proxy. Empty: none.
    pub trusted_proxies: Vec<String>,
    /// The one header those proxies write the client into: `x-forwarded-for` or `forwarded`.
    /// The other is never read (a proxy passes on whatever the client sent in it).
    pub forwarded_header: ForwardedHeader,
    /// Open connections served at once; more wait in the kernel's queue.
    pub max_connections: u32,
    /// Open connections from one client (IPv6: one /64); trusted proxies are not counted.
    pub max_connections_per_client: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ForwardedHeader {
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239's `Forwarded: for=…`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

impl HttpConfig {
    /// `trusted_proxies` parsed; a bare address is a network of one.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("http.trusted_proxies: {entry:?} is neither an address nor a CIDR network like 10.0.0.0/8"))
            })
            .collect()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            subscribe_per_ip_per_minute: 10,
            subscribe_per_address_per_hour: 3,
            metrics_bind: String::new(),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            max_connections: 1024,
            max_connections_per_client: 64,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentConfig {
    pub issues_dir: PathBuf,
    /// The list a `.txt` issue in the newsletter's text layout dropped into `issues_dir` is for
    /// (a Markdown file names its list itself); empty: such files are reported and left alone.
    pub default_list: String,
}

impl Default for ContentConfig {
    fn default() -> Self {
        Self { issues_dir: "content/issues".into(), default_list: String::new() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedsConfig {
    /// Issues in a subscription feed (at least; older ones are in its archive documents, which
    /// hold this many each).
    pub max_items: u32,
    /// Let WebSub callbacks be on loopback or private addresses (tests, an intranet); off, the
    /// hub never becomes a way into the operator's own network.
    pub hub_allow_private_callbacks: bool,
    /// Another WebSub hub to ping when a feed changes (e.g. https://pubsubhubbub.appspot.com/);
    /// empty: only ours.
    pub external_hub: String,
    /// Feed requests one address may make a minute before it is asked to wait (429).
    pub polls_per_ip_per_minute: u32,
    /// WebSub subscribe and unsubscribe requests one address may make an hour.
    pub hub_requests_per_ip_per_hour: u32,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        Self { max_items: 50, hub_allow_private_callbacks: false, external_hub: String::new(), polls_per_ip_per_minute: 120, hub_requests_per_ip_per_hour: 60 }
    }
}

/// DKIM signing is on when `domain`, `selector` and `private_key_path` are all set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DkimConfig {
    pub domain: String,
    pub selector: String,
    pub private_key_path: String,
}

/// How long per-recipient rows are kept; each issue's totals are kept for ever.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days after a send finished that its delivery rows (one per reader) are pruned; 0: never.
    pub deliveries_days: u32,
    /// Days after which bounce and confirmation events are pruned; 0: never. Staff, consent and
    /// send events are never pruned.
    pub events_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        // Over a year: a year-on-year comparison still has last year's rows.
        Self { deliveries_days: 400, events_days: 400 }
    }
}

/// The resolver `tidings doctor` asks about the sending domains.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// `IP` or `IP:PORT` of the DNS server to ask; empty: the system's resolver (/etc/resolv.conf).
    pub nameserver: String,
    /// The name the mail relay on this box announces, whose address and reverse (PTR) record
    /// must agree; empty: this host's name.
    pub mail_hostname: String,
}

impl DnsConfig {
    /// The configured DNS server, when one is set and parses.
    pub fn nameserver_addr(&self) -> Result<Option<std::net::SocketAddr>, String> {
        let text = self.nameserver.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let parsed = text.parse::<std::net::SocketAddr>().or_else(|_| text.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)));
        parsed.map(Some).map_err(|_| format!("dns.nameserver {text:?} is not an address (IP or IP:PORT)"))
    }
}

impl Config {
    /// Loads the layers. `explicit` is `--config PATH`; without it the default file is read when
    /// it exists.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
        Self::load_from(explicit, &env)
    }

    fn load_from(explicit: Option<&Path>, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut table = defaults_table();
        let path = explicit.map(Path::to_path_buf).or_else(|| {
            let default = PathBuf::from(DEFAULT_CONFIG_PATH);
            default.exists().then_some(default)
        });
        let origin = match &path {
            Some(path) => {
                merge(&mut table, read_file(path)?);
                path.display().to_string()
            }
            None => "built-in defaults".to_string(),
        };
        for (var, value) in env {
            apply_env(&mut table, var, value)?;
        }
        let secrets = secret_values(&table);
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid { origin: origin.clone(), message: redact(e.message(), &secrets) })?;
        config.validate().map_err(|message| ConfigError::Invalid { origin, message })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let url = &self.database.url;
        if !url.starts_with("sqlite:") && !crate::store::is_postgres_url(url) {
            // Only the scheme: the rest may hold a password.
            let scheme = url.split_once(':').map_or(url.as_str(), |(s, _)| s);
            return Err(format!("database.url has the scheme {scheme:?}: it must be a sqlite: URL (a file) or a postgres:// URL"));
        }
        if self.delivery.concurrency == 0 || self.smtp.pool_size == 0 {
            return Err("delivery.concurrency and smtp.pool_size must be at least 1".into());
        }
        if self.http.subscribe_per_ip_per_minute == 0 || self.http.subscribe_per_address_per_hour == 0 {
            return Err("http.subscribe_per_ip_per_minute and http.subscribe_per_address_per_hour must be at least 1".into());
        }
        if self.http.max_connections == 0 || self.http.max_connections_per_client == 0 {
            return Err("http.max_connections and http.max_connections_per_client must be at least 1".into());
        }
        self.http.trusted_proxy_nets()?;
        if self.smtp.plaintext_auth_over_network() {
            return Err(format!(
                "smtp.username is set but smtp.tls = \"none\": the password would cross the network to {} in clear text; set smtp.tls = \"starttls\" or \"tls\", or smtp.allow_plaintext_auth = true if that network is trusted",
                self.smtp.host
            ));
        }
        if self.delivery.max_attempts == 0 {
            return Err("delivery.max_attempts must be at least 1".into());
        }
        // A short key can be guessed offline from one signed link; 32 bytes is what `openssl
        // rand -hex 16` gives. Empty means: generate one and keep it in the database.
        let short = |k: &secret::Secret| !k.is_empty() && k.expose().len() < MIN_SECRET_KEY_BYTES;
        if short(&self.security.secret_key) || self.security.previous_keys.iter().any(short) {
            return Err(format!(
                "security.secret_key (and each of security.previous_keys) must be at least {MIN_SECRET_KEY_BYTES} bytes: generate one with `openssl rand -hex 32`, or leave it empty and Tidings keeps a generated key in its database"
            ));
        }
        self.dns.nameserver_addr()?;
        if self.feeds.max_items == 0 || self.feeds.polls_per_ip_per_minute == 0 || self.feeds.hub_requests_per_ip_per_hour == 0 {
            return Err("feeds.max_items, feeds.polls_per_ip_per_minute and feeds.hub_requests_per_ip_per_hour must be at least 1".into());
        }
        if !self.feeds.external_hub.is_empty() && !self.feeds.external_hub.starts_with("https://") && !self.feeds.external_hub.starts_with("http://") {
            return Err(format!("feeds.external_hub {:?} is not an http(s) URL", self.feeds.external_hub));
        }
        crate::domain::LanguageTag::parse(&self.site.default_language).map_err(|e| format!("site.default_language: {e}"))?;
        // Checked here rather than at the first `.txt` dropped into the folder, hours later.
        if !self.content.default_list.is_empty() {
            crate::domain::ListSlug::parse(&self.content.default_list).map_err(|e| format!("content.default_list: {e}"))?;
        }
        Ok(())
    }

    pub fn dkim_enabled(&self) -> bool {
        !self.dkim.domain.is_empty() && !self.dkim.selector.is_empty() && !self.dkim.private_key_path.is_empty()
    }
}

/// The shortest `security.secret_key` accepted.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// Keys whose values are secrets: an error about them must not repeat what was typed.
const SECRET_KEYS: [&str; 5] = ["secret_key", "previous_keys", "password", "webhook_secret", "mailgun_signing_key"];

/// Every string held under a secret key, anywhere in the table.
fn secret_values(table: &toml::Table) -> Vec<String> {
    let mut found = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(t) => found.extend(secret_values(t)),
            _ if SECRET_KEYS.contains(&key.as_str()) => collect_strings(value, &mut found),
            _ => {}
        }
    }
    found
}

fn collect_strings(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        toml::Value::String(s) if !s.is_empty() => out.push(s.clone()),
        other => out.push(other.to_string()),
    }
}

/// The message with every secret value replaced.
fn redact(message: &str, secrets: &[String]) -> String {
    secrets.iter().filter(|s| s.len() >= 3).fold(message.to_string(), |m, s| m.replace(s.as_str(), "<redacted>"))
}

fn defaults_table() -> toml::Table {
    match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => t,
        _ => unreachable!("Config always serialises to a table"),
    }
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: describe_toml_error(&text, &e) })?;
    // Parse the file alone once, so an unknown key is reported against the file that has it.
    toml::Value::Table(table.clone())
        .try_into::<Config>()
        .map_err(|e| ConfigError::Parse { path: path.into(), message: redact(e.message(), &secret_values(&table)) })?;
    Ok(table)
}

fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].lines().count().max(1);
            format!("line {line}: {}", err.message())
        }
        None => err.message().to_string(),
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `TIDINGS_SMTP__PORT=2525` sets `smtp.port`. The value takes the type the key already has, so a
/// password of digits stays a string. Variables without `__` (like `TIDINGS_LOG`) are not config.
fn apply_env(table: &mut toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
    let Some((section, key)) = var[ENV_PREFIX.len()..].split_once("__") else {
        return Ok(());
    };
    let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
    let err = |message: String| ConfigError::Env { var: var.to_string(), message };
    let Some(toml::Value::Table(section_table)) = table.get_mut(&section) else {
        return Err(err(format!("unknown configuration section [{section}]")));
    };
    let Some(current) = section_table.get(&key) else {
        return Err(err(format!("unknown configuration key {section}.{key}")));
    };
    let typed = match current {
        toml::Value::Integer(_) => value.trim().parse().map(toml::Value::Integer).map_err(|_| err(format!("{value:?} is not a whole number")))?,
        toml::Value::Boolean(_) => value.trim().parse().map(toml::Value::Boolean).map_err(|_| err(format!("{value:?} is not true or false")))?,
        toml::Value::Float(_) => value.trim().parse().map(toml::Value::Float).map_err(|_| err(format!("{value:?} is not a number")))?,
        toml::Value::Array(_) => toml::Value::Array(value.split(',').map(|s| s.trim()).filter(|s| !s.is_empty()).map(|s| toml::Value::String(s.into())).collect()),
        _ => toml::Value::String(value.to_string()),
    };
    section_table.insert(key, typed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_work_without_a_file() {
        let c = Config::load_from(None, &[]).unwrap();
        assert_eq!(c.smtp.transport, TransportKind::File);
        assert_eq!(c.database.url, "sqlite://tidings.db");
        assert!(!c.dkim_enabled());
    }

    #[test]
    fn environment_overrides_with_the_key_type() {
        let c = Config::load_from(None, &env(&[("TIDINGS_SMTP__PORT", "2525"), ("TIDINGS_SMTP__PASSWORD", "12345"), ("TIDINGS_SMTP__TLS", "starttls"), ("TIDINGS_LOG", "debug")])).unwrap();
        assert_eq!(c.smtp.port, 2525);
        assert_eq!(c.smtp.password.expose(), "12345");
        assert_eq!(c.smtp.tls, TlsMode::Starttls);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::load_from(None, &env(&[("TIDINGS_SMTP__PROT", "1")])).unwrap_err().to_string();
        assert!(e.contains("TIDINGS_SMTP__PROT") && e.contains("smtp.prot"), "{e}");
        let e = Config::load_from(None, &env(&[("TIDINGS_SMTP__PORT", "many")])).unwrap_err().to_string();
        assert!(e.contains("not a whole number"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "[smtp]\nhost = \"x\"\npoort = 25\n").unwrap();
        let e = Config::load_from(Some(&path), &[]).unwrap_err().to_string();
        assert!(e.contains("poort") && e.contains("t.toml"), "{e}");
        std::fs::write(&path, "[smtp\nhost = 1\n").unwrap();
        let e = Config::load_from(Some(&path), &[]).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn a_short_secret_key_is_refused_and_a_mistyped_secret_is_not_echoed() {
        let err = Config::load_from(None, &env(&[("TIDINGS_SECURITY__SECRET_KEY", "x")])).unwrap_err().to_string();
        assert!(err.contains("at least 32 bytes") && err.contains("database"), "{err}");
        assert!(Config::load_from(None, &env(&[("TIDINGS_SECURITY__SECRET_KEY", &"k".repeat(32))])).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "[security]\nsecret_key = 8675309123\n[smtp]\npassword = [\"hunter2hunter2\"]\n").unwrap();
        let err = Config::load_from(Some(&path), &[]).unwrap_err().to_string();
        assert!(!err.contains("8675309123") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = Config::load_from(None, &env(&[("TIDINGS_SECURITY__SECRET_KEY", "hunter2-very-secret-0123456789abcdef"), ("TIDINGS_SMTP__PASSWORD", "pw-0987")])).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("pw-0987"), "{shown}");
    }

    #[test]
    fn the_default_list_for_text_issues_must_be_a_list_slug_when_set() {
        let err = Config::load_from(None, &env(&[("TIDINGS_CONTENT__DEFAULT_LIST", "Not A Slug")])).unwrap_err().to_string();
        assert!(err.contains("content.default_list"), "{err}");
        assert_eq!(Config::load_from(None, &env(&[("TIDINGS_CONTENT__DEFAULT_LIST", "cstn")])).unwrap().content.default_list, "cstn");
    }

    #[test]
    fn the_shipped_file_matches_the_built_in_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_PATH);
        let shipped = Config::load_from(Some(&path), &[]).unwrap();
        let builtin = Config::default();
        assert_eq!(toml::to_string(&shipped).unwrap(), toml::to_string(&builtin).unwrap());
    }
}
