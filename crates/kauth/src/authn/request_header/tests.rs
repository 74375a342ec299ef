//! The request-header authenticator against certificates kauth's own PKI code issues.

use http::{HeaderMap, HeaderValue};

use super::*;
use crate::authn::rejection::CaRole;
use crate::authn::x509::tests::{leaf, new_ca, now, Ca};
use crate::authn::CertificateRejection;
use crate::pki::spec::Usage;

fn front_proxy(ca: &Ca, allowed: &[&str]) -> RequestHeaderAuthenticator {
    let verifier = X509Authenticator::new("front-proxy-ca.crt", [CertificateDer::from(ca.cert.der.clone())])
        .unwrap()
        .in_role(CaRole::RequestHeaderCa);
    RequestHeaderAuthenticator::new(verifier, allowed.iter().map(|s| (*s).to_owned()).collect(), HeaderNames::kubeadm())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn a_trusted_proxy_names_user_uid_groups_and_extras() {
    let ca = new_ca("front-proxy-ca");
    let proxy = leaf(&ca, "front-proxy-client", &[], Usage::CLIENT);
    let h = headers(&[
        ("x-remote-user", "alice"),
        ("X-Remote-Group", "dev"),
        ("x-remote-group", ""),
        ("X-REMOTE-GROUP", "ops"),
        ("X-Remote-Extra-Scopes", "read"),
        ("x-remote-extra-scopes", "write"),
        ("X-Remote-Extra-Example.com%2fTeam", "blue"),
        ("X-Remote-Extra-Bad%zzKey", "kept"),
    ]);
    let chain = [proxy];
    let a = front_proxy(&ca, &["front-proxy-client"])
        .authenticate(&Credentials::new(&h, Some(&chain)), now())
        .unwrap()
        .unwrap();
    assert_eq!(a.authenticator, "requestheader");
    assert_eq!(a.user.name, "alice");
    assert_eq!(a.user.uid, "", "kubeadm's names read no uid header");
    assert_eq!(a.user.groups, ["dev", "ops"], "every non-empty value of every group header, in order");
    assert_eq!(a.user.extra.get("scopes").unwrap().to_vec(), ["read", "write"]);
    assert_eq!(a.user.extra.get("example.com/team").unwrap().to_vec(), ["blue"]);
    assert_eq!(a.user.extra.get("bad%zzkey").unwrap().to_vec(), ["kept"], "an invalid escape keeps the key");
}

#[test]
fn the_first_username_header_with_a_value_wins_and_the_uid_is_read_when_asked() {
    let names = HeaderNames {
        username: vec!["X-Proxy-User".into(), "X-Remote-User".into()],
        uid: vec!["X-Remote-Uid".into()],
        ..HeaderNames::kubeadm()
    };
    let h =
        headers(&[("x-proxy-user", ""), ("x-remote-user", "bob"), ("x-remote-user", "eve"), ("x-remote-uid", "42")]);
    let user = identity(&h, &names).unwrap();
    assert_eq!((user.name.as_str(), user.uid.as_str()), ("bob", "42"));
    assert_eq!(identity(&headers(&[("x-remote-group", "g")]), &names), None);
}

#[test]
fn a_proxy_whose_name_is_not_allowed_is_named_with_the_allowed_list() {
    let ca = new_ca("front-proxy-ca");
    let chain = [leaf(&ca, "kubernetes-admin", &["system:masters"], Usage::CLIENT)];
    let h = headers(&[("x-remote-user", "mallory")]);
    let got = front_proxy(&ca, &["front-proxy-client"]).authenticate(&Credentials::new(&h, Some(&chain)), now());
    let Err(Rejection::RequestHeader(RequestHeaderRejection::NameNotAllowed { common_name, allowed, .. })) = &got
    else {
        panic!("{got:?}")
    };
    assert_eq!(
        (common_name.as_str(), allowed.as_slice()),
        ("kubernetes-admin", &["front-proxy-client".to_owned()][..])
    );
    let text = got.unwrap_err().to_string();
    assert!(text.contains("CN \"kubernetes-admin\" is not among the allowed names [\"front-proxy-client\"]"), "{text}");
    // Any CN is allowed when the list is empty.
    assert!(front_proxy(&ca, &[]).authenticate(&Credentials::new(&h, Some(&chain)), now()).unwrap().is_some());
}

#[test]
fn a_trusted_proxy_without_a_user_header_is_explained() {
    let ca = new_ca("front-proxy-ca");
    let chain = [leaf(&ca, "front-proxy-client", &[], Usage::CLIENT)];
    let h = headers(&[("x-remote-group", "dev")]);
    let got = front_proxy(&ca, &[]).authenticate(&Credentials::new(&h, Some(&chain)), now());
    assert_eq!(
        got,
        Err(Rejection::RequestHeader(RequestHeaderRejection::NoUser {
            proxy: "front-proxy-client".into(),
            headers: vec!["X-Remote-User".into()],
        }))
    );
}

#[test]
fn an_ordinary_client_certificate_is_not_a_front_proxy_certificate() {
    let front = new_ca("front-proxy-ca");
    let client = new_ca("kubernetes");
    let chain = [leaf(&client, "kubernetes-admin", &["system:masters"], Usage::CLIENT)];
    let h = headers(&[("x-remote-user", "alice")]);
    let got = front_proxy(&front, &[]).authenticate(&Credentials::new(&h, Some(&chain)), now());
    let Err(Rejection::RequestHeader(RequestHeaderRejection::Certificate(CertificateRejection::UnknownAuthority {
        authorities,
        ..
    }))) = &got
    else {
        panic!("{got:?}")
    };
    assert_eq!(authorities.role, CaRole::RequestHeaderCa);
    let text = got.unwrap_err().to_string();
    assert!(
        text.contains(
            "signed by \"CN=kubernetes\", not by the request-header (front-proxy) CA (\"CN=front-proxy-ca\")"
        ),
        "{text}"
    );
    // No certificate: not this authenticator's request.
    assert_eq!(front_proxy(&front, &[]).authenticate(&Credentials::new(&h, None), now()), Ok(None));
}

#[test]
fn clearing_removes_every_header_read_whatever_its_case() {
    let mut h = headers(&[
        ("X-Remote-User", "a"),
        ("x-remote-uid", "1"),
        ("X-Remote-Group", "g"),
        ("X-Remote-Extra-Foo", "x"),
        ("x-remote-extra-bar%2fbaz", "y"),
        ("Accept", "application/json"),
    ]);
    clear(&mut h, &HeaderNames::standard());
    assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["accept"]);
}

#[test]
fn clearing_removes_underscore_spellings_that_cgi_reads_as_the_same_header() {
    let mut h = headers(&[
        ("X_Remote_User", "a"),
        ("x-remote_group", "system:masters"),
        ("X_REMOTE_EXTRA_scopes", "all"),
        ("x_remote_uid", "0"),
        ("X-Remote-Userx", "kept: another header"),
        ("x_remote", "kept"),
    ]);
    clear(&mut h, &HeaderNames::standard());
    let mut kept: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
    kept.sort_unstable();
    assert_eq!(kept, ["x-remote-userx", "x_remote"]);
}

#[test]
fn names_are_validated_as_kube_apiserver_does() {
    assert_eq!(HeaderNames::kubeadm().validate(), Ok(vec![]));
    let blank = HeaderNames { group: vec![" ".into()], ..HeaderNames::kubeadm() };
    assert_eq!(blank.validate(), Err("empty value in \"requestheader-group-headers\"".into()));
    let uid = HeaderNames { uid: vec!["X-Uid".into()], ..HeaderNames::kubeadm() };
    assert!(uid.validate().unwrap_err().starts_with("--requestheader-uid-headers is set without"));
    let user = HeaderNames { username: vec!["X-User".into()], ..HeaderNames::kubeadm() };
    assert_eq!(
        user.validate().unwrap(),
        ["--requestheader-username-headers is set without specifying the standard X-Remote-User header - API aggregation will not work"]
    );
}

#[test]
fn extra_keys_are_lower_cased_then_decoded() {
    assert_eq!(extra_key("Example.COM%2FTeam"), "example.com/team");
    assert_eq!(extra_key("a%2"), "a%2");
    assert_eq!(extra_key("%ff"), "%ff", "not UTF-8 once decoded: kept");
    assert_eq!(extra_key("plain"), "plain");
}

/// Go checks a certificate's validity period before it looks for its issuer: an expired (or
/// not yet valid) ordinary client certificate is, to the front-proxy verifier too, expired rather
/// than from an unknown authority; kube-apiserver logs that error twice, bare and with the x509
/// authenticator's prefix.
#[test]
fn an_expired_client_certificate_is_expired_to_both_verifiers_as_in_go() {
    let front = new_ca("front-proxy-ca");
    let client = new_ca("kubernetes");
    let chain = [leaf(&client, "alice", &[], Usage::CLIENT)];
    let h = headers(&[]);
    let x509 = X509Authenticator::new("ca.crt", [CertificateDer::from(client.cert.der.clone())]).unwrap();
    for (later, go) in [(2, "is after"), (-2, "is before")] {
        let at = now() + time::Duration::days(later);
        let proxy = front_proxy(&front, &[]).authenticate(&Credentials::new(&h, Some(&chain)), at).unwrap_err();
        let direct = x509.authenticate(&Credentials::new(&h, Some(&chain)), at).unwrap_err();
        let text = Rejection::of_all(vec![proxy, direct]).kubernetes_text().unwrap();
        assert!(text.starts_with("[x509: certificate has expired or is not yet valid: current time "), "{text}");
        assert!(text.contains(go), "{text}");
        assert!(text.contains(", verifying certificate SN="), "{text}");
        assert!(!text.contains("unknown authority"), "{text}");
    }
}
