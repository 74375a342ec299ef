//! Request-header (front-proxy) authentication (`--requestheader-*`): a client certificate
//! signed by the request-header CA, whose CN is among the allowed names, vouches for the user
//! named in the request's headers. Aggregated API servers trust kube-apiserver this way, and
//! kube-apiserver trusts an authenticating proxy.
//!
//! The rules are kube-apiserver's: header names match without regard to case; the user is the
//! first non-empty value of the first username header that has one (so is the uid); groups are
//! every non-empty value of every group header, in order; each header starting with an extra
//! prefix adds its values under the rest of its name, lower-cased and then percent-decoded (a key
//! that does not decode is kept as it is). A front-proxy certificate without a username header
//! names no one: kube-apiserver passes such a request on silently; kauth passes it on too (the
//! next authenticator may accept it: the same outcome), but says why
//! ([`RequestHeaderRejection::NoUser`]) should nothing accept the request.
//!
//! [`clear`] removes these headers from a request: the server does it for every request,
//! trusted or not, so that nothing after authentication can read a user a client wrote.

use percent_encoding::percent_decode_str;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use super::rejection::RequestHeaderRejection;
use super::x509::X509Authenticator;
use super::{Authenticated, Credentials, Rejection, RequestAuthenticator};
use crate::user::{Extra, UserInfo};

/// The authenticator's name (kube-apiserver's).
pub const NAME: &str = "requestheader";

/// The headers kube-apiserver's aggregator sends and kubeadm configures: always removed from
/// requests, whatever the configuration.
pub const STANDARD_USERNAME_HEADER: &str = "X-Remote-User";
/// See [`STANDARD_USERNAME_HEADER`].
pub const STANDARD_UID_HEADER: &str = "X-Remote-Uid";
/// See [`STANDARD_USERNAME_HEADER`].
pub const STANDARD_GROUP_HEADER: &str = "X-Remote-Group";
/// See [`STANDARD_USERNAME_HEADER`].
pub const STANDARD_EXTRA_PREFIX: &str = "X-Remote-Extra-";

/// Which headers carry the user (`--requestheader-username-headers`, `-uid-headers`,
/// `-group-headers`, `-extra-headers-prefix`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderNames {
    /// Headers naming the user, tried in order.
    pub username: Vec<String>,
    /// Headers naming the uid, tried in order.
    pub uid: Vec<String>,
    /// Headers naming groups, all read.
    pub group: Vec<String>,
    /// Prefixes of headers carrying extra values.
    pub extra_prefixes: Vec<String>,
}

impl HeaderNames {
    /// The names kubeadm configures (and kauth's embedded set-up uses): `X-Remote-User`,
    /// `X-Remote-Group`, `X-Remote-Extra-`; no uid header (kubeadm 1.32 sets none).
    pub fn kubeadm() -> Self {
        HeaderNames {
            username: vec![STANDARD_USERNAME_HEADER.into()],
            uid: Vec::new(),
            group: vec![STANDARD_GROUP_HEADER.into()],
            extra_prefixes: vec![STANDARD_EXTRA_PREFIX.into()],
        }
    }

    /// The standard names, which are removed from every request.
    pub fn standard() -> Self {
        HeaderNames { uid: vec![STANDARD_UID_HEADER.into()], ..HeaderNames::kubeadm() }
    }

    /// Checks the names as kube-apiserver does: none empty or blank; uid headers, if any, must
    /// include `X-Remote-Uid`. Returns the warnings kube-apiserver logs for the other lists
    /// without the standard name ("API aggregation will not work").
    pub fn validate(&self) -> Result<Vec<String>, String> {
        let lists: [(&str, &[String]); 4] = [
            ("requestheader-username-headers", &self.username),
            ("requestheader-uid-headers", &self.uid),
            ("requestheader-group-headers", &self.group),
            ("requestheader-extra-headers-prefix", &self.extra_prefixes),
        ];
        for (flag, names) in lists {
            if names.iter().any(|n| n.trim().is_empty()) {
                return Err(format!("empty value in {flag:?}"));
            }
        }
        let has = |names: &[String], standard: &str| names.iter().any(|n| n.eq_ignore_ascii_case(standard));
        if !self.uid.is_empty() && !has(&self.uid, STANDARD_UID_HEADER) {
            return Err("--requestheader-uid-headers is set without specifying the standard X-Remote-Uid header - API aggregation will not work".into());
        }
        let mut warnings = Vec::new();
        for (flag, names, standard, what) in [
            ("username-headers", &self.username, STANDARD_USERNAME_HEADER, "header"),
            ("group-headers", &self.group, STANDARD_GROUP_HEADER, "header"),
            ("extra-headers-prefix", &self.extra_prefixes, STANDARD_EXTRA_PREFIX, "header prefix"),
        ] {
            if !names.is_empty() && !has(names, standard) {
                warnings.push(format!(
                    "--requestheader-{flag} is set without specifying the standard {standard} {what} - API aggregation will not work"
                ));
            }
        }
        Ok(warnings)
    }
}

/// The first non-empty value of the first of `names` that has one.
fn first_value<'h>(headers: &'h http::HeaderMap, names: &[String]) -> Option<&'h str> {
    names.iter().find_map(|n| {
        // kube-apiserver reads a header's first value only.
        let v = headers.get(n.as_str())?.to_str().ok()?;
        (!v.is_empty()).then_some(v)
    })
}

/// An extra key as kube-apiserver reads it: lower-cased, then percent-decoded; kept as it is
/// when it does not decode (an invalid escape, or bytes that are not UTF-8).
pub fn extra_key(encoded: &str) -> String {
    let lower = encoded.to_ascii_lowercase();
    let valid_escapes = lower
        .match_indices('%')
        .all(|(i, _)| lower.as_bytes().get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)));
    if !valid_escapes {
        return lower;
    }
    match percent_decode_str(&lower).decode_utf8() {
        Ok(key) => key.into_owned(),
        Err(_) => lower,
    }
}

/// The user the headers name, or `None` when no username header has a value.
pub fn identity(headers: &http::HeaderMap, names: &HeaderNames) -> Option<UserInfo> {
    let name = first_value(headers, &names.username)?.to_owned();
    let uid = first_value(headers, &names.uid).unwrap_or_default().to_owned();
    let mut groups = Vec::new();
    for n in &names.group {
        groups.extend(
            headers
                .get_all(n.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        );
    }
    let mut extra = Extra::default();
    for prefix in &names.extra_prefixes {
        for (header, value) in headers {
            let Some(rest) = strip_prefix_ignore_case(header.as_str(), prefix) else { continue };
            if let Ok(v) = value.to_str() {
                extra.push(extra_key(rest), v);
            }
        }
    }
    Some(UserInfo { name, uid, groups, extra })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Removes the headers `names` reads (and every header with one of its extra prefixes), in any
/// case and with `_` in place of any `-`: CGI, WSGI, PHP and some proxies read `X_Remote_User` as
/// `X-Remote-User`, so a forged underscore spelling must not reach what is behind.
pub fn clear(headers: &mut http::HeaderMap, names: &HeaderNames) {
    let read = |k: &http::HeaderName| {
        let k = k.as_str();
        names.username.iter().chain(&names.uid).chain(&names.group).any(|n| same_header(k, n))
            || names.extra_prefixes.iter().any(|p| header_has_prefix(k, p))
    };
    // Most requests carry none: then nothing is collected.
    if !headers.keys().any(read) {
        return;
    }
    let doomed: Vec<http::HeaderName> = headers.keys().filter(|k| read(k)).cloned().collect();
    for k in doomed {
        headers.remove(k);
    }
}

/// Whether two header names are the same once case is ignored and `_` is read as `-`, as
/// CGI-style upstreams read them.
pub fn same_header(a: &str, b: &str) -> bool {
    let fold = |c: &u8| if *c == b'_' { b'-' } else { c.to_ascii_lowercase() };
    a.len() == b.len() && a.as_bytes().iter().map(fold).eq(b.as_bytes().iter().map(fold))
}

/// Whether header name `name` starts with `prefix`, read as [`same_header`] reads names.
pub fn header_has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len()).is_some_and(|head| same_header(head, prefix))
}

/// The subjects of the certificates both PEM bundles hold: the trap of a front-proxy CA reused as
/// the client CA (every client certificate is then tried as a front proxy's first, and one whose
/// CN is allowed — any, when no names are — may name any user in a header).
pub fn shared_certificates(client_ca: &[u8], request_header_ca: &[u8]) -> Vec<String> {
    use crate::pki::pem::{self, SectionKind};
    let ders = |data: &[u8]| -> Vec<Vec<u8>> {
        pem::sections("ca", data)
            .map(|s| s.into_iter().filter(|s| s.kind == SectionKind::Certificate).map(|s| s.der).collect())
            .unwrap_or_default()
    };
    let client = ders(client_ca);
    ders(request_header_ca)
        .into_iter()
        .filter(|d| client.contains(d))
        .map(|d| {
            x509_parser::parse_x509_certificate(&d)
                .map(|(_, c)| c.subject().to_string())
                .unwrap_or_else(|_| "an unreadable certificate".into())
        })
        .collect()
}

/// Authenticates requests by a front proxy's certificate and the headers it sets.
#[derive(Debug, Clone)]
pub struct RequestHeaderAuthenticator {
    ca: X509Authenticator,
    allowed_names: Vec<String>,
    names: HeaderNames,
}

impl RequestHeaderAuthenticator {
    /// Trusting proxies whose certificates `ca` verifies and whose CN is one of `allowed_names`
    /// (any CN when empty), reading the user from the headers `names`.
    pub fn new(ca: X509Authenticator, allowed_names: Vec<String>, names: HeaderNames) -> Self {
        RequestHeaderAuthenticator { ca, allowed_names, names }
    }

    /// The headers it reads.
    pub fn names(&self) -> &HeaderNames {
        &self.names
    }

    /// Judges the proxy's certificate chain at `now`: its CN when it may vouch for users.
    pub fn verify_proxy(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
    ) -> Result<String, RequestHeaderRejection> {
        let verified = self.ca.verify_chain(chain, now).map_err(RequestHeaderRejection::Certificate)?;
        if !self.allowed_names.is_empty() && !self.allowed_names.contains(&verified.common_name) {
            return Err(RequestHeaderRejection::NameNotAllowed {
                certificate: verified.name,
                common_name: verified.common_name,
                allowed: self.allowed_names.clone(),
            });
        }
        Ok(verified.common_name)
    }
}

impl RequestAuthenticator for RequestHeaderAuthenticator {
    fn name(&self) -> &'static str {
        NAME
    }

    /// `Ok(None)` without a client certificate.
    fn authenticate(&self, request: &Credentials<'_>, now: OffsetDateTime) -> Result<Option<Authenticated>, Rejection> {
        let Some(chain) = request.chain() else { return Ok(None) };
        let proxy = self.verify_proxy(chain, now).map_err(Rejection::RequestHeader)?;
        match identity(request.headers, &self.names) {
            Some(user) => Ok(Some(Authenticated::new(NAME, user))),
            None => Err(Rejection::RequestHeader(RequestHeaderRejection::NoUser {
                proxy,
                headers: self.names.username.clone(),
            })),
        }
    }
}

#[cfg(test)]
mod tests;
