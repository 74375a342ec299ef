//! Private keys: generation, PEM in kubeadm's formats, and matching against certificates.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, PublicKeyData};
use rustls_pki_types::pem::SectionKind;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

use super::pem;
use super::PkiError;

/// The kind of key kauth generates (`--key-type`), as kubeadm's `encryptionAlgorithm` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeyType {
    /// RSA with a 2048-bit modulus (kubeadm's default).
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    Rsa4096,
    /// ECDSA on the NIST P-256 curve.
    EcdsaP256,
}

impl KeyType {
    /// Every key type, in the order the CLI lists them.
    pub const ALL: [KeyType; 4] = [KeyType::Rsa2048, KeyType::Rsa3072, KeyType::Rsa4096, KeyType::EcdsaP256];

    /// The option value: `rsa-2048`, ..., `ecdsa-p256`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::EcdsaP256 => "ecdsa-p256",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| PkiError::Config {
            field: "key type",
            problem: format!("{s:?} is not one of rsa-2048, rsa-3072, rsa-4096, ecdsa-p256"),
        })
    }
}

/// A private key with the signature algorithm kauth uses it with (SHA-256 for RSA and P-256).
///
/// Its `Debug` shows the algorithm only, never key material.
pub struct PrivateKey {
    pair: KeyPair,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, <redacted>)", self.algorithm_name())
    }
}

impl PrivateKey {
    /// Generates a new key of the given type from the operating system's CSPRNG (through aws-lc-rs).
    pub fn generate(kind: KeyType) -> Result<Self, PkiError> {
        let pair = match kind {
            KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048),
            KeyType::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072),
            KeyType::Rsa4096 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096),
            KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        }
        .map_err(|e| PkiError::crypto(format!("generating a {kind} key"), e))?;
        Ok(PrivateKey { pair })
    }

    /// Reads a PEM private key: PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#8
    /// (`PRIVATE KEY`). `what` names the file in errors.
    pub fn from_pem(what: &str, data: &[u8]) -> Result<Self, PkiError> {
        let sections = pem::sections(what, data)?;
        let Some(section) = sections.iter().find(|s| pem::is_private_key(s.kind)) else {
            let found: Vec<_> = sections.iter().map(|s| pem::label(s.kind)).collect();
            return Err(PkiError::malformed(what, format!("expected a private key, found {}", found.join(", "))));
        };
        let der: PrivateKeyDer<'_> = match section.kind {
            SectionKind::RsaPrivateKey => PrivatePkcs1KeyDer::from(section.der.as_slice()).into(),
            SectionKind::EcPrivateKey => PrivateSec1KeyDer::from(section.der.as_slice()).into(),
            _ => PrivatePkcs8KeyDer::from(section.der.as_slice()).into(),
        };
        let pair = KeyPair::try_from(&der).map_err(|e| {
            PkiError::malformed(what, format!("{} is not a usable RSA or ECDSA key: {e}", pem::label(section.kind)))
        })?;
        let key = PrivateKey { pair };
        if key.algorithm_name() == "unsupported" {
            return Err(PkiError::malformed(what, "only RSA and ECDSA P-256/P-384 keys are supported"));
        }
        Ok(key)
    }

    /// The key as PEM in the format kubeadm writes: PKCS#1 for RSA, SEC1 for ECDSA.
    pub fn to_pem(&self) -> Result<String, PkiError> {
        let pkcs8 = self.pair.serialized_der();
        if self.is_rsa() {
            // A PKCS#8 PrivateKeyInfo wraps the PKCS#1 RSAPrivateKey as its privateKey octets.
            let info = match pkcs8::PrivateKeyInfo::try_from(pkcs8) {
                Ok(info) => info,
                // Already PKCS#1 (a key read from a PKCS#1 file keeps its original DER).
                Err(_) => return Ok(pem::encode("RSA PRIVATE KEY", pkcs8)),
            };
            Ok(pem::encode("RSA PRIVATE KEY", info.private_key))
        } else {
            let alg = if self.pair.algorithm() == &rcgen::PKCS_ECDSA_P384_SHA384 {
                &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING
            } else {
                &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING
            };
            use aws_lc_rs::encoding::AsDer;
            let ec = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_der(alg, pkcs8)
                .or_else(|_| aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8))
                .map_err(|e| PkiError::crypto("encoding an EC key", e))?;
            let sec1 = ec.private_key().as_der().map_err(|e| PkiError::crypto("encoding an EC key", e))?;
            Ok(pem::encode("EC PRIVATE KEY", sec1.as_ref()))
        }
    }

    /// The public key as a PKIX `PUBLIC KEY` PEM block, as in kubeadm's `sa.pub`.
    pub fn public_key_pem(&self) -> String {
        self.pair.public_key_pem()
    }

    /// The DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// The raw subjectPublicKey bits (PKCS#1 RSAPublicKey, or the EC point).
    pub fn public_key_raw(&self) -> &[u8] {
        self.pair.public_key_raw()
    }

    /// The subject key identifier kubeadm's Go code derives: SHA-1 over the subjectPublicKey bits
    /// (RFC 5280 section 4.2.1.2, method 1).
    pub fn key_identifier(&self) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, self.public_key_raw()).as_ref().to_vec()
    }

    /// True when `raw_public_key` (a certificate's subjectPublicKey bits) is this key's public half.
    pub fn matches_public_key(&self, raw_public_key: &[u8]) -> bool {
        self.public_key_raw() == raw_public_key
    }

    /// `RSA` or `ECDSA`, for messages.
    pub fn algorithm_name(&self) -> &'static str {
        let alg = self.pair.algorithm();
        if self.is_rsa() {
            "RSA"
        } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 || alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
            "ECDSA"
        } else {
            "unsupported"
        }
    }

    fn is_rsa(&self) -> bool {
        let alg = self.pair.algorithm();
        alg == &rcgen::PKCS_RSA_SHA256 || alg == &rcgen::PKCS_RSA_SHA384 || alg == &rcgen::PKCS_RSA_SHA512
    }

    pub(crate) fn pair(&self) -> &KeyPair {
        &self.pair
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_pem_is_pkcs1_and_round_trips() {
        let key = PrivateKey::generate(KeyType::Rsa2048).unwrap();
        let pem = key.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let back = PrivateKey::from_pem("k", pem.as_bytes()).unwrap();
        assert_eq!(back.public_key_raw(), key.public_key_raw());
        // Writing a key read from PKCS#1 gives the same PEM again.
        assert_eq!(back.to_pem().unwrap(), pem);
        assert_eq!(key.key_identifier().len(), 20);
    }

    #[test]
    fn ec_pem_is_sec1_and_round_trips() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let pem = key.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let back = PrivateKey::from_pem("k", pem.as_bytes()).unwrap();
        assert_eq!(back.public_key_raw(), key.public_key_raw());
        assert_eq!(back.to_pem().unwrap(), pem);
    }

    #[test]
    fn debug_never_shows_key_material() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey(ECDSA, <redacted>)");
    }

    #[test]
    fn a_certificate_is_not_a_key() {
        let pem = pem::encode("CERTIFICATE", &[0x30, 0x00]);
        let err = PrivateKey::from_pem("ca.key", pem.as_bytes()).unwrap_err().to_string();
        assert_eq!(err, "ca.key: expected a private key, found CERTIFICATE");
    }

    #[test]
    fn garbage_key_body_is_an_error_not_a_panic() {
        let pem = pem::encode("PRIVATE KEY", &[0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(PrivateKey::from_pem("k", pem.as_bytes()).is_err());
    }
}
