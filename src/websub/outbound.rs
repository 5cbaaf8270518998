//! The hub's requests to subscribers' callbacks: the one place Tidings fetches a URL a stranger
//! gave it, so it must not become a way into the operator's own network.
//!
//! Every name is resolved by our resolver, which hands the connector only public addresses
//! (unless `feeds.hub_allow_private_callbacks`): checking the name first and connecting later
//! would let a DNS answer change in between. Literal addresses in a URL never reach a resolver
//! and are checked before the request. Redirects are not followed, proxies from the environment
//! are not used, every request has a deadline, and no answer is read past a small limit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Connecting may take this long...
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// ...and the whole exchange this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer the hub reads (a challenge echoed back is a few dozen bytes).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The longest callback URL accepted.
pub const MAX_URL_LEN: usize = 2048;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("{0:?} is not a URL")]
    NotAUrl(String),
    #[error("the URL must be http or https, not {0}")]
    Scheme(String),
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the URL must not carry a user name or password")]
    UserInfo,
    #[error("the URL must not have a fragment (#…)")]
    Fragment,
    #[error("the URL names no host")]
    NoHost,
    #[error("{0} is not a public address: this hub only calls back public addresses")]
    NotPublic(String),
    #[error("{0} could not be resolved")]
    Unresolved(String),
    #[error("the request failed: {0}")]
    Request(String),
    #[error("the answer was longer than {MAX_ANSWER_BYTES} bytes")]
    TooBig,
}

/// Checks a callback URL's form and, when it names an address, that the address may be called.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, OutboundError> {
    if raw.len() > MAX_URL_LEN {
        return Err(OutboundError::TooLong);
    }
    let url = Url::parse(raw).map_err(|_| OutboundError::NotAUrl(raw.chars().take(80).collect()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OutboundError::UserInfo);
    }
    if url.fragment().is_some() {
        return Err(OutboundError::Fragment);
    }
    let literal = match url.host() {
        None => return Err(OutboundError::NoHost),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err(OutboundError::NotPublic(ip.to_string()));
    }
    Ok(url)
}

/// Resolves `url`'s host now, as the request will, and refuses one with no public address: a
/// subscriber hears at once rather than after a verification that cannot happen.
pub async fn check_resolves(url: &Url, allow_private: bool) -> Result<(), OutboundError> {
    let Some(Host::Domain(name)) = url.host() else { return Ok(()) };
    resolve_allowed(name, allow_private).await.map(|_| ())
}

async fn resolve_allowed(name: &str, allow_private: bool) -> Result<Vec<SocketAddr>, OutboundError> {
    let lookup = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((name, 0u16))).await;
    let addrs: Vec<SocketAddr> = match lookup {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => return Err(OutboundError::Unresolved(name.to_string())),
    };
    let allowed: Vec<SocketAddr> = addrs.iter().copied().filter(|a| allow_private || is_public(a.ip())).collect();
    match (allowed.is_empty(), addrs.first()) {
        (false, _) => Ok(allowed),
        (true, Some(first)) => Err(OutboundError::NotPublic(format!("{name} ({})", first.ip()))),
        (true, None) => Err(OutboundError::Unresolved(name.to_string())),
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (carrier-grade NAT), documentation, benchmarking, multicast or reserved, nor an IPv6 form of
/// one (mapped, NAT64, unique-local, site-local).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x0064 && s[1] == 0xff9b {
        // NAT64: the IPv4 address is in the last 32 bits.
        return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || s[0] == 0
        || (s[0] == 0x2002 && !is_public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8))))
}

/// The resolver the hub's client uses: only addresses that may be called reach the connector.
struct Guard {
    allow_private: bool,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve_allowed(&name, allow_private).await.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// What a callback answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// The hub's HTTP client, shared by its requests (connections to one callback host are reused).
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    pub fn new(allow_private: bool) -> Self {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(Guard { allow_private }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("Tidings-WebSub-hub/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the hub's HTTP client builds with static settings");
        Self { client, allow_private }
    }

    /// GET `url`, reading at most [`MAX_ANSWER_BYTES`] of the answer.
    pub async fn get(&self, url: &str) -> Result<Answer, OutboundError> {
        let url = check_url(url, self.allow_private)?;
        let response = self.client.get(url).send().await.map_err(request_error)?;
        read_capped(response).await
    }

    /// POST `body` to `url` with `headers`; the answer's body is not read (a callback that
    /// answers with gigabytes costs nothing).
    pub async fn post(&self, url: &str, headers: reqwest::header::HeaderMap, body: Bytes) -> Result<u16, OutboundError> {
        let url = check_url(url, self.allow_private)?;
        let response = self.client.post(url).headers(headers).body(body).send().await.map_err(request_error)?;
        Ok(response.status().as_u16())
    }
}

fn request_error(e: reqwest::Error) -> OutboundError {
    // The resolver's refusal comes back wrapped: say it plainly.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<OutboundError>() {
            return refused.clone_plain();
        }
        source = err.source();
    }
    if e.is_timeout() {
        return OutboundError::Request("no answer in time".into());
    }
    OutboundError::Request(e.without_url().to_string())
}

impl OutboundError {
    fn clone_plain(&self) -> Self {
        match self {
            Self::NotPublic(a) => Self::NotPublic(a.clone()),
            Self::Unresolved(a) => Self::Unresolved(a.clone()),
            other => Self::Request(other.to_string()),
        }
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Answer, OutboundError> {
    let status = response.status().as_u16();
    if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
        return Err(OutboundError::TooBig);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(OutboundError::TooBig);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer { status, body: body.freeze() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for s in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1", "192.0.0.8", "198.18.0.1", "224.0.0.1", "255.255.255.255", "240.0.0.1", "192.0.2.1",
            "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:c0a8:0101::1", "ff02::1",
        ] {
            assert!(!public(s), "{s} must not be public");
        }
        for s in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(public(s), "{s} is public");
        }
    }

    #[test]
    fn callback_urls_are_checked_for_form_and_literal_addresses() {
        assert!(check_url("https://reader.example/cb?id=1", false).is_ok());
        assert_eq!(check_url("ftp://reader.example/", false), Err(OutboundError::Scheme("ftp".into())));
        assert_eq!(check_url("https://u:p@reader.example/", false), Err(OutboundError::UserInfo));
        assert_eq!(check_url("https://reader.example/#x", false), Err(OutboundError::Fragment));
        assert_eq!(check_url("http://127.0.0.1:8080/cb", false), Err(OutboundError::NotPublic("127.0.0.1".into())));
        assert_eq!(check_url("http://[::ffff:7f00:1]/cb", false), Err(OutboundError::NotPublic("::ffff:127.0.0.1".into())));
        assert!(matches!(check_url("http://0x7f.1/cb", false), Err(OutboundError::NotPublic(_))), "the URL parser's reading of odd IPv4 forms is what is checked");
        assert!(check_url("http://127.0.0.1:8080/cb", true).is_ok());
        assert_eq!(check_url(&format!("https://a.example/{}", "x".repeat(MAX_URL_LEN)), false), Err(OutboundError::TooLong));
        assert!(matches!(check_url("not a url", false), Err(OutboundError::NotAUrl(_))));
    }

    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_are_refused() {
        let url = check_url("http://localhost:9/cb", false).unwrap();
        assert!(matches!(check_resolves(&url, false).await, Err(OutboundError::NotPublic(_))));
        assert!(check_resolves(&url, true).await.is_ok());
        let refused = Outbound::new(false).get("http://localhost:9/cb").await.unwrap_err();
        assert!(matches!(refused, OutboundError::NotPublic(_)), "{refused:?}");
    }
}
