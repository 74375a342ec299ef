//! The rules for a user's extra key in a claim mapping: a domain-prefixed path
//! (`example.com/tenant`, Kubernetes' `IsDomainPrefixedPath`), and not under Kubernetes' own
//! domains.

use super::field_error::FieldError;

const DNS1123_SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const HTTP_PATH_FMT: &str = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+";

fn is_label(l: &str) -> bool {
    let b = l.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

fn is_dns1123_subdomain(host: &str) -> bool {
    host.split('.').all(is_label)
}

fn is_http_path(path: &str) -> bool {
    !path.is_empty() && path.bytes().all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c))
}

/// Kubernetes' `IsDomainPrefixedPath` on `key` at `path`.
pub fn domain_prefixed_path(path: &str, key: &str) -> Vec<FieldError> {
    if key.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let Some((host, rest)) = key.split_once('/').filter(|(h, r)| !h.is_empty() && !r.is_empty()) else {
        return vec![FieldError::invalid(path, key, "must be a domain-prefixed path (such as \"acme.io/foo\")")];
    };
    let mut errors = Vec::new();
    if host.len() > 253 {
        errors.push(FieldError::invalid(path, host, "must be no more than 253 characters"));
    }
    if !is_dns1123_subdomain(host) {
        errors.push(FieldError::invalid(
            path,
            host,
            format!("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{DNS1123_SUBDOMAIN_FMT}')"),
        ));
    }
    if !is_http_path(rest) {
        errors.push(FieldError::invalid(
            path,
            rest,
            format!("Invalid path (regex used for validation is '{HTTP_PATH_FMT}')"),
        ));
    }
    errors
}

/// Whether `key`'s domain is `kubernetes.io`, `k8s.io` or one of their subdomains.
pub fn is_kubernetes_domain(key: &str) -> bool {
    let Some((domain, _)) = key.split_once('/') else { return false };
    domain == "kubernetes.io" || domain.ends_with(".kubernetes.io") || domain == "k8s.io" || domain.ends_with(".k8s.io")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_kubernetes_judges_them() {
        assert!(domain_prefixed_path("k", "example.com/tenant").is_empty());
        assert_eq!(domain_prefixed_path("k", "")[0].to_string(), "k: Required value");
        assert_eq!(
            domain_prefixed_path("k", "tenant")[0].to_string(),
            "k: Invalid value: \"tenant\": must be a domain-prefixed path (such as \"acme.io/foo\")"
        );
        assert!(domain_prefixed_path("k", "Example.com/x")[0].to_string().contains("a lowercase RFC 1123 subdomain"));
        assert!(domain_prefixed_path("k", "example.com/a b")[0].to_string().contains("Invalid path"));
        assert!(is_kubernetes_domain("authentication.kubernetes.io/x"));
        assert!(is_kubernetes_domain("k8s.io/x"));
        assert!(!is_kubernetes_domain("example.com/x"));
    }
}
