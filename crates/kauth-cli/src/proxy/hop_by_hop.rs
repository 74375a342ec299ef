//! Hop-by-hop headers, handled as Go's `httputil.ReverseProxy` does for kube-rbac-proxy: the
//! fixed list and every header the `Connection` header names go both ways; a request asking
//! for `TE: trailers` keeps exactly that; an upgrade request keeps `Connection: Upgrade` and its
//! `Upgrade` (the upstream must see them to switch protocols), and so does a 101 answer.

use http::header::{CONNECTION, TE, UPGRADE};
use http::{HeaderMap, HeaderValue};

/// Headers that belong to one hop (RFC 9110 §7.6.1, and Go's list).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The protocol `headers` ask to switch to: `Upgrade`'s value when `Connection` names
/// `upgrade` (Go's `upgradeType`).
pub fn upgrade_type(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        headers.get(UPGRADE).cloned()
    } else {
        None
    }
}

/// Prepares a request's headers for the upstream; returns the protocol it asks to switch to.
pub fn prepare_request(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let upgrade = upgrade_type(headers);
    let trailers = headers
        .get_all(TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"));
    remove(headers);
    if trailers {
        headers.insert(TE, HeaderValue::from_static("trailers"));
    }
    if let Some(protocol) = &upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(UPGRADE, protocol.clone());
    }
    upgrade
}

/// Removes hop-by-hop headers, and those the `Connection` header names.
pub fn remove(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for h in HOP_BY_HOP.iter().copied().chain(named.iter().map(String::as_str)) {
        headers.remove(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn names(h: &HeaderMap) -> Vec<&str> {
        let mut n: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        n.sort_unstable();
        n
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret"),
            ("x-secret", "1"),
            ("upgrade", "websocket"),
            ("x-kept", "1"),
        ]);
        assert_eq!(prepare_request(&mut h), None, "Upgrade without Connection: upgrade is no upgrade");
        assert_eq!(names(&h), ["x-kept"]);
    }

    #[test]
    fn upgrades_keep_their_two_headers_and_nothing_else_named() {
        let mut h =
            map(&[("connection", "keep-alive, Upgrade, X-Secret"), ("x-secret", "1"), ("upgrade", "websocket")]);
        assert_eq!(prepare_request(&mut h), Some(HeaderValue::from_static("websocket")));
        assert_eq!(names(&h), ["connection", "upgrade"]);
        assert_eq!(h["connection"], "Upgrade");
    }

    #[test]
    fn te_trailers_alone_survives() {
        let mut h = map(&[("te", "gzip, trailers")]);
        prepare_request(&mut h);
        assert_eq!(h["te"], "trailers");
        let mut h = map(&[("te", "gzip")]);
        prepare_request(&mut h);
        assert!(h.get("te").is_none());
    }
}
