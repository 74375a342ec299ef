//! One storage conformance suite, run on every backend: the embedded redb store, and (built with
//! `--features etcd`) a real etcd over TLS with kauth pki's etcd certificates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[cfg(feature = "etcd")]
#[path = "common/etcd.rs"]
mod etcd;

use kauth_server::store::{KvChange, RedbStore, Storage, StoreError, StoreWatch, Write};

const A: &str = "/registry/configmaps/ns/a";
const B: &str = "/registry/configmaps/ns/b";
const C: &str = "/registry/configmaps/ns/c";
const OTHER: &str = "/registry/configmaps/ns2/x";

fn create(key: &str, value: &[u8]) -> Write {
    Write::Create { key: key.into(), value: value.to_vec() }
}

/// What every backend must do; returns the revisions of the last writes for the watch checks.
fn conformance(store: &dyn Storage) {
    let r0 = store.revision().unwrap();
    let r1 = store.create(A, b"1").unwrap();
    assert!(r1 > r0);
    assert_eq!(store.revision().unwrap(), r1);
    let kv = store.get(A).unwrap().unwrap();
    assert_eq!((kv.key.as_str(), kv.value.as_slice(), kv.mod_revision), (A, &b"1"[..], r1));
    assert!(store.get(B).unwrap().is_none());

    // Failed writes change nothing, not even the revision.
    assert_eq!(store.create(A, b"x").unwrap_err(), StoreError::Exists { key: A.into() });
    assert_eq!(store.revision().unwrap(), r1);
    let r2 = store.update(A, b"2", r1).unwrap();
    assert!(r2 > r1);
    assert_eq!(
        store.update(A, b"3", r1).unwrap_err(),
        StoreError::Conflict { key: A.into(), expected: r1, actual: r2 }
    );
    assert_eq!(store.update(B, b"x", r1).unwrap_err(), StoreError::NotFound { key: B.into() });
    assert_eq!(store.delete(B, None).unwrap_err(), StoreError::NotFound { key: B.into() });
    assert_eq!(
        store.delete(A, Some(r1)).unwrap_err(),
        StoreError::Conflict { key: A.into(), expected: r1, actual: r2 }
    );
    assert_eq!(store.get(A).unwrap().unwrap().value, b"2");
    assert_eq!(store.revision().unwrap(), r2);

    // A batch is atomic: one stale write and none of it happens.
    let stale = Write::Update { key: A.into(), value: b"y".to_vec(), expected: r1 };
    let err = store.commit(&[create(B, b"b"), stale]).unwrap_err();
    assert_eq!(err, StoreError::Conflict { key: A.into(), expected: r1, actual: r2 });
    assert!(store.get(B).unwrap().is_none());
    assert_eq!(store.revision().unwrap(), r2);
    // ... and a good one happens at one revision.
    let good = Write::Update { key: A.into(), value: b"3".to_vec(), expected: r2 };
    let r3 = store.commit(&[create(B, b"b"), create(C, b"c"), good]).unwrap();
    assert!(r3 > r2);
    for k in [A, B, C] {
        assert_eq!(store.get(k).unwrap().unwrap().mod_revision, r3, "{k}");
    }

    // Lists are in key order, at one revision, and a prefix is a prefix.
    let r4 = store.create(OTHER, b"o").unwrap();
    let (items, at) = store.list("/registry/configmaps/ns/").unwrap();
    assert_eq!(items.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(), [A, B, C]);
    assert_eq!(at, r4);
    let (all, _) = store.list("/registry/configmaps/").unwrap();
    assert_eq!(all.len(), 4);

    let r5 = store.delete(A, Some(r3)).unwrap();
    assert!(store.get(A).unwrap().is_none());
    let r6 = store.delete(B, None).unwrap();
    assert_eq!(store.revision().unwrap(), r6);

    // A shared store can be followed from a past revision: every later revision, in order, each
    // with all its changes in the order they were written.
    if let Some(rx) = store.follow("/registry/", r2) {
        let mut seen = Vec::new();
        while seen.last().map(|(r, _)| *r) != Some(r6) {
            match rx.recv_timeout(std::time::Duration::from_secs(30)).expect("a revision from the watch") {
                StoreWatch::Revision { revision, changes } => seen.push((revision, changes)),
                StoreWatch::Started => assert!(seen.is_empty(), "the watch starts before its revisions"),
                other => panic!("{other:?}"),
            }
        }
        let put = |k: &str, v: &[u8]| KvChange::Put { key: k.into(), value: v.to_vec() };
        assert_eq!(
            seen,
            [
                (r3, vec![put(B, b"b"), put(C, b"c"), put(A, b"3")]),
                (r4, vec![put(OTHER, b"o")]),
                (r5, vec![KvChange::Delete { key: A.into() }]),
                (r6, vec![KvChange::Delete { key: B.into() }]),
            ]
        );
    }
}

#[test]
fn the_embedded_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
    assert!(store.follow("/registry/", 0).is_none(), "only this process writes the embedded store");
    conformance(&store);
}

#[cfg(feature = "etcd")]
mod on_etcd {
    use std::time::Duration;

    use kauth_server::store::{EtcdConfig, EtcdStore, Storage, StoreError};

    use super::{conformance, etcd};
    use crate::common::tools::{require, Tool};

    fn config(members: &[etcd::Member], pki: &std::path::Path, client: &str) -> EtcdConfig {
        let read = |f: &str| std::fs::read(pki.join(f)).unwrap();
        EtcdConfig {
            endpoints: members.iter().map(|m| m.client_url.clone()).collect(),
            ca: Some(read("etcd/ca.crt")),
            identity: Some((read(&format!("{client}.crt")), read(&format!("{client}.key")))),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn etcd_over_tls_conforms_and_refuses_a_foreign_client_certificate() {
        require!(Tool::Etcd);
        let dir = tempfile::tempdir().unwrap();
        let pki = etcd::pki(dir.path());
        let members = etcd::cluster(1, Some(&pki));
        let store = EtcdStore::connect(config(&members, &pki, "apiserver-etcd-client")).unwrap();
        conformance(&store);

        // A client certificate from another cluster's etcd CA: etcd refuses the connection.
        let other = tempfile::tempdir().unwrap();
        let other_pki = etcd::pki(other.path());
        let mut foreign = config(&members, &pki, "apiserver-etcd-client");
        let read = |f: &str| std::fs::read(other_pki.join(f)).unwrap();
        foreign.identity = Some((read("apiserver-etcd-client.crt"), read("apiserver-etcd-client.key")));
        match EtcdStore::connect(foreign) {
            Err(StoreError::Backend(why)) => assert!(why.starts_with("etcd: "), "{why}"),
            other => panic!("a foreign client certificate was accepted: {other:?}"),
        }
    }

    #[test]
    fn an_unreachable_etcd_is_an_error_within_the_deadline() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = EtcdStore::connect(EtcdConfig {
            endpoints: vec![format!("http://127.0.0.1:{port}")],
            ca: None,
            identity: None,
            timeout: Duration::from_secs(2),
        })
        .unwrap_err();
        assert!(matches!(&err, StoreError::Backend(m) if m.contains(&port.to_string())), "{err:?}");
    }

    #[test]
    fn a_three_member_cluster_loses_one_member_and_goes_on() {
        require!(Tool::Etcd);
        let dir = tempfile::tempdir().unwrap();
        let pki = etcd::pki(dir.path());
        let mut members = etcd::cluster(3, Some(&pki));
        let store = EtcdStore::connect(config(&members, &pki, "apiserver-etcd-client")).unwrap();
        let mut last = store.create("/registry/configmaps/ns/before", b"1").unwrap();
        // Each member in turn, so that the leader is among them: the client fails over to the
        // others, and the quorum (2 of 3) elects a leader if needed and goes on writing.
        for (i, member) in members.iter_mut().enumerate() {
            member.kill();
            let key = format!("/registry/configmaps/ns/without-{i}");
            let r = store.create(&key, b"2").unwrap();
            assert!(r > last, "member {i} down");
            assert_eq!(store.get(&key).unwrap().unwrap().mod_revision, r);
            assert_eq!(store.list("/registry/configmaps/ns/").unwrap().0.len(), i + 2);
            member.restart();
            last = r;
        }
    }
}
