//! Issuing tokens: bound (TokenRequest) and legacy, with TokenRequest's expiration rules.

use std::fmt;

use super::claims::{Audience, Binding, Claims, KubernetesClaims, NumericDate, ObjectRef, LEGACY_ISSUER};
use super::jws;
use super::keys::{KeyError, SigningKey};
use crate::user::service_account_username;

/// TokenRequest's default `expirationSeconds`.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// The shortest token TokenRequest issues.
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// The longest `expirationSeconds` TokenRequest accepts.
pub const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;
/// The expirationSeconds kubelet's projected volumes default to; such tokens get extended.
pub const WARN_ONLY_EXPIRATION_SECONDS: i64 = 3607;
/// The lifetime an extended token really gets (one year).
pub const EXTENDED_EXPIRATION_SECONDS: i64 = 365 * 24 * 3600;

/// An issued token. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The compact JWS.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The compact JWS, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<redacted, {} bytes>)", self.0.len())
    }
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// `expirationSeconds` below 600.
    #[error("spec.expirationSeconds: Invalid value: {0}: may not specify a duration less than 10 minutes")]
    TooShort(i64),
    /// `expirationSeconds` above 2^32.
    #[error("spec.expirationSeconds: Invalid value: {0}: may not specify a duration larger than 2^32 seconds")]
    TooLong(i64),
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The server's expiration flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpirationPolicy {
    /// `--service-account-max-token-expiration`, in seconds (`None`: no maximum).
    pub max_seconds: Option<i64>,
    /// `--service-account-extend-token-expiration` (kube-apiserver's default: true).
    pub extend: bool,
}

/// How long a token lives, as TokenRequest decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpirationPlan {
    /// `spec.expirationSeconds` after defaulting and the maximum.
    pub granted: i64,
    /// The lifetime written into the JWT's `exp` (one year for extended tokens).
    pub jwt_lifetime: i64,
    /// Seconds after `iat` at which an extended token becomes stale (`warnafter`).
    pub warn_after: Option<i64>,
    /// The API warning ("requested expiration of X seconds shortened to Y seconds").
    pub warning: Option<String>,
}

/// A TokenRequest's `expirationSeconds` defaulted (3600) and validated (at least 600, at most
/// 2^32), as kube-apiserver validates it before it looks at the bound object.
pub fn requested_expiration(requested: Option<i64>) -> Result<i64, IssueError> {
    let seconds = requested.unwrap_or(DEFAULT_EXPIRATION_SECONDS);
    if seconds < MIN_EXPIRATION_SECONDS {
        return Err(IssueError::TooShort(seconds));
    }
    if seconds > MAX_EXPIRATION_SECONDS {
        return Err(IssueError::TooLong(seconds));
    }
    Ok(seconds)
}

/// TokenRequest's rules (`pkg/registry/core/serviceaccount/storage/token.go`): default 3600,
/// minimum 600, maximum 2^32, the server's maximum with a warning, and the extension of pod-bound
/// 3607-second tokens for API audiences to one year with `warnafter`.
pub fn plan_expiration(
    requested: Option<i64>,
    pod_bound: bool,
    audiences: &[String],
    api_audiences: &[String],
    policy: ExpirationPolicy,
) -> Result<ExpirationPlan, IssueError> {
    let mut granted = requested_expiration(requested)?;
    let mut warning = None;
    if let Some(max) = policy.max_seconds.filter(|m| *m > 0 && granted > *m) {
        warning = Some(format!("requested expiration of {granted} seconds shortened to {max} seconds"));
        granted = max;
    }
    let api_only = audiences.is_empty() || audiences.iter().all(|a| api_audiences.contains(a));
    let (jwt_lifetime, warn_after) =
        if policy.extend && pod_bound && granted == WARN_ONLY_EXPIRATION_SECONDS && api_only {
            (EXTENDED_EXPIRATION_SECONDS, Some(granted))
        } else {
            (granted, None)
        };
    Ok(ExpirationPlan { granted, jwt_lifetime, warn_after, warning })
}

/// What a bound token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundTokenSpec {
    /// The service account's namespace.
    pub namespace: String,
    /// The service account.
    pub service_account: ObjectRef<'static>,
    /// Audiences (empty: the API audiences).
    pub audiences: Vec<String>,
    /// What the token is bound to.
    pub binding: Option<Binding<'static>>,
    /// The token's id (`jti`); a random UUID when `None`.
    pub jti: Option<String>,
}

/// A freshly issued bound token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token.
    pub token: Token,
    /// `status.expirationTimestamp`: `iat + granted` (not the extended `exp`).
    pub expiration_timestamp: i64,
    /// The claims written.
    pub claims: Claims<'static>,
    /// The plan used.
    pub plan: ExpirationPlan,
}

/// Signs tokens as one issuer with one key.
#[derive(Debug)]
pub struct TokenIssuer {
    issuer: String,
    key: SigningKey,
    backdate: i64,
}

impl TokenIssuer {
    /// An issuer (`--service-account-issuer`'s first value) signing with `key`.
    pub fn new(issuer: impl Into<String>, key: SigningKey) -> Self {
        TokenIssuer { issuer: issuer.into(), key, backdate: 0 }
    }

    /// Backdates `iat` and `nbf` of bound tokens by `seconds` (0, Kubernetes' behaviour, by
    /// default), as kubeadm backdates certificates' NotBefore: a validator whose clock is up to
    /// that far behind this issuer's still accepts them. `exp`, `warnafter` and
    /// `status.expirationTimestamp` stay counted from the real issue time, so a token lives no
    /// longer into the future; the price is that `iat` no longer says exactly when it was issued.
    pub fn with_backdate(mut self, seconds: i64) -> Self {
        self.backdate = seconds.max(0);
        self
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs arbitrary claims with header `{"alg":..,"kid":..}`, as kube-apiserver does.
    pub fn sign(&self, claims: &Claims<'_>) -> Result<Token, KeyError> {
        let header = jws::header_json(self.key.algorithm().name(), self.key.kid());
        let mut out = jws::encode(&header);
        out.push('.');
        out.push_str(&jws::encode(&claims.to_json()));
        let signature = self.key.sign(out.as_bytes())?;
        out.push('.');
        out.push_str(&jws::encode(&signature));
        Ok(Token(out))
    }

    /// Issues a bound token at `now` (unix seconds) with `plan` from [`plan_expiration`].
    pub fn issue_bound(
        &self,
        spec: &BoundTokenSpec,
        plan: ExpirationPlan,
        api_audiences: &[String],
        now: i64,
    ) -> Result<IssuedToken, IssueError> {
        let audiences = if spec.audiences.is_empty() { api_audiences.to_vec() } else { spec.audiences.clone() };
        let mut k = KubernetesClaims {
            namespace: spec.namespace.clone().into(),
            serviceaccount: spec.service_account.clone(),
            warnafter: plan.warn_after.map(|w| NumericDate(now + w)),
            ..KubernetesClaims::default()
        };
        k.set_binding(spec.binding.clone());
        let claims = Claims {
            aud: Some(Audience::from_strings(audiences)),
            exp: Some(NumericDate(now + plan.jwt_lifetime)),
            iat: Some(NumericDate(now - self.backdate)),
            iss: Some(self.issuer.clone().into()),
            jti: Some(match &spec.jti {
                Some(j) => j.clone().into(),
                None => random_uuid()?.into(),
            }),
            kubernetes: Some(k),
            nbf: Some(NumericDate(now - self.backdate)),
            sub: Some(service_account_username(&spec.namespace, &spec.service_account.name).into()),
            ..Claims::default()
        };
        let token = self.sign(&claims)?;
        Ok(IssuedToken { token, expiration_timestamp: now + plan.granted, claims, plan })
    }

    /// Issues a legacy token for a token Secret (issuer `kubernetes/serviceaccount`, no expiry).
    pub fn issue_legacy(
        &self,
        namespace: &str,
        service_account: &ObjectRef<'_>,
        secret: &str,
    ) -> Result<Token, KeyError> {
        let claims = Claims {
            iss: Some(LEGACY_ISSUER.into()),
            legacy_namespace: Some(namespace.into()),
            legacy_secret_name: Some(secret.into()),
            legacy_service_account_name: Some(service_account.name.clone()),
            legacy_service_account_uid: Some(service_account.uid.clone()),
            sub: Some(service_account_username(namespace, &service_account.name).into()),
            ..Claims::default()
        };
        self.sign(&claims)
    }
}

/// A random (v4) UUID from aws-lc-rs' generator.
pub fn random_uuid() -> Result<String, KeyError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|e| KeyError { what: "random token id".into(), problem: e.to_string() })?;
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Vec<String> {
        vec!["https://kubernetes.default.svc".into()]
    }

    #[test]
    fn expiration_rules() {
        let p = ExpirationPolicy { max_seconds: None, extend: true };
        assert_eq!(plan_expiration(None, false, &[], &api(), p).unwrap().granted, 3600);
        assert_eq!(plan_expiration(Some(599), false, &[], &api(), p), Err(IssueError::TooShort(599)));
        assert_eq!(
            IssueError::TooShort(599).to_string(),
            "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        assert_eq!(
            plan_expiration(Some((1 << 32) + 1), false, &[], &api(), p),
            Err(IssueError::TooLong((1 << 32) + 1))
        );
        let capped = plan_expiration(
            Some(86_400 * 2),
            false,
            &[],
            &api(),
            ExpirationPolicy { max_seconds: Some(86_400), extend: true },
        )
        .unwrap();
        assert_eq!(capped.granted, 86_400);
        assert_eq!(
            capped.warning.as_deref(),
            Some("requested expiration of 172800 seconds shortened to 86400 seconds")
        );
    }

    #[test]
    fn the_3607_extension_needs_pod_binding_api_audiences_and_the_flag() {
        let on = ExpirationPolicy { max_seconds: None, extend: true };
        let ext = plan_expiration(Some(3607), true, &[], &api(), on).unwrap();
        assert_eq!((ext.granted, ext.jwt_lifetime, ext.warn_after), (3607, 31_536_000, Some(3607)));
        assert_eq!(plan_expiration(Some(3607), false, &[], &api(), on).unwrap().jwt_lifetime, 3607);
        assert_eq!(plan_expiration(Some(3608), true, &[], &api(), on).unwrap().jwt_lifetime, 3608);
        assert_eq!(plan_expiration(Some(3607), true, &["vault".into()], &api(), on).unwrap().jwt_lifetime, 3607);
        let off = ExpirationPolicy { max_seconds: None, extend: false };
        assert_eq!(plan_expiration(Some(3607), true, &[], &api(), off).unwrap().jwt_lifetime, 3607);
    }

    #[test]
    fn backdating_moves_iat_and_nbf_only() {
        let pem = crate::pki::PrivateKey::generate(crate::pki::KeyType::EcdsaP256).unwrap().to_pem().unwrap();
        let key = || crate::token::keys::SigningKey::from_pem("k", pem.as_bytes()).unwrap();
        let spec = BoundTokenSpec {
            namespace: "ns".into(),
            service_account: crate::token::claims::ObjectRef::new("sa", "u"),
            audiences: vec![],
            binding: None,
            jti: None,
        };
        let plan =
            plan_expiration(Some(3600), false, &[], &api(), ExpirationPolicy { max_seconds: None, extend: true })
                .unwrap();
        let plain = TokenIssuer::new("https://i", key()).issue_bound(&spec, plan.clone(), &api(), 1_000_000).unwrap();
        let back = TokenIssuer::new("https://i", key())
            .with_backdate(120)
            .issue_bound(&spec, plan, &api(), 1_000_000)
            .unwrap();
        let t = |c: &Claims<'_>| (c.iat.map(|d| d.0), c.nbf.map(|d| d.0), c.exp.map(|d| d.0));
        assert_eq!(t(&plain.claims), (Some(1_000_000), Some(1_000_000), Some(1_003_600)));
        assert_eq!(t(&back.claims), (Some(999_880), Some(999_880), Some(1_003_600)));
        assert_eq!(back.expiration_timestamp, plain.expiration_timestamp);
    }

    #[test]
    fn uuids_are_v4() {
        let u = random_uuid().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, random_uuid().unwrap());
    }
}
