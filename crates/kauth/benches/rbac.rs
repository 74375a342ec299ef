//! RBAC decisions side by side in one run: kauth's indexed authorizer and the reference walk of
//! Kubernetes' algorithm (every ClusterRoleBinding, then the namespace's RoleBindings) over the
//! same synthetic policies of 10 to 100,000 bindings (see `common/policy.rs`), for an allowed
//! and a denied request. `scripts/bench-rbac.sh` runs it with `rbac_scale` (percentiles,
//! memory, build time) and the server load test; the table is in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "common/policy.rs"]
mod policy;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kauth::authz::Authorizer;
use kauth::rbac::RbacAuthorizer;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn sizes() -> Vec<usize> {
    std::env::var("KAUTH_RBAC_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 1_000, 10_000, 100_000])
}

fn decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("rbac");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    for n in sizes() {
        let p = policy::generate(n);
        let index = p.index();
        let walk = RbacAuthorizer::new(p.reference());
        let allowed = policy::probe("get", "pods");
        let denied = policy::probe("delete", "secrets");
        assert_eq!(index.authorize(&allowed), walk.authorize(&allowed));
        assert!(index.authorize(&allowed).is_allowed());
        assert_eq!(index.authorize(&denied), walk.authorize(&denied));
        assert!(!index.authorize(&denied).is_allowed());
        for (what, a) in [("allowed", &allowed), ("denied", &denied)] {
            group.bench_with_input(BenchmarkId::new(format!("indexed/{what}"), n), a, |b, a| {
                b.iter(|| black_box(index.authorize(black_box(a))))
            });
            group.bench_with_input(BenchmarkId::new(format!("walk/{what}"), n), a, |b, a| {
                b.iter(|| black_box(walk.authorize(black_box(a))))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
