//! Who the client is. Directly connected, the TCP peer; behind a reverse proxy listed in
//! `http.trusted_proxies`, the nearest address in the header those proxies write
//! (`http.forwarded_header`: `X-Forwarded-For` or `Forwarded`) that is not one of our proxies.
//! Anything to the left of that, and the other header, were written by the client and are not
//! believed.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use super::State;
use crate::config::ForwardedHeader;

/// The proxies whose word is taken, and the header they write it in.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    pub nets: Vec<IpNet>,
    pub header: ForwardedHeader,
}

/// The client's address, for rate limits, consent records and audit lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<State> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(of(parts, &state.proxies)))
    }
}

/// The client's address for a request (unspecified when the connection gave none, as in tests
/// that call the router directly).
pub fn of(parts: &Parts, proxies: &Proxies) -> IpAddr {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    resolve(peer, &parts.headers, proxies)
}

pub fn is_trusted(ip: IpAddr, nets: &[IpNet]) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|net| net.contains(&ip))
}

/// Walks the forwarding chain from the nearest hop outwards and stops at the first address that
/// is not a trusted proxy. A hop that cannot be read ends the walk at the proxy that wrote it.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, proxies: &Proxies) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, &proxies.nets) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_chain(headers, proxies.header).iter().rev() {
        let Some(ip) = hop.as_deref().and_then(parse_hop) else { return client };
        client = canonical(ip);
        if !is_trusted(client, &proxies.nets) {
            return client;
        }
    }
    client
}

/// The hops of the one header the proxies write, in order, every header line joined: the
/// addresses of `X-Forwarded-For`, or the `for=` parameters of `Forwarded` (RFC 7239).
fn forwarded_chain(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<String>> {
    let name = match header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    let elements = headers.get_all(name).iter().flat_map(|v| split_list(v.to_str().ok()));
    match header {
        ForwardedHeader::XForwardedFor => elements.collect(),
        ForwardedHeader::Forwarded => elements.map(|element| element.and_then(|e| for_parameter(&e))).collect(),
    }
}

fn for_parameter(element: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"').to_string())
    })
}

/// A header line's comma-separated elements; a line that is not text is one unreadable hop.
fn split_list(line: Option<&str>) -> Vec<Option<String>> {
    match line {
        Some(line) => line.split(',').map(|s| Some(s.trim().to_string())).collect(),
        None => vec![None],
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(sock) = hop.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    hop.strip_prefix('[').and_then(|rest| rest.split_once(']')).and_then(|(inner, _)| inner.parse().ok())
}

/// An IPv4 client on a dual-stack socket arrives as `::ffff:a.b.c.d`; it is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Proxies {
        Proxies { nets: list.iter().map(|s| s.parse().unwrap()).collect(), header: ForwardedHeader::XForwardedFor }
    }

    fn forwarded(list: &[&str]) -> Proxies {
        Proxies { header: ForwardedHeader::Forwarded, ..nets(list) }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_direct_client_cannot_claim_another_address() {
        let h = headers(&[("x-forwarded-for", "198.51.100.9")]);
        assert_eq!(resolve(ip("203.0.113.5"), &h, &nets(&["10.0.0.0/8"])), ip("203.0.113.5"));
        assert_eq!(resolve(ip("203.0.113.5"), &h, &Proxies::default()), ip("203.0.113.5"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        let proxies = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client forged the first entry; our proxy appended what it saw.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.5")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &proxies), ip("203.0.113.5"));
        // Two of our proxies in a row, the header split over lines.
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.5, 10.1.1.1")]);
        assert_eq!(resolve(ip("10.2.2.2"), &h, &proxies), ip("203.0.113.5"));
        // Nothing forwarded: the proxy itself.
        assert_eq!(resolve(ip("10.2.2.2"), &HeaderMap::new(), &proxies), ip("10.2.2.2"));
        // Garbage where our proxy should have written an address: the proxy, not the garbage's left.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, unknown")]);
        assert_eq!(resolve(ip("10.2.2.2"), &h, &proxies), ip("10.2.2.2"));
        assert_eq!(resolve(ip("::ffff:127.0.0.1"), &headers(&[("x-forwarded-for", "::ffff:203.0.113.7")]), &proxies), ip("203.0.113.7"));
    }

    #[test]
    fn only_the_header_the_proxies_write_is_read() {
        // The proxy writes Forwarded and passes on the client's own X-Forwarded-For: ignored.
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=198.51.100.2")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &forwarded(&["10.0.0.0/8"])), ip("198.51.100.2"));
        assert_eq!(resolve(ip("10.0.0.1"), &h, &nets(&["10.0.0.0/8"])), ip("1.2.3.4"), "and the other way round");
        let proxies = forwarded(&["10.0.0.0/8"]);
        let h = headers(&[("forwarded", r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https"#)]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &proxies), ip("2001:db8::7"));
        let h = headers(&[("forwarded", "for=198.51.100.2:80;by=10.0.0.1")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &proxies), ip("198.51.100.2"));
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &proxies), ip("10.0.0.1"));
    }
}
