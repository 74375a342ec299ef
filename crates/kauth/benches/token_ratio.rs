//! Token validation against the bare aws-lc-rs verification of the same signature, interleaved:
//! short alternating rounds of each, so that the machine's drift (frequency, other load) hits
//! both alike; reports the median and quartiles of the per-round rate ratios. On a shared
//! machine, sequential benchmarks of the two drift apart by several percent between runs; this
//! is the ratio the 90% target is judged on. Each row adds a stage of `Validator::validate`, done
//! as it does it: the JWS (split, base64url into stack buffers, the header recognised), the
//! claims JSON, the JWT checks (kid, signature, issuer, audiences, times), and last the whole
//! validation with the object lookups (the service account and the bound pod; a pod's node
//! claims are informational, as in kube-apiserver) and the user.
//! `cargo bench -p kauth --bench token_ratio` (`ROUNDS`, default 40; `ROWS=RS256`, a substring
//! of the rows' labels, measures only those).
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::Instant;

use kauth::pki::KeyType;
use kauth::token::claims::Claims;
use kauth::token::jws::{self, Segment};

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
    // `ROWS=full` (a substring of the label) measures only the rows wanted.
    if std::env::var("ROWS").is_ok_and(|w| !label.contains(w.as_str())) {
        return;
    }
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

/// The JWS steps of `validate` (split, the header recognised, payload and signature decoded
/// into stack buffers), then `claims` on the payload, then the bare verify of the signature.
fn decoded(f: &Fixture, claims: impl FnOnce(&[u8])) {
    let parts = jws::split(black_box(&f.token)).unwrap();
    black_box(f.validator.config().keys.known_header(parts.header).unwrap());
    let mut payload_buf = [MaybeUninit::uninit(); 2048];
    let payload = jws::decode_into(Segment::Payload, parts.payload, &mut payload_buf).unwrap();
    let mut signature_buf = [MaybeUninit::uninit(); 1024];
    let signature = jws::decode_into(Segment::Signature, parts.signature, &mut signature_buf).unwrap();
    claims(&payload);
    f.bare.verify_sig(parts.signing_input, &signature).unwrap();
}

fn main() {
    let rounds = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    println!("| path, vs the bare verify of the same signature | bare ops/s | path ops/s | median ratio | quartiles |");
    println!("|---|---:|---:|---:|---|");
    for (alg, kind, per_round) in [("RS256", KeyType::Rsa2048, 2000), ("ES256", KeyType::EcdsaP256, 1000)] {
        let f = token_fixture::fixture(kind);
        row(&format!("{alg}: split and base64url-decode, then the bare verify"), &f, rounds, per_round, |f| {
            decoded(f, |payload| {
                black_box(payload);
            })
        });
        row(&format!("{alg}: that and the claims JSON, then the bare verify"), &f, rounds, per_round, |f| {
            decoded(f, |payload| {
                black_box(Claims::from_json(payload).unwrap());
            })
        });
        row(
            &format!("{alg}: kauth JWT validation (+ kid, signature, iss, aud, nbf/exp/iat: go-jose's scope)"),
            &f,
            rounds,
            per_round,
            |f| token_fixture::jwt_checks(f, black_box(&f.token)),
        );
        row(
            &format!("**{alg}: kauth full validation** (+ SA and pod lookups; the user)"),
            &f,
            rounds,
            per_round,
            |f| {
                black_box(f.validator.validate(black_box(&f.token), None, f.now, &f.lookup).unwrap());
            },
        );
    }
}
