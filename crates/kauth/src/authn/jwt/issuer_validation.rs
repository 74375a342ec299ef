//! The issuer part of kube-apiserver's validation: `url`, `discoveryURL` (https, no user info,
//! query or fragment; not a service-account issuer), `audiences` and `audienceMatchPolicy`,
//! `certificateAuthority`.

use std::collections::HashSet;

use super::config::Issuer;
use super::field_error::FieldError;

pub(super) fn validate_issuer(issuer: &Issuer, disallowed: &[String], path: &str, errors: &mut Vec<FieldError>) {
    let url_path = format!("{path}.url");
    if issuer.url.is_empty() {
        errors.push(FieldError::required(url_path, "URL is required"));
    } else {
        validate_url(&issuer.url, disallowed, &url_path, errors);
    }
    let discovery = issuer.discovery_url();
    if !discovery.is_empty() {
        let dpath = format!("{path}.discoveryURL");
        if !issuer.url.is_empty() && issuer.url.trim_end_matches('/') == discovery.trim_end_matches('/') {
            errors.push(FieldError::invalid(&dpath, discovery, "discoveryURL must be different from URL"));
        }
        validate_url(discovery, &[], &dpath, errors);
    }
    validate_audiences(issuer, path, errors);
    if !issuer.certificate_authority.is_empty() {
        if let Err(e) = parse_ca(issuer.certificate_authority.as_bytes()) {
            errors.push(FieldError::invalid_omitted(format!("{path}.certificateAuthority"), e));
        }
    }
}

/// The CA bundle as Go's `cert.NewPoolFromBytes` reads it: PEM certificates, at least one.
pub fn parse_ca(pem: &[u8]) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let mut certs = Vec::new();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("error reading certificates: {e}"))?;
        x509_parser::parse_x509_certificate(&cert).map_err(|e| format!("x509: malformed certificate: {e}"))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err("data does not contain any valid RSA or ECDSA certificates".into());
    }
    Ok(certs)
}

fn validate_url(raw: &str, disallowed: &[String], path: &str, errors: &mut Vec<FieldError>) {
    if disallowed.iter().any(|d| d == raw) {
        let mut list = disallowed.to_vec();
        list.sort();
        list.dedup();
        errors.push(FieldError::invalid(
            path,
            raw,
            format!("URL must not overlap with disallowed issuers: [{}]", list.join(" ")),
        ));
    }
    let parsed = match url::Url::parse(raw) {
        Ok(u) => Some(u),
        // Go parses a relative reference fine; it then has no scheme.
        Err(url::ParseError::RelativeUrlWithoutBase) => None,
        Err(e) => {
            errors.push(FieldError::invalid(path, raw, format!("parse {raw:?}: {e}")));
            return;
        }
    };
    if parsed.as_ref().is_none_or(|u| u.scheme() != "https") {
        errors.push(FieldError::invalid(path, raw, "URL scheme must be https"));
    }
    let Some(u) = parsed else { return };
    if !u.username().is_empty()
        || u.password().is_some()
        || raw.split_once("://").is_some_and(|(_, rest)| {
            rest.split(['/', '?', '#']).next().is_some_and(|authority| authority.contains('@'))
        })
    {
        errors.push(FieldError::invalid(path, raw, "URL must not contain a username or password"));
    }
    if u.query().is_some_and(|q| !q.is_empty()) {
        errors.push(FieldError::invalid(path, raw, "URL must not contain a query"));
    }
    if u.fragment().is_some_and(|f| !f.is_empty()) {
        errors.push(FieldError::invalid(path, raw, "URL must not contain a fragment"));
    }
}

fn validate_audiences(issuer: &Issuer, path: &str, errors: &mut Vec<FieldError>) {
    let apath = format!("{path}.audiences");
    let ppath = format!("{path}.audienceMatchPolicy");
    let audiences = &issuer.audiences;
    if audiences.is_empty() {
        errors.push(FieldError::required(&apath, format!("at least one {apath} is required")));
        return;
    }
    let mut seen = HashSet::new();
    for (i, audience) in audiences.iter().enumerate() {
        let p = format!("{apath}[{i}]");
        if audience.is_empty() {
            errors.push(FieldError::required(&p, "audience can't be empty"));
        }
        if !seen.insert(audience.as_str()) {
            errors.push(FieldError::duplicate(&p, audience));
        }
    }
    let policy = issuer.audience_match_policy.as_str();
    if audiences.len() > 1 && policy != "MatchAny" {
        errors.push(FieldError::invalid(&ppath, policy, "audienceMatchPolicy must be MatchAny for multiple audiences"));
    }
    if audiences.len() == 1 && !policy.is_empty() && policy != "MatchAny" {
        errors.push(FieldError::invalid(
            &ppath,
            policy,
            "audienceMatchPolicy must be empty or MatchAny for single audience",
        ));
    }
}
