//! Token validation and signing speed, side by side with the bare signature verification of the
//! crypto library (the practical limit). go-jose and PyJWT are measured on the same kind of token
//! by `scripts/bench-tokens.sh`, which runs this bench too and prints the table in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kauth::pki::KeyType;

#[path = "common/token_fixture.rs"]
mod token_fixture;
use token_fixture::{fixture, Fixture};

// The allocator kauth's binaries use (crates/kauth-cli), so library numbers match the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_alg(c: &mut Criterion, name: &str, kind: KeyType) {
    let f = fixture(kind);
    let Fixture { issuer, spec, plan, api, now, token, validator, lookup, message, signature: sig, bare, .. } = &f;
    let now = *now;

    let mut g = c.benchmark_group(name);
    g.bench_function("bare_verify", |b| b.iter(|| bare.verify_sig(black_box(message), black_box(sig)).unwrap()));
    g.bench_function("kauth_validate", |b| {
        b.iter(|| validator.validate(black_box(token), None, black_box(now), lookup).unwrap().unwrap())
    });
    // The scope CRATES.md measured its 90%-of-bare figure on, and go-jose's and PyJWT's: the JWT
    // half of `validate` (split, base64url, header, claims JSON, kid and signature, iss/aud/time),
    // without the object lookups and the user.
    g.bench_function("kauth_jwt_checks", |b| b.iter(|| token_fixture::jwt_checks(&f, black_box(token))));
    let keys = &validator.config().keys;
    // Where the overhead lies: kauth's signature step alone (kid lookup, algorithm checks, the
    // same aws-lc-rs call), and parsing followed by the bare call (parsing as it runs between
    // RSA verifications, with colder caches than in a loop of its own).
    {
        let jws = kauth::token::jws::parse(token).unwrap();
        g.bench_function("verify_signature_only", |b| {
            b.iter(|| kauth::token::validate::verify_signature(black_box(&jws), keys).unwrap())
        });
        g.bench_function("parse_then_bare_verify", |b| {
            b.iter(|| {
                let jws = kauth::token::jws::parse(black_box(token)).unwrap();
                black_box(kauth::token::validate::claims_of(&jws).unwrap());
                bare.verify_sig(jws.signing_input, &jws.signature).unwrap()
            })
        });
    }
    g.bench_function("kauth_parse_only", |b| b.iter(|| kauth::token::validate::parse(black_box(token)).unwrap()));
    // Bare signing: aws-lc-rs signing the same bytes with the parsed key (no claims, no JSON).
    let signer = issuer.key();
    g.bench_function("bare_sign", |b| b.iter(|| signer.sign(black_box(message)).unwrap()));
    g.bench_function("kauth_sign", |b| {
        b.iter(|| issuer.issue_bound(black_box(spec), plan.clone(), api, now.unix_timestamp()).unwrap())
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
