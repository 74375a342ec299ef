//! kube-apiserver's texts, as seen from a kube-apiserver 1.32 answering TokenReviews and in its
//! sources, for each kind of rejection.

use super::*;
use crate::authn::rejection::{Authorities, CaRole, CertificateName};

fn sa(rejection: TokenRejection) -> Rejection {
    Rejection::Token { authenticator: "service-account", rejection }
}

fn name() -> CertificateName {
    CertificateName {
        subject: "CN=alice".into(),
        serial: "01".into(),
        issuer: "CN=front-proxy-ca".into(),
        identifier: "SN=1, SKID=AB:CD, AKID=EF:01".into(),
    }
}

#[test]
fn bearer_tokens_say_invalid_bearer_token_then_the_service_account_error() {
    let expired = sa(TokenRejection::Expired { exp: 0, now: 7_200, leeway: 60 });
    assert_eq!(expired.kubernetes_text().unwrap(), "[invalid bearer token, service account token has expired]");
    let garbage = sa(TokenRejection::Malformed { segment: None, problem: "x".into() });
    assert_eq!(garbage.kubernetes_text().unwrap(), "invalid bearer token", "not a JWT: not the authenticator's");
    assert_eq!(Rejection::NotRecognised.kubernetes_text().unwrap(), "invalid bearer token");
    let audience = sa(TokenRejection::NoAudienceInCommon {
        token: vec!["wrong-audience".into()],
        accepted: vec!["https://kubernetes.default.svc.cluster.local".into()],
    });
    assert_eq!(
        audience.kubernetes_text().unwrap(),
        r#"[invalid bearer token, token audiences ["wrong-audience"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]]"#
    );
    let missing = sa(TokenRejection::ServiceAccountNotFound { namespace: "default".into(), name: "ghost".into() });
    assert_eq!(missing.kubernetes_text().unwrap(), r#"[invalid bearer token, serviceaccounts "ghost" not found]"#);
    let kid = sa(TokenRejection::UnknownKeyId { kid: "k".into(), known: vec![] });
    assert_eq!(kid.kubernetes_text().unwrap(), "[invalid bearer token, invalid signature, no keys found]");
    let recreated = sa(TokenRejection::ServiceAccountRecreated {
        namespace: "default".into(),
        name: "tr".into(),
        token_uid: "old".into(),
        current_uid: "new".into(),
    });
    assert_eq!(
        recreated.kubernetes_text().unwrap(),
        "[invalid bearer token, service account UID (new) does not match claim (old)]"
    );
    let legacy = sa(TokenRejection::LegacySecretNotFound { secret: "default/t".into() });
    assert_eq!(legacy.kubernetes_text().unwrap(), "[invalid bearer token, Token has been invalidated]");
    let bad = sa(TokenRejection::BadSignature { alg: "RS256".into(), tried: vec![] });
    assert_eq!(
        bad.kubernetes_text().unwrap(),
        "[invalid bearer token, square/go-jose: error in cryptographic primitive]"
    );
}

#[test]
fn several_failures_are_one_flat_list_without_repeats() {
    let bad = || sa(TokenRejection::BadSignature { alg: "RS256".into(), tried: vec![] });
    let union = Rejection::of_all(vec![bad(), bad()]);
    assert_eq!(
        union.kubernetes_text().unwrap(),
        "[invalid bearer token, square/go-jose: error in cryptographic primitive]"
    );
    let cert = Rejection::Certificate(CertificateRejection::UnknownAuthority {
        certificate: name(),
        authorities: std::sync::Arc::new(Authorities { role: CaRole::ClientCa, subjects: vec![] }),
        cause: "UnknownIssuer".into(),
    });
    let both = Rejection::of_all(vec![cert, sa(TokenRejection::Expired { exp: 0, now: 7_200, leeway: 60 })]);
    assert_eq!(
        both.kubernetes_text().unwrap(),
        "[verifying certificate SN=1, SKID=AB:CD, AKID=EF:01 failed: x509: certificate signed by unknown authority, invalid bearer token, service account token has expired]"
    );
}

#[test]
fn certificates_say_what_go_says() {
    let expired = Rejection::Certificate(CertificateRejection::Expired {
        certificate: name(),
        not_after: 1_796_456_488,
        now: 1_796_460_088,
    });
    assert_eq!(
        expired.kubernetes_text().unwrap(),
        "verifying certificate SN=1, SKID=AB:CD, AKID=EF:01 failed: x509: certificate has expired or is not yet valid: current time 2026-12-05T08:41:28Z is after 2026-12-05T07:41:28Z"
    );
    let usage = Rejection::Certificate(CertificateRejection::WrongUsage {
        certificate: name(),
        required: "client authentication".into(),
        presented: vec![],
    });
    assert!(usage
        .kubernetes_text()
        .unwrap()
        .ends_with("failed: x509: certificate specifies an incompatible key usage"));
    let proxy = Rejection::RequestHeader(RequestHeaderRejection::NameNotAllowed {
        certificate: name(),
        common_name: "kubernetes-admin".into(),
        allowed: vec!["front-proxy-client".into()],
    });
    assert_eq!(proxy.kubernetes_text().unwrap(), "x509: subject with cn=kubernetes-admin is not in the allowed list");
    let no_user = Rejection::RequestHeader(RequestHeaderRejection::NoUser { proxy: "p".into(), headers: vec![] });
    assert_eq!(no_user.kubernetes_text(), None, "kube-apiserver passes such a request on silently");
}

#[test]
fn the_explained_form_puts_kube_apiservers_text_first() {
    let expired = sa(TokenRejection::Expired { exp: 0, now: 7_200, leeway: 60 });
    let text = expired.explained();
    assert!(
        text.starts_with(
            "[invalid bearer token, service account token has expired]; kauth: service-account: token expired 2h ago"
        ),
        "{text}"
    );
    assert!(Rejection::AnonymousDisabled.explained().starts_with("Unauthorized; kauth: anonymous: "));
}

#[test]
fn jwt_issuers_add_oidc_gos_error_and_nothing_for_a_foreign_issuer() {
    use crate::authn::jwt::JwtRejection;
    let expired = sa(TokenRejection::Expired { exp: 0, now: 7_200, leeway: 60 });
    let audience = Rejection::Jwt(JwtRejection::AudienceMismatch {
        issuer: "https://idp.example".into(),
        token: vec!["x".into()],
        accepted: vec!["kubernetes".into()],
    });
    let foreign = Rejection::Jwt(JwtRejection::IssuerNotConfigured {
        iss: "https://elsewhere.example".into(),
        configured: vec!["https://idp.example".into()],
    });
    let all = Rejection::of_all(vec![expired, audience.clone(), foreign.clone()]);
    assert_eq!(
        all.kubernetes_text().unwrap(),
        "[invalid bearer token, service account token has expired, oidc: verify token: oidc: expected audience \"kubernetes\" got [\"x\"]]"
    );
    assert_eq!(audience.code(), "jwt_audience_mismatch");
    assert_eq!(audience.authenticator(), "jwt");
    // kube-apiserver says nothing of a token from an issuer it does not know; kauth names them.
    assert_eq!(foreign.kubernetes_text().unwrap(), "invalid bearer token");
    assert!(foreign
        .explained()
        .ends_with("kauth: jwt: the token's issuer \"https://elsewhere.example\" is not configured (configured: [\"https://idp.example\"])"));
}
