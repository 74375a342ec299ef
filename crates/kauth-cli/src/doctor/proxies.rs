//! The proxy check: whether requests to the server would go through a proxy (the kubeconfig's
//! `proxy-url`, or `HTTPS_PROXY` unless `NO_PROXY` exempts the host, as Go's
//! `net/http/httpproxy` decides for kubectl). A TLS-inspecting proxy breaks client certificates,
//! and a proxy that is down looks like a server that is down.

use std::net::IpAddr;

use super::finding::{Check, Report};

/// The environment variables that matter, read once at the edge.
#[derive(Debug, Clone, Default)]
pub struct ProxyEnv {
    /// `HTTPS_PROXY` (or `https_proxy`).
    pub https_proxy: Option<String>,
    /// `NO_PROXY` (or `no_proxy`).
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    /// From this process's environment.
    pub fn from_env() -> Self {
        let var = |a: &str, b: &str| std::env::var(a).or_else(|_| std::env::var(b)).ok().filter(|v| !v.is_empty());
        ProxyEnv { https_proxy: var("HTTPS_PROXY", "https_proxy"), no_proxy: var("NO_PROXY", "no_proxy") }
    }
}

/// Whether `NO_PROXY` exempts `host` (Go's rules: `*`; an IP or CIDR; a domain matching
/// itself and its subdomains, with or without a leading dot; a port is ignored here).
pub fn exempt(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    no_proxy.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            return match (ip, net.parse::<IpAddr>(), bits.parse::<u32>()) {
                (Some(a), Ok(n), Ok(b)) => in_cidr(a, n, b),
                _ => false,
            };
        }
        // A port is dropped unless the entry is a bare IPv6 address (whose colons are not one).
        let entry = if entry.parse::<IpAddr>().is_ok() {
            entry
        } else {
            entry.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map_or(entry, |(h, _)| h)
        };
        let entry = entry.trim_start_matches('[').trim_end_matches(']');
        if let (Some(a), Ok(e)) = (ip, entry.parse::<IpAddr>()) {
            return a == e;
        }
        let domain = entry.trim_start_matches('.').to_ascii_lowercase();
        host == domain || host.ends_with(&format!(".{domain}"))
    })
}

fn in_cidr(a: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// A proxy URL with any user and password removed.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://<credentials>@{host}"),
            None => url.to_owned(),
        },
        None => url.rsplit_once('@').map_or(url.to_owned(), |(_, h)| format!("<credentials>@{h}")),
    }
}

/// Records what proxy, if any, clients would use for `host`.
pub fn check(proxy_url: Option<&str>, host: &str, env: &ProxyEnv, report: &mut Report) {
    if let Some(p) = proxy_url {
        report.warn(
            Check::Proxy,
            format!("the kubeconfig sends requests through proxy-url {}; kauth doctor dialled {host} directly, so a problem only the proxy causes (a TLS-inspecting proxy replaces the server's certificate and drops client certificates) is not seen here", without_credentials(p)),
            "if kubectl fails where kauth doctor does not, test the proxy: curl -v --proxy PROXY https://HOST:PORT/version",
        );
        return;
    }
    match (&env.https_proxy, &env.no_proxy) {
        (Some(p), no) if !no.as_deref().is_some_and(|n| exempt(n, host)) => report.warn(
            Check::Proxy,
            format!("HTTPS_PROXY={} applies to {host} (NO_PROXY {}): kubectl sends its requests through that proxy; kauth doctor dialled directly", without_credentials(p), no.as_deref().map_or("is unset".to_owned(), |n| format!("{n:?} does not match"))),
            format!("if the server should be reached directly, add it to NO_PROXY (export NO_PROXY=$NO_PROXY,{host}); a TLS-inspecting proxy breaks client certificates"),
        ),
        (Some(_), _) => report.note(Check::Proxy, format!("HTTPS_PROXY is set but NO_PROXY exempts {host}: direct")),
        (None, _) => report.note(Check::Proxy, "no proxy: HTTPS_PROXY is unset and the kubeconfig names none"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_as_go_does() {
        assert!(exempt("*", "anything"));
        assert!(exempt("10.0.0.0/8", "10.1.2.3"));
        assert!(!exempt("10.0.0.0/8", "11.1.2.3"));
        assert!(exempt("example.com", "api.example.com"));
        assert!(exempt(".example.com", "example.com"));
        assert!(!exempt("example.com", "badexample.com"));
        assert!(exempt("127.0.0.1:6443, localhost", "127.0.0.1"));
        assert!(exempt("::1", "[::1]"));
        assert!(exempt("fd00::/8", "fd12::1"));
    }

    #[test]
    fn an_applicable_proxy_is_a_warning_without_its_password() {
        let mut r = Report::new(String::new(), String::new(), String::new());
        let env =
            ProxyEnv { https_proxy: Some("http://bob:pw@proxy:3128".into()), no_proxy: Some("example.com".into()) };
        check(None, "10.0.0.1", &env, &mut r);
        assert_eq!(r.findings.len(), 1);
        assert!(r.findings[0].cause.contains("http://<credentials>@proxy:3128"), "{}", r.findings[0].cause);
        assert!(!r.findings[0].cause.contains("pw"));
        let mut r = Report::new(String::new(), String::new(), String::new());
        check(None, "api.example.com", &env, &mut r);
        assert!(r.findings.is_empty());
    }
}
