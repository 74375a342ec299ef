//! Signing claims that someone else composed: kube-apiserver's external JWT signer (KEP-740).
//!
//! kube-apiserver started with `--service-account-signing-endpoint` builds a token's claims
//! itself, sends them base64url-encoded (no padding), and expects back the protected header and
//! the signature; it joins `header.claims.signature` without decoding the claims again. So the
//! signature here is over exactly the bytes it sent, never a re-encoding of them.
//!
//! The header is `{"alg":..,"kid":..,"typ":"JWT"}`: kube-apiserver 1.32 refuses a header with any
//! other member, or without `typ` `JWT`, or a `kid` longer than 1 KiB, or an algorithm other than
//! RS256, ES256, ES384, ES512.
//!
//! # What the signer refuses, and why
//!
//! - Claims that are not unpadded base64url of a JSON object.
//! - Claims without a numeric `iat` and `exp`: kauth signs only tokens that expire, since the key
//!   ring retires a key once every token it signed has expired.
//! - **Clock skew.** An `iat` further than [`SignPolicy::max_clock_skew_seconds`] from the
//!   signer's clock, ahead or behind: kube-apiserver's clock and the signer's disagree. kauth's
//!   own clock decides when keys are promoted and retired, and verifiers accept an `iat`/`nbf`
//!   only [`crate::token::validate::DEFAULT_LEEWAY_SECONDS`] in the future; a token issued by a
//!   kube-apiserver whose clock is minutes off would be refused by every verifier whose clock is
//!   right, or outlive the key that signed it. Refusing at signing time names the cause at once,
//!   on the caller's side (`kubectl create token` prints it), instead of as scattered "token not
//!   valid yet" failures later.
//! - An `exp` further than [`SignPolicy::max_lifetime_seconds`] (plus the allowed skew) from the
//!   signer's clock: the ring keeps a key verifying only that long after it stops signing, so the
//!   token would fail before it expires. kube-apiserver learns that limit from the signer's
//!   `Metadata` and never asks for more.

use std::fmt;

use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};

use super::jws;
use super::keys::{KeyError, SigningKey};

/// What the signer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignPolicy {
    /// How far the claims' `iat` may be from the signer's clock, either way, in seconds.
    pub max_clock_skew_seconds: i64,
    /// The longest a token may live from the signer's now, in seconds.
    pub max_lifetime_seconds: i64,
}

/// A signature for kube-apiserver: the header and signature segments, base64url, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    /// The protected header segment.
    pub header: String,
    /// The signature segment.
    pub signature: String,
}

impl fmt::Debug for Signed {
    // A signature is half a credential: only its length is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("header", &self.header)
            .field("signature", &format_args!("<{} chars>", self.signature.len()))
            .finish()
    }
}

/// Why claims were not signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignRefusal {
    /// Empty claims.
    #[error("claims: empty")]
    Empty,
    /// Not unpadded base64url.
    #[error("claims: not unpadded base64url: {0}")]
    NotBase64(String),
    /// Not a JSON object.
    #[error("claims: not a JSON object: {0}")]
    NotJsonObject(String),
    /// `iat` or `exp` missing or not a number.
    #[error("claims: {claim} is {problem}; kauth signs only tokens with a numeric iat and exp")]
    Time {
        /// `iat` or `exp`.
        claim: &'static str,
        /// `missing` or `not a number`.
        problem: &'static str,
    },
    /// `iat` far from the signer's clock.
    #[error(
        "claims: iat {iat} is {} the signer's clock ({now}), more than the {limit} s allowed: the clocks of the token's issuer (kube-apiserver) and of kauth disagree; fix their time sync",
        skew_words(*iat - *now)
    )]
    ClockSkew {
        /// The claims' `iat`.
        iat: i64,
        /// The signer's now.
        now: i64,
        /// The allowed skew.
        limit: i64,
    },
    /// `exp` beyond what the key ring guarantees.
    #[error("claims: exp {exp} is {} s after the signer's clock ({now}); tokens may live at most {max} s (the signer's Metadata says so)", *exp - *now)]
    TooLong {
        /// The claims' `exp`.
        exp: i64,
        /// The signer's now.
        now: i64,
        /// The longest lifetime.
        max: i64,
    },
    /// The key could not sign.
    #[error("signing: {0}")]
    Key(#[from] KeyError),
}

fn skew_words(delta: i64) -> String {
    if delta > 0 {
        format!("{delta} s ahead of")
    } else {
        format!("{} s behind", delta.unsigned_abs())
    }
}

/// The time claims the signer judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// `iat`.
    pub iat: i64,
    /// `exp`.
    pub exp: i64,
}

fn seconds(claims: &Map<String, Value>, claim: &'static str) -> Result<i64, SignRefusal> {
    let v = claims.get(claim).ok_or(SignRefusal::Time { claim, problem: "missing" })?;
    let n = v.as_number().ok_or(SignRefusal::Time { claim, problem: "not a number" })?;
    // go-jose writes NumericDate as an integer; a fraction is read as its whole seconds.
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 9.0e15).map(|f| f.floor() as i64))
        .ok_or(SignRefusal::Time { claim, problem: "not a number" })
}

/// Decodes the claims segment and checks it against `policy` at `now` (unix seconds).
pub fn check_claims(claims_b64: &str, now: i64, policy: &SignPolicy) -> Result<Times, SignRefusal> {
    if claims_b64.is_empty() {
        return Err(SignRefusal::Empty);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims_b64)
        .map_err(|e| SignRefusal::NotBase64(e.to_string()))?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|e| SignRefusal::NotJsonObject(e.to_string()))?;
    let iat = seconds(&claims, "iat")?;
    let exp = seconds(&claims, "exp")?;
    let limit = policy.max_clock_skew_seconds;
    if iat.saturating_sub(now).saturating_abs() > limit {
        return Err(SignRefusal::ClockSkew { iat, now, limit });
    }
    if exp.saturating_sub(now) > policy.max_lifetime_seconds.saturating_add(limit) {
        return Err(SignRefusal::TooLong { exp, now, max: policy.max_lifetime_seconds });
    }
    Ok(Times { iat, exp })
}

/// The header kube-apiserver accepts from an external signer.
pub fn header_json(alg: &str, kid: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct H<'a> {
        alg: &'a str,
        kid: &'a str,
        typ: &'a str,
    }
    // Serializing three strings to a Vec cannot fail.
    serde_json::to_vec(&H { alg, kid, typ: "JWT" }).unwrap_or_default()
}

/// Checks `claims_b64` (see [`check_claims`]) and signs `header.claims_b64` with `key`.
pub fn sign(key: &SigningKey, claims_b64: &str, now: i64, policy: &SignPolicy) -> Result<Signed, SignRefusal> {
    check_claims(claims_b64, now, policy)?;
    let header = jws::encode(&header_json(key.algorithm().name(), key.kid()));
    let mut input = String::with_capacity(header.len() + 1 + claims_b64.len());
    input.push_str(&header);
    input.push('.');
    input.push_str(claims_b64);
    let signature = jws::encode(&key.sign(input.as_bytes())?);
    Ok(Signed { header, signature })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::pki::{KeyType, PrivateKey};
    use crate::token::keys::KeySet;
    use crate::token::validate::{self};

    const NOW: i64 = 1_800_000_000;
    const POLICY: SignPolicy = SignPolicy { max_clock_skew_seconds: 60, max_lifetime_seconds: 7200 };

    fn b64(json: &str) -> String {
        jws::encode(json.as_bytes())
    }

    fn key(t: KeyType) -> SigningKey {
        let pem = PrivateKey::generate(t).unwrap().to_pem().unwrap();
        SigningKey::from_pem("test", pem.as_bytes()).unwrap()
    }

    #[test]
    fn the_signature_is_over_the_bytes_sent_and_verifies_with_the_public_key() {
        for t in [KeyType::Rsa2048, KeyType::EcdsaP256] {
            let k = key(t);
            // Claims as sent, with a member order and spacing kauth would never write itself.
            let claims = b64(r#"{"sub":"x", "iat":1800000000,"exp":1800003600,"aud":["a"]}"#);
            let s = sign(&k, &claims, NOW, &POLICY).unwrap();
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&s.header).unwrap();
            let header: Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(header["typ"], "JWT");
            assert_eq!(header["kid"], k.kid());
            assert_eq!(header["alg"], k.algorithm().name());
            assert_eq!(header.as_object().unwrap().len(), 3);
            let token = format!("{}.{}.{}", s.header, claims, s.signature);
            let keys = KeySet::new(vec![k.verifying_key().clone()]);
            let parsed = validate::parse(&token).unwrap();
            assert_eq!(validate::verify_signature(&parsed.jws, &keys).unwrap(), k.kid());
            assert!(!format!("{s:?}").contains(&s.signature));
        }
    }

    #[test]
    fn bad_claims_are_refused_with_their_reason() {
        type Expect = fn(&SignRefusal) -> bool;
        let cases: [(&str, Expect); 7] = [
            ("", |r| *r == SignRefusal::Empty),
            ("eyJ=", |r| matches!(r, SignRefusal::NotBase64(_))),
            ("bm90IGpzb24", |r| matches!(r, SignRefusal::NotJsonObject(_))),
            ("WzEsMl0", |r| matches!(r, SignRefusal::NotJsonObject(_))),
            ("e30", |r| *r == SignRefusal::Time { claim: "iat", problem: "missing" }),
            ("eyJpYXQiOiJub3ciLCJleHAiOjF9", |r| *r == SignRefusal::Time { claim: "iat", problem: "not a number" }),
            ("eyJpYXQiOjE4MDAwMDAwMDB9", |r| *r == SignRefusal::Time { claim: "exp", problem: "missing" }),
        ];
        for (claims, ok) in cases {
            let r = check_claims(claims, NOW, &POLICY).unwrap_err();
            assert!(ok(&r), "{claims}: {r}");
        }
    }

    #[test]
    fn the_clock_skew_rule_allows_the_limit_and_refuses_beyond_it_either_way() {
        let at = |iat: i64| check_claims(&b64(&format!(r#"{{"iat":{iat},"exp":{}}}"#, iat + 600)), NOW, &POLICY);
        assert!(at(NOW + 60).is_ok() && at(NOW - 60).is_ok());
        let ahead = at(NOW + 61).unwrap_err();
        assert_eq!(ahead, SignRefusal::ClockSkew { iat: NOW + 61, now: NOW, limit: 60 });
        assert!(ahead.to_string().contains("61 s ahead of the signer's clock"), "{ahead}");
        let behind = at(NOW - 300).unwrap_err();
        assert!(behind.to_string().contains("300 s behind the signer's clock"), "{behind}");
        // Extreme values do not overflow.
        assert!(at(i64::MIN + 1000).is_err() && at(i64::MAX - 1000).is_err());
    }

    #[test]
    fn a_token_outliving_what_the_ring_guarantees_is_refused() {
        let exp = |exp: i64| check_claims(&b64(&format!(r#"{{"iat":{NOW},"exp":{exp}}}"#)), NOW, &POLICY);
        assert_eq!(exp(NOW + 7260).unwrap(), Times { iat: NOW, exp: NOW + 7260 });
        assert_eq!(exp(NOW + 7261).unwrap_err(), SignRefusal::TooLong { exp: NOW + 7261, now: NOW, max: 7200 });
        // A fractional NumericDate counts by its whole seconds.
        let t = check_claims(&b64(&format!(r#"{{"iat":{NOW}.9,"exp":{}}}"#, NOW + 10)), NOW, &POLICY).unwrap();
        assert_eq!(t.iat, NOW);
    }
}
