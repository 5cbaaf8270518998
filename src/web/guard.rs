//! What stands between a form and the database: anti-forgery tokens, and rate limits per IP
//! address and per email address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::watch;

use super::State;
use crate::config::HttpConfig;
use crate::domain::token::Keys;

pub const CSRF_COOKIE: &str = "tidings_csrf";
/// A form left open longer than this must be reloaded.
const CSRF_LIFETIME_SECS: i64 = 4 * 3600;

pub struct Limits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_address: DefaultKeyedRateLimiter<String>,
    feed_polls: DefaultKeyedRateLimiter<IpAddr>,
    websub: DefaultKeyedRateLimiter<IpAddr>,
}

impl Limits {
    pub fn new(http: &HttpConfig, feeds: &crate::config::FeedsConfig) -> Self {
        let per_minute = NonZeroU32::new(http.subscribe_per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        let per_hour = NonZeroU32::new(http.subscribe_per_address_per_hour).unwrap_or(NonZeroU32::MIN);
        let polls = NonZeroU32::new(feeds.polls_per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            per_ip: RateLimiter::keyed(Quota::per_minute(per_minute)),
            per_address: RateLimiter::keyed(Quota::per_hour(per_hour)),
            feed_polls: RateLimiter::keyed(Quota::per_minute(polls)),
            websub: RateLimiter::keyed(Quota::per_hour(NonZeroU32::new(feeds.hub_requests_per_ip_per_hour).unwrap_or(NonZeroU32::MIN))),
        }
    }

    /// None when a feed reader at `ip` may poll now; else how many seconds to wait.
    pub fn feed_poll_wait(&self, ip: IpAddr) -> Option<u64> {
        wait_secs(self.feed_polls.check_key(&limit_key(ip)))
    }

    /// None when `ip` may make a WebSub request now; else how many seconds to wait.
    pub fn websub_wait(&self, ip: IpAddr) -> Option<u64> {
        wait_secs(self.websub.check_key(&limit_key(ip)))
    }

    pub fn allow_ip(&self, ip: IpAddr) -> bool {
        self.per_ip.check_key(&limit_key(ip)).is_ok()
    }

    /// `key` is the address's normalised form, so case games do not buy more sign-ups.
    pub fn allow_address(&self, key: &str) -> bool {
        self.per_address.check_key(&key.to_string()).is_ok()
    }
}

fn wait_secs(checked: Result<(), governor::NotUntil<governor::clock::QuantaInstant>>) -> Option<u64> {
    use governor::clock::Clock;
    checked.err().map(|not_until| not_until.wait_time_from(governor::clock::DefaultClock::default().now()).as_secs() + 1)
}

/// Whom a per-address limit counts: an IPv4 address, or an IPv6 client's /64 (one host is
/// given a whole /64 and can use any address in it).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

/// Drops the limiters' memory of keys that have been quiet, so their state stays bounded.
pub async fn forget_old_keys(state: State, mut stop: watch::Receiver<bool>) {
    loop {
        if tokio::time::timeout(Duration::from_secs(60), stop.changed()).await.is_ok() {
            return;
        }
        state.limits.per_ip.retain_recent();
        state.limits.per_address.retain_recent();
        state.limits.feed_polls.retain_recent();
        state.limits.websub.retain_recent();
        state.admin_limits.forget_quiet_keys();
    }
}

/// The browser's anti-forgery nonce (from its cookie), or a new one to set.
fn nonce(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE) {
        Some(n) if n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()) => (n.to_string(), false),
        _ => {
            let mut bytes = [0u8; 16];
            getrandom::getrandom(&mut bytes).expect("the OS provides randomness");
            (bytes.iter().map(|b| format!("{b:02x}")).collect(), true)
        }
    }
}

/// A form's token for this browser, and the response fix-up that gives the browser its nonce
/// cookie when it had none.
pub fn form_token(keys: &Keys, headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    let (nonce, new) = nonce(headers);
    (csrf_token(keys, &nonce), new.then(|| set_cookie(&nonce, secure)))
}

pub fn with_cookie(mut response: axum::response::Response, cookie: Option<HeaderValue>) -> axum::response::Response {
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn set_cookie(nonce: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict{secure}")).expect("a cookie of hex digits is a valid header")
}

/// The form's token: issue time and a MAC over it and the browser's nonce.
fn csrf_token(keys: &Keys, nonce: &str) -> String {
    let issued = Utc::now().timestamp();
    let mac = keys.short_tag(&[b"csrf", nonce.as_bytes(), &issued.to_be_bytes()], 0).expect("the current key exists");
    format!("{issued}.{mac}")
}

/// A POSTed form is genuine when its token was made for this browser's nonce, recently, with
/// any of our keys, and the browser does not say the request came from another site.
pub fn csrf_ok(keys: &Keys, headers: &HeaderMap, token: &str) -> bool {
    // A sibling subdomain (`same-site`) is another site for our forms: only our own origin, or a
    // browser that says nothing (typed, bookmarked), may post.
    if matches!(headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()), Some("cross-site" | "same-site")) {
        return false;
    }
    let Some(nonce) = cookie(headers, CSRF_COOKIE) else { return false };
    let Some((issued, mac)) = token.split_once('.') else { return false };
    let Ok(issued) = issued.parse::<i64>() else { return false };
    let age = Utc::now().timestamp() - issued;
    if !(0..=CSRF_LIFETIME_SECS).contains(&age) {
        return false;
    }
    (0..keys.key_count()).any(|k| keys.short_tag(&[b"csrf", nonce.as_bytes(), &issued.to_be_bytes()], k).is_some_and(|m| constant_eq(m.as_bytes(), mac.as_bytes())))
}

/// Compares secrets in time independent of where they differ.
pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(limit_key(a), limit_key(b));
        assert_ne!(limit_key(a), limit_key(other));
        assert_eq!(limit_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7".parse::<IpAddr>().unwrap());
        let limits = Limits::new(&HttpConfig { subscribe_per_ip_per_minute: 2, ..HttpConfig::default() }, &crate::config::FeedsConfig::default());
        assert!(limits.allow_ip(a) && limits.allow_ip(b));
        assert!(!limits.allow_ip("2001:db8:1:2::99".parse().unwrap()), "a third address of the same /64 waits");
        assert!(limits.allow_ip(other));
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {CSRF_COOKIE}={value}")).unwrap());
        h
    }

    #[test]
    fn a_token_is_good_only_with_its_own_browser_nonce() {
        let keys = Keys::new(b"k1".to_vec(), vec![]);
        let nonce = "0123456789abcdef0123456789abcdef";
        let token = csrf_token(&keys, nonce);
        assert!(csrf_ok(&keys, &with_cookie(nonce), &token));
        assert!(!csrf_ok(&keys, &with_cookie("ffffffffffffffffffffffffffffffff"), &token));
        assert!(!csrf_ok(&keys, &HeaderMap::new(), &token));
        assert!(!csrf_ok(&Keys::new(b"k2".to_vec(), vec![]), &with_cookie(nonce), &token));
        assert!(csrf_ok(&Keys::new(b"k2".to_vec(), vec![b"k1".to_vec()]), &with_cookie(nonce), &token), "rotation keeps open forms good");
        for site in ["cross-site", "same-site"] {
            let mut cross = with_cookie(nonce);
            cross.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert!(!csrf_ok(&keys, &cross, &token), "{site}");
        }
        let mut same = with_cookie(nonce);
        same.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(csrf_ok(&keys, &same, &token));
        assert!(!csrf_ok(&keys, &with_cookie(nonce), "0.abc"), "too old");
    }
}
