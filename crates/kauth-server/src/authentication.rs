//! Who is asking: the request authentication chain (client certificate, then bearer tokens,
//! then anonymous when no credential was presented) and impersonation.
//!
//! A credential that is presented and fails is never replaced by anonymous: an `Authorization`
//! header that is not a well-formed bearer token is a failure too (Kubernetes ignores some such
//! headers and serves the request anonymously; kauth refuses to), and so is a client certificate
//! that does not verify or names no user (Kubernetes ignores a certificate without a CN).
//! As in kube-apiserver's authenticator union, a request whose certificate fails but whose
//! bearer token is valid is the token's user; when both fail, both reasons are reported.

use http::HeaderMap;
use kauth::authn::union::Outcome;
use kauth::authz::{Attributes, Decision, Target};
use kauth::user::{split_service_account_username, UserInfo, AUTHENTICATED_GROUP};
pub use kauth::user::{ANONYMOUS_USER, UNAUTHENTICATED_GROUP};

use crate::api::status::ApiError;
use crate::state::State;

/// An authenticated request's user.
#[derive(Debug, Clone)]
pub struct RequestUser {
    /// The user the request acts as.
    pub user: UserInfo,
    /// Which authenticator said so (`x509`, `token-file`, `service-account`, `anonymous`).
    pub authenticator: &'static str,
    /// Audit annotations from authentication.
    pub annotations: Vec<(&'static str, String)>,
    /// The real user, when impersonating.
    pub impersonated_by: Option<UserInfo>,
}

/// Why authentication failed (for logs, audit and metrics; the client sees only 401).
#[derive(Debug, Clone)]
pub struct Unauthenticated {
    /// The authenticator, or `bearer` for a malformed header.
    pub authenticator: &'static str,
    /// A stable code.
    pub code: &'static str,
    /// The precise reason.
    pub reason: String,
}

/// Adds `system:authenticated` (the chain's group adder).
pub fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    if !user.groups.iter().any(|g| g == AUTHENTICATED_GROUP) {
        user.groups.push(AUTHENTICATED_GROUP.to_owned());
    }
    user
}

/// The bearer token of an `Authorization` header, or why the header is not one.
pub fn bearer_token(value: &[u8]) -> Result<&str, &'static str> {
    let s = std::str::from_utf8(value).map_err(|_| "authorization header is not UTF-8")?.trim();
    let mut parts = s.splitn(3, ' ');
    let scheme = parts.next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("authorization header is not a bearer token");
    }
    let token = parts.next().unwrap_or_default();
    if parts.next().is_some() {
        return Err("bearer token contains a space");
    }
    if token.is_empty() {
        return Err("bearer token is empty");
    }
    Ok(token)
}

/// The user a client certificate names: CN is the user, each O a group.
pub fn certificate_user(der: &[u8]) -> Result<UserInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| format!("unreadable certificate: {e}"))?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .filter(|cn| !cn.is_empty())
        .ok_or_else(|| format!("certificate {subject} has no common name: it names no user"))?
        .to_owned();
    let groups = subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_owned)).collect();
    Ok(UserInfo { name, groups, ..UserInfo::default() })
}

/// A stable code for a certificate rustls refused.
fn certificate_code(e: &rustls::Error) -> &'static str {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature | C::UnhandledCriticalExtension => "certificate_unknown_authority",
            C::Expired | C::ExpiredContext { .. } => "certificate_expired",
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate_not_yet_valid",
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => "certificate_wrong_usage",
            C::Revoked => "certificate_revoked",
            _ => "certificate_invalid",
        },
        _ => "certificate_invalid",
    }
}

/// Verifies a presented chain against the client CA and reads its user.
fn x509_user(state: &State, chain: &[rustls_pki_types::CertificateDer<'static>]) -> Result<UserInfo, Unauthenticated> {
    let fail = |code, reason| Unauthenticated { authenticator: "x509", code, reason };
    let leaf = chain.first().ok_or_else(|| fail("certificate_invalid", "empty certificate chain".into()))?;
    let subject = || {
        x509_parser::parse_x509_certificate(leaf).map_or_else(
            |_| "an unreadable certificate".to_owned(),
            |(_, c)| {
                format!(
                    "{:?} (serial {}, issuer {:?})",
                    c.subject().to_string(),
                    c.raw_serial_as_string(),
                    c.issuer().to_string()
                )
            },
        )
    };
    let Some(client_certs) = &state.client_certs else {
        return Err(fail("certificate_not_accepted", format!("{}: no client CA is configured", subject())));
    };
    client_certs
        .verify(chain, state.now())
        .map_err(|e| fail(certificate_code(&e), format!("verifying certificate {} failed: {e}", subject())))?;
    certificate_user(leaf).map_err(|reason| fail("certificate_no_user", reason))
}

/// Authenticates a request from its client certificate chain (judged here against the client
/// CA) and its headers.
pub fn authenticate(
    state: &State,
    peer: Option<&[rustls_pki_types::CertificateDer<'static>]>,
    headers: &HeaderMap,
) -> Result<RequestUser, Unauthenticated> {
    let mut certificate_failure = None;
    if let Some(chain) = peer {
        match x509_user(state, chain) {
            Ok(user) => {
                return Ok(RequestUser {
                    user: with_authenticated_group(user),
                    authenticator: "x509",
                    annotations: Vec::new(),
                    impersonated_by: None,
                })
            }
            Err(why) => certificate_failure = Some(why),
        }
    }
    let token = authenticate_bearer(state, headers);
    match (token, certificate_failure) {
        (Some(Ok(user)), _) => Ok(user),
        (Some(Err(token)), Some(cert)) => {
            Err(Unauthenticated { reason: format!("{}; {}", cert.reason, token.reason), ..cert })
        }
        (Some(Err(token)), None) => Err(token),
        (None, Some(cert)) => Err(cert),
        (None, None) => anonymous(state),
    }
}

/// The user of the request's bearer token, if it carries an `Authorization` header.
fn authenticate_bearer(state: &State, headers: &HeaderMap) -> Option<Result<RequestUser, Unauthenticated>> {
    let value = headers.get(http::header::AUTHORIZATION)?;
    let token = match bearer_token(value.as_bytes()) {
        Ok(t) => t,
        Err(reason) => {
            return Some(Err(Unauthenticated {
                authenticator: "bearer",
                code: "malformed_header",
                reason: reason.into(),
            }))
        }
    };
    Some(match state.tokens.authenticate(token, None, state.now()) {
        Outcome::Authenticated { by, response } => Ok(RequestUser {
            user: with_authenticated_group(response.user),
            authenticator: by,
            annotations: response.annotations,
            impersonated_by: None,
        }),
        Outcome::NotRecognised => Err(Unauthenticated {
            authenticator: "bearer",
            code: "token_not_recognised",
            reason: "no authenticator recognised the token (not a static token, not a JWT from an accepted issuer)"
                .into(),
        }),
        Outcome::Rejected(failures) => {
            let first = &failures[0];
            Err(Unauthenticated {
                authenticator: first.authenticator,
                code: first.code,
                reason: rejection_reason(state, &failures),
            })
        }
    })
}

/// Every authenticator's reason, one after the other; a token from the future also names the
/// replica that likely issued it, with its measured clock skew.
pub fn rejection_reason(state: &State, failures: &[kauth::authn::Failure]) -> String {
    let mut reason = failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let ahead = failures.iter().find_map(|f| f.clock_skew_at_least);
    if let (Some(ahead), Some(replicas)) = (ahead, &state.replicas) {
        reason.push_str("; ");
        reason.push_str(&replicas.attribute(ahead, state.now()));
    }
    reason
}

/// `system:anonymous`, when anonymous requests are allowed.
fn anonymous(state: &State) -> Result<RequestUser, Unauthenticated> {
    if state.config.anonymous_auth {
        return Ok(RequestUser {
            user: UserInfo {
                name: ANONYMOUS_USER.into(),
                groups: vec![UNAUTHENTICATED_GROUP.into()],
                ..UserInfo::default()
            },
            authenticator: "anonymous",
            annotations: Vec::new(),
            impersonated_by: None,
        });
    }
    Err(Unauthenticated {
        authenticator: "anonymous",
        code: "anonymous_disabled",
        reason: "no credential presented and anonymous access is disabled".into(),
    })
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Applies `Impersonate-*` headers: each impersonated attribute must be allowed by the
/// `impersonate` verb for the real user. Returns the request unchanged without such headers.
pub fn impersonate(state: &State, real: RequestUser, headers: &HeaderMap) -> Result<RequestUser, ApiError> {
    let user_header = headers.get("impersonate-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let groups: Vec<String> =
        headers.get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    let uid = headers.get("impersonate-uid").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut extra = kauth::user::Extra::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("impersonate-extra-") {
            let key = percent_decode(key).to_lowercase();
            if let Ok(v) = value.to_str() {
                extra.push(key, v);
            }
        }
    }
    let Some(username) = user_header else {
        if !groups.is_empty() || uid.is_some() || !extra.is_empty() {
            return Err(ApiError::internal(
                "requested impersonation of groups, uid or extra without impersonating a user",
            ));
        }
        return Ok(real);
    };
    let check = |resource: &str, group: &str, namespace: &str, name: &str, subresource: &str| -> Result<(), ApiError> {
        let attrs = Attributes {
            user: real.user.clone(),
            verb: "impersonate".into(),
            target: Target::Resource {
                namespace: namespace.into(),
                api_group: group.into(),
                api_version: String::new(),
                resource: resource.into(),
                subresource: subresource.into(),
                name: name.into(),
            },
        };
        match state.authorize(&attrs) {
            Decision::Allow(_) => Ok(()),
            d => {
                let msg = attrs.forbidden_message();
                let msg = if d.reason().is_empty() { msg } else { format!("{msg}: {}", d.reason()) };
                Err(ApiError::forbidden(group, resource, name, &msg))
            }
        }
    };
    if let Some((ns, sa)) = split_service_account_username(&username) {
        check("serviceaccounts", "", ns, sa, "")?;
    } else {
        check("users", "", "", &username, "")?;
    }
    for g in &groups {
        check("groups", "", "", g, "")?;
    }
    for (k, values) in extra.iter() {
        for v in values {
            check("userextras", "authentication.k8s.io", "", v, k)?;
        }
    }
    if let Some(u) = &uid {
        check("uids", "authentication.k8s.io", "", u, "")?;
    }
    let final_groups = kauth::user::impersonated_groups(&username, &groups);
    Ok(RequestUser {
        user: UserInfo { name: username, uid: uid.unwrap_or_default(), groups: final_groups, extra },
        authenticator: real.authenticator,
        annotations: real.annotations,
        impersonated_by: Some(real.user),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer_token(b"Bearer abc"), Ok("abc"));
        assert_eq!(bearer_token(b"bearer abc "), Ok("abc"));
        assert!(bearer_token(b"Basic abc").is_err());
        assert!(bearer_token(b"Bearer ").is_err());
        assert!(bearer_token(b"Bearer a b").is_err());
        assert!(bearer_token(&[0xff, 0xfe]).is_err());
        assert_eq!(percent_decode("scopes%2Fa"), "scopes/a");
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
