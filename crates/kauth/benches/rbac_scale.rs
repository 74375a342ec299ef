//! RBAC at scale, one core: per policy size, the index build time, the memory the index holds
//! (resident-set growth, measured in a child process per size), and the latency percentiles and
//! decisions per second of the indexed authorizer and of the reference walk, for an allowed and
//! a denied request. Prints a Markdown table (BENCHMARKS.md).
//!
//! `cargo bench -p kauth --bench rbac_scale` (sizes: `KAUTH_RBAC_SIZES=10,1000,10000,100000`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "common/policy.rs"]
mod policy;

use std::hint::black_box;
use std::time::{Duration, Instant};

use kauth::authz::{Attributes, Authorizer};
use kauth::rbac::RbacAuthorizer;

// The system allocator here: resident-set growth measures memory at page granularity with it.

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Child mode: builds one structure for `n` bindings and prints its resident-set growth in KiB.
fn memory_child(n: usize, what: &str) {
    let p = policy::generate(n);
    let before = rss_kib();
    let kib = if what == "index" {
        let idx = p.index();
        let after = rss_kib();
        black_box(&idx);
        after - before
    } else {
        let m = p.reference();
        let after = rss_kib();
        black_box(&m);
        after - before
    };
    println!("{kib}");
}

fn memory(n: usize, what: &str) -> Option<f64> {
    let out = std::process::Command::new(std::env::current_exe().ok()?)
        .args(["--memory", &n.to_string(), what])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().ok().map(|kib| kib / 1024.0)
}

/// Emit mode: the policy for `n` bindings as JSON lines `{"path": ..., "body": ...}` in the
/// order an API server accepts them (namespaces, roles, bindings), for the server load test.
fn emit(n: usize) {
    use std::io::Write;
    let p = policy::generate(n);
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = |path: String, body: serde_json::Value| {
        writeln!(out, "{}", serde_json::json!({"path": path, "body": body})).unwrap();
    };
    let mut namespaces: Vec<&str> = p.roles.iter().filter_map(|r| r.metadata.namespace.as_deref()).collect();
    namespaces.sort();
    namespaces.dedup();
    for ns in namespaces {
        line(
            "/api/v1/namespaces".into(),
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    let ns_of =
        |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| m.namespace.clone().unwrap_or_default();
    for r in &p.cluster_roles {
        line(format!("{rbac}/clusterroles"), serde_json::to_value(r).unwrap());
    }
    for r in &p.roles {
        line(format!("{rbac}/namespaces/{}/roles", ns_of(&r.metadata)), serde_json::to_value(r).unwrap());
    }
    for b in &p.cluster_role_bindings {
        line(format!("{rbac}/clusterrolebindings"), serde_json::to_value(b).unwrap());
    }
    for b in &p.role_bindings {
        line(format!("{rbac}/namespaces/{}/rolebindings", ns_of(&b.metadata)), serde_json::to_value(b).unwrap());
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

/// Times single decisions until `budget` is spent (at least 200 samples, at most 300,000).
fn measure(z: &dyn Authorizer, a: &Attributes, budget: Duration) -> Stats {
    for _ in 0..100 {
        black_box(z.authorize(black_box(a)));
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while (start.elapsed() < budget || samples.len() < 200) && samples.len() < 300_000 {
        let t = Instant::now();
        black_box(z.authorize(black_box(a)));
        samples.push(t.elapsed());
    }
    let total: Duration = samples.iter().sum();
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    Stats { p50: pct(0.50), p99: pct(0.99), per_sec: samples.len() as f64 / total.as_secs_f64() }
}

fn fmt(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1000.0)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.0} k/s", r / 1e3)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory") {
        memory_child(args[i + 1].parse().unwrap(), &args[i + 2]);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--emit") {
        emit(args[i + 1].parse().unwrap());
        return;
    }
    let sizes: Vec<usize> = std::env::var("KAUTH_RBAC_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 1_000, 10_000, 100_000]);
    let budget = Duration::from_millis(700);
    println!("| bindings | index build | index memory | walk's memory | request | indexed p50 / p99 | indexed rate | walk p50 / p99 | walk rate | indexed / walk |");
    println!("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|");
    for n in sizes {
        let p = policy::generate(n);
        let t = Instant::now();
        let index = p.index();
        let build = t.elapsed();
        let walk = RbacAuthorizer::new(p.reference());
        let mem = memory(n, "index").map(|m| format!("{m:.1} MiB")).unwrap_or_else(|| "?".into());
        let walk_mem = memory(n, "walk").map(|m| format!("{m:.1} MiB")).unwrap_or_else(|| "?".into());
        for (what, a) in [("allowed", policy::probe("get", "pods")), ("denied", policy::probe("delete", "secrets"))] {
            assert_eq!(index.authorize(&a), walk.authorize(&a), "the index decides like the walk");
            let i = measure(&index, &a, budget);
            let w = measure(&walk, &a, budget);
            println!(
                "| {} | {} | {mem} | {walk_mem} | {what} | {} / {} | {} | {} / {} | {} | {:.1}x |",
                p.bindings(),
                fmt(build),
                fmt(i.p50),
                fmt(i.p99),
                rate(i.per_sec),
                fmt(w.p50),
                fmt(w.p99),
                rate(w.per_sec),
                i.per_sec / w.per_sec
            );
        }
    }
}
