//! The token every token bench measures: a kubelet-style projected token, pod-bound with its
//! node, with a jti and one audience, issued now; its validator and in-memory objects; and the
//! bare aws-lc-rs verification of the same signature (the practical limit).
#![allow(clippy::unwrap_used, dead_code)]

use aws_lc_rs::signature::{self, ParsedPublicKey};
use kauth::pki::{KeyType, PrivateKey};
use kauth::token::claims::{Binding, ObjectRef};
use kauth::token::issue::{plan_expiration, BoundTokenSpec, ExpirationPlan, ExpirationPolicy, TokenIssuer};
use kauth::token::keys::{KeySet, SigningKey};
use kauth::token::lookup::MemoryLookup;
use kauth::token::validate::{Validator, ValidatorConfig};

pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

pub struct Fixture {
    pub issuer: TokenIssuer,
    pub spec: BoundTokenSpec,
    pub plan: ExpirationPlan,
    pub api: Vec<String>,
    pub now: time::OffsetDateTime,
    pub token: String,
    pub validator: Validator,
    pub lookup: MemoryLookup,
    /// The token's signing input and signature, and the key parsed once for the bare call.
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
    pub bare: ParsedPublicKey,
    /// The verification key as a PKIX `PUBLIC KEY` PEM (for the peers).
    pub public_pem: String,
}

pub fn fixture(kind: KeyType) -> Fixture {
    let private = PrivateKey::generate(kind).unwrap();
    let public_pem = private.public_key_pem();
    let pem = private.to_pem().unwrap();
    let key = SigningKey::from_pem("sa.key", pem.as_bytes()).unwrap();
    let spki = key.verifying_key().spki().to_vec();
    let alg = key.algorithm();
    let issuer = TokenIssuer::new(ISSUER, key);
    let api = vec![ISSUER.to_owned()];
    let now = time::OffsetDateTime::now_utc();
    let plan =
        plan_expiration(Some(3600), true, &[], &api, ExpirationPolicy { max_seconds: None, extend: true }).unwrap();
    let spec = BoundTokenSpec {
        namespace: "team-a".into(),
        service_account: ObjectRef::new("builder", "6d1b3c1e-8f0e-4a8e-9f73-0c3a5e2b7d41"),
        audiences: vec![],
        binding: Some(Binding::Pod {
            pod: ObjectRef::new("builder-7d9f8c6b5-x2x7q", "0dd440a6-1213-4faa-a69e-398b83d2dd6b"),
            node: Some(ObjectRef::new("worker-3", "c26ad760-9067-4d90-a327-b3d6e32bce42")),
        }),
        jti: None,
    };
    let token = issuer.issue_bound(&spec, plan.clone(), &api, now.unix_timestamp()).unwrap().token.into_string();
    let validator = Validator::new(ValidatorConfig {
        issuers: vec![ISSUER.into()],
        api_audiences: vec![],
        keys: KeySet::new(vec![issuer.key().verifying_key().clone()]),
        leeway_seconds: 60,
        accept_legacy: true,
    });
    let lookup = MemoryLookup::default()
        .with_service_account("team-a", "builder", "6d1b3c1e-8f0e-4a8e-9f73-0c3a5e2b7d41")
        .with_pod("team-a", "builder-7d9f8c6b5-x2x7q", "0dd440a6-1213-4faa-a69e-398b83d2dd6b")
        .with_node("worker-3", "c26ad760-9067-4d90-a327-b3d6e32bce42");
    assert!(validator.validate(&token, None, now, &lookup).unwrap().is_some());
    let parsed = kauth::token::validate::parse(&token).unwrap();
    let message = parsed.jws.signing_input.to_vec();
    let signature = parsed.jws.signature.clone();
    let verification: &'static dyn signature::VerificationAlgorithm = match alg.name() {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        _ => &signature::ECDSA_P256_SHA256_FIXED,
    };
    let bare = ParsedPublicKey::new(verification, &spki).unwrap();
    Fixture { issuer, spec, plan, api, now, token, validator, lookup, message, signature, bare, public_pem }
}

/// The JWT half of `Validator::validate`, composed from the same public steps in the same order
/// (split, decode into stack buffers, the header, claims JSON, issuer, kid and signature,
/// audiences, nbf/exp/iat): what go-jose and PyJWT do, without the object lookups and the user.
pub fn jwt_checks(f: &Fixture, token: &str) {
    use kauth::token::claims::Claims;
    use kauth::token::jws::{self, Segment};
    use kauth::token::validate::{check_audience, check_times, verify_known};
    use std::mem::MaybeUninit;
    let keys = &f.validator.config().keys;
    let parts = jws::split(token).unwrap();
    let (key, header) = keys.known_key(parts.header).unwrap();
    let mut payload_buf = [MaybeUninit::uninit(); 2048];
    let payload = jws::decode_into(Segment::Payload, parts.payload, &mut payload_buf).unwrap();
    let mut signature_buf = [MaybeUninit::uninit(); 1024];
    let signature = jws::decode_into(Segment::Signature, parts.signature, &mut signature_buf).unwrap();
    let claims = Claims::from_json(&payload).unwrap();
    assert!(f.validator.owns_issuer(claims.iss.as_deref().unwrap_or("")));
    let kid = verify_known(key, &header, parts.signing_input, &signature, keys).unwrap();
    let audiences = check_audience(&claims, None, &f.validator.config().api_audiences).unwrap();
    check_times(&claims, f.now, 60).unwrap();
    std::hint::black_box((kid, audiences));
}
