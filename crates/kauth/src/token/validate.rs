//! Validating service-account tokens exactly as kube-apiserver does, with typed rejections.
//!
//! The order of checks is kube-apiserver's (`pkg/serviceaccount/jwt.go`, `claims.go`, `legacy.go`):
//! issuer (unverified: a foreign issuer is "not mine"), key by kid, signature, audiences, time
//! (nbf, exp, iat with the leeway), then the objects the token depends on. Each check is a
//! function of its own so `explain` can run them one by one and report each.

use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::sync::Arc;

use time::OffsetDateTime;

use super::claims::{Binding, Claims, KubernetesClaims, ObjectRef, ServiceAccountClaims, LEGACY_ISSUER};
use super::jws::{self, HeaderRef, Jws};
use super::keys::{Algorithm, KeySet, VerifyingKey};
use super::{ObjectKind, Rejection};
use crate::user::{
    service_account_groups, service_account_username, Extra, UserInfo, EXTRA_CREDENTIAL_ID, EXTRA_NODE_NAME,
    EXTRA_NODE_UID, EXTRA_POD_NAME, EXTRA_POD_UID,
};

/// kube-apiserver's leeway for time checks (go-jose's `DefaultLeeway`).
pub const DEFAULT_LEEWAY_SECONDS: i64 = 60;

/// What the validator accepts.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// Accepted issuers of bound tokens (`--service-account-issuer`, repeatable).
    pub issuers: Vec<String>,
    /// The API audiences (`--api-audiences`; default: the first issuer).
    pub api_audiences: Vec<String>,
    /// Verification keys.
    pub keys: KeySet,
    /// Leeway for nbf/exp/iat in seconds.
    pub leeway_seconds: i64,
    /// Accept legacy tokens (issuer `kubernetes/serviceaccount`).
    pub accept_legacy: bool,
}

/// The state of an object a token depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    /// Its uid.
    pub uid: String,
    /// Its deletionTimestamp, if being deleted.
    pub deletion_timestamp: Option<i64>,
}

/// The state of a legacy token Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretState {
    /// uid and deletion.
    pub object: ObjectState,
    /// `data.token`.
    pub token: Option<Vec<u8>>,
    /// The `kubernetes.io/legacy-token-invalid-since` label, if set.
    pub invalid_since: Option<String>,
}

impl std::fmt::Debug for SecretState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretState")
            .field("object", &self.object)
            .field("token", &self.token.as_ref().map(|t| format!("<redacted, {} bytes>", t.len())))
            .field("invalid_since", &self.invalid_since)
            .finish()
    }
}

/// A lookup failed (the store is unreachable). The message is for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError(pub String);

/// A state a lookup returns: borrowed from the lookup when it holds it in place (no reference
/// count touched), or shared when it has to outlive a lock.
#[derive(Debug)]
pub enum StateRef<'a, T> {
    /// Borrowed from the lookup.
    Borrowed(&'a T),
    /// Shared with the lookup's store.
    Shared(Arc<T>),
}

impl<T> std::ops::Deref for StateRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            StateRef::Borrowed(t) => t,
            StateRef::Shared(t) => t,
        }
    }
}

/// Reads the objects tokens depend on. The server implements it on its store.
///
/// A lookup on the hot path copies neither uids nor a Secret's token: states are borrowed or
/// shared ([`StateRef`]).
pub trait Lookup {
    /// A ServiceAccount.
    fn service_account(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError>;
    /// A Pod.
    fn pod(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError>;
    /// A Node.
    fn node(&self, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError>;
    /// A Secret.
    fn secret(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, SecretState>>, LookupError>;
}

impl<T: Lookup + ?Sized> Lookup for Arc<T> {
    fn service_account(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        (**self).service_account(namespace, name)
    }
    fn pod(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        (**self).pod(namespace, name)
    }
    fn node(&self, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        (**self).node(name)
    }
    fn secret(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, SecretState>>, LookupError> {
        (**self).secret(namespace, name)
    }
}

/// Which kind of token authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A bound token.
    Bound,
    /// A legacy token of this Secret (`namespace/name`).
    Legacy {
        /// `namespace/name` of the token Secret.
        secret: String,
    },
}

/// A token used after its `warnafter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The token's subject.
    pub subject: String,
    /// Seconds past the warning threshold.
    pub seconds_after_warning: i64,
}

impl Stale {
    /// The value of the `authentication.k8s.io/stale-token` audit annotation.
    pub fn audit_annotation(&self) -> String {
        format!("subject: {}, seconds after warning threshold: {}", self.subject, self.seconds_after_warning)
    }
}

/// A valid token. It borrows from the validator that accepted it (its API audiences, the kid
/// of its key): validation touches no reference count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated<'v> {
    /// The user, as Kubernetes builds it (without `system:authenticated`, which the chain adds).
    pub user: UserInfo,
    /// The audiences the token is valid for in this request. When they are the API audiences
    /// (nearly always), this is the validator's own list, borrowed.
    pub audiences: Cow<'v, [String]>,
    /// Bound or legacy.
    pub kind: TokenKind,
    /// Set when a token with `warnafter` is used after it.
    pub stale: Option<Stale>,
    /// The kid of the key that verified it.
    pub kid: &'v str,
    /// The token's exp, if any.
    pub expires_at: Option<i64>,
}

/// A parsed token: its JWS parts and an owned copy of its claims (for tools; the validator
/// parses claims borrowing from the payload instead).
#[derive(Debug, Clone)]
pub struct Parsed<'t> {
    /// The JWS.
    pub jws: Jws<'t>,
    /// The claims.
    pub claims: Claims<'static>,
}

/// Splits, decodes and parses the claims.
pub fn parse(token: &str) -> Result<Parsed<'_>, Rejection> {
    let jws = jws::parse(token)?;
    let claims = claims_of(&jws)?.into_owned();
    Ok(Parsed { jws, claims })
}

/// The claims of a decoded JWS, borrowing from its payload.
pub fn claims_of<'p>(jws: &'p Jws<'_>) -> Result<Claims<'p>, Rejection> {
    Claims::from_json(&jws.payload)
        .map_err(|problem| Rejection::Malformed { segment: Some(jws::Segment::Payload), problem })
}

/// The header's algorithm, refusing `none`, HMAC and anything kauth does not verify.
pub fn check_algorithm(alg: &str) -> Result<Algorithm, Rejection> {
    if alg.eq_ignore_ascii_case("none") {
        return Err(Rejection::ForbiddenAlgorithm { alg: alg.to_owned(), why: "unsigned tokens are never accepted" });
    }
    if alg.starts_with("HS") {
        return Err(Rejection::ForbiddenAlgorithm {
            alg: alg.to_owned(),
            why: "HMAC keyed with a public key is the key-confusion attack; service-account tokens are signed with RSA or ECDSA",
        });
    }
    Algorithm::from_name(alg).ok_or_else(|| Rejection::UnsupportedAlgorithm { alg: alg.to_owned() })
}

/// Verifies the signature with the keys the kid selects; returns the kid of the key that verified.
pub fn verify_signature<'k>(jws: &Jws<'_>, keys: &'k KeySet) -> Result<&'k str, Rejection> {
    verify_parts(&jws.header.borrowed(), jws.signing_input, &jws.signature, keys)
}

/// [`verify_signature`] on the parts of a token: its header, the bytes signed and the signature.
pub fn verify_parts<'k>(
    header: &HeaderRef<'_>,
    signing_input: &[u8],
    signature: &[u8],
    keys: &'k KeySet,
) -> Result<&'k str, Rejection> {
    verify_candidates(header, signing_input, signature, keys, None)
}

/// [`verify_parts`] for a header the key set recognised ([`KeySet::known_key`]): its key is
/// the first candidate that can verify, so it is tried without looking the kid up; only when it
/// does not verify are the others tried (and it is not tried twice). Same answer, same errors.
pub fn verify_known<'k>(
    key: &'k VerifyingKey,
    header: &HeaderRef<'_>,
    signing_input: &[u8],
    signature: &[u8],
    keys: &'k KeySet,
) -> Result<&'k str, Rejection> {
    if key.verify(key.kind().signing_algorithm(), signing_input, signature) {
        return Ok(key.kid());
    }
    verify_candidates(header, signing_input, signature, keys, Some(key))
}

fn verify_candidates<'k>(
    header: &HeaderRef<'_>,
    signing_input: &[u8],
    signature: &[u8],
    keys: &'k KeySet,
    already_failed: Option<&VerifyingKey>,
) -> Result<&'k str, Rejection> {
    if header.crit {
        return Err(Rejection::Malformed {
            segment: Some(jws::Segment::Header),
            problem: "has a \"crit\" member kauth does not understand".into(),
        });
    }
    let alg = check_algorithm(&header.alg)?;
    if keys.is_empty() {
        return Err(Rejection::NoKeys);
    }
    let candidates = keys.candidates(header.kid.as_deref());
    if candidates.is_empty() {
        return Err(Rejection::UnknownKeyId {
            kid: header.kid.as_deref().unwrap_or_default().to_owned(),
            known: keys.kids(),
        });
    }
    for key in candidates.iter() {
        if already_failed.is_some_and(|f| std::ptr::eq(f, key)) {
            continue;
        }
        if key.verify(alg, signing_input, signature) {
            return Ok(key.kid());
        }
    }
    Err(Rejection::BadSignature {
        alg: alg.name().to_owned(),
        tried: candidates.iter().map(|k| k.kid().to_owned()).collect(),
    })
}

/// Intersects the token's audiences with the requested ones (default: the API audiences). A
/// token without audiences (legacy) counts as having the API audiences.
pub fn check_audience(
    claims: &Claims<'_>,
    requested: Option<&[String]>,
    api_audiences: &[String],
) -> Result<Vec<String>, Rejection> {
    let requested = requested.filter(|r| !r.is_empty()).unwrap_or(api_audiences);
    let common: Vec<String> = match &claims.aud {
        Some(a) if !a.is_empty() => a.iter().filter(|t| requested.iter().any(|r| r == t)).map(str::to_owned).collect(),
        _ => api_audiences.iter().filter(|t| requested.contains(t)).cloned().collect(),
    };
    if common.is_empty() && !api_audiences.is_empty() {
        let token = match &claims.aud {
            Some(a) if !a.is_empty() => a.iter().map(str::to_owned).collect(),
            _ => api_audiences.to_vec(),
        };
        return Err(Rejection::NoAudienceInCommon { token, accepted: requested.to_vec() });
    }
    Ok(common)
}

/// go-jose's `ValidateWithLeeway` time checks, in its order: nbf, exp, iat.
pub fn check_times(claims: &Claims<'_>, now: OffsetDateTime, leeway: i64) -> Result<(), Rejection> {
    times(claims, Now::of(now), leeway)
}

/// An instant as the checks compare it, converted from its date once per validation.
#[derive(Clone, Copy)]
struct Now {
    /// Unix seconds.
    s: i64,
    /// Unix nanoseconds.
    ns: i128,
}

impl Now {
    fn of(now: OffsetDateTime) -> Self {
        Now { s: now.unix_timestamp(), ns: now.unix_timestamp_nanos() }
    }
}

fn times(claims: &Claims<'_>, now: Now, leeway: i64) -> Result<(), Rejection> {
    let Now { s: now_s, ns: now_ns } = now;
    let secs = |t: i64| i128::from(t) * 1_000_000_000;
    let lee = secs(leeway);
    if let Some(nbf) = claims.nbf {
        if now_ns + lee < secs(nbf.0) {
            return Err(Rejection::NotYetValid { nbf: nbf.0, now: now_s, leeway });
        }
    }
    if let Some(exp) = claims.exp {
        if now_ns - lee > secs(exp.0) {
            return Err(Rejection::Expired { exp: exp.0, now: now_s, leeway });
        }
    }
    if let Some(iat) = claims.iat {
        if now_ns + lee < secs(iat.0) {
            return Err(Rejection::IssuedInTheFuture { iat: iat.0, now: now_s, leeway });
        }
    }
    Ok(())
}

fn lookup_failed(what: impl FnOnce() -> String) -> impl FnOnce(LookupError) -> Rejection {
    move |e| Rejection::LookupFailed { what: what(), problem: e.0 }
}

/// Checks a bound object: present, not deleted before `now - leeway`, same uid.
fn check_object(
    kind: ObjectKind,
    name: impl FnOnce() -> String,
    claimed: &ObjectRef<'_>,
    state: Option<&ObjectState>,
    invalid_if_deleted_before: i64,
) -> Result<(), Rejection> {
    let Some(state) = state else { return Err(Rejection::BoundObjectNotFound { kind, name: name() }) };
    if let Some(d) = state.deletion_timestamp.filter(|d| *d < invalid_if_deleted_before) {
        return Err(Rejection::BoundObjectDeleted { kind, name: name(), deleted_at: d });
    }
    if state.uid != claimed.uid {
        return Err(Rejection::BoundObjectRecreated {
            kind,
            name: name(),
            token_uid: claimed.uid.to_string(),
            current_uid: state.uid.clone(),
        });
    }
    Ok(())
}

/// The objects a bound token depends on: its service account and its bound pod, secret or node.
pub fn check_bound_objects<'a, L: Lookup + ?Sized>(
    k: &KubernetesClaims<'a>,
    lookup: &L,
    now: OffsetDateTime,
    leeway: i64,
) -> Result<Option<Binding<'a>>, Rejection> {
    bound_objects(k, lookup, now.unix_timestamp() - leeway)
}

/// [`check_bound_objects`]: objects deleted before `before` (now less the leeway) are gone.
fn bound_objects<'a, L: Lookup + ?Sized>(
    k: &KubernetesClaims<'a>,
    lookup: &L,
    before: i64,
) -> Result<Option<Binding<'a>>, Rejection> {
    let ns: &str = &k.namespace;
    let sa = &k.serviceaccount;
    let state =
        lookup.service_account(ns, &sa.name).map_err(lookup_failed(|| format!("service account {ns}/{}", sa.name)))?;
    let Some(state) = state else {
        return Err(Rejection::ServiceAccountNotFound { namespace: ns.to_owned(), name: sa.name.to_string() });
    };
    if let Some(d) = state.deletion_timestamp.filter(|d| *d < before) {
        return Err(Rejection::ServiceAccountDeleted {
            namespace: ns.to_owned(),
            name: sa.name.to_string(),
            deleted_at: d,
        });
    }
    if state.uid != sa.uid {
        return Err(Rejection::ServiceAccountRecreated {
            namespace: ns.to_owned(),
            name: sa.name.to_string(),
            token_uid: sa.uid.to_string(),
            current_uid: state.uid.clone(),
        });
    }
    let binding = k.binding().map_err(|problem| Rejection::InconsistentClaims { problem })?;
    match &binding {
        None => {}
        Some(Binding::Secret(s)) => {
            let name = || format!("{ns}/{}", s.name);
            let st = lookup.secret(ns, &s.name).map_err(lookup_failed(|| format!("secret {}", name())))?;
            check_object(ObjectKind::Secret, name, s, st.as_deref().map(|s| &s.object), before)?;
        }
        // A pod's node claims are informational: kube-apiserver checks only the pod (the node
        // going away removes its pods, which invalidates their tokens). Only a token bound to
        // the node itself depends on the node.
        Some(Binding::Pod { pod, node: _ }) => {
            let name = || format!("{ns}/{}", pod.name);
            let st = lookup.pod(ns, &pod.name).map_err(lookup_failed(|| format!("pod {}", name())))?;
            check_object(ObjectKind::Pod, name, pod, st.as_deref(), before)?;
        }
        Some(Binding::Node(n)) => {
            let st = lookup.node(&n.name).map_err(lookup_failed(|| format!("node {}", n.name)))?;
            check_object(ObjectKind::Node, || n.name.to_string(), n, st.as_deref(), before)?;
        }
    }
    Ok(binding)
}

/// The objects a legacy token depends on: its Secret (present, holding this very token, not
/// marked invalid) and its service account (present, same uid).
pub fn check_legacy_objects<L: Lookup + ?Sized>(
    token: &str,
    namespace: &str,
    name: &str,
    uid: &str,
    secret: &str,
    lookup: &L,
) -> Result<(), Rejection> {
    let secret_id = format!("{namespace}/{secret}");
    let st = lookup.secret(namespace, secret).map_err(lookup_failed(|| format!("secret {namespace}/{secret}")))?;
    let Some(st) = st else { return Err(Rejection::LegacySecretNotFound { secret: secret_id }) };
    if st.object.deletion_timestamp.is_some() {
        return Err(Rejection::LegacySecretDeleted { secret: secret_id });
    }
    let stored = st.token.as_deref().unwrap_or_default();
    if aws_lc_rs::constant_time::verify_slices_are_equal(stored, token.trim().as_bytes()).is_err() {
        return Err(Rejection::LegacySecretHoldsAnotherToken { secret: secret_id });
    }
    let sa = lookup
        .service_account(namespace, name)
        .map_err(lookup_failed(|| format!("service account {namespace}/{name}")))?;
    let Some(sa) = sa else {
        return Err(Rejection::ServiceAccountNotFound { namespace: namespace.to_owned(), name: name.to_owned() });
    };
    if let Some(d) = sa.deletion_timestamp {
        return Err(Rejection::ServiceAccountDeleted {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            deleted_at: d,
        });
    }
    if sa.uid != uid {
        return Err(Rejection::ServiceAccountRecreated {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            token_uid: uid.to_owned(),
            current_uid: sa.uid.clone(),
        });
    }
    if let Some(since) = &st.invalid_since {
        return Err(Rejection::LegacyTokenInvalidated { secret: secret_id, since: since.clone() });
    }
    Ok(())
}

/// The user a bound token authenticates as, with Kubernetes' extras.
pub fn bound_user(k: &KubernetesClaims<'_>, binding: &Option<Binding<'_>>, jti: Option<&str>) -> UserInfo {
    const JTI: &str = "JTI=";
    let jti = jti.filter(|j| !j.is_empty());
    let (pod, node) = match binding {
        Some(Binding::Pod { pod, node }) => (Some(pod), node.as_ref()),
        Some(Binding::Node(n)) => (None, Some(n)),
        _ => (None, None),
    };
    // Up to five extras, sized up front and added in key order (each lands at the end).
    let len = |o: Option<&ObjectRef<'_>>| o.map_or(0, |o| o.name.len() + o.uid.len());
    let mut extra = Extra::with_capacity(5, jti.map_or(0, |j| JTI.len() + j.len()) + len(pod) + len(node));
    if let Some(jti) = jti {
        extra.push_concat(EXTRA_CREDENTIAL_ID, &[JTI, jti]);
    }
    if let Some(n) = node {
        extra.push(EXTRA_NODE_NAME, &n.name);
        // A pod's node that did not exist when the token was issued has no uid (kube-apiserver
        // then gives no node-uid extra).
        if !n.uid.is_empty() {
            extra.push(EXTRA_NODE_UID, &n.uid);
        }
    }
    if let Some(p) = pod {
        extra.push(EXTRA_POD_NAME, &p.name);
        extra.push(EXTRA_POD_UID, &p.uid);
    }
    UserInfo {
        name: service_account_username(&k.namespace, &k.serviceaccount.name),
        uid: k.serviceaccount.uid.to_string(),
        groups: service_account_groups(&k.namespace),
        extra,
    }
}

/// Validates tokens against a configuration.
#[derive(Debug, Clone)]
pub struct Validator {
    config: ValidatorConfig,
}

impl Validator {
    /// A validator. With no API audiences configured, the first issuer is the API audience (as
    /// kube-apiserver defaults `--api-audiences`).
    pub fn new(mut config: ValidatorConfig) -> Self {
        if config.api_audiences.is_empty() {
            config.api_audiences = config.issuers.iter().take(1).cloned().collect();
        }
        Validator { config }
    }

    /// The configuration.
    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// Whether `iss` is an issuer this validator owns.
    pub fn owns_issuer(&self, iss: &str) -> bool {
        (self.config.accept_legacy && iss == LEGACY_ISSUER) || self.config.issuers.iter().any(|i| i == iss)
    }

    /// [`check_audience`], borrowing the validator's own list when the audiences in common are
    /// exactly the API audiences (a token asked for with none requested, or with the API
    /// audiences requested).
    fn audiences_in_common(
        &self,
        claims: &Claims<'_>,
        requested: Option<&[String]>,
    ) -> Result<Cow<'_, [String]>, Rejection> {
        let api = &self.config.api_audiences;
        let requested_api = requested.is_none_or(|r| r.is_empty() || r == api.as_slice());
        let token_has_api = match &claims.aud {
            // What `check_audience` keeps, in its order, is the API audiences themselves.
            Some(a) if !a.is_empty() => {
                a.iter().filter(|t| api.iter().any(|r| r == t)).eq(api.iter().map(String::as_str))
            }
            // Without audiences, the API audiences are in common with the API audiences.
            _ => true,
        };
        if requested_api && token_has_api && !api.is_empty() {
            return Ok(Cow::Borrowed(api.as_slice()));
        }
        check_audience(claims, requested, api).map(Cow::Owned)
    }

    /// Validates `token` at `now` for the `requested` audiences (default: the API audiences).
    ///
    /// `Ok(None)`: not a token of ours (another issuer), so other authenticators may try it.
    /// `Err`: ours, and invalid, with exactly why.
    ///
    /// Generic over the lookup, so a concrete one is called directly; `&dyn Lookup` works too.
    pub fn validate<L: Lookup + ?Sized>(
        &self,
        token: &str,
        requested: Option<&[String]>,
        now: OffsetDateTime,
        lookup: &L,
    ) -> Result<Option<Authenticated<'_>>, Rejection> {
        // What `jws::parse` and `claims_of` do, in the same order with the same errors, but
        // without allocating: segments are decoded into buffers on this stack (a larger token
        // falls back to the heap), and a header that is exactly one a key of ours signs with is
        // not decoded at all.
        let parts = jws::split(token)?;
        let mut header_buf = [MaybeUninit::uninit(); 512];
        let header_bytes;
        let (known, header) = match self.config.keys.known_key(parts.header) {
            Some((key, h)) => (Some(key), h),
            None => {
                header_bytes = jws::decode_into(jws::Segment::Header, parts.header, &mut header_buf)?;
                (None, jws::parse_header(&header_bytes)?)
            }
        };
        let mut payload_buf = [MaybeUninit::uninit(); 2048];
        let payload = jws::decode_into(jws::Segment::Payload, parts.payload, &mut payload_buf)?;
        let mut signature_buf = [MaybeUninit::uninit(); 1024];
        let signature = jws::decode_into(jws::Segment::Signature, parts.signature, &mut signature_buf)?;
        let claims = Claims::from_json(&payload)
            .map_err(|problem| Rejection::Malformed { segment: Some(jws::Segment::Payload), problem })?;
        let iss = claims.iss.as_deref().unwrap_or("");
        if !self.owns_issuer(iss) {
            return Ok(None);
        }
        let kid = match known {
            Some(key) => verify_known(key, &header, parts.signing_input, &signature, &self.config.keys)?,
            None => verify_parts(&header, parts.signing_input, &signature, &self.config.keys)?,
        };
        let audiences = self.audiences_in_common(&claims, requested)?;
        let now = Now::of(now);
        times(&claims, now, self.config.leeway_seconds)?;
        let sa = claims.service_account().map_err(|claim| Rejection::MissingClaim { claim })?;
        let (user, kind, stale) = match sa {
            ServiceAccountClaims::Bound(k) => {
                let binding = bound_objects(k, lookup, now.s - self.config.leeway_seconds)?;
                let user = bound_user(k, &binding, claims.jti.as_deref());
                let stale =
                    k.warnafter.filter(|w| w.0 != 0 && now.ns > i128::from(w.0) * 1_000_000_000).map(|w| Stale {
                        subject: claims.sub.as_deref().map(str::to_owned).unwrap_or_else(|| user.name.clone()),
                        seconds_after_warning: now.s - w.0,
                    });
                (user, TokenKind::Bound, stale)
            }
            ServiceAccountClaims::Legacy { namespace, name, uid, secret } => {
                check_legacy_objects(token, namespace, name, uid, secret, lookup)?;
                let user = UserInfo {
                    name: service_account_username(namespace, name),
                    uid: uid.to_owned(),
                    groups: service_account_groups(namespace),
                    extra: Extra::new(),
                };
                (user, TokenKind::Legacy { secret: format!("{namespace}/{secret}") }, None)
            }
        };
        Ok(Some(Authenticated { user, audiences, kind, stale, kid, expires_at: claims.exp.map(|e| e.0) }))
    }
}
