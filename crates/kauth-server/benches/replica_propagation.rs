//! How long a write through one replica takes to reach another, on etcd: two registries (as two
//! `kauth serve` replicas hold them) on one real etcd member over TLS with kauth pki's
//! certificates. For each of N creates through replica A: A's commit latency (acknowledged once
//! durable in etcd and applied by A), and when replica B's watch feed delivers the same change,
//! counted from the start of the write and from A's acknowledgement. The embedded store's commit
//! latency is measured alongside. `cargo bench -p kauth-server --features etcd --bench
//! replica_propagation` (N from `WRITES`, default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/etcd.rs"]
mod etcd;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kauth_server::api::resources;
use kauth_server::registry::{Change, Registry};
use kauth_server::store::{EtcdConfig, EtcdStore, RedbStore};
use serde_json::json;

fn configmap(i: usize) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}"), "namespace": "default", "uid": format!("u-{i}")}, "data": {"k": "v"}})
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn row(label: &str, mut d: Vec<Duration>) {
    d.sort();
    let f = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!(
        "| {label} | {} | {} | {} | {} |",
        d.len(),
        f(percentile(&d, 0.5)),
        f(percentile(&d, 0.99)),
        f(*d.last().unwrap())
    );
}

fn main() {
    let writes: usize = std::env::var("WRITES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let pki = etcd::pki(dir.path());
    let members = etcd::cluster(1, Some(&pki));
    let read = |f: &str| std::fs::read(pki.join(f)).unwrap();
    let config = EtcdConfig {
        endpoints: members.iter().map(|m| m.client_url.clone()).collect(),
        ca: Some(read("etcd/ca.crt")),
        identity: Some((read("apiserver-etcd-client.crt"), read("apiserver-etcd-client.key"))),
        timeout: Duration::from_secs(5),
    };
    let replica = || {
        let r = Arc::new(Registry::open(Box::new(EtcdStore::connect(config.clone()).unwrap())).unwrap());
        r.follow();
        r
    };
    let (a, b) = (replica(), replica());
    let rt = resources::by_kind("", "ConfigMap").unwrap();
    let mut feed = b.watch_after(b.applied_revision()).unwrap().live;

    let (mut commit, mut visible, mut lag) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..writes {
        let start = Instant::now();
        let out = a.commit(vec![Change::Create(rt, configmap(i))]).unwrap();
        let acked = Instant::now();
        let revision = out[0].as_ref().unwrap().revision;
        loop {
            let e = feed.blocking_recv().expect("B's feed");
            if e.revision() >= revision {
                break;
            }
        }
        let seen = Instant::now();
        commit.push(acked - start);
        visible.push(seen - start);
        lag.push(seen.saturating_duration_since(acked));
    }

    let embedded = tempfile::tempdir().unwrap();
    let local = Registry::open(Box::new(RedbStore::open(&embedded.path().join("s.redb")).unwrap())).unwrap();
    let mut local_commit = Vec::new();
    for i in 0..writes.min(500) {
        let start = Instant::now();
        local.commit(vec![Change::Create(rt, configmap(i))]).unwrap();
        local_commit.push(start.elapsed());
    }
    assert!(local.revision().unwrap() > 0);

    println!("| measure | writes | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    row("commit through replica A, etcd (durable in etcd, applied by A)", commit);
    row("visible in replica B's watch feed, from the start of the write", visible);
    row("replica B behind A's acknowledgement", lag);
    row("commit, embedded store (redb, fsync)", local_commit);
}
