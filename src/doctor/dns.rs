//! The DNS records receivers judge our mail by, asked of a real resolver (`dns.nameserver`, or
//! the system's): SPF for the From and the return-path domains, the DKIM key (a message signed
//! with the configured key must verify against the published one), DMARC and its alignment, the
//! return-path domain's MX (bounces come back there), and for a relay on this machine its PTR.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lettre::message::Mailbox;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::hickory_resolver::proto::rr::RData;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};

use super::checks::Check;
use super::relay::is_loopback;
use crate::config::Config;
use crate::delivery::dkim::Dkim;

const GROUP: &str = "dns";

/// Why a question got no answer (a missing record is an empty answer, not this).
#[derive(Debug)]
enum Unanswered {
    Timeout,
    ServFail,
    Other(String),
}

impl Unanswered {
    fn of(e: NetError) -> Self {
        match &e {
            NetError::Timeout => Self::Timeout,
            NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => Self::ServFail,
            _ if e.to_string().contains("timed out") => Self::Timeout,
            _ => Self::Other(e.to_string()),
        }
    }

    /// A check that says the question could not be answered, and what to do.
    fn check(&self, name: &str, question: &str, server: &str) -> Check {
        let (detail, advice) = match self {
            Self::Timeout => (format!("no answer from {server} about {question} (timed out)"), "check dns.nameserver, or that this machine can reach a DNS server (port 53, UDP and TCP)".to_string()),
            Self::ServFail => (format!("{server} answered SERVFAIL about {question}"), "the domain's name servers are failing or its DNSSEC does not validate: check them (e.g. with dig +trace) before sending".to_string()),
            Self::Other(e) => (format!("{server} could not answer about {question}: {e}"), "check dns.nameserver and the network".to_string()),
        };
        Check::fail(GROUP, name, detail, advice)
    }
}

struct Dns {
    auth: MessageAuthenticator,
    server: String,
}

impl Dns {
    fn new(config: &Config) -> Result<Self, String> {
        let mut options = ResolverOpts::default();
        options.timeout = Duration::from_secs(3);
        options.attempts = 1;
        options.cache_size = 0;
        // What the world sees, not this machine's /etc/hosts.
        options.use_hosts_file = ResolveHosts::Never;
        let (resolver, server) = match config.dns.nameserver_addr()? {
            Some(addr) => (ResolverConfig::from_name_servers(vec![name_server(addr)]), addr.to_string()),
            None => {
                let (system, _) = mail_auth::hickory_resolver::system_conf::read_system_conf().map_err(|e| format!("the system's resolver configuration cannot be read ({e}): set dns.nameserver"))?;
                (system, "the system's resolver".to_string())
            }
        };
        let auth = MessageAuthenticator::new(resolver, options).map_err(|e| e.to_string())?;
        Ok(Self { auth, server })
    }

    async fn txt(&self, name: &str) -> Result<Vec<String>, Unanswered> {
        match self.auth.resolver().txt_lookup(fqdn(name)).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| if let RData::TXT(txt) = &r.data { Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part).into_owned()).collect::<String>()) } else { None })
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(Unanswered::of(e)),
        }
    }

    /// (preference, exchange) of each MX record.
    async fn mx(&self, name: &str) -> Result<Vec<(u16, String)>, Unanswered> {
        match self.auth.resolver().mx_lookup(fqdn(name)).await {
            Ok(lookup) => Ok(lookup.answers().iter().filter_map(|r| if let RData::MX(mx) = &r.data { Some((mx.preference, mx.exchange.to_ascii())) } else { None }).collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(Unanswered::of(e)),
        }
    }

    async fn addresses(&self, name: &str) -> Result<Vec<IpAddr>, Unanswered> {
        match self.auth.resolver().lookup_ip(fqdn(name)).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(Unanswered::of(e)),
        }
    }

    async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, Unanswered> {
        match self.auth.resolver().reverse_lookup(ip).await {
            Ok(lookup) => Ok(lookup.answers().iter().filter_map(|r| if let RData::PTR(name) = &r.data { Some(name.0.to_ascii()) } else { None }).collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(Unanswered::of(e)),
        }
    }
}

fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
    for connection in &mut server.connections {
        connection.port = addr.port();
    }
    server
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') { name.to_string() } else { format!("{name}.") }
}

/// A name without its trailing dot, lower-cased, for comparing.
fn plain(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

pub async fn check(config: &Config) -> Vec<Check> {
    let dns = match Dns::new(config) {
        Ok(dns) => dns,
        Err(e) => return vec![Check::fail(GROUP, "resolver", e, "set dns.nameserver to a DNS server this machine can ask")],
    };
    let from_domain = config.site.from.parse::<Mailbox>().map(|m| m.email.domain().to_ascii_lowercase()).unwrap_or_default();
    let bounce_domain = config.bounce.return_path_domain.trim().to_ascii_lowercase();
    // Asked side by side: a server that does not answer costs one timeout, not one a question.
    let (from_spf, bounce_spf, dkim, dmarc, mx, ptr) = tokio::join!(
        async { (!from_domain.is_empty()).then_some(spf(&dns, &from_domain, "SPF of the From domain").await) },
        async { (bounce_domain != from_domain).then_some(spf(&dns, &bounce_domain, "SPF of the return-path domain").await) },
        dkim(&dns, config),
        async { (!from_domain.is_empty()).then_some(dmarc(&dns, config, &from_domain, &bounce_domain).await) },
        mx(&dns, &bounce_domain),
        ptr(&dns, config),
    );
    [from_spf, bounce_spf, Some(dkim), dmarc, Some(mx), Some(ptr)].into_iter().flatten().collect()
}

async fn spf(dns: &Dns, domain: &str, name: &str) -> Check {
    let records: Vec<String> = match dns.txt(domain).await {
        Ok(txt) => txt.into_iter().filter(|t| t.to_ascii_lowercase().starts_with("v=spf1")).collect(),
        Err(e) => return e.check(name, &format!("TXT {domain}"), &dns.server),
    };
    let publish = format!("publish one TXT record at {domain} such as \"v=spf1 include:<your relay's or ESP's SPF> -all\" (or \"v=spf1 a mx -all\" for a relay on your own servers)");
    match records.as_slice() {
        [] => Check::fail(GROUP, name, format!("{domain} has no SPF record: receivers cannot tell our relay may send for it"), publish),
        [record] => {
            let all = record.split_whitespace().map(str::to_ascii_lowercase).find(|t| t.ends_with("all"));
            match all.as_deref() {
                Some("+all" | "all") => Check::fail(GROUP, name, format!("{record:?} lets anyone send as {domain}"), format!("end the record with -all (or ~all) instead: {publish}")),
                Some("?all") | None => Check::warn(GROUP, name, format!("{record:?} says nothing about other senders"), "end the record with -all (or ~all) so forged mail fails SPF"),
                _ => Check::pass(GROUP, name, record.clone()),
            }
        }
        several => Check::fail(GROUP, name, format!("{domain} has {} SPF records: receivers treat that as an error (permerror)", several.len()), "merge them into one v=spf1 record"),
    }
}

async fn dkim(dns: &Dns, config: &Config) -> Check {
    let name = "DKIM key";
    let signer = match Dkim::from_config(&config.dkim) {
        Ok(Some(signer)) => signer,
        Ok(None) => return Check::skip(GROUP, name, "DKIM signing is off ([dkim] is not set)"),
        Err(e) => return Check::fail(GROUP, name, e.to_string(), "point dkim.private_key_path at a readable PEM private key (RSA or Ed25519)"),
    };
    let record = format!("{}._domainkey.{}", config.dkim.selector, config.dkim.domain);
    match dns.txt(&record).await {
        Err(e) => return e.check(name, &format!("TXT {record}"), &dns.server),
        Ok(txt) if !txt.iter().any(|t| t.contains("p=")) => {
            return Check::fail(GROUP, name, format!("no DKIM key is published at {record}"), format!("publish the public half of {} at {record} as \"v=DKIM1; k=ed25519|rsa; p=<base64>\"", config.dkim.private_key_path));
        }
        Ok(_) => {}
    }
    // The sure test: a message signed as a send signs it verifies against what is published.
    let mut message = format!(
        "From: {}\r\nTo: doctor@{}\r\nSubject: tidings doctor\r\nDate: {}\r\nMessage-ID: <doctor@{}>\r\n\r\nA DKIM check.\r\n",
        config.site.from,
        config.dkim.domain,
        chrono::Utc::now().to_rfc2822(),
        config.dkim.domain
    )
    .into_bytes();
    if let Err(e) = signer.sign(&mut message) {
        return Check::fail(GROUP, name, e.to_string(), "check the key at dkim.private_key_path");
    }
    let Some(parsed) = AuthenticatedMessage::parse(&message) else {
        return Check::fail(GROUP, name, "the test message does not parse", "check site.from");
    };
    let outcome = dns.auth.verify_dkim(&parsed).await;
    match outcome.first().map(|o| o.result()) {
        Some(DkimResult::Pass) => Check::pass(GROUP, name, format!("{record} matches the key in {}", config.dkim.private_key_path)),
        Some(DkimResult::TempError(e)) => Check::fail(GROUP, name, format!("{record} could not be read: {e}"), "check the domain's name servers and dns.nameserver"),
        Some(DkimResult::Fail(e) | DkimResult::PermError(e) | DkimResult::Neutral(e)) => Check::fail(
            GROUP,
            name,
            format!("the key published at {record} does not match the private key in {} ({e})", config.dkim.private_key_path),
            format!("publish the public half of the configured key at {record}, or point dkim.private_key_path and dkim.selector at the key that is published"),
        ),
        Some(DkimResult::None) | None => Check::fail(GROUP, name, "the signature was not checked", "check [dkim]"),
    }
}

async fn dmarc(dns: &Dns, config: &Config, from: &str, bounce: &str) -> Check {
    let name = "DMARC";
    let at = format!("_dmarc.{from}");
    let record = match dns.txt(&at).await {
        Ok(txt) => txt.into_iter().find(|t| t.to_ascii_lowercase().starts_with("v=dmarc1")),
        Err(e) => return e.check(name, &format!("TXT {at}"), &dns.server),
    };
    let Some(record) = record else {
        return Check::fail(GROUP, name, format!("{from} publishes no DMARC record: Gmail and Yahoo refuse bulk mail without one"), format!("publish a TXT record at {at} such as \"v=DMARC1; p=none; rua=mailto:dmarc@{from}\", then tighten p= once reports look right"));
    };
    let tag = |key: &str| record.split(';').filter_map(|part| part.trim().split_once('=')).find(|(k, _)| k.trim().eq_ignore_ascii_case(key)).map(|(_, v)| v.trim().to_ascii_lowercase());
    let policy = tag("p").unwrap_or_default();
    let strict_dkim = tag("adkim").as_deref() == Some("s");
    let strict_spf = tag("aspf").as_deref() == Some("s");
    let dkim_aligned = !config.dkim.domain.is_empty() && aligned(&config.dkim.domain.to_ascii_lowercase(), from, strict_dkim);
    let spf_aligned = aligned(bounce, from, strict_spf);
    if !dkim_aligned && !spf_aligned {
        return Check::fail(
            GROUP,
            name,
            format!("{record:?}, but neither the DKIM domain ({:?}) nor the return-path domain ({bounce}) is aligned with the From domain {from}: every message fails DMARC", config.dkim.domain),
            format!("sign with dkim.domain = \"{from}\" (or a subdomain of it), or use a return-path domain under {from}"),
        );
    }
    let alignment = format!("aligned by {}", [(dkim_aligned, "DKIM"), (spf_aligned, "SPF")].iter().filter(|(a, _)| *a).map(|(_, n)| *n).collect::<Vec<_>>().join(" and "));
    match policy.as_str() {
        "reject" | "quarantine" => Check::pass(GROUP, name, format!("p={policy}, {alignment}")),
        "none" => Check::warn(GROUP, name, format!("p=none ({alignment}): forged mail in {from}'s name is only reported, not stopped"), format!("once the aggregate reports show only your own mail, set p=quarantine (then p=reject) at {at}")),
        other => Check::fail(GROUP, name, format!("{record:?} has no valid policy (p={other:?})"), format!("set p=none, quarantine or reject in the record at {at}")),
    }
}

/// DMARC alignment: the same domain (strict), or the same organisational domain (relaxed). The
/// organisational domain is taken as the last two labels, or three under a two-letter country
/// code with a short second level (co.uk, com.cn): no public suffix list is at hand.
fn aligned(domain: &str, from: &str, strict: bool) -> bool {
    let (domain, from) = (plain(domain), plain(from));
    if strict {
        return domain == from;
    }
    organisational(&domain) == organisational(&from)
}

fn organisational(domain: &str) -> String {
    let labels: Vec<&str> = domain.split('.').collect();
    let keep = match labels.as_slice() {
        [.., second, tld] if tld.len() == 2 && second.len() <= 3 && labels.len() >= 3 => 3,
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

async fn mx(dns: &Dns, domain: &str) -> Check {
    let name = "MX of the return-path domain";
    match dns.mx(domain).await {
        Err(e) => e.check(name, &format!("MX {domain}"), &dns.server),
        Ok(records) if records.iter().any(|(_, host)| plain(host).is_empty()) => Check::fail(GROUP, name, format!("{domain} has a null MX: it takes no mail, so bounces cannot come back"), format!("point {domain}'s MX at the relay that hands bounces to tidings (see the README's Bounces)")),
        Ok(records) if !records.is_empty() => {
            let hosts: Vec<String> = records.iter().map(|(p, h)| format!("{p} {}", plain(h))).collect();
            Check::pass(GROUP, name, format!("{domain}: {}", hosts.join(", ")))
        }
        Ok(_) => match dns.addresses(domain).await {
            Ok(ips) if !ips.is_empty() => Check::warn(GROUP, name, format!("{domain} has no MX; mail for it falls back to its address {}", ips[0]), format!("publish an MX record for {domain} pointing at the relay that hands bounces to tidings")),
            Ok(_) => Check::fail(GROUP, name, format!("{domain} has no MX and no address: bounces cannot come back, and some receivers refuse a sender whose domain takes no mail"), format!("publish an MX record for {domain} pointing at the relay that hands bounces to tidings")),
            Err(e) => e.check(name, &format!("A {domain}"), &dns.server),
        },
    }
}

async fn ptr(dns: &Dns, config: &Config) -> Check {
    let name = "PTR of the relay";
    if !is_loopback(&config.smtp.host) {
        return Check::skip(GROUP, name, format!("the relay {} is not on this machine: its operator keeps its reverse DNS", config.smtp.host));
    }
    let host = if config.dns.mail_hostname.trim().is_empty() { crate::delivery::engine::this_hostname() } else { config.dns.mail_hostname.trim().to_string() };
    if !host.contains('.') {
        return Check::warn(GROUP, name, format!("this machine is called {host:?}, not a name on the internet"), "set dns.mail_hostname to the public name the relay on this machine announces (its HELO name), so its address and PTR can be checked");
    }
    let ips = match dns.addresses(&host).await {
        Ok(ips) => ips,
        Err(e) => return e.check(name, &format!("A {host}"), &dns.server),
    };
    if ips.is_empty() {
        return Check::fail(GROUP, name, format!("{host}, the name the relay on this machine announces, has no address"), format!("publish an A (and AAAA) record for {host}, or set dns.mail_hostname to the relay's public name"));
    }
    for ip in &ips {
        let names = match dns.ptr(*ip).await {
            Ok(names) => names,
            Err(e) => return e.check(name, &format!("PTR {ip}"), &dns.server),
        };
        if !names.iter().any(|n| plain(n) == plain(&host)) {
            let found = if names.is_empty() { "no PTR record".to_string() } else { format!("a PTR to {}", names.iter().map(|n| plain(n)).collect::<Vec<_>>().join(", ")) };
            return Check::fail(GROUP, name, format!("{ip} ({host}) has {found}: receivers refuse or junk mail from an address whose reverse name does not match"), format!("ask whoever runs {ip} (the hosting provider) for a PTR record naming {host}"));
        }
    }
    Check::pass(GROUP, name, format!("{host} and its address{} agree both ways", if ips.len() > 1 { "es" } else { "" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_alignment_compares_organisational_domains() {
        assert!(aligned("mail.example.org", "example.org", false));
        assert!(aligned("bounces.example.org", "news.example.org", false));
        assert!(!aligned("bounces.example.org", "news.example.org", true));
        assert!(aligned("b.example.co.uk", "example.co.uk", false));
        assert!(!aligned("example.net", "example.org", false));
        assert!(!aligned("other.co.uk", "example.co.uk", false));
    }
}
