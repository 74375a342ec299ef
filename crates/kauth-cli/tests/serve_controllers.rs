//! The controllers that follow a delete or an edit, as kubectl users meet them against `kauth
//! serve`: `kubectl delete --cascade=background|foreground|orphan` and `ownerReferences`; a
//! deleted or edited `kube-root-ca.crt` is back as it should be when kubectl returns.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::Server;
use common::tools::{require, Tool};

fn owned_secret(s: &Server, name: &str, owner: &str) {
    let uid = s.kubectl(&["get", "configmap", owner, "-o", "jsonpath={.metadata.uid}"]).ok();
    let manifest = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {owner}\n    uid: {uid}\n"
    );
    s.kubectl_in(&["create", "-f", "-"], Some(manifest.as_bytes())).ok();
}

#[test]
fn kubectl_cascades_follow_owner_references() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    for (owner, cascade, dependent_stays) in
        [("a", "background", false), ("b", "foreground", false), ("c", "orphan", true)]
    {
        s.kubectl(&["create", "configmap", owner]).ok();
        owned_secret(&s, &format!("{owner}-child"), owner);
        s.kubectl(&["delete", "configmap", owner, &format!("--cascade={cascade}")]).ok();
        let child =
            s.kubectl(&["get", "secret", &format!("{owner}-child"), "-o", "jsonpath={.metadata.ownerReferences}"]);
        assert_eq!(child.code == 0, dependent_stays, "{cascade}: {} {}", child.stdout, child.stderr);
        if dependent_stays {
            assert_eq!(child.stdout, "", "the orphan has no reference left");
        }
    }
}

#[test]
fn kube_root_ca_crt_comes_back_when_deleted_or_edited() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let ca = std::fs::read_to_string(dir.path().join("data/pki/ca.crt")).unwrap();
    let read = || s.kubectl(&["get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"]).ok();
    s.kubectl(&["delete", "configmap", "kube-root-ca.crt"]).ok();
    assert_eq!(read(), ca);
    s.kubectl(&["patch", "configmap", "kube-root-ca.crt", "--type", "merge", "-p", r#"{"data":{"ca.crt":"x"}}"#]).ok();
    assert_eq!(read(), ca);
}
