//! Token validation against the bare aws-lc-rs verification of the same signature, interleaved:
//! short alternating rounds of each, so that the machine's drift (frequency, other load) hits
//! both alike; reports the median and quartiles of the per-round rate ratios. On a shared
//! machine, sequential benchmarks of the two drift apart by several percent between runs; this
//! is the ratio the 90% target is judged on. Rows break the overhead down: the JWS (split,
//! base64url, header JSON), then the claims JSON, then everything else (key lookup, checks,
//! object lookups, the user). `cargo bench -p kauth --bench token_ratio` (`ROUNDS`, default 40).
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use kauth::pki::KeyType;
use kauth::token::{jws, validate};

#[path = "common/token_fixture.rs"]
mod token_fixture;
use token_fixture::Fixture;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn round(per_round: usize, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..per_round {
        op();
    }
    start.elapsed().as_secs_f64()
}

fn row(label: &str, f: &Fixture, rounds: usize, per_round: usize, mut path: impl FnMut(&Fixture)) {
    let mut bare = || f.bare.verify_sig(black_box(&f.message), black_box(&f.signature)).unwrap();
    // Warm both, then alternate which goes first.
    round(per_round, &mut bare);
    round(per_round, || path(f));
    let mut ratios = Vec::with_capacity(rounds);
    let (mut t_bare, mut t_path) = (0.0, 0.0);
    for r in 0..rounds {
        let (b, p) = if r % 2 == 0 {
            let b = round(per_round, &mut bare);
            (b, round(per_round, || path(f)))
        } else {
            let p = round(per_round, || path(f));
            (round(per_round, &mut bare), p)
        };
        t_bare += b;
        t_path += p;
        ratios.push(b / p);
    }
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize] * 100.0;
    let n = (rounds * per_round) as f64;
    println!(
        "| {label} | {:.0} | {:.0} | {:.1}% | {:.1}% – {:.1}% |",
        n / t_bare,
        n / t_path,
        q(0.5),
        q(0.25),
        q(0.75)
    );
}

fn main() {
    let rounds = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    println!("| path, vs the bare verify of the same signature | bare ops/s | path ops/s | median ratio | quartiles |");
    println!("|---|---:|---:|---:|---|");
    for (alg, kind, per_round) in [("RS256", KeyType::Rsa2048, 2000), ("ES256", KeyType::EcdsaP256, 1000)] {
        let f = token_fixture::fixture(kind);
        row(&format!("{alg}: JWS parse, then the bare verify"), &f, rounds, per_round, |f| {
            let j = jws::parse(black_box(&f.token)).unwrap();
            f.bare.verify_sig(j.signing_input, &j.signature).unwrap();
        });
        row(&format!("{alg}: JWS parse and claims JSON, then the bare verify"), &f, rounds, per_round, |f| {
            let j = jws::parse(black_box(&f.token)).unwrap();
            black_box(validate::claims_of(&j).unwrap());
            f.bare.verify_sig(j.signing_input, &j.signature).unwrap();
        });
        row(&format!("**{alg}: kauth full validation**"), &f, rounds, per_round, |f| {
            black_box(f.validator.validate(black_box(&f.token), None, f.now, &f.lookup).unwrap());
        });
    }
}
