//! `--authorization-config` with two webhooks, through real processes and kubectl. The front
//! server's chain is: `peer` (a second `kauth serve` answering SubjectAccessReviews, asked
//! unless the user is `skip-me`), `silent` (a listener that never answers, asked only for
//! `slow`, timeout 1s), then RBAC, which lets every authenticated user read pods. The peer
//! allows alice by its own RBAC and denies mallory (its own chain holds a `Deny` webhook that
//! cannot be reached, matched for mallory). So: a deny stops the chain before RBAC; a false
//! match condition skips a webhook; a webhook that times out decides by its failure policy;
//! answers are cached (counted in the peer's audit log); the file is reloaded, and a bad file
//! keeps the running chain.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::server::Server;
use serde_json::{json, Value};

const SAR: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
const PEER_TOKENS: &str = "front-token,kube-apiserver,u-front\n";
const FRONT_TOKENS: &str = "front-admin-token,front-admin,u-fa,\"system:masters\"\n";

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_owned()
}

/// A kubeconfig whose cluster server is `url` (kube-apiserver POSTs to it as is).
fn kubeconfig(path: &Path, url: &str, ca: Option<&Path>, token: &str) -> PathBuf {
    let ca = ca.map(|ca| format!("    certificate-authority: {}\n", ca.display())).unwrap_or_default();
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: {url}\n{ca}users:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context: {{cluster: w, user: u}}\ncurrent-context: c\n"
    );
    write(path, &yaml)
}

fn webhook(name: &str, timeout: &str, policy: &str, kubeconfig: &Path, condition: &str) -> String {
    format!(
        "- type: Webhook
  name: {name}
  webhook:
    timeout: {timeout}
    authorizedTTL: 5m
    unauthorizedTTL: 30s
    subjectAccessReviewVersion: v1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: {policy}
    connectionInfo:
      type: KubeConfigFile
      kubeConfigFile: {}
    matchConditions:
    - expression: \"{condition}\"
",
        kubeconfig.display()
    )
}

const HEAD: &str = "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthorizationConfiguration\nauthorizers:\n";

struct Setup {
    _peer: Server,
    front: Server,
    dir: tempfile::TempDir,
    config: PathBuf,
    peer_kubeconfig: PathBuf,
    silent_kubeconfig: PathBuf,
    _silent: TcpListener,
}

/// A listener that accepts connections and never answers: the TLS handshake waits forever.
fn silent_listener() -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let accepting = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in accepting.incoming() {
            match stream {
                Ok(s) => held.push(s),
                Err(_) => return,
            }
        }
    });
    listener
}

fn front_config(peer: &Path, silent: &Path, silent_policy: &str) -> String {
    format!(
        "{HEAD}{}{}- type: RBAC\n  name: rbac\n",
        webhook("peer", "5s", "NoOpinion", peer, "request.user != 'skip-me'"),
        webhook("silent", "1s", silent_policy, silent, "request.user == 'slow'")
    )
}

fn setup(silent_policy: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // The peer: its own chain denies mallory through a Deny webhook nobody listens for.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("https://127.0.0.1:{}/", closed.local_addr().unwrap().port());
    drop(closed);
    let peer_dir = dir.path().join("peer");
    std::fs::create_dir_all(&peer_dir).unwrap();
    let nowhere = kubeconfig(&dir.path().join("nowhere.yaml"), &closed_url, None, "x");
    let peer_config = write(
        &dir.path().join("peer-authz.yaml"),
        &format!(
            "{HEAD}{}- type: Node\n  name: node\n- type: RBAC\n  name: rbac\n",
            webhook("blocklist", "1s", "Deny", &nowhere, "request.user == 'mallory'")
        ),
    );
    let peer_tokens = write(&dir.path().join("peer-tokens.csv"), PEER_TOKENS);
    let audit = dir.path().join("peer-audit.log");
    let peer = Server::start_in(
        &peer_dir,
        &[
            "--token-auth-file",
            peer_tokens.to_str().unwrap(),
            "--authorization-config",
            peer_config.to_str().unwrap(),
            "--audit-log-path",
            audit.to_str().unwrap(),
        ],
    );
    peer.kubectl(&[
        "create",
        "clusterrolebinding",
        "front-delegates",
        "--clusterrole=system:auth-delegator",
        "--user=kube-apiserver",
    ])
    .ok();
    peer.kubectl(&["create", "clusterrolebinding", "alice-view", "--clusterrole=view", "--user=alice"]).ok();
    let ca = peer_dir.join("pki/ca.crt");
    let peer_kubeconfig =
        kubeconfig(&dir.path().join("peer.yaml"), &format!("{}{SAR}", peer.url), Some(&ca), "front-token");
    let silent = silent_listener();
    let silent_url = format!("https://127.0.0.1:{}/authorize", silent.local_addr().unwrap().port());
    let silent_kubeconfig = kubeconfig(&dir.path().join("silent.yaml"), &silent_url, Some(&ca), "unused");
    let config = dir.path().join("front-authz.yaml");
    let front_tokens = write(&dir.path().join("front-tokens.csv"), FRONT_TOKENS);
    write(&config, &front_config(&peer_kubeconfig, &silent_kubeconfig, silent_policy));
    let front = Server::start_in(
        &dir.path().join("front"),
        &[
            "--token-auth-file",
            front_tokens.to_str().unwrap(),
            "--authorization-config",
            config.to_str().unwrap(),
            "--authorization-config-reload-interval",
            "1s",
        ],
    );
    let s = Setup { _peer: peer, front, dir, config, peer_kubeconfig, silent_kubeconfig, _silent: silent };
    // Every authenticated user may read pods by the front's RBAC: the last authorizer.
    s.front
        .kubectl(&[
            "create",
            "clusterrolebinding",
            "everyone-view",
            "--clusterrole=view",
            "--group=system:authenticated",
        ])
        .ok();
    s
}

/// A SubjectAccessReview on the front for `user` getting pods in `default`.
fn review(s: &Setup, user: &str) -> Value {
    let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": user, "groups": ["system:authenticated"],
        "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}}});
    s.front.post_json("front-admin-token", SAR, &body)["status"].clone()
}

/// SubjectAccessReviews the peer answered for the front, from its audit log.
fn asked_at_peer(s: &Setup) -> usize {
    let log = std::fs::read_to_string(s.dir.path().join("peer-audit.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("\"ResponseComplete\"") && l.contains(SAR) && l.contains("\"kube-apiserver\""))
        .count()
}

fn kubectl_as(s: &Setup, user: &str, args: &[&str]) -> common::server::Out {
    let mut all = vec!["--as", user];
    all.extend_from_slice(args);
    s.front.kubectl(&all)
}

fn metric(s: &Setup, name: &str, labels: &str) -> u64 {
    let out = s.front.curl(&["-H", "Authorization: Bearer front-admin-token"], "/metrics").ok();
    out.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[test]
fn a_chain_of_two_webhooks_then_rbac() {
    let s = setup("Deny");
    // alice: the peer allows, with its own reason.
    let alice = review(&s, "alice");
    assert_eq!(alice["allowed"], true, "{alice}");
    assert_eq!(
        alice["reason"],
        "RBAC: allowed by ClusterRoleBinding \"alice-view\" of ClusterRole \"view\" to User \"alice\""
    );
    let out = kubectl_as(&s, "alice", &["get", "pods", "-n", "default"]);
    println!("$ kubectl get pods -n default --as alice\n{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // mallory: the peer denies; the chain stops there, the front's RBAC (which allows) is not asked.
    let mallory = review(&s, "mallory");
    assert_eq!(mallory, json!({"allowed": false, "denied": true}), "{mallory}");
    let out = kubectl_as(&s, "mallory", &["get", "pods", "-n", "default"]);
    println!("$ kubectl get pods -n default --as mallory\n{}{}", out.stdout, out.stderr);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("pods is forbidden: User \"mallory\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""), "{}", out.stderr);

    // skip-me: the peer's match condition is false, so it is not asked; RBAC allows.
    let before = asked_at_peer(&s);
    let skipped = review(&s, "skip-me");
    assert_eq!(skipped["allowed"], true, "{skipped}");
    assert_eq!(skipped["reason"], "RBAC: allowed by ClusterRoleBinding \"everyone-view\" of ClusterRole \"view\" to Group \"system:authenticated\"");
    assert_eq!(asked_at_peer(&s), before, "the peer was not asked about skip-me");

    // slow: the peer has no opinion, the silent webhook times out, and its policy is Deny.
    let slow = review(&s, "slow");
    assert_eq!(slow, json!({"allowed": false, "denied": true}), "{slow}");
    let out = kubectl_as(&s, "slow", &["get", "pods", "-n", "default"]);
    println!(
        "$ kubectl get pods -n default --as slow   # silent webhook, failurePolicy: Deny\n{}{}",
        out.stdout, out.stderr
    );
    assert_ne!(out.code, 0);
    assert!(metric(&s, "kauth_authorization_webhook_request_total", "code=\"<error>\",name=\"silent\"") >= 1);

    // Caching: the same question three times more, one review at the peer for it.
    let carol = || review(&s, "carol");
    let before = asked_at_peer(&s);
    for _ in 0..3 {
        assert_eq!(carol()["allowed"], true, "RBAC allows carol after the peer's no opinion");
    }
    assert_eq!(asked_at_peer(&s) - before, 1, "no-opinion answers are cached for unauthorizedTTL");
    let before = asked_at_peer(&s);
    for _ in 0..3 {
        assert_eq!(review(&s, "alice")["allowed"], true);
    }
    assert_eq!(asked_at_peer(&s) - before, 0, "alice's allowed answer is still cached (authorizedTTL)");
}

/// Polls the reload counter until it reaches `n` (the reload runs every second here).
fn wait_for_reloads(s: &Setup, status: &str, n: u64) {
    let labels = format!("status=\"{status}\"");
    for _ in 0..600 {
        if metric(s, "apiserver_authorization_config_controller_automatic_reloads_total", &labels) >= n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no {status} reload number {n}");
}

#[test]
fn a_timeout_with_no_opinion_falls_through_and_the_file_is_reloaded() {
    let s = setup("NoOpinion");
    // slow: the silent webhook times out, NoOpinion: the front's RBAC allows.
    let slow = review(&s, "slow");
    assert_eq!(slow["allowed"], true, "{slow}");
    let out = kubectl_as(&s, "slow", &["get", "pods", "-n", "default"]);
    println!(
        "$ kubectl get pods -n default --as slow   # silent webhook, failurePolicy: NoOpinion\n{}{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // A bad file: the running chain stays, the failure is counted.
    let started = metric(&s, "apiserver_authorization_config_controller_automatic_reloads_total", "status=\"success\"");
    assert_eq!(started, 1, "the start counts as a successful load, as kube-apiserver's");
    write(&s.config, &format!("{HEAD}- type: RBAC\n  name: not-rbac\n"));
    wait_for_reloads(&s, "failure", 1);
    assert_eq!(review(&s, "slow")["allowed"], true, "the old chain still runs");

    // A good file: the new chain runs (the silent webhook now denies on failure).
    write(&s.config, &front_config(&s.peer_kubeconfig, &s.silent_kubeconfig, "Deny"));
    wait_for_reloads(&s, "success", 2);
    assert_eq!(review(&s, "slow"), json!({"allowed": false, "denied": true}));
}

#[test]
fn the_config_file_and_the_legacy_flags_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(&dir.path().join("authz.yaml"), &format!("{HEAD}- type: RBAC\n  name: rbac\n"));
    let run = common::kauth(&[
        "serve",
        "--data-dir",
        dir.path().join("d").to_str().unwrap(),
        "--secure-port",
        "0",
        "--authorization-config",
        config.to_str().unwrap(),
        "--authorization-mode",
        "RBAC",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("--authorization-config can not be specified when --authorization-mode or --authorization-webhook-* flags are defined"),
        "{}",
        run.stderr
    );
    let bad = write(&dir.path().join("bad.yaml"), &format!("{HEAD}- type: Webhook\n  name: w\n"));
    let run = common::kauth(&[
        "serve",
        "--data-dir",
        dir.path().join("d").to_str().unwrap(),
        "--secure-port",
        "0",
        "--authorization-config",
        bad.to_str().unwrap(),
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("authorizers[0].webhook: Required value: required when type=Webhook"),
        "{}",
        run.stderr
    );
    let run = common::kauth(&[
        "serve",
        "--data-dir",
        dir.path().join("d").to_str().unwrap(),
        "--secure-port",
        "0",
        "--authorization-mode",
        "Node,Webhook,RBAC",
    ]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("authorization-mode Webhook's authorization config file not passed"), "{}", run.stderr);
}

#[test]
fn the_legacy_webhook_flags_ask_the_same_peer() {
    let dir = tempfile::tempdir().unwrap();
    let peer_tokens = write(&dir.path().join("peer-tokens.csv"), PEER_TOKENS);
    let peer = Server::start_in(&dir.path().join("peer"), &["--token-auth-file", peer_tokens.to_str().unwrap()]);
    peer.kubectl(&[
        "create",
        "clusterrolebinding",
        "front-delegates",
        "--clusterrole=system:auth-delegator",
        "--user=kube-apiserver",
    ])
    .ok();
    peer.kubectl(&["create", "clusterrolebinding", "alice-view", "--clusterrole=view", "--user=alice"]).ok();
    let ca = dir.path().join("peer/pki/ca.crt");
    let peer_kubeconfig =
        kubeconfig(&dir.path().join("peer.yaml"), &format!("{}{SAR}", peer.url), Some(&ca), "front-token");
    let front_tokens = write(&dir.path().join("front-tokens.csv"), FRONT_TOKENS);
    let front = Server::start_in(
        &dir.path().join("front"),
        &[
            "--token-auth-file",
            front_tokens.to_str().unwrap(),
            "--authorization-mode=Node,Webhook,RBAC",
            "--authorization-webhook-config-file",
            peer_kubeconfig.to_str().unwrap(),
            "--authorization-webhook-version=v1",
        ],
    );
    let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": "alice", "resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"}}});
    let status = front.post_json("front-admin-token", SAR, &body)["status"].clone();
    assert_eq!(status["allowed"], true, "{status}");
    assert_eq!(
        status["reason"],
        "RBAC: allowed by ClusterRoleBinding \"alice-view\" of ClusterRole \"view\" to User \"alice\""
    );
    let out = front.kubectl(&["auth", "can-i", "list", "pods", "-n", "default", "--as", "alice"]);
    println!(
        "$ kubectl auth can-i list pods -n default --as alice   # --authorization-mode=Node,Webhook,RBAC\n{}{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stdout.trim(), "yes");
    let out = front.kubectl(&["auth", "can-i", "list", "secrets", "-n", "default", "--as", "alice"]);
    println!("$ kubectl auth can-i list secrets -n default --as alice\n{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.trim(), "no");
}
