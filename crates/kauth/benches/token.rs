//! Token validation and signing speed, side by side with the bare signature verification of the
//! crypto library (the practical limit). go-jose and PyJWT are measured on the same kind of token
//! by `scripts/bench-tokens.sh`, which runs this bench too and prints the table in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use aws_lc_rs::signature::{self, ParsedPublicKey};
use criterion::{criterion_group, criterion_main, Criterion};
use kauth::pki::{KeyType, PrivateKey};
use kauth::token::claims::{Binding, ObjectRef};
use kauth::token::issue::{plan_expiration, BoundTokenSpec, ExpirationPolicy, TokenIssuer};
use kauth::token::keys::{KeySet, SigningKey};
use kauth::token::lookup::MemoryLookup;
use kauth::token::validate::{Validator, ValidatorConfig};

// The allocator kauth's binaries use (crates/kauth-cli), so library numbers match the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

fn bench_alg(c: &mut Criterion, name: &str, kind: KeyType) {
    let pem = PrivateKey::generate(kind).unwrap().to_pem().unwrap();
    let key = SigningKey::from_pem("sa.key", pem.as_bytes()).unwrap();
    let spki = key.verifying_key().spki().to_vec();
    let alg = key.algorithm();
    let issuer = TokenIssuer::new(ISSUER, key);
    let api = vec![ISSUER.to_owned()];
    let now = time::OffsetDateTime::now_utc();
    let plan =
        plan_expiration(Some(3600), true, &[], &api, ExpirationPolicy { max_seconds: None, extend: true }).unwrap();
    // A token shaped like a kubelet's projected token: pod-bound with its node, jti, one audience.
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

    // The bare limit: aws-lc-rs verifying the same signature over the same bytes, key pre-parsed.
    let parsed = kauth::token::validate::parse(&token).unwrap();
    let message = parsed.jws.signing_input.to_vec();
    let sig = parsed.jws.signature.clone();
    let verification: &'static dyn signature::VerificationAlgorithm = match alg.name() {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        _ => &signature::ECDSA_P256_SHA256_FIXED,
    };
    let bare = ParsedPublicKey::new(verification, &spki).unwrap();

    let mut g = c.benchmark_group(name);
    g.bench_function("bare_verify", |b| b.iter(|| bare.verify_sig(black_box(&message), black_box(&sig)).unwrap()));
    g.bench_function("kauth_validate", |b| {
        b.iter(|| validator.validate(black_box(&token), None, black_box(now), &lookup).unwrap().unwrap())
    });
    // The scope CRATES.md measured its 90%-of-bare figure on: split, base64url, header and claims
    // JSON, signature, iss/aud/time checks, but no object lookups and no user building.
    let keys = validator.config().keys.clone();
    g.bench_function("kauth_jwt_checks", |b| {
        b.iter(|| {
            use kauth::token::validate::{check_audience, check_times, claims_of, verify_signature};
            let jws = kauth::token::jws::parse(black_box(&token)).unwrap();
            let claims = claims_of(&jws).unwrap();
            assert!(validator.owns_issuer(claims.iss.as_deref().unwrap_or("")));
            verify_signature(&jws, &keys).unwrap();
            check_audience(&claims, None, &api).unwrap();
            check_times(&claims, now, 60).unwrap();
        })
    });
    // Where the overhead lies: kauth's signature step alone (kid lookup, algorithm checks, the
    // same aws-lc-rs call), and parsing followed by the bare call (parsing as it runs between
    // RSA verifications, with colder caches than in a loop of its own).
    {
        let jws = kauth::token::jws::parse(&token).unwrap();
        g.bench_function("verify_signature_only", |b| {
            b.iter(|| kauth::token::validate::verify_signature(black_box(&jws), &keys).unwrap())
        });
        g.bench_function("parse_then_bare_verify", |b| {
            b.iter(|| {
                let jws = kauth::token::jws::parse(black_box(&token)).unwrap();
                black_box(kauth::token::validate::claims_of(&jws).unwrap());
                bare.verify_sig(jws.signing_input, &jws.signature).unwrap()
            })
        });
    }
    g.bench_function("kauth_parse_only", |b| b.iter(|| kauth::token::validate::parse(black_box(&token)).unwrap()));
    // Bare signing: aws-lc-rs signing the same bytes with the parsed key (no claims, no JSON).
    let signer = issuer.key();
    g.bench_function("bare_sign", |b| b.iter(|| signer.sign(black_box(&message)).unwrap()));
    g.bench_function("kauth_sign", |b| {
        b.iter(|| issuer.issue_bound(black_box(&spec), plan.clone(), &api, now.unix_timestamp()).unwrap())
    });
    g.finish();
}

fn tokens(c: &mut Criterion) {
    bench_alg(c, "rs256", KeyType::Rsa2048);
    bench_alg(c, "es256", KeyType::EcdsaP256);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(4)).warm_up_time(std::time::Duration::from_secs(1));
    targets = tokens
}
criterion_main!(benches);
