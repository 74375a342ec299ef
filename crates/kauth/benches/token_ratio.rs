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
//!
//! With `GOJOSE` (the go-jose peer's binary) and `PYJWT` (a Python with PyJWT, running
//! `tests/peers/pyjwt_peer.py`) set, as `scripts/bench-tokens.sh` does, it also compares the full
//! validation with each peer in alternating one-second rounds (`PEER_ROUNDS`, default 7): the
//! peer process validates the same token for a second and reports its rate, then kauth does,
//! and so on; the median and quartiles of the per-round rate ratios are reported.
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

/// kauth's full validation of the fixture's token for `seconds`, in ops/s.
fn kauth_rate(f: &Fixture, seconds: f64) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..100 {
            black_box(f.validator.validate(black_box(&f.token), None, f.now, &f.lookup).unwrap());
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// One peer's rate on the same token: the peer validates it for `seconds` and prints ops/s.
fn peer_rate(command: &[String], dir: &std::path::Path, f: &Fixture, seconds: f64) -> f64 {
    let (program, first) = command.split_first().unwrap();
    let out = std::process::Command::new(program)
        .args(first)
        .arg("bench")
        .arg(dir.join("token"))
        .arg(dir.join("sa.pub"))
        .args([token_fixture::ISSUER, token_fixture::ISSUER])
        .arg(f.now.unix_timestamp().to_string())
        .arg(seconds.to_string())
        // One core each, as kauth's loop runs on one (Go would otherwise collect garbage on another).
        .env("GOMAXPROCS", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn peers(alg: &str, f: &Fixture) {
    let mut peers: Vec<(&str, Vec<String>)> = Vec::new();
    if let Ok(go) = std::env::var("GOJOSE") {
        peers.push(("go-jose v2 (kube-apiserver's JOSE library)", vec![go]));
    }
    if let Ok(py) = std::env::var("PYJWT") {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/pyjwt_peer.py");
        peers.push(("PyJWT", vec![py, script.to_owned()]));
    }
    if peers.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), &f.token).unwrap();
    std::fs::write(dir.path().join("sa.pub"), &f.public_pem).unwrap();
    let rounds: usize = std::env::var("PEER_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    for (name, command) in peers {
        let label = format!("{alg}: kauth full validation vs {name}");
        if std::env::var("ROWS").is_ok_and(|w| !label.contains(w.as_str())) {
            continue;
        }
        let (mut ratios, mut kauth_sum, mut peer_sum) = (Vec::new(), 0.0, 0.0);
        for r in 0..rounds {
            let (k, p) = if r % 2 == 0 {
                let k = kauth_rate(f, 1.0);
                (k, peer_rate(&command, dir.path(), f, 1.0))
            } else {
                let p = peer_rate(&command, dir.path(), f, 1.0);
                (kauth_rate(f, 1.0), p)
            };
            kauth_sum += k;
            peer_sum += p;
            ratios.push(k / p);
        }
        ratios.sort_by(f64::total_cmp);
        let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {label} | {:.0} | {:.0} | {:.2}x | {:.2}x – {:.2}x |",
            kauth_sum / rounds as f64,
            peer_sum / rounds as f64,
            q(0.5),
            q(0.25),
            q(0.75)
        );
    }
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
    if std::env::var("GOJOSE").is_ok() || std::env::var("PYJWT").is_ok() {
        println!();
        println!("| kauth vs a peer, same token, alternating 1 s rounds | kauth ops/s | peer ops/s | median ratio | quartiles |");
        println!("|---|---:|---:|---:|---|");
        for (alg, kind) in [("RS256", KeyType::Rsa2048), ("ES256", KeyType::EcdsaP256)] {
            peers(alg, &token_fixture::fixture(kind));
        }
    }
}
