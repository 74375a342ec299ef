//! The x509 authenticator against certificates kauth's own PKI code issues.

use std::time::Duration;

use http::HeaderMap;

use super::*;
use crate::pki::cert::CertInfo;
use crate::pki::sign::{issue, Signer};
use crate::pki::spec::{Profile, Usage};
use crate::pki::{KeyType, PrivateKey};

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

fn profile(cn: &str, orgs: &[&str], is_ca: bool, usage: Usage) -> Profile {
    Profile {
        common_name: cn.into(),
        organizations: orgs.iter().map(|o| (*o).to_owned()).collect(),
        is_ca,
        usage,
        dns_names: vec![],
        ip_addresses: vec![],
    }
}

pub(crate) struct Ca {
    pub(crate) cert: CertInfo,
    pub(crate) key: PrivateKey,
}

pub(crate) fn new_ca(cn: &str) -> Ca {
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let cert = issue(cn, &profile(cn, &[], true, Usage::CLIENT), &key, None, now(), Duration::from_secs(86_400 * 365))
        .unwrap();
    Ca { cert, key }
}

pub(crate) fn leaf(ca: &Ca, cn: &str, orgs: &[&str], usage: Usage) -> CertificateDer<'static> {
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let signer = Signer { cert: &ca.cert, key: &ca.key };
    let cert =
        issue(cn, &profile(cn, orgs, false, usage), &key, Some(signer), now(), Duration::from_secs(86_400)).unwrap();
    CertificateDer::from(cert.der)
}

fn authenticator(ca: &Ca) -> X509Authenticator {
    X509Authenticator::new("ca.crt", [CertificateDer::from(ca.cert.der.clone())]).unwrap()
}

#[test]
fn a_client_certificate_names_its_user_groups_and_credential_id() {
    let ca = new_ca("kubernetes");
    let cert = leaf(&ca, "kubernetes-admin", &["system:masters"], Usage::CLIENT);
    let headers = HeaderMap::new();
    let chain = [cert.clone()];
    let a = authenticator(&ca).authenticate(&Credentials::new(&headers, Some(&chain)), now()).unwrap().unwrap();
    assert_eq!(a.authenticator, "x509");
    assert_eq!(a.user.name, "kubernetes-admin");
    assert_eq!(a.user.groups, ["system:masters"]);
    assert!(a.user.groups.capacity() > a.user.groups.len(), "room for system:authenticated");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
    let want = format!("X509SHA256={}", hex::encode(digest.as_ref()));
    assert_eq!(a.user.extra.get(EXTRA_CREDENTIAL_ID).unwrap().to_vec(), [want]);
    assert_eq!(authenticator(&ca).authenticate(&Credentials::new(&headers, None), now()), Ok(None));
}

#[test]
fn rejections_carry_the_compared_values() {
    let ca = new_ca("kubernetes");
    let x509 = authenticator(&ca);
    let good = leaf(&ca, "alice", &[], Usage::CLIENT);
    match x509.verify(std::slice::from_ref(&good), now() + time::Duration::days(2)) {
        Err(CertificateRejection::Expired { certificate, not_after, now: at }) => {
            assert_eq!(at, now().unix_timestamp() + 2 * 86_400);
            assert_eq!(not_after, now().unix_timestamp() + 86_400);
            assert!(certificate.subject.contains("CN=alice"), "{certificate:?}");
            assert!(certificate.issuer.contains("CN=kubernetes"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        x509.verify(std::slice::from_ref(&good), now() - time::Duration::hours(1)),
        Err(CertificateRejection::NotYetValid { not_before, .. }) if not_before == now().unix_timestamp() - 300
    ));
    let server = leaf(&ca, "server", &[], Usage::SERVER);
    match x509.verify(&[server], now()) {
        Err(r @ CertificateRejection::WrongUsage { .. }) => {
            assert_eq!(r.code(), "certificate_wrong_usage");
            let CertificateRejection::WrongUsage { required, .. } = r else { unreachable!() };
            assert_eq!(required, "client authentication");
        }
        other => panic!("{other:?}"),
    }
    let other = new_ca("kubernetes");
    let foreign = leaf(&other, "mallory", &[], Usage::CLIENT);
    assert!(matches!(
        x509.verify(std::slice::from_ref(&foreign), now()),
        Err(CertificateRejection::UnknownAuthority { .. })
    ));
    assert!(matches!(
        X509Authenticator::without_client_ca().verify(&[foreign], now()),
        Err(CertificateRejection::NoClientCa { .. })
    ));
    assert!(matches!(
        x509.verify(&[CertificateDer::from(vec![0x30, 0x00])], now()),
        Err(CertificateRejection::Unreadable { .. })
    ));
    let nameless = leaf(&ca, "", &["team"], Usage::CLIENT);
    assert!(matches!(x509.verify(&[nameless], now()), Err(CertificateRejection::NoCommonName { .. })));
}

/// Each refusal says, in operator terms, what was compared: when it expired and how long ago;
/// how far ahead the issuer's clock is; which CA signed it and which CA this server trusts; the
/// usages it allows. The client gets the plain 401; these are for log, audit and metrics.
#[test]
fn each_refusal_is_explained_in_operator_terms() {
    let ca = new_ca("kubernetes");
    let x509 = authenticator(&ca);
    let good = leaf(&ca, "alice", &[], Usage::CLIENT);
    let said = |chain: &[CertificateDer<'static>], at: OffsetDateTime| x509.verify(chain, at).unwrap_err().to_string();

    let expired = said(std::slice::from_ref(&good), now() + time::Duration::days(3));
    assert!(
        expired.contains("failed: expired 2d ago (notAfter 2023-11-15T22:13:20Z, now 2023-11-17T22:13:20Z)"),
        "{expired}"
    );
    assert!(expired.contains("\"CN=alice\""), "names the certificate: {expired}");

    // Issued 5 minutes before `now` (kauth backdates), seen by a server 95 minutes behind.
    let early = said(std::slice::from_ref(&good), now() - time::Duration::minutes(95));
    assert!(
        early.contains("failed: not valid yet by 1h30m (notBefore 2023-11-14T22:08:20Z, now 2023-11-14T20:38:20Z): the issuer's clock is ahead, or this server's is behind"),
        "{early}"
    );

    let other = new_ca("front-proxy-ca");
    let foreign = said(&[leaf(&other, "front-proxy-client", &[], Usage::CLIENT)], now());
    assert!(
        foreign.contains("it is signed by \"CN=front-proxy-ca\", not by the client CA (\"CN=kubernetes\")"),
        "{foreign}"
    );

    let server = said(&[leaf(&ca, "kube-apiserver", &[], Usage::SERVER)], now());
    assert!(
        server.contains("its extended key usage does not allow client authentication (allows server authentication)"),
        "{server}"
    );
}

/// A certificate that verified is remembered, but the clock still judges it: the same
/// certificate later than its notAfter, or earlier than its notBefore, is refused as before.
#[test]
fn a_remembered_certificate_still_expires() {
    let ca = new_ca("kubernetes");
    let x509 = authenticator(&ca);
    let good = leaf(&ca, "alice", &["dev"], Usage::CLIENT);
    let first = x509.verify(std::slice::from_ref(&good), now()).unwrap();
    let again = x509.verify(std::slice::from_ref(&good), now() + time::Duration::hours(1)).unwrap();
    assert_eq!(first, again);
    assert!(matches!(
        x509.verify(std::slice::from_ref(&good), now() + time::Duration::days(2)),
        Err(CertificateRejection::Expired { .. })
    ));
    assert!(matches!(
        x509.verify(std::slice::from_ref(&good), now() - time::Duration::hours(1)),
        Err(CertificateRejection::NotYetValid { .. })
    ));
    // Another CA's authenticator remembers nothing of it.
    let other = authenticator(&new_ca("kubernetes"));
    assert!(matches!(other.verify(&[good], now()), Err(CertificateRejection::UnknownAuthority { .. })));
}

/// "Not signed by this CA" is remembered too, and the clock still comes first: the same foreign
/// certificate once expired is refused as expired, as Go checks the time before the issuer.
#[test]
fn a_remembered_foreign_certificate_is_expired_once_it_expires() {
    let x509 = authenticator(&new_ca("kubernetes"));
    let foreign = leaf(&new_ca("front-proxy-ca"), "front-proxy-client", &[], Usage::CLIENT);
    for _ in 0..2 {
        assert!(matches!(
            x509.verify(std::slice::from_ref(&foreign), now()),
            Err(CertificateRejection::UnknownAuthority { .. })
        ));
    }
    assert!(matches!(
        x509.verify(std::slice::from_ref(&foreign), now() + time::Duration::days(2)),
        Err(CertificateRejection::Expired { .. })
    ));
}
