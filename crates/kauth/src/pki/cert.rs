//! A parsed X.509 certificate, reduced to what matters in a Kubernetes cluster.

use std::net::IpAddr;

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::PkiError;

/// Facts about one certificate, read with x509-parser. Owns its DER.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    /// The subject, as openssl prints it (`O=system:masters, CN=kubernetes-admin`).
    pub subject: String,
    /// The subject's CommonName: the user name when the cert is used as a client cert.
    pub common_name: Option<String>,
    /// The subject's Organization values: the groups when used as a client cert.
    pub organizations: Vec<String>,
    /// The issuer, as openssl prints it.
    pub issuer: String,
    /// The serial number, hex with colons.
    pub serial: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// BasicConstraints: `Some(true)` for a CA, `Some(false)` for an explicit `CA:FALSE`.
    pub is_ca: Option<bool>,
    /// KeyUsage bits by their RFC 5280 names.
    pub key_usage: Vec<&'static str>,
    /// True when the ExtendedKeyUsage allows TLS server authentication.
    pub server_auth: bool,
    /// True when the ExtendedKeyUsage allows TLS client authentication.
    pub client_auth: bool,
    /// Other ExtendedKeyUsage purposes (OIDs).
    pub other_eku: Vec<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// Subject key identifier, hex with colons.
    pub subject_key_id: Option<String>,
    /// Authority key identifier, hex with colons.
    pub authority_key_id: Option<String>,
    /// `RSA 2048`, `ECDSA P-256`, ...
    pub public_key: String,
    /// The signature algorithm's name (`sha256WithRSAEncryption`, ...).
    pub signature_algorithm: String,
    /// SHA-256 fingerprint of the DER, hex with colons (as `openssl x509 -fingerprint -sha256`).
    pub sha256_fingerprint: String,
    /// The DER bytes.
    #[serde(skip)]
    pub der: Vec<u8>,
    #[serde(skip)]
    raw_public_key: Vec<u8>,
    #[serde(skip)]
    raw_subject: Vec<u8>,
    #[serde(skip)]
    raw_issuer: Vec<u8>,
    #[serde(skip)]
    cert_sign: bool,
}

impl CertInfo {
    /// Parses DER. `what` names the source in errors.
    pub fn from_der(what: &str, der: &[u8]) -> Result<Self, PkiError> {
        let (rest, x) = X509Certificate::from_der(der)
            .map_err(|e| PkiError::malformed(what, format!("not a valid X.509 certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(PkiError::malformed(what, format!("{} bytes of garbage after the certificate", rest.len())));
        }
        let mut info = CertInfo {
            subject: x.subject().to_string(),
            common_name: x.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).map(str::to_owned),
            organizations: x.subject().iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_owned).collect(),
            issuer: x.issuer().to_string(),
            serial: x.raw_serial_as_string(),
            not_before: x.validity().not_before.to_datetime(),
            not_after: x.validity().not_after.to_datetime(),
            is_ca: None,
            key_usage: Vec::new(),
            server_auth: false,
            client_auth: false,
            other_eku: Vec::new(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            subject_key_id: None,
            authority_key_id: None,
            public_key: describe_public_key(&x),
            signature_algorithm: signature_name(&x),
            sha256_fingerprint: colon_hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref()),
            der: der.to_vec(),
            raw_public_key: x.public_key().subject_public_key.data.to_vec(),
            raw_subject: x.subject().as_raw().to_vec(),
            raw_issuer: x.issuer().as_raw().to_vec(),
            cert_sign: false,
        };
        for ext in x.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => info.is_ca = Some(bc.ca),
                ParsedExtension::KeyUsage(ku) => {
                    info.cert_sign = ku.key_cert_sign();
                    info.key_usage = key_usage_names(ku);
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    info.server_auth = eku.server_auth || eku.any;
                    info.client_auth = eku.client_auth || eku.any;
                    info.other_eku = eku.other.iter().map(|o| o.to_id_string()).collect();
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(d) => info.dns_names.push((*d).to_owned()),
                            GeneralName::IPAddress(b) => {
                                if let Some(ip) = ip_from_bytes(b) {
                                    info.ip_addresses.push(ip);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                ParsedExtension::SubjectKeyIdentifier(k) => info.subject_key_id = Some(colon_hex(k.0)),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    info.authority_key_id = a.key_identifier.as_ref().map(|k| colon_hex(k.0));
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// Parses the first certificate of a PEM file.
    pub fn from_pem(what: &str, data: &[u8]) -> Result<Self, PkiError> {
        let sections = super::pem::sections(what, data)?;
        let Some(first) = sections.iter().find(|s| s.kind == rustls_pki_types::pem::SectionKind::Certificate) else {
            let found: Vec<_> = sections.iter().map(|s| super::pem::label(s.kind)).collect();
            return Err(PkiError::malformed(what, format!("expected a CERTIFICATE, found {}", found.join(", "))));
        };
        Self::from_der(what, &first.der)
    }

    /// The raw subjectPublicKey bits, to match against a private key.
    pub fn raw_public_key(&self) -> &[u8] {
        &self.raw_public_key
    }

    /// The issuer's distinguished name as DER (a `Name` SEQUENCE), as a TLS server names the CAs
    /// it accepts in its CertificateRequest.
    pub fn raw_issuer(&self) -> &[u8] {
        &self.raw_issuer
    }

    /// The subject's distinguished name as DER.
    pub fn raw_subject(&self) -> &[u8] {
        &self.raw_subject
    }

    /// True when the subject and issuer are the same name (a root CA).
    pub fn is_self_issued(&self) -> bool {
        self.raw_subject == self.raw_issuer
    }

    /// True when this is a CA allowed to sign certificates.
    pub fn can_sign_certificates(&self) -> bool {
        self.is_ca == Some(true) && (self.key_usage.is_empty() || self.cert_sign)
    }

    /// Checks that `ca` issued this certificate: names chain, the CA may sign, and the signature
    /// verifies with the CA's public key (aws-lc-rs through x509-parser).
    pub fn verify_issued_by(&self, ca: &CertInfo) -> Result<(), ChainProblem> {
        if self.raw_issuer != ca.raw_subject {
            return Err(ChainProblem::IssuerName { issuer: self.issuer.clone(), ca_subject: ca.subject.clone() });
        }
        if !ca.can_sign_certificates() {
            return Err(ChainProblem::NotACa { ca_subject: ca.subject.clone() });
        }
        let (_, child) = X509Certificate::from_der(&self.der).map_err(|_| ChainProblem::BadSignature)?;
        let (_, parent) = X509Certificate::from_der(&ca.der).map_err(|_| ChainProblem::BadSignature)?;
        child.verify_signature(Some(parent.public_key())).map_err(|_| ChainProblem::BadSignature)
    }

    /// Time left until `not_after`, negative when expired.
    pub fn remaining(&self, now: OffsetDateTime) -> time::Duration {
        self.not_after - now
    }

    /// The Kubernetes identity this certificate carries when used as a client certificate:
    /// CN is the user, each O a group (`pkg/authentication/request/x509`).
    pub fn kubernetes_user(&self) -> Option<(&str, &[String])> {
        self.common_name.as_deref().map(|cn| (cn, self.organizations.as_slice()))
    }
}

/// Why a certificate does not chain to a CA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainProblem {
    /// The certificate names another issuer.
    #[error("issued by {issuer:?}, not by the CA {ca_subject:?}")]
    IssuerName {
        /// The certificate's issuer.
        issuer: String,
        /// The CA's subject.
        ca_subject: String,
    },
    /// The would-be CA is not a CA.
    #[error("{ca_subject:?} is not a CA certificate allowed to sign (CA:TRUE and keyCertSign)")]
    NotACa {
        /// The would-be CA's subject.
        ca_subject: String,
    },
    /// The names chain but the signature does not verify with the CA's key.
    #[error("signature does not verify with the CA's public key (the CA was regenerated or the certificate comes from another CA with the same name)")]
    BadSignature,
}

/// A DER distinguished name (such as a CA a TLS server names in its CertificateRequest) as
/// openssl prints it (`CN=kubernetes`); `None` when it is not a readable name.
pub fn distinguished_name(der: &[u8]) -> Option<String> {
    match x509_parser::x509::X509Name::from_der(der) {
        Ok(([], name)) => Some(name.to_string()),
        _ => None,
    }
}

/// Lowercase hex with colons, as openssl prints identifiers and fingerprints (uppercase there).
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

fn key_usage_names(ku: &x509_parser::extensions::KeyUsage) -> Vec<&'static str> {
    let all = [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ];
    all.into_iter().filter(|(on, _)| *on).map(|(_, n)| n).collect()
}

fn describe_public_key(x: &X509Certificate<'_>) -> String {
    match x.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(point)) => match point.key_size() {
            256 => "ECDSA P-256".to_owned(),
            384 => "ECDSA P-384".to_owned(),
            521 => "ECDSA P-521".to_owned(),
            n => format!("ECDSA {n}-bit"),
        },
        Ok(PublicKey::Unknown(_)) | Ok(_) => x.public_key().algorithm.algorithm.to_id_string(),
        Err(_) => "unreadable public key".to_owned(),
    }
}

fn signature_name(x: &X509Certificate<'_>) -> String {
    let oid = x.signature_algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        _ => return oid,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::spec::{Profile, Usage};
    use crate::pki::{KeyType, PrivateKey};

    #[test]
    fn distinguished_names_read_as_the_subject_prints() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let profile = Profile {
            common_name: "front-proxy-ca".into(),
            organizations: vec![],
            is_ca: true,
            usage: Usage { server: false, client: false },
            dns_names: vec![],
            ip_addresses: vec![],
        };
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let ca =
            crate::pki::sign::issue("ca", &profile, &key, None, now, std::time::Duration::from_secs(3600)).unwrap();
        assert_eq!(distinguished_name(ca.raw_subject()).as_deref(), Some("CN=front-proxy-ca"));
        assert_eq!(ca.raw_issuer(), ca.raw_subject());
        assert_eq!(distinguished_name(b"\x30\x03garbage"), None);
    }
}
