//! The configuration a send depends on: links that work for readers, a signing key of our own, a
//! real sender and postal address, a bounce domain that exists.

use std::net::IpAddr;

use lettre::message::Mailbox;

use super::checks::Check;
use crate::config::Config;

const GROUP: &str = "configuration";

pub fn check(config: &Config, production: bool) -> Vec<Check> {
    let mut checks = vec![base_url(config, production), secret_key(config, production), sender(config, production), postal_address(config, production), return_path(config, production)];
    checks.push(if config.dkim.domain.is_empty() || config.dkim.selector.is_empty() || config.dkim.private_key_path.is_empty() {
        Check::warn(GROUP, "DKIM signing", "[dkim] is not set: messages go out unsigned", "generate a key (`openssl genpkey -algorithm ed25519`, or RSA 2048), publish its public half at SELECTOR._domainkey.DOMAIN and set dkim.domain, dkim.selector and dkim.private_key_path")
    } else {
        Check::pass(GROUP, "DKIM signing", format!("on, as {}._domainkey.{}", config.dkim.selector, config.dkim.domain))
    });
    if !config.smtp.tls_verify {
        checks.push(Check::warn(GROUP, "smtp.tls_verify", "false: the relay's certificate is not checked", "set smtp.tls_verify = true, and smtp.ca_file to the private CA that signs the relay's certificate if there is one"));
    }
    checks
}

fn base_url(config: &Config, production: bool) -> Check {
    let name = "site.base_url";
    let raw = &config.site.base_url;
    let Ok(url) = url::Url::parse(raw) else {
        return Check::fail(GROUP, name, format!("{raw:?} is not a URL"), "set site.base_url to the public address of the site, e.g. https://news.example.org");
    };
    if url.scheme() != "https" {
        return Check::fail_if(production, GROUP, name, format!("{raw} is not https: readers' unsubscribe and confirm links would travel in clear, and mailbox providers distrust them"), "serve the site over https behind a reverse proxy (see the README's Deploying) and set site.base_url = \"https://…\"");
    }
    match url.host_str() {
        Some(host) if !is_public_host(host) => Check::fail_if(production, GROUP, name, format!("{host} is not a public name: readers' links would lead nowhere"), "set site.base_url to the address readers reach the site at"),
        Some(_) => Check::pass(GROUP, name, raw.to_string()),
        None => Check::fail(GROUP, name, format!("{raw} names no host"), "set site.base_url to the public address of the site"),
    }
}

/// Not a loopback or private address, nor a name only this machine or network knows.
fn is_public_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()),
            IpAddr::V6(v6) => !(v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80),
        };
    }
    host.contains('.') && !["localhost", ".local", ".localdomain", ".internal", ".lan", ".home.arpa"].iter().any(|s| host == s.trim_start_matches('.') || host.ends_with(s))
}

fn secret_key(config: &Config, production: bool) -> Check {
    if config.security.secret_key.is_empty() {
        Check::fail_if(
            production,
            GROUP,
            "security.secret_key",
            "not set: links are signed with a key Tidings generated and keeps in its database, so a copy of the database can forge them",
            "set TIDINGS_SECURITY__SECRET_KEY=$(openssl rand -hex 32) in the service's environment (put the generated one in security.previous_keys so links already sent keep working)",
        )
    } else {
        Check::pass(GROUP, "security.secret_key", "set")
    }
}

fn sender(config: &Config, production: bool) -> Check {
    let name = "site.from";
    match config.site.from.parse::<Mailbox>() {
        Err(_) => Check::fail(GROUP, name, format!("{:?} is not a mailbox", config.site.from), "set site.from = \"Name <newsletter@your-domain>\""),
        Ok(mailbox) if !is_public_host(mailbox.email.domain()) => Check::fail_if(
            production,
            GROUP,
            name,
            format!("{} is not a domain of yours: receivers would refuse or junk the mail", mailbox.email.domain()),
            "set site.from to an address at your own domain, the one SPF, DKIM and DMARC are published for",
        ),
        Ok(mailbox) => Check::pass(GROUP, name, mailbox.to_string()),
    }
}

fn postal_address(config: &Config, production: bool) -> Check {
    let address = config.site.postal_address.trim();
    if address.is_empty() || address == crate::config::SiteConfig::default().postal_address {
        Check::fail_if(production, GROUP, "site.postal_address", "not set (or still the example)", "set site.postal_address to the publisher's postal address: the law (CAN-SPAM, and others) asks for it in every newsletter")
    } else {
        Check::pass(GROUP, "site.postal_address", address.to_string())
    }
}

fn return_path(config: &Config, production: bool) -> Check {
    let domain = config.bounce.return_path_domain.trim();
    if !is_public_host(domain) {
        Check::fail_if(production, GROUP, "bounce.return_path_domain", format!("{domain:?} is not a public domain: bounces could not come back"), "set bounce.return_path_domain to a domain of yours whose MX reaches this installation's relay (e.g. bounces.example.org)")
    } else {
        Check::pass(GROUP, "bounce.return_path_domain", domain.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_hosts_are_told_from_local_ones() {
        for public in ["news.example.org", "93.184.216.34", "例子.广告"] {
            assert!(is_public_host(public), "{public}");
        }
        for local in ["localhost", "127.0.0.1", "10.1.2.3", "192.168.1.9", "[::1]", "printer.local", "host.localdomain", "fd00::1", "nodots"] {
            assert!(!is_public_host(local), "{local}");
        }
    }
}
