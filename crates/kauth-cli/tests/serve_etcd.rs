//! Several `kauth serve` replicas on one etcd (real etcd over TLS with kauth pki's etcd
//! certificates), driven by the real kubectl and curl: shared state, watches and tokens across
//! replicas, a replica killed mid-write, and etcd going away and coming back.
#![cfg(feature = "etcd")]
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../kauth-server/tests/common/etcd.rs"]
mod etcd;

use std::path::{Path, PathBuf};

use common::server::Server;
use common::tools::{require, Tool};
use serde_json::Value;

/// One PKI for the cluster (etcd's certificates and the replicas' shared CA and signing key).
struct Cluster {
    root: tempfile::TempDir,
    pki: PathBuf,
    members: Vec<etcd::Member>,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

impl Cluster {
    fn new(members: usize) -> Cluster {
        let root = tempfile::tempdir().unwrap();
        let pki = etcd::pki(root.path());
        let members = etcd::cluster(members, Some(&pki));
        Cluster { root, pki, members }
    }

    /// A replica with its own data directory holding the cluster's PKI.
    fn replica(&self, name: &str) -> Server {
        self.replica_with(name, &[])
    }

    /// A replica with extra flags.
    fn replica_with(&self, name: &str, extra: &[&str]) -> Server {
        let data = self.root.path().join(name);
        if !data.join("pki").exists() {
            copy_dir(&self.pki, &data.join("pki"));
        }
        let urls = etcd::urls(&self.members);
        let mut args = vec!["--etcd-servers", &urls, "--replica-name", name];
        args.extend_from_slice(extra);
        Server::start_in(&data, &args)
    }
}

fn json(s: &Server, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&s.kubectl(&a).ok()).unwrap()
}

fn self_review(s: &Server, token: &str) -> Value {
    let body = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    s.post_json(token, "/apis/authentication.k8s.io/v1/selfsubjectreviews", &body)
}

#[test]
fn replicas_share_objects_watches_tokens_and_rbac() {
    require!(Tool::Etcd, Tool::Kubectl);
    let cluster = Cluster::new(1);
    let a = cluster.replica("a");
    let b = cluster.replica("b");

    a.kubectl(&["create", "namespace", "team"]).ok();
    a.kubectl(&["-n", "team", "create", "serviceaccount", "builder"]).ok();
    let on_a = json(&a, &["-n", "team", "get", "serviceaccount", "builder"]);
    let on_b = json(&b, &["-n", "team", "get", "serviceaccount", "builder"]);
    assert_eq!(on_a["metadata"]["uid"], on_b["metadata"]["uid"]);
    assert_eq!(on_a["metadata"]["resourceVersion"], on_b["metadata"]["resourceVersion"]);

    // A watch on B sees what is written through A.
    let mut w = b.kubectl_background(&["-n", "team", "get", "serviceaccounts", "--watch", "--output-watch-events"]);
    w.until("builder");
    a.kubectl(&["-n", "team", "create", "serviceaccount", "deployer"]).ok();
    assert!(w.until("deployer").last().unwrap().starts_with("ADDED"));
    a.kubectl(&["-n", "team", "label", "serviceaccount", "deployer", "tier=web"]).ok();
    let modified = w.next_line();
    assert!(modified.starts_with("MODIFIED") && modified.contains("deployer"), "{modified}");
    drop(w);

    // RBAC written through A decides on B.
    a.kubectl(&["-n", "team", "create", "role", "reader", "--verb=get", "--resource=secrets"]).ok();
    a.kubectl(&["-n", "team", "create", "rolebinding", "reader", "--role=reader", "--serviceaccount=team:builder"])
        .ok();
    let can =
        b.kubectl(&["-n", "team", "auth", "can-i", "get", "secrets", "--as", "system:serviceaccount:team:builder"]);
    assert_eq!(can.stdout.trim(), "yes");

    // A token issued by A is valid on B; once B deletes its service account, A refuses it too,
    // although A had just cached it as valid.
    let token = a.kubectl(&["-n", "team", "create", "token", "builder"]).ok();
    let token = token.trim();
    for s in [&a, &b] {
        assert_eq!(self_review(s, token)["status"]["userInfo"]["username"], "system:serviceaccount:team:builder");
    }
    b.kubectl(&["-n", "team", "delete", "serviceaccount", "builder"]).ok();
    for s in [&a, &b] {
        assert_eq!(self_review(s, token)["code"], 401);
    }

    // Optimistic concurrency holds across replicas: a write based on what A read, after B
    // changed the object, is a 409.
    let stale = json(&a, &["-n", "team", "get", "serviceaccount", "deployer"]);
    b.kubectl(&["-n", "team", "label", "serviceaccount", "deployer", "tier=db", "--overwrite"]).ok();
    let replace = a.kubectl_in(&["replace", "-f", "-"], Some(stale.to_string().as_bytes()));
    assert_ne!(replace.code, 0);
    assert!(replace.stderr.contains("the object has been modified"), "{}", replace.stderr);
}

#[test]
fn a_replica_killed_mid_write_loses_no_acknowledged_write() {
    require!(Tool::Etcd, Tool::Kubectl);
    let cluster = Cluster::new(1);
    let a = cluster.replica("a");
    let b = cluster.replica("b");
    let kubeconfig = a.dir.join("admin.conf");
    let home = tempfile::tempdir().unwrap();
    // Writes through A from 8 writers at once (their transactions reach etcd together), each
    // write reported once kubectl says it was created.
    let (tx, acked) = std::sync::mpsc::channel();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (kubeconfig, home, tx) = (kubeconfig.clone(), home.path().to_owned(), tx.clone());
            std::thread::spawn(move || {
                for i in 0..50 {
                    let name = format!("cm-{w}-{i}");
                    let out = std::process::Command::new("kubectl")
                        .env("KUBECONFIG", &kubeconfig)
                        .env("HOME", &home)
                        .args(["create", "configmap", &name, "--from-literal=k=v"])
                        .output()
                        .unwrap();
                    if !out.status.success() || tx.send(name).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    // Kill A with SIGKILL right after its 40th acknowledged write, while others are in flight.
    let mut done = Vec::new();
    while done.len() < 40 {
        done.push(acked.recv_timeout(std::time::Duration::from_secs(60)).unwrap());
    }
    a.kill9();
    for w in writers {
        w.join().unwrap();
    }
    done.extend(acked.try_iter());
    let names: Vec<String> = json(&b, &["get", "configmaps", "-n", "default"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    for name in &done {
        assert!(names.contains(name), "acknowledged {name} is missing on the other replica");
    }
}

#[test]
fn without_etcd_a_replica_authenticates_from_memory_refuses_writes_and_recovers() {
    require!(Tool::Etcd, Tool::Kubectl, Tool::Curl);
    let mut cluster = Cluster::new(1);
    let a = cluster.replica("a");
    a.kubectl(&["create", "namespace", "team"]).ok();
    a.kubectl(&["-n", "team", "create", "serviceaccount", "builder"]).ok();
    let token = a.kubectl(&["-n", "team", "create", "token", "builder"]).ok();
    assert_eq!(a.curl(&[], "/readyz").stdout, "ok");

    cluster.members[0].kill();
    // Authentication (a token never seen before, so not cached) and authorization go on from
    // the replica's memory.
    assert_eq!(self_review(&a, token.trim())["status"]["userInfo"]["username"], "system:serviceaccount:team:builder");
    let can = a.kubectl(&["-n", "team", "auth", "can-i", "list", "serviceaccounts"]);
    assert_eq!(can.stdout.trim(), "yes");
    assert_eq!(
        a.kubectl(&["-n", "team", "get", "serviceaccount", "builder", "-o", "name"]).ok().trim(),
        "serviceaccount/builder"
    );
    // Writes fail with a Status (503), and the replica says it is not ready, naming why.
    let write = a.kubectl(&["-n", "team", "create", "serviceaccount", "later"]);
    assert_ne!(write.code, 0);
    assert!(write.stderr.contains("etcd"), "{}", write.stderr);
    let ready = a.curl(&["-w", "\n%{http_code}"], "/readyz?verbose");
    assert!(
        ready.stdout.contains("[-]store failed: storage: etcd: ") && ready.stdout.ends_with("500"),
        "{}",
        ready.stdout
    );

    cluster.members[0].restart();
    // Back: the next write succeeds and the replica is ready again (bounded retries, no sleep
    // assertions: the watch reconnects with growing pauses of at most 5 s).
    let mut created = false;
    for _ in 0..60 {
        if a.kubectl(&["-n", "team", "create", "serviceaccount", "later"]).code == 0 {
            created = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(created, "writes resume once etcd is back");
    let mut ready = String::new();
    for _ in 0..60 {
        ready = a.curl(&[], "/readyz").stdout;
        if ready == "ok" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(ready, "ok");
    assert_eq!(
        a.kubectl(&["-n", "team", "get", "serviceaccount", "later", "-o", "name"]).ok().trim(),
        "serviceaccount/later"
    );
}

#[test]
fn a_three_member_etcd_loses_a_member_and_tokens_go_on() {
    require!(Tool::Etcd, Tool::Kubectl);
    let mut cluster = Cluster::new(3);
    let a = cluster.replica("a");
    let b = cluster.replica("b");
    a.kubectl(&["create", "namespace", "team"]).ok();
    for i in 0..cluster.members.len() {
        // Each member in turn, the leader among them.
        cluster.members[i].kill();
        let sa = format!("builder-{i}");
        a.kubectl(&["-n", "team", "create", "serviceaccount", &sa]).ok();
        let token = a.kubectl(&["-n", "team", "create", "token", &sa]).ok();
        let user = format!("system:serviceaccount:team:{sa}");
        // The issuing replica has applied its own write (read-your-writes).
        assert_eq!(self_review(&a, token.trim())["status"]["userInfo"]["username"], user, "member {i} down");
        // The other follows through etcd's watch; when the killed member carried that watch, it
        // reconnects to another and catches up (bounded polling, as kube-apiserver's watch
        // cache is eventually consistent too).
        let mut who = Value::Null;
        for _ in 0..50 {
            who = self_review(&b, token.trim());
            if who["status"]["userInfo"]["username"] == user.as_str() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(who["status"]["userInfo"]["username"], user, "member {i} down");
        cluster.members[i].restart();
    }
}

/// The skew `of` measures to `peer` (`/metrics`), once it has heard from it (bounded polling:
/// heartbeats come every 5 s and the first at start).
fn measured_skew(of: &Server, peer: &str) -> f64 {
    let gauge = format!("kauth_replica_clock_skew_seconds{{replica=\"{peer}\"}} ");
    for _ in 0..100 {
        let metrics = of.kubectl(&["get", "--raw", "/metrics"]).ok();
        if let Some(v) = metrics.lines().find_map(|l| l.strip_prefix(&gauge)) {
            return v.trim().parse().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{peer}'s heartbeat never reached this replica");
}

#[test]
fn seed_000_a_replica_90s_ahead_is_measured_named_and_defended_against() {
    require!(Tool::Etcd, Tool::Kubectl);
    let cluster = Cluster::new(1);
    let audit = cluster.root.path().join("a-audit.log");
    let a = cluster.replica_with("a", &["--audit-log-path", audit.to_str().unwrap()]);
    let b = cluster.replica_with("b", &["--clock-offset", "90s"]);

    // Both replicas see the skew, each from its side, within the store's propagation delay.
    let ahead = measured_skew(&a, "b");
    assert!((89.0..=90.5).contains(&ahead), "a measures b {ahead}s ahead");
    let behind = measured_skew(&b, "a");
    assert!((-91.0..=-89.5).contains(&behind), "b measures a {behind}s ahead");
    let ready = a.kubectl(&["get", "--raw", "/readyz?verbose"]).ok();
    assert!(
        ready.contains("[!]clock-skew warning (not counted against readiness): replica \"b\"'s clock is 90"),
        "{ready}"
    );
    assert!(ready.contains("tokens it issues are rejected here as not yet valid for 30s after issue"), "{ready}");
    assert!(ready.ends_with("readyz check passed\n"), "skew alone keeps the replica ready: {ready}");

    // Seed 000: B issues, A rejects as not yet valid, and says why and who.
    a.kubectl(&["create", "namespace", "team"]).ok();
    a.kubectl(&["-n", "team", "create", "serviceaccount", "builder"]).ok();
    let token = b.kubectl(&["-n", "team", "create", "token", "builder"]).ok();
    let token = token.trim();
    assert_eq!(self_review(&b, token)["status"]["userInfo"]["username"], "system:serviceaccount:team:builder");
    assert_eq!(self_review(&a, token)["code"], 401, "the client sees Kubernetes' plain 401");
    let review =
        serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    let out = a.kubectl_in(
        &["create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f", "-"],
        Some(review.to_string().as_bytes()),
    );
    let review: Value = serde_json::from_str(&out.ok()).unwrap();
    let error = review["status"]["error"].as_str().unwrap();
    assert!(error.contains("not valid yet") || error.contains("not yet valid"), "{error}");
    assert!(error.contains("likely issued by replica \"b\", whose clock this replica measures 9"), "{error}");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("likely issued by replica \\\"b\\\""), "the audit event names the replica: {log}");

    // The defence: B backdates what it issues by 2 minutes; A accepts B's new tokens.
    drop(b);
    let b = cluster.replica_with("b", &["--clock-offset", "90s", "--service-account-token-backdate", "2m"]);
    let token = b.kubectl(&["-n", "team", "create", "token", "builder"]).ok();
    assert_eq!(self_review(&a, token.trim())["status"]["userInfo"]["username"], "system:serviceaccount:team:builder");
}

/// The kid in a token's header.
fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap();
    serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_owned()
}

fn jwks_kids(s: &Server) -> Vec<String> {
    let jwks: Value = serde_json::from_str(&s.kubectl(&["get", "--raw", "/openid/v1/jwks"]).ok()).unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

fn kauth_keys(s: &Server, args: &[&str]) -> Value {
    let kubeconfig = s.dir.join("admin.conf");
    let mut a = vec!["keys"];
    a.extend_from_slice(args);
    a.extend(["--kubeconfig", kubeconfig.to_str().unwrap(), "-o", "json"]);
    let out = common::kauth_in(&a, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn key_states(ring: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = ring["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), k["state"].as_str().unwrap().to_owned()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_key_rotation_never_rejects_a_token_and_retires_the_old_key_when_it_may() {
    require!(Tool::Etcd, Tool::Kubectl);
    let cluster = Cluster::new(1);
    // Tokens live at most an hour here, so the old key may retire an hour (and the leeway) after
    // the new one starts signing.
    let flags = ["--service-account-max-token-expiration", "1h", "--service-account-extend-token-expiration=false"];
    let replicas =
        [cluster.replica_with("a", &flags), cluster.replica_with("b", &flags), cluster.replica_with("c", &flags)];
    let [a, b, c] = &replicas;
    a.kubectl(&["create", "namespace", "team"]).ok();
    a.kubectl(&["-n", "team", "create", "serviceaccount", "builder"]).ok();
    let old_token = a.kubectl(&["-n", "team", "create", "token", "builder"]).ok().trim().to_owned();
    let old_kid = kid_of(&old_token);
    // A legacy token Secret, signed by the old key: it never expires.
    let legacy = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"builder-legacy","namespace":"team","annotations":{"kubernetes.io/service-account.name":"builder"}},"type":"kubernetes.io/service-account-token"}"#;
    a.kubectl_in(&["create", "-f", "-"], Some(legacy.as_bytes())).ok();
    let legacy_token = {
        let s = json(a, &["-n", "team", "get", "secret", "builder-legacy"]);
        use base64::Engine;
        let t = base64::engine::general_purpose::STANDARD.decode(s["data"]["token"].as_str().unwrap()).unwrap();
        String::from_utf8(t).unwrap()
    };
    assert_eq!(kid_of(&legacy_token), old_kid);

    let rotated = kauth_keys(a, &["rotate"]);
    let new_kid = rotated["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "Published")
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .expect("the new key, published");
    assert_ne!(new_kid, old_kid);

    // Through the rotation: every token issued anywhere validates everywhere, and no token is
    // signed by the new key before every replica publishes it.
    let mut promoted = false;
    for i in 0..120 {
        let issuer = &replicas[i % 3];
        let token = issuer.kubectl(&["-n", "team", "create", "token", "builder"]).ok().trim().to_owned();
        if kid_of(&token) == new_kid {
            for r in &replicas {
                assert!(
                    jwks_kids(r).contains(&new_kid),
                    "signed with {new_kid} before {} published it",
                    r.dir.display()
                );
            }
        }
        for r in &replicas {
            let who = self_review(r, &token);
            assert_eq!(who["status"]["userInfo"]["username"], "system:serviceaccount:team:builder", "{who}");
        }
        if key_states(&kauth_keys(b, &["list"])).contains(&(new_kid.clone(), "Signing".to_owned())) {
            promoted = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(promoted, "the new key starts signing once every replica publishes it");
    assert_eq!(kid_of(c.kubectl(&["-n", "team", "create", "token", "builder"]).ok().trim()), new_kid);
    let mut states = vec![(old_kid.clone(), "Verifying".to_owned()), (new_kid.clone(), "Signing".to_owned())];
    states.sort();
    assert_eq!(key_states(&kauth_keys(c, &["list"])), states);
    for r in &replicas {
        assert_eq!(self_review(r, &old_token)["status"]["userInfo"]["username"], "system:serviceaccount:team:builder");
        assert_eq!(
            self_review(r, &legacy_token)["status"]["userInfo"]["username"],
            "system:serviceaccount:team:builder"
        );
    }

    // Two hours later (replica c's clock moved on): every bound token of the old key has expired,
    // but the legacy token still needs it, so it stays.
    drop(replicas);
    let c = cluster.replica_with("c", &[&flags[..], &["--clock-offset", "2h"]].concat());
    let a = cluster.replica_with("a", &flags);
    std::thread::sleep(std::time::Duration::from_secs(6)); // one maintenance round (every 5 s)
    assert_eq!(key_states(&kauth_keys(&c, &["list"])), states, "a legacy token still holds the old key");
    assert_eq!(self_review(&a, &legacy_token)["status"]["userInfo"]["username"], "system:serviceaccount:team:builder");
    // Once no token needs it, it is retired: out of the ring and of every JWKS.
    a.kubectl(&["-n", "team", "delete", "secret", "builder-legacy"]).ok();
    let mut retired = false;
    for _ in 0..60 {
        if key_states(&kauth_keys(&a, &["list"])) == [(new_kid.clone(), "Signing".to_owned())] {
            retired = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(retired, "the old key is retired once no token can need it");
    assert_eq!(jwks_kids(&a), [new_kid]);
}
