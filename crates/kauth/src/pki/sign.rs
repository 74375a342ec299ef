//! Signing certificates with rcgen on aws-lc-rs.
//!
//! rcgen keeps one value per subject attribute, so it cannot write a subject with several `O=`
//! values (rcgen issue #81). kubeadm's PKI never needs that; a [`Profile`] with several
//! organizations is refused here with a clear error rather than silently losing groups.

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::OffsetDateTime;

use super::cert::CertInfo;
use super::spec::{Profile, Usage, BACKDATE};
use super::{PkiError, PrivateKey};

/// The CA that signs a certificate: its parsed certificate and its key.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// The CA certificate.
    pub cert: &'a CertInfo,
    /// The CA's private key.
    pub key: &'a PrivateKey,
}

/// Issues a certificate for `key` with `profile`, valid from `now - 5 min` for `validity`.
///
/// `signer` is `None` for a self-signed CA. `what` names the certificate in errors.
pub fn issue(
    what: &str,
    profile: &Profile,
    key: &PrivateKey,
    signer: Option<Signer<'_>>,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<CertInfo, PkiError> {
    if profile.organizations.len() > 1 {
        return Err(PkiError::Crypto {
            what: what.to_owned(),
            problem: format!(
                "the subject has {} O= values; kauth's certificate writer keeps one (groups {:?})",
                profile.organizations.len(),
                profile.organizations
            ),
        });
    }
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    // Go's pkix.Name orders O before CN; openssl then prints "O = ..., CN = ...".
    for org in &profile.organizations {
        dn.push(DnType::OrganizationName, org.as_str());
    }
    dn.push(DnType::CommonName, profile.common_name.as_str());
    params.distinguished_name = dn;
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    params.serial_number = Some(random_serial()?);
    params.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    if profile.is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages.push(KeyUsagePurpose::KeyCertSign);
    } else {
        params.is_ca = IsCa::ExplicitNoCa;
        let Usage { server, client } = profile.usage;
        if server {
            params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if client {
            params.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
        }
    }
    for dns in &profile.dns_names {
        let name = dns
            .as_str()
            .try_into()
            .map_err(|_| PkiError::Config { field: "SAN", problem: format!("{dns:?} is not an IA5 string") })?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    for ip in &profile.ip_addresses {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }

    let cert = match signer {
        None => params.self_signed(key.pair()),
        Some(s) => {
            let issuer = Issuer::from_ca_cert_der(&s.cert.der.as_slice().into(), s.key.pair())
                .map_err(|e| PkiError::crypto(what, format!("reading the CA certificate: {e}")))?;
            params.signed_by(key.pair(), &issuer)
        }
    }
    .map_err(|e| PkiError::crypto(what, e))?;
    CertInfo::from_der(what, cert.der())
}

/// A random positive serial in [1, 2^63), as kubeadm draws it.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 8];
    loop {
        aws_lc_rs::rand::fill(&mut bytes).map_err(|e| PkiError::crypto("serial number", e))?;
        bytes[0] &= 0x7f;
        if bytes.iter().any(|b| *b != 0) {
            // DER INTEGERs are minimal: drop leading zero bytes.
            let start = bytes.iter().position(|b| *b != 0).unwrap_or(0);
            return Ok(SerialNumber::from_slice(&bytes[start..]));
        }
    }
}

impl Profile {
    /// The profile an existing certificate has, so `renew` reproduces it exactly.
    pub fn from_cert(cert: &CertInfo) -> Profile {
        Profile {
            common_name: cert.common_name.clone().unwrap_or_default(),
            organizations: cert.organizations.clone(),
            is_ca: cert.is_ca == Some(true),
            usage: Usage { server: cert.server_auth, client: cert.client_auth },
            dns_names: cert.dns_names.clone(),
            ip_addresses: cert.ip_addresses.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::KeyType;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    #[test]
    fn leaf_chains_to_ca_and_carries_profile() {
        let ca_key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let cfg = crate::pki::spec::PkiConfig::default();
        let ca = issue("ca", &cfg.ca_profile(crate::pki::spec::CaId::Cluster), &ca_key, None, now(), cfg.ca_validity)
            .unwrap();
        assert!(ca.can_sign_certificates());
        assert!(ca.is_self_issued());
        let leaf_key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let spec = &cfg.leaves().unwrap()[1];
        let leaf =
            issue("leaf", &spec.profile, &leaf_key, Some(Signer { cert: &ca, key: &ca_key }), now(), cfg.cert_validity)
                .unwrap();
        leaf.verify_issued_by(&ca).unwrap();
        assert_eq!(leaf.common_name.as_deref(), Some("kube-apiserver-kubelet-client"));
        assert_eq!(leaf.organizations, ["system:masters"]);
        assert_eq!(leaf.subject, "O=system:masters, CN=kube-apiserver-kubelet-client");
        assert!(leaf.client_auth && !leaf.server_auth);
        assert_eq!(leaf.is_ca, Some(false));
        assert_eq!(leaf.authority_key_id, ca.subject_key_id);
        assert_eq!(leaf.not_before, now() - BACKDATE);
        assert_eq!(Profile::from_cert(&leaf), spec.profile);
        // Another CA with the same name does not verify it.
        let other_key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let other =
            issue("ca", &cfg.ca_profile(crate::pki::spec::CaId::Cluster), &other_key, None, now(), cfg.ca_validity)
                .unwrap();
        assert_eq!(leaf.verify_issued_by(&other), Err(crate::pki::cert::ChainProblem::BadSignature));
    }

    #[test]
    fn several_organizations_are_refused_not_dropped() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let profile = Profile {
            common_name: "u".into(),
            organizations: vec!["a".into(), "b".into()],
            is_ca: false,
            usage: Usage::CLIENT,
            dns_names: vec![],
            ip_addresses: vec![],
        };
        let err = issue("u.crt", &profile, &key, None, now(), Duration::from_secs(60)).unwrap_err();
        assert!(err.to_string().contains("2 O= values"), "{err}");
    }
}
