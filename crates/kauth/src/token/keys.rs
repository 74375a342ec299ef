//! Signing and verification keys, as kube-apiserver takes them.
//!
//! - The signing key (`--service-account-signing-key-file`): PKCS#1, SEC1 or PKCS#8 PEM, RSA or EC.
//!   Parsed once into aws-lc-rs' key pair: signing never re-parses a key.
//! - Verification keys (`--service-account-key-file`, repeatable): every `PUBLIC KEY`,
//!   `RSA PUBLIC KEY`, `CERTIFICATE` or private key block in each file. Each is parsed once into
//!   aws-lc-rs' `ParsedPublicKey` for its algorithm.
//! - The `kid` of a key is base64url (no padding) of SHA-256 over its DER SubjectPublicKeyInfo,
//!   as Kubernetes' `keyIDFromPublicKey` computes it.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
// The kid and header indexes are looked up per token: foldhash (randomly seeded) rather than
// SipHash. Their keys come from configuration; a token only looks up.
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair, ParsedPublicKey, RsaKeyPair, RsaPublicKeyComponents};
use foldhash::HashMap;
use rustls_pki_types::pem::SectionKind;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedSpki;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::pki::pem;

/// A JWS algorithm kauth signs or verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// ECDSA P-521 with SHA-512.
    ES512,
}

impl Algorithm {
    /// Parses a JWS `alg`.
    pub fn from_name(alg: &str) -> Option<Self> {
        Some(match alg {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "ES512" => Algorithm::ES512,
            _ => return None,
        })
    }

    /// The JWS name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
        }
    }

    fn verification(self) -> &'static dyn sig::VerificationAlgorithm {
        match self {
            Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
            Algorithm::ES512 => &sig::ECDSA_P521_SHA512_FIXED,
        }
    }
}

/// The family and curve of a public key, which decides the algorithms it can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (RS* and PS*).
    Rsa,
    /// ECDSA on P-256 (ES256).
    P256,
    /// ECDSA on P-384 (ES384).
    P384,
    /// ECDSA on P-521 (ES512).
    P521,
}

impl KeyKind {
    /// Whether a key of this kind verifies `alg`.
    pub fn accepts(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (KeyKind::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
                | (KeyKind::P256, ES256)
                | (KeyKind::P384, ES384)
                | (KeyKind::P521, ES512)
        )
    }

    /// The algorithm kube-apiserver signs with for a key of this kind.
    pub fn signing_algorithm(self) -> Algorithm {
        match self {
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::P256 => Algorithm::ES256,
            KeyKind::P384 => Algorithm::ES384,
            KeyKind::P521 => Algorithm::ES512,
        }
    }

    /// The JWK `crv`.
    pub fn curve(self) -> Option<&'static str> {
        match self {
            KeyKind::Rsa => None,
            KeyKind::P256 => Some("P-256"),
            KeyKind::P384 => Some("P-384"),
            KeyKind::P521 => Some("P-521"),
        }
    }
}

/// A key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {problem}")]
pub struct KeyError {
    /// The file or source.
    pub what: String,
    /// What is wrong.
    pub problem: String,
}

fn key_error(what: &str, problem: impl fmt::Display) -> KeyError {
    KeyError { what: what.to_owned(), problem: problem.to_string() }
}

/// A public key ready to verify signatures.
#[derive(Clone)]
pub struct VerifyingKey {
    kind: KeyKind,
    kid: Arc<str>,
    spki: Vec<u8>,
    /// Parsed once for the algorithm kube-apiserver uses with this key (RS256 or ES*).
    primary: ParsedPublicKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({:?}, kid {})", self.kind, self.kid)
    }
}

impl VerifyingKey {
    /// From a DER SubjectPublicKeyInfo; the kid is derived from it.
    pub fn from_spki(what: &str, spki: &[u8]) -> Result<Self, KeyError> {
        let kid = key_id(spki);
        Self::from_spki_with_kid(what, spki, kid)
    }

    fn from_spki_with_kid(what: &str, spki: &[u8], kid: String) -> Result<Self, KeyError> {
        let kid: Arc<str> = kid.into();
        let (_, info) = SubjectPublicKeyInfo::from_der(spki)
            .map_err(|e| key_error(what, format!("not a SubjectPublicKeyInfo: {e}")))?;
        let kind = match info.parsed() {
            Ok(ParsedSpki::RSA(_)) => KeyKind::Rsa,
            Ok(ParsedSpki::EC(_)) => {
                let curve = info.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
                match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => KeyKind::P256,
                    Some("1.3.132.0.34") => KeyKind::P384,
                    Some("1.3.132.0.35") => KeyKind::P521,
                    other => return Err(key_error(what, format!("unsupported EC curve {other:?}"))),
                }
            }
            _ => return Err(key_error(what, "only RSA and EC public keys are supported")),
        };
        let primary = ParsedPublicKey::new(kind.signing_algorithm().verification(), spki)
            .map_err(|e| key_error(what, format!("public key rejected: {e}")))?;
        Ok(VerifyingKey { kind, kid, spki: spki.to_vec(), primary })
    }

    /// From RSA modulus and exponent (a JWK), big-endian without leading zeros.
    pub fn from_rsa_components(what: &str, n: &[u8], e: &[u8], kid: Option<String>) -> Result<Self, KeyError> {
        let spki = RsaPublicKeyComponents { n, e }
            .as_der()
            .map_err(|e| key_error(what, format!("invalid RSA components: {e}")))?;
        let kid = kid.unwrap_or_else(|| key_id(spki.as_ref()));
        Self::from_spki_with_kid(what, spki.as_ref(), kid)
    }

    /// From an EC point (a JWK's x and y) on the named curve.
    pub fn from_ec_point(what: &str, kind: KeyKind, x: &[u8], y: &[u8], kid: Option<String>) -> Result<Self, KeyError> {
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        let primary = ParsedPublicKey::new(kind.signing_algorithm().verification(), &point)
            .map_err(|e| key_error(what, format!("invalid EC point: {e}")))?;
        let spki = primary.as_der().map_err(|e| key_error(what, format!("encoding EC key: {e}")))?.as_ref().to_vec();
        let kid = kid.unwrap_or_else(|| key_id(&spki)).into();
        Ok(VerifyingKey { kind, kid, spki, primary })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// RSA or which curve.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// True when `signature` over `message` verifies with `alg` (false too when the algorithm
    /// does not fit the key).
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.kind.accepts(alg) {
            return false;
        }
        if alg == self.kind.signing_algorithm() {
            self.primary.verify_sig(message, signature).is_ok()
        } else {
            sig::UnparsedPublicKey::new(alg.verification(), &self.spki).verify(message, signature).is_ok()
        }
    }
}

/// Kubernetes' key id: base64url(SHA-256(DER SubjectPublicKeyInfo)), no padding.
pub fn key_id(spki: &[u8]) -> String {
    super::jws::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki).as_ref())
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// The private key tokens are signed with. `Debug` never shows key material.
pub struct SigningKey {
    signer: Signer,
    alg: Algorithm,
    public: VerifyingKey,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, kid {}, <redacted>)", self.alg.name(), self.public.kid)
    }
}

impl SigningKey {
    /// Reads the first private key in a PEM file (PKCS#1, SEC1 or PKCS#8; RSA or EC).
    pub fn from_pem(what: &str, data: &[u8]) -> Result<Self, KeyError> {
        let sections = pem::sections(what, data).map_err(|e| key_error(what, e))?;
        let Some(section) = sections.iter().find(|s| pem::is_private_key(s.kind)) else {
            let found: Vec<_> = sections.iter().map(|s| pem::label(s.kind)).collect();
            return Err(key_error(what, format!("expected a private key, found {}", found.join(", "))));
        };
        Self::from_der(what, section.kind, &section.der)
    }

    fn from_der(what: &str, kind: SectionKind, der: &[u8]) -> Result<Self, KeyError> {
        let rsa = match kind {
            SectionKind::RsaPrivateKey => Some(RsaKeyPair::from_der(der)),
            SectionKind::PrivateKey => RsaKeyPair::from_pkcs8(der).ok().map(Ok),
            _ => None,
        };
        if let Some(rsa) = rsa {
            let pair = rsa.map_err(|e| key_error(what, format!("invalid RSA private key: {e}")))?;
            let spki = pair.public_key().as_der().map_err(|e| key_error(what, e))?;
            let public = VerifyingKey::from_spki(what, spki.as_ref())?;
            return Ok(SigningKey {
                signer: Signer::Rsa(pair),
                alg: Algorithm::RS256,
                public,
                rng: SystemRandom::new(),
            });
        }
        for (kind, alg) in [
            (KeyKind::P256, &sig::ECDSA_P256_SHA256_FIXED_SIGNING),
            (KeyKind::P384, &sig::ECDSA_P384_SHA384_FIXED_SIGNING),
            (KeyKind::P521, &sig::ECDSA_P521_SHA512_FIXED_SIGNING),
        ] {
            let pair = EcdsaKeyPair::from_private_key_der(alg, der).or_else(|_| EcdsaKeyPair::from_pkcs8(alg, der));
            if let Ok(pair) = pair {
                let spki = pair.public_key().as_der().map_err(|e| key_error(what, e))?;
                let public = VerifyingKey::from_spki(what, spki.as_ref())?;
                return Ok(SigningKey {
                    signer: Signer::Ec(pair),
                    alg: kind.signing_algorithm(),
                    public,
                    rng: SystemRandom::new(),
                });
            }
        }
        Err(key_error(
            what,
            format!("{} is not a usable RSA or EC (P-256, P-384, P-521) private key", pem::label(kind)),
        ))
    }

    /// The algorithm it signs with (RS256 for RSA; ES256/384/512 by curve).
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Its key id.
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    /// Its public half.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(&sig::RSA_PKCS1_SHA256, &self.rng, message, &mut out).map_err(|e| key_error("signing", e))?;
                Ok(out)
            }
            Signer::Ec(pair) => {
                Ok(pair.sign(&self.rng, message).map_err(|e| key_error("signing", e))?.as_ref().to_vec())
            }
        }
    }
}

/// Every verification key, indexed by kid.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    by_kid: HashMap<String, Vec<usize>>,
    /// Each key's header segment as kauth and kube-apiserver write it
    /// (`base64url({"alg":..,"kid":..})`), to the key's index: a token carrying one of these
    /// exact segments has that algorithm and kid without decoding or parsing its header.
    by_header: HashMap<String, usize>,
}

impl KeySet {
    /// A set of keys.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        let mut set = KeySet::default();
        for k in keys {
            set.push(k);
        }
        set
    }

    /// Adds a key (a duplicate of one already present is ignored).
    pub fn push(&mut self, key: VerifyingKey) {
        if self.keys.iter().any(|k| k.spki == key.spki) {
            return;
        }
        self.by_kid.entry(key.kid.to_string()).or_default().push(self.keys.len());
        let header = super::jws::header_json(key.kind.signing_algorithm().name(), &key.kid);
        self.by_header.entry(super::jws::encode(&header)).or_insert(self.keys.len());
        self.keys.push(key);
    }

    /// Adds every key in a PEM file: public keys, certificates (their public key) and private
    /// keys (their public half), as `--service-account-key-file` accepts.
    pub fn add_pem(&mut self, what: &str, data: &[u8]) -> Result<usize, KeyError> {
        let sections = pem::sections(what, data).map_err(|e| key_error(what, e))?;
        let before = self.keys.len();
        for (i, s) in sections.iter().enumerate() {
            let name = format!("{what} (PEM block {})", i + 1);
            let key = match s.kind {
                SectionKind::PublicKey => VerifyingKey::from_spki(&name, &s.der)?,
                SectionKind::Certificate => {
                    let cert = crate::pki::cert::CertInfo::from_der(&name, &s.der).map_err(|e| key_error(&name, e))?;
                    let (_, x) = x509_parser::certificate::X509Certificate::from_der(&cert.der)
                        .map_err(|e| key_error(&name, e))?;
                    VerifyingKey::from_spki(&name, x.public_key().raw)?
                }
                k if pem::is_private_key(k) => SigningKey::from_der(&name, k, &s.der)?.public,
                other if pem::label(other) == "other" => continue,
                other => return Err(key_error(&name, format!("{} is not a key", pem::label(other)))),
            };
            self.push(key);
        }
        if self.keys.len() == before
            && sections.iter().all(|s| {
                !matches!(s.kind, SectionKind::PublicKey | SectionKind::Certificate) && !pem::is_private_key(s.kind)
            })
        {
            return Err(key_error(what, "holds no public key, certificate or private key"));
        }
        Ok(self.keys.len() - before)
    }

    /// The header a header segment decodes to, when it is exactly the segment kauth and
    /// kube-apiserver write for one of these keys (`{"alg":..,"kid":..}`); `None` for any other
    /// segment, which must then be decoded and parsed. Only an exact match is recognised, so the
    /// answer is the one decoding would give.
    pub fn known_header(&self, segment: &str) -> Option<super::jws::HeaderRef<'_>> {
        self.known_key(segment).map(|(_, header)| header)
    }

    /// [`known_header`](Self::known_header), with the key whose header it is: the first key,
    /// in order, that the token's kid selects and that signs with its algorithm, so the first
    /// that [`candidates`](Self::candidates) would try with a chance to verify.
    pub fn known_key(&self, segment: &str) -> Option<(&VerifyingKey, super::jws::HeaderRef<'_>)> {
        let key = &self.keys[*self.by_header.get(segment)?];
        let header = super::jws::HeaderRef {
            alg: std::borrow::Cow::Borrowed(key.kind.signing_algorithm().name()),
            kid: Some(std::borrow::Cow::Borrowed(&key.kid)),
            typ: None,
            crit: false,
        };
        Some((key, header))
    }

    /// The keys to try for a token: those with its kid, or all when it has none.
    /// An empty slice for a kid no key has.
    pub fn candidates(&self, kid: Option<&str>) -> Candidates<'_> {
        match kid {
            None | Some("") => Candidates { set: self, idx: None },
            Some(k) => Candidates { set: self, idx: Some(self.by_kid.get(k).map(Vec::as_slice).unwrap_or(&[])) },
        }
    }

    /// Every key.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The kids, in order.
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.to_string()).collect()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The keys a token's kid selects.
#[derive(Debug, Clone, Copy)]
pub struct Candidates<'a> {
    set: &'a KeySet,
    idx: Option<&'a [usize]>,
}

impl<'a> Candidates<'a> {
    /// True when no key is selected.
    pub fn is_empty(&self) -> bool {
        match self.idx {
            None => self.set.keys.is_empty(),
            Some(i) => i.is_empty(),
        }
    }

    /// The selected keys.
    pub fn iter(&self) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        let set = self.set;
        let all = self.idx.is_none();
        let idx = self.idx.unwrap_or(&[]);
        set.keys.iter().filter(move |_| all).chain(idx.iter().map(move |i| &set.keys[*i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeyType, PrivateKey};
    use crate::token::jws;

    fn pem_key(kind: KeyType) -> String {
        PrivateKey::generate(kind).unwrap().to_pem().unwrap()
    }

    #[test]
    fn kid_is_sha256_of_spki_and_signatures_verify() {
        for kind in [KeyType::Rsa2048, KeyType::EcdsaP256] {
            let key = SigningKey::from_pem("sa.key", pem_key(kind).as_bytes()).unwrap();
            assert_eq!(key.kid(), key_id(key.verifying_key().spki()));
            assert_eq!(key.kid().len(), 43);
            let s = key.sign(b"msg").unwrap();
            assert!(key.verifying_key().verify(key.algorithm(), b"msg", &s));
            assert!(!key.verifying_key().verify(key.algorithm(), b"msh", &s));
            // The other family's algorithm never verifies.
            let other = if kind == KeyType::Rsa2048 { Algorithm::ES256 } else { Algorithm::RS256 };
            assert!(!key.verifying_key().verify(other, b"msg", &s));
        }
    }

    #[test]
    fn keyset_recognises_exactly_the_headers_its_keys_sign_with() {
        let rsa = SigningKey::from_pem("a", pem_key(KeyType::Rsa2048).as_bytes()).unwrap();
        let ec = SigningKey::from_pem("b", pem_key(KeyType::EcdsaP256).as_bytes()).unwrap();
        let set = KeySet::new(vec![rsa.verifying_key().clone(), ec.verifying_key().clone()]);
        for key in [&rsa, &ec] {
            let segment = jws::encode(&jws::header_json(key.algorithm().name(), key.kid()));
            let h = set.known_header(&segment).unwrap();
            assert_eq!(
                h,
                jws::parse_header(&jws::decode_into(jws::Segment::Header, &segment, &mut []).unwrap()).unwrap()
            );
            assert_eq!(h.kid.as_deref(), Some(key.kid()));
        }
        // Any other spelling of a header is decoded and parsed instead.
        let other = jws::encode(format!(r#"{{"kid":"{}","alg":"RS256"}}"#, rsa.kid()).as_bytes());
        assert!(set.known_header(&other).is_none());
        assert!(set.known_header("eyJhbGciOiJSUzI1NiJ9").is_none());
    }

    #[test]
    fn keyset_reads_public_private_and_certificates() {
        let a = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let b = PrivateKey::generate(KeyType::Rsa2048).unwrap();
        let mut set = KeySet::default();
        assert_eq!(set.add_pem("a.pub", a.public_key_pem().as_bytes()).unwrap(), 1);
        assert_eq!(set.add_pem("b.key", b.to_pem().unwrap().as_bytes()).unwrap(), 1);
        assert_eq!(set.add_pem("a.key", a.to_pem().unwrap().as_bytes()).unwrap(), 0, "duplicate ignored");
        assert_eq!(set.keys().len(), 2);
        let kid = set.keys()[0].kid().to_owned();
        assert_eq!(set.candidates(Some(&kid)).iter().count(), 1);
        assert_eq!(set.candidates(None).iter().count(), 2);
        assert!(set.candidates(Some("nope")).is_empty());
        let err = set.add_pem("x", pem::encode("CERTIFICATE REQUEST", &[0x30, 0]).as_bytes()).unwrap_err();
        assert!(err.to_string().contains("not a key"), "{err}");
    }

    #[test]
    fn debug_hides_the_private_key() {
        let key = SigningKey::from_pem("k", pem_key(KeyType::EcdsaP256).as_bytes()).unwrap();
        assert!(format!("{key:?}").starts_with("SigningKey(ES256, kid "));
    }
}
