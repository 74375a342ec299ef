//! One JWT issuer's authenticator: go-oidc v2's `IDTokenVerifier.Verify` and kube-apiserver's
//! audience check, in their order, then the claim mappings ([`super::mapping`]).
//!
//! go-oidc checks, in order: the JWS parses; the claims decode with their Go types; `iss`;
//! with one configured audience, that it is in `aud`; `exp` (before now is expired: **no
//! leeway**; no `exp` at all is the zero time, so expired); `nbf` with a leeway of one minute;
//! `alg` among the accepted algorithms; the signature, with the key set as it is and, when no
//! key verifies, once more after a refresh. kube-apiserver then checks several audiences
//! (`MatchAny`). `iat` is not checked. Distributed claims (`_claim_names`) are not resolved:
//! kauth does not fetch them (kube-apiserver does, for the groups claim only).

use std::sync::Arc;

use time::OffsetDateTime;

use super::claims;
use super::keys::IssuerKeys;
use super::mapping::map_user;
use super::rejection::JwtRejection;
use super::trace::Trace;
use super::validation::ValidIssuer;
use crate::token::jws;
use crate::token::keys::{Algorithm, KeySet};
use crate::user::UserInfo;

/// go-oidc's leeway on `nbf`, in seconds.
pub const NBF_LEEWAY: i64 = 60;

/// Every algorithm kube-apiserver accepts from a JWT issuer (`oidc.AllValidSigningAlgorithms`):
/// what an `AuthenticationConfiguration` issuer accepts.
pub const ALL_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// One configured issuer, with where its keys come from.
#[derive(Debug, Clone)]
pub struct JwtAuthenticator {
    issuer: Arc<ValidIssuer>,
    keys: Arc<dyn IssuerKeys>,
    algorithms: Vec<Algorithm>,
    /// The configured audiences, sorted (kube-apiserver prints `sets.List`).
    audiences: Vec<String>,
}

impl JwtAuthenticator {
    /// The authenticator for `issuer`, verifying with `keys`, accepting `algorithms`
    /// ([`ALL_ALGORITHMS`] for a configuration file; `--oidc-signing-algs` for the flags).
    pub fn new(issuer: Arc<ValidIssuer>, keys: Arc<dyn IssuerKeys>, algorithms: &[Algorithm]) -> Self {
        let mut audiences = issuer.authenticator.issuer.audiences.clone();
        audiences.sort();
        audiences.dedup();
        let algorithms = if algorithms.is_empty() { vec![Algorithm::RS256] } else { algorithms.to_vec() };
        JwtAuthenticator { issuer, keys, algorithms, audiences }
    }

    /// The issuer URL (what the tokens' `iss` must be).
    pub fn url(&self) -> &str {
        &self.issuer.authenticator.issuer.url
    }

    /// Where the issuer's keys come from.
    pub fn keys(&self) -> &Arc<dyn IssuerKeys> {
        &self.keys
    }

    /// The issuer's configuration.
    pub fn issuer(&self) -> &ValidIssuer {
        &self.issuer
    }

    fn malformed(&self, kube: String, problem: String) -> JwtRejection {
        JwtRejection::Malformed { issuer: self.url().to_owned(), kube, problem }
    }

    /// Verifies `token` (whose unverified `iss` is this issuer's) at `at` and maps its claims
    /// to the user; records each passed check in `trace`. Times compare as go-oidc compares
    /// them: the token's whole seconds against this server's time to the nanosecond.
    pub fn verify(&self, token: &str, at: OffsetDateTime, trace: &mut Trace) -> Result<UserInfo, JwtRejection> {
        let now = at.unix_timestamp();
        let now_nanos = at.unix_timestamp_nanos();
        let nanos = |secs: i64| i128::from(secs) * 1_000_000_000;
        let url = self.url().to_owned();
        let keys = self.keys.current().map_err(|error| JwtRejection::KeysUnavailable { issuer: url.clone(), error })?;
        trace.pass("keys", format!("{} key(s): {:?}", keys.keys().len(), keys.kids()));

        let parsed = jws::parse(token)
            .map_err(|r| self.malformed(format!("oidc: malformed jwt: square/go-jose: {r}"), r.to_string()))?;
        if parsed.header.crit {
            return Err(self.malformed(
                "oidc: malformed jwt: square/go-jose: unsupported crit header".into(),
                "the header has critical extensions (crit), which kauth does not understand".into(),
            ));
        }
        let claims = claims::parse(&parsed.payload).map_err(|(kube, problem)| self.malformed(kube, problem))?;
        trace.pass("issuer", format!("iss {:?} is configured", claims.iss));

        let single = self.issuer.authenticator.issuer.audiences.len() == 1;
        if single {
            self.check_audience(&claims.aud)?;
        }
        match claims.exp {
            Some(exp) if nanos(exp) >= now_nanos => trace.pass("expiry", format!("exp {exp} is not before now {now}")),
            exp => return Err(JwtRejection::Expired { issuer: url, exp, now }),
        }
        if let Some(nbf) = claims.nbf {
            if now_nanos + nanos(NBF_LEEWAY) < nanos(nbf) {
                return Err(JwtRejection::NotYetValid { issuer: url, nbf, now, leeway: NBF_LEEWAY });
            }
            trace.pass("not before", format!("nbf {nbf} is before now {now} + {NBF_LEEWAY}s"));
        }
        let alg =
            Algorithm::from_name(&parsed.header.alg).filter(|a| self.algorithms.contains(a)).ok_or_else(|| {
                JwtRejection::UnsupportedAlgorithm {
                    issuer: url.clone(),
                    alg: parsed.header.alg.clone(),
                    supported: self.algorithms.iter().map(|a| a.name().to_owned()).collect(),
                }
            })?;
        let kid = parsed.header.kid.as_deref().filter(|k| !k.is_empty());
        let verifies = |set: &KeySet| {
            set.candidates(kid)
                .iter()
                .any(|k| k.kind().accepts(alg) && k.verify(alg, parsed.signing_input, &parsed.signature))
        };
        if !verifies(&keys) {
            let refreshed =
                self.keys.refresh(kid).map_err(|error| JwtRejection::KeysUnavailable { issuer: url.clone(), error })?;
            if !verifies(&refreshed) {
                let candidates = refreshed.candidates(kid);
                return Err(match kid {
                    Some(kid) if candidates.is_empty() => {
                        JwtRejection::UnknownKeyId { issuer: url, kid: kid.to_owned(), known: refreshed.kids() }
                    }
                    _ => JwtRejection::BadSignature {
                        issuer: url,
                        alg: alg.name().to_owned(),
                        tried: candidates.iter().map(|k| k.kid().to_owned()).collect(),
                    },
                });
            }
            trace.pass("keys refreshed", format!("kid {kid:?} found after a refresh"));
        }
        trace.pass("signature", format!("{} signature verifies (kid {kid:?})", alg.name()));
        if !single {
            self.check_audience(&claims.aud)?;
        }
        trace.pass("audience", format!("aud {:?} includes one of {:?}", claims.aud, self.audiences));
        map_user(&self.issuer, &claims.all, trace)
    }

    fn check_audience(&self, aud: &[String]) -> Result<(), JwtRejection> {
        if aud.iter().any(|a| self.audiences.contains(a)) {
            return Ok(());
        }
        Err(JwtRejection::AudienceMismatch {
            issuer: self.url().to_owned(),
            token: aud.to_vec(),
            accepted: self.audiences.clone(),
        })
    }
}
