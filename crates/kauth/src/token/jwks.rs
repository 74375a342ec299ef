//! JWKS (RFC 7517) and OIDC discovery documents, as kube-apiserver serves them (KEP-1393).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedSpki;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::keys::{KeyError, KeyKind, KeySet, VerifyingKey};

/// One JSON Web Key, fields in go-jose's order (`use, kty, kid, crv, alg, x, y, n, e`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `RSA` or `EC`.
    pub kty: String,
    /// The key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The curve of an EC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// The algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// EC x coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// `/.well-known/openid-configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIdConfiguration {
    /// The issuer.
    pub issuer: String,
    /// Where the JWKS is.
    pub jwks_uri: String,
    /// Always `["id_token"]`.
    pub response_types_supported: Vec<String>,
    /// Always `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// The algorithms of the keys, sorted.
    pub id_token_signing_alg_values_supported: Vec<String>,
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len().saturating_sub(1));
    &b[i..]
}

/// The JWK of a verification key, as kube-apiserver publishes it.
pub fn jwk(key: &VerifyingKey) -> Result<Jwk, KeyError> {
    let bad = |p: String| KeyError { what: format!("key {}", key.kid()), problem: p };
    let (_, spki) = SubjectPublicKeyInfo::from_der(key.spki()).map_err(|e| bad(e.to_string()))?;
    let alg = Some(key.kind().signing_algorithm().name().to_owned());
    match spki.parsed().map_err(|e| bad(e.to_string()))? {
        ParsedSpki::RSA(rsa) => Ok(Jwk {
            use_: Some("sig".into()),
            kty: "RSA".into(),
            kid: Some(key.kid().to_owned()),
            crv: None,
            alg,
            x: None,
            y: None,
            n: Some(URL_SAFE_NO_PAD.encode(strip_zeros(rsa.modulus))),
            e: Some(URL_SAFE_NO_PAD.encode(strip_zeros(rsa.exponent))),
        }),
        ParsedSpki::EC(point) => {
            let data = point.data();
            if data.first() != Some(&4) || data.len() % 2 == 0 {
                return Err(bad("EC point is not uncompressed".into()));
            }
            let half = (data.len() - 1) / 2;
            Ok(Jwk {
                use_: Some("sig".into()),
                kty: "EC".into(),
                kid: Some(key.kid().to_owned()),
                crv: key.kind().curve().map(str::to_owned),
                alg,
                x: Some(URL_SAFE_NO_PAD.encode(&data[1..=half])),
                y: Some(URL_SAFE_NO_PAD.encode(&data[1 + half..])),
                n: None,
                e: None,
            })
        }
        _ => Err(bad("not an RSA or EC key".into())),
    }
}

/// The JWKS document of every verification key.
pub fn jwks(keys: &KeySet) -> Result<JwkSet, KeyError> {
    Ok(JwkSet { keys: keys.keys().iter().map(jwk).collect::<Result<_, _>>()? })
}

/// Reads a JWKS document into verification keys (for `kauth token explain --jwks`).
pub fn parse_jwks(what: &str, data: &[u8]) -> Result<KeySet, KeyError> {
    let bad = |p: String| KeyError { what: what.to_owned(), problem: p };
    let set: JwkSet =
        serde_json::from_slice(data).map_err(|e| bad(format!("not a JWKS document ({{\"keys\": [...]}}): {e}")))?;
    let b64 = |field: &str, v: &Option<String>, i: usize| -> Result<Vec<u8>, KeyError> {
        let v = v.as_deref().ok_or_else(|| bad(format!("key {i} has no {field:?}")))?;
        URL_SAFE_NO_PAD.decode(v).map_err(|e| bad(format!("key {i}: {field:?} is not base64url: {e}")))
    };
    let mut keys = KeySet::default();
    for (i, k) in set.keys.iter().enumerate() {
        if k.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let name = format!("{what} key {i}");
        let key = match k.kty.as_str() {
            "RSA" => VerifyingKey::from_rsa_components(
                &name,
                strip_zeros(&b64("n", &k.n, i)?),
                strip_zeros(&b64("e", &k.e, i)?),
                k.kid.clone(),
            )?,
            "EC" => {
                let kind = match k.crv.as_deref() {
                    Some("P-256") => KeyKind::P256,
                    Some("P-384") => KeyKind::P384,
                    Some("P-521") => KeyKind::P521,
                    other => return Err(bad(format!("key {i}: unsupported curve {other:?}"))),
                };
                VerifyingKey::from_ec_point(&name, kind, &b64("x", &k.x, i)?, &b64("y", &k.y, i)?, k.kid.clone())?
            }
            other => return Err(bad(format!("key {i}: unsupported kty {other:?}"))),
        };
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(bad("holds no signature key".into()));
    }
    Ok(keys)
}

/// The discovery document for `issuer`, pointing at `jwks_uri`.
pub fn openid_configuration(issuer: &str, jwks_uri: &str, keys: &KeySet) -> OpenIdConfiguration {
    let mut algs: Vec<String> = keys.keys().iter().map(|k| k.kind().signing_algorithm().name().to_owned()).collect();
    algs.sort();
    algs.dedup();
    OpenIdConfiguration {
        issuer: issuer.to_owned(),
        jwks_uri: jwks_uri.to_owned(),
        response_types_supported: vec!["id_token".into()],
        subject_types_supported: vec!["public".into()],
        id_token_signing_alg_values_supported: algs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeyType, PrivateKey};
    use crate::token::keys::SigningKey;

    #[test]
    fn jwks_round_trips_and_verifies() {
        let mut set = KeySet::default();
        let mut signers = Vec::new();
        for kind in [KeyType::Rsa2048, KeyType::EcdsaP256] {
            let pem = PrivateKey::generate(kind).unwrap().to_pem().unwrap();
            set.add_pem("k", pem.as_bytes()).unwrap();
            signers.push(SigningKey::from_pem("k", pem.as_bytes()).unwrap());
        }
        let doc = jwks(&set).unwrap();
        let text = serde_json::to_string(&doc).unwrap();
        assert!(text.starts_with(r#"{"keys":[{"use":"sig","kty":"RSA","kid":""#), "{text}");
        assert!(
            text.contains(r#""kty":"EC","kid":""#) && text.contains(r#""crv":"P-256","alg":"ES256","x":""#),
            "{text}"
        );
        assert!(text.contains(r#""e":"AQAB""#));
        let back = parse_jwks("jwks.json", text.as_bytes()).unwrap();
        assert_eq!(back.kids(), set.kids());
        for (b, s) in back.keys().iter().zip(&signers) {
            assert_eq!(b.spki(), s.verifying_key().spki(), "the key rebuilt from the JWK is the same key");
            let sig = s.sign(b"m").unwrap();
            assert!(b.verify(s.algorithm(), b"m", &sig));
        }
        let conf = openid_configuration("https://issuer", "https://issuer/openid/v1/jwks", &set);
        assert_eq!(conf.id_token_signing_alg_values_supported, ["ES256", "RS256"]);
    }

    #[test]
    fn bad_jwks_are_named() {
        assert!(parse_jwks("j", b"{}").unwrap_err().to_string().contains("not a JWKS document"));
        assert!(parse_jwks("j", br#"{"keys":[]}"#).unwrap_err().to_string().contains("holds no signature key"));
        assert!(parse_jwks("j", br#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#)
            .unwrap_err()
            .to_string()
            .contains("unsupported kty"));
        assert!(parse_jwks("j", br#"{"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]}"#)
            .unwrap_err()
            .to_string()
            .contains("not base64url"));
    }
}
