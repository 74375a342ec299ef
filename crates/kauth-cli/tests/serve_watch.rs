//! Watches on `kauth serve`, through the real kubectl: `kubectl get -w`, `kubectl wait` (client-go
//! list + watch), and the raw event stream with resourceVersion, selectors and expiry.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::Server;
use common::tools::{require, Tool};
use serde_json::Value;

fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    (dir, s)
}

/// The events of a raw watch that ends by itself (`timeoutSeconds`), parsed.
fn raw_watch(s: &Server, path_and_query: &str) -> Vec<Value> {
    let out = s.kubectl(&["get", "--raw", path_and_query]).ok();
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn summary(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let name = e["object"]["metadata"]["name"].as_str().unwrap_or("").to_owned();
            (e["type"].as_str().unwrap().to_owned(), name)
        })
        .collect()
}

fn list_revision(s: &Server, path: &str) -> u64 {
    let list: Value = serde_json::from_str(&s.kubectl(&["get", "--raw", path]).ok()).unwrap();
    list["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

#[test]
fn kubectl_get_watch_prints_each_change() {
    require!(Tool::Kubectl);
    let (_d, s) = server();
    s.kubectl(&["create", "namespace", "team"]).ok();
    s.kubectl(&["-n", "team", "create", "serviceaccount", "builder"]).ok();

    let mut w = s.kubectl_background(&["-n", "team", "get", "serviceaccounts", "--watch", "--output-watch-events"]);
    // The list first: a header, then every object as ADDED.
    let head = w.until("builder");
    assert!(head[0].starts_with("EVENT") && head[0].contains("NAME") && head[0].contains("AGE"), "{head:?}");
    s.kubectl(&["-n", "team", "create", "serviceaccount", "deployer"]).ok();
    let added = w.until("deployer");
    assert!(added.last().unwrap().starts_with("ADDED"), "{added:?}");
    s.kubectl(&["-n", "team", "label", "serviceaccount", "deployer", "tier=web"]).ok();
    let modified = w.next_line();
    assert!(modified.starts_with("MODIFIED") && modified.contains("deployer"), "{modified}");
    s.kubectl(&["-n", "team", "delete", "serviceaccount", "deployer"]).ok();
    let deleted = w.next_line();
    assert!(deleted.starts_with("DELETED") && deleted.contains("deployer"), "{deleted}");
    // Other namespaces are not this watch's business; the header is not printed again.
    s.kubectl(&["create", "namespace", "other"]).ok();
    s.kubectl(&["-n", "other", "create", "serviceaccount", "elsewhere"]).ok();
    s.kubectl(&["-n", "team", "create", "serviceaccount", "last"]).ok();
    let rest = w.until("last");
    assert!(rest.iter().all(|l| !l.contains("elsewhere") && !l.starts_with("EVENT")), "{rest:?}");
}

#[test]
fn kubectl_wait_follows_changes_with_client_go() {
    require!(Tool::Kubectl);
    let (_d, s) = server();
    s.kubectl(&["create", "namespace", "team"]).ok();
    s.kubectl(&["-n", "team", "create", "serviceaccount", "job"]).ok();
    // kubectl wait lists, then watches from the list's resourceVersion until the condition holds.
    let waiting = s.kubectl_background(&[
        "-n",
        "team",
        "wait",
        "serviceaccount/job",
        "--for=jsonpath={.metadata.labels.ready}=yes",
        "--timeout=60s",
    ]);
    let gone = s.kubectl_background(&["-n", "team", "wait", "serviceaccount/job", "--for=delete", "--timeout=60s"]);
    s.kubectl(&["-n", "team", "label", "serviceaccount", "job", "ready=yes"]).ok();
    assert_eq!(waiting.wait(), 0, "kubectl wait saw the label through the watch");
    s.kubectl(&["-n", "team", "delete", "serviceaccount", "job", "--wait=false"]).ok();
    assert_eq!(gone.wait(), 0, "kubectl wait --for=delete saw the DELETED event");
}

#[test]
fn raw_watch_replays_from_a_resource_version_with_selectors() {
    require!(Tool::Kubectl);
    let (_d, s) = server();
    s.kubectl(&["create", "namespace", "team"]).ok();
    let from = list_revision(&s, "/api/v1/namespaces/team/configmaps");
    s.kubectl(&["-n", "team", "create", "configmap", "a"]).ok();
    s.kubectl(&["-n", "team", "label", "configmap", "a", "app=web"]).ok();
    s.kubectl(&["-n", "team", "create", "configmap", "b"]).ok();
    s.kubectl(&["-n", "team", "label", "configmap", "a", "app-"]).ok();
    s.kubectl(&["-n", "team", "delete", "configmap", "b"]).ok();

    let all = raw_watch(
        &s,
        &format!("/api/v1/namespaces/team/configmaps?watch=true&resourceVersion={from}&timeoutSeconds=1"),
    );
    assert_eq!(
        summary(&all),
        [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
            .map(|(t, n)| (t.to_owned(), n.to_owned()))
    );
    // Each event carries the object at that change's revision, in increasing order.
    let revs: Vec<u64> =
        all.iter().map(|e| e["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()).collect();
    assert!(revs.windows(2).all(|w| w[0] < w[1]) && revs[0] > from, "{revs:?}");
    assert_eq!(all[0]["object"]["kind"], "ConfigMap");

    // A selector sees an object arrive when it starts to match and leave when it stops.
    let web = raw_watch(
        &s,
        &format!("/api/v1/namespaces/team/configmaps?watch=true&resourceVersion={from}&labelSelector=app%3Dweb&timeoutSeconds=1"),
    );
    assert_eq!(summary(&web), [("ADDED", "a"), ("DELETED", "a")].map(|(t, n)| (t.to_owned(), n.to_owned())));
    let named = raw_watch(
        &s,
        &format!(
            "/api/v1/configmaps?watch=true&resourceVersion={from}&fieldSelector=metadata.name%3Db&timeoutSeconds=1"
        ),
    );
    assert_eq!(summary(&named), [("ADDED", "b"), ("DELETED", "b")].map(|(t, n)| (t.to_owned(), n.to_owned())));
    // The deprecated /watch/ path form is the same watch.
    let legacy =
        raw_watch(&s, &format!("/api/v1/watch/namespaces/team/configmaps/b?resourceVersion={from}&timeoutSeconds=1"));
    assert_eq!(summary(&legacy), summary(&named));

    // Without a resourceVersion: the current state as ADDED events (kube-root-ca.crt and a).
    let now = raw_watch(&s, "/api/v1/namespaces/team/configmaps?watch=true&timeoutSeconds=1");
    assert_eq!(
        summary(&now),
        [("ADDED", "a"), ("ADDED", "kube-root-ca.crt")].map(|(t, n)| (t.to_owned(), n.to_owned()))
    );
    // A streaming list ends its initial events with an annotated bookmark.
    let streaming = raw_watch(
        &s,
        "/api/v1/namespaces/team/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
    );
    let last = streaming.last().unwrap();
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(streaming.len(), 3);

    // Bad parameters are a 400 before any stream starts.
    let bad = s.kubectl(&["get", "--raw", "/api/v1/configmaps?watch=true&resourceVersion=abc"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("resourceVersion: Invalid value: \"abc\""), "{}", bad.stderr);
    let bad = s.kubectl(&["get", "--raw", "/api/v1/configmaps?watch=true&fieldSelector=spec.x%3D1"]);
    assert!(bad.stderr.contains("field label not supported: spec.x"), "{}", bad.stderr);
}

#[test]
fn a_revision_from_before_a_restart_is_too_old() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_in(&data, &[]);
    s.kubectl(&["create", "namespace", "team"]).ok();
    let before = list_revision(&s, "/api/v1/namespaces");
    drop(s);
    let s = Server::start_in(&data, &[]);
    let now = list_revision(&s, "/api/v1/namespaces");
    let events = raw_watch(&s, &format!("/api/v1/namespaces?watch=true&resourceVersion={}", before - 1));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    let status = &events[0]["object"];
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["code"], 410);
    assert_eq!(status["reason"], "Expired");
    // The oldest revision a watch may start from is where this server's history begins.
    let message = status["message"].as_str().unwrap();
    let oldest: u64 = message
        .strip_prefix(&format!("too old resource version: {} (", before - 1))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{message}"))
        .parse()
        .unwrap();
    assert!(oldest >= before && oldest <= now, "{message}");
    // From the current revision the watch is fine (and has nothing to replay).
    assert!(raw_watch(&s, &format!("/api/v1/namespaces?watch=true&resourceVersion={now}&timeoutSeconds=1")).is_empty());
}

#[test]
fn watch_is_authorized_as_its_own_verb() {
    require!(Tool::Kubectl);
    let (_d, s) = server();
    s.kubectl(&["create", "namespace", "team"]).ok();
    s.kubectl(&["-n", "team", "create", "serviceaccount", "reader"]).ok();
    s.kubectl(&["-n", "team", "create", "role", "list-only", "--verb=list", "--resource=configmaps"]).ok();
    s.kubectl(&["-n", "team", "create", "rolebinding", "reader", "--role=list-only", "--serviceaccount=team:reader"])
        .ok();
    let as_reader = ["--as", "system:serviceaccount:team:reader"];
    let list = s.kubectl(&[&as_reader[..], &["-n", "team", "get", "configmaps"]].concat());
    assert_eq!(list.code, 0, "{}", list.stderr);
    let watch =
        s.kubectl(&[&as_reader[..], &["get", "--raw", "/api/v1/namespaces/team/configmaps?watch=true"]].concat());
    assert_ne!(watch.code, 0);
    assert!(
        watch.stderr.contains("cannot watch resource \"configmaps\" in API group \"\" in the namespace \"team\""),
        "{}",
        watch.stderr
    );
}
