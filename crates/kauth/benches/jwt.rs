//! External identities (issue 17): an OIDC issuer's tokens judged by the JWT authenticator, with
//! claim mappings and with CEL mappings and rules, beside a service-account token validated by
//! the same library, the same tokens through the HMAC-keyed token cache, the bare RS256
//! verification (the limit), and the CPU cost of taking in a fetched JWKS (a refresh's work
//! once the bytes have arrived). One run prints every row; BENCHMARKS.md has the table.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use kauth::authn::cache::TokenCache;
use kauth::authn::jwt::{AuthenticationConfiguration, JwtIssuers, StaticKeys, ALL_ALGORITHMS};
use kauth::authn::TokenAuthenticator;
use kauth::pki::{KeyType, PrivateKey};
use kauth::token::jwks;
use kauth::token::jws;
use kauth::token::keys::{KeySet, SigningKey};
use serde_json::json;
use time::OffsetDateTime;

#[path = "common/token_fixture.rs"]
mod token_fixture;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NOW: i64 = 1_701_107_300;

/// Two issuers of one file: `claims` maps by claim and prefix, `cel` by CEL expressions with a
/// CEL claim rule and a CEL user rule (the Kubernetes documentation's example).
const CONFIG: &str = r#"apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: https://claims.example
    audiences: [kubernetes]
  claimMappings:
    username:
      claim: email
      prefix: ''
    groups:
      claim: groups
      prefix: 'oidc:'
- issuer:
    url: https://cel.example
    audiences: [kubernetes]
  claimValidationRules:
  - expression: 'claims.exp - claims.nbf <= 86400'
    message: total token lifetime must not exceed 24 hours
  claimMappings:
    username:
      expression: 'claims.username + ":external-user"'
    groups:
      expression: 'claims.roles.split(",")'
    uid:
      expression: 'claims.sub'
    extra:
    - key: 'example.com/tenant'
      valueExpression: 'claims.tenant'
  userValidationRules:
  - expression: "!user.username.startsWith('system:')"
    message: 'username cannot used reserved system: prefix'
"#;

fn mint(k: &SigningKey, claims: &serde_json::Value) -> String {
    let header = json!({"alg": k.algorithm().name(), "kid": k.kid()});
    let input =
        format!("{}.{}", jws::encode(header.to_string().as_bytes()), jws::encode(claims.to_string().as_bytes()));
    let sig = k.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", jws::encode(&sig))
}

fn external(c: &mut Criterion) {
    let private = PrivateKey::generate(KeyType::Rsa2048).unwrap();
    let key = SigningKey::from_pem("bench", private.to_pem().unwrap().as_bytes()).unwrap();
    let set = Arc::new(KeySet::new(vec![key.verifying_key().clone()]));
    let config = AuthenticationConfiguration::load(CONFIG.as_bytes(), "bench.yaml", &[]).unwrap();
    let issuers = Arc::new(JwtIssuers::from_config(&config, &ALL_ALGORITHMS, |_| Arc::new(StaticKeys(set.clone()))));
    let now = OffsetDateTime::from_unix_timestamp(NOW).unwrap();
    let times = json!({"aud": "kubernetes", "exp": NOW + 600, "nbf": NOW - 60, "iat": NOW - 60});
    let mut by_claims = times.clone();
    by_claims["iss"] = "https://claims.example".into();
    by_claims["email"] = "alice@example.com".into();
    by_claims["email_verified"] = true.into();
    by_claims["groups"] = json!(["dev", "ops"]);
    by_claims["sub"] = "alice".into();
    let mut by_cel = times.clone();
    by_cel["iss"] = "https://cel.example".into();
    for (k, v) in [("username", "foo"), ("roles", "user,admin"), ("sub", "auth"), ("tenant", "72f988bf")] {
        by_cel[k] = v.into();
    }
    let claims_token = mint(&key, &by_claims);
    let cel_token = mint(&key, &by_cel);
    // Both are accepted, or the rows would measure a refusal.
    assert!(issuers.authenticate_token(&claims_token, None, now).unwrap().is_some());
    assert!(issuers.authenticate_token(&cel_token, None, now).unwrap().is_some());

    let sa = token_fixture::fixture(KeyType::Rsa2048);
    let cache = TokenCache::new(issuers.clone(), time::Duration::seconds(10)).unwrap();

    let mut g = c.benchmark_group("external_rs256");
    // The limit: aws-lc-rs verifying an RS256 signature with a parsed key, nothing else.
    g.bench_function("bare_verify", |b| {
        b.iter(|| sa.bare.verify_sig(black_box(&sa.message), black_box(&sa.signature)).unwrap())
    });
    g.bench_function("service_account_token", |b| {
        b.iter(|| sa.validator.validate(black_box(&sa.token), None, black_box(sa.now), &sa.lookup).unwrap().unwrap())
    });
    g.bench_function("oidc_claim_mappings", |b| {
        b.iter(|| issuers.authenticate_token(black_box(&claims_token), None, now).unwrap().unwrap())
    });
    g.bench_function("oidc_cel_mappings_and_rules", |b| {
        b.iter(|| issuers.authenticate_token(black_box(&cel_token), None, now).unwrap().unwrap())
    });
    g.bench_function("oidc_cached", |b| {
        b.iter(|| cache.authenticate_token(black_box(&claims_token), None, now).unwrap().unwrap())
    });
    g.finish();

    // A refresh's CPU work: an issuer's JWKS document (3 RSA keys, as providers publish during
    // a rotation) parsed into a key set.
    let three: Vec<_> = (0..3)
        .map(|i| {
            let p = PrivateKey::generate(KeyType::Rsa2048).unwrap();
            SigningKey::from_pem(&format!("k{i}"), p.to_pem().unwrap().as_bytes()).unwrap().verifying_key().clone()
        })
        .collect();
    let document = serde_json::to_vec(&jwks::jwks(&KeySet::new(three)).unwrap()).unwrap();
    let mut g = c.benchmark_group("jwks_refresh");
    g.bench_function("parse_3_rsa_keys", |b| b.iter(|| jwks::parse_jwks("bench", black_box(&document)).unwrap()));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(40).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = external
}
criterion_main!(benches);
