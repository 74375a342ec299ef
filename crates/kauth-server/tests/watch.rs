//! Watches through the pipeline (`handlers/watch.rs`), read without a timer (`common::watch`):
//! changes after the watch's resourceVersion arrive in commit order, selectors filter and turn
//! objects starting or ceasing to match into ADDED and DELETED, and a resourceVersion the server
//! no longer holds is kube-apiserver's answer: HTTP 200 and one ERROR event carrying a
//! `410 Expired` Status, then the end of the stream.
#![allow(clippy::unwrap_used)]

mod common;

use common::watch::{summary, Events};
use common::{server, Server, ADMIN, ALICE};
use http::Method;
use serde_json::{json, Value};

fn pair(kind: &str, name: &str) -> (String, String) {
    (kind.to_owned(), name.to_owned())
}

fn create_sa(s: &Server, ns: &str, name: &str, labels: Value) -> Value {
    s.admin(
        Method::POST,
        &format!("/api/v1/namespaces/{ns}/serviceaccounts"),
        Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "labels": labels}})),
        201,
    )
}

fn relabel(s: &Server, ns: &str, name: &str, labels: Value) -> Value {
    let path = format!("/api/v1/namespaces/{ns}/serviceaccounts/{name}");
    let mut sa = s.admin(Method::GET, &path, None, 200);
    sa["metadata"]["labels"] = labels;
    s.admin(Method::PUT, &path, Some(sa), 200)
}

fn watch(s: &Server, path_and_query: &str) -> Events {
    Events::of(s.send(Method::GET, path_and_query, None, Some(ADMIN)))
}

fn list_revision(s: &Server, path: &str) -> String {
    s.admin(Method::GET, path, None, 200)["metadata"]["resourceVersion"].as_str().unwrap().to_owned()
}

fn revision_of(event: &Value) -> u64 {
    event["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

#[test]
fn changes_after_the_resource_version_arrive_in_order() {
    let s = server();
    s.admin(Method::POST, "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), 201);
    let rv = list_revision(&s, "/api/v1/namespaces/team/serviceaccounts");
    let mut events = watch(&s, &format!("/api/v1/namespaces/team/serviceaccounts?watch=true&resourceVersion={rv}"));
    assert!(events.take().is_empty(), "nothing changed since {rv}");

    create_sa(&s, "team", "builder", json!({}));
    create_sa(&s, "default", "elsewhere", json!({}));
    relabel(&s, "team", "builder", json!({"tier": "web"}));
    s.admin(Method::DELETE, "/api/v1/namespaces/team/serviceaccounts/builder", None, 200);

    let got = events.take();
    assert_eq!(summary(&got), [pair("ADDED", "builder"), pair("MODIFIED", "builder"), pair("DELETED", "builder")]);
    assert_eq!(got[1]["object"]["metadata"]["labels"], json!({"tier": "web"}));
    assert_eq!(got[2]["object"]["metadata"]["labels"], json!({"tier": "web"}), "a delete carries the last state");
    let revisions: Vec<u64> = got.iter().map(revision_of).collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
    assert_eq!(revisions[0], rv.parse::<u64>().unwrap() + 1);
    assert!(!events.ended());

    // Starting from the revision of the first event replays the rest, as a client resuming does.
    let mut resumed =
        watch(&s, &format!("/api/v1/namespaces/team/serviceaccounts?watch=true&resourceVersion={}", revisions[0]));
    assert_eq!(summary(&resumed.take()), [pair("MODIFIED", "builder"), pair("DELETED", "builder")]);
}

#[test]
fn a_watch_from_now_starts_with_the_objects_there_and_a_streaming_list_ends_them_with_a_bookmark() {
    let s = server();
    s.admin(Method::POST, "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), 201);
    create_sa(&s, "team", "builder", json!({}));
    let mut events = watch(&s, "/api/v1/namespaces/team/serviceaccounts?watch=true");
    assert_eq!(summary(&events.take()), [pair("ADDED", "builder"), pair("ADDED", "default")]);
    create_sa(&s, "team", "later", json!({}));
    assert_eq!(summary(&events.take()), [pair("ADDED", "later")]);

    let rv = list_revision(&s, "/api/v1/namespaces/team/serviceaccounts");
    let mut streaming = watch(&s, "/api/v1/namespaces/team/serviceaccounts?watch=true&sendInitialEvents=true");
    let got = streaming.take();
    assert_eq!(
        summary(&got),
        [pair("ADDED", "builder"), pair("ADDED", "default"), pair("ADDED", "later"), pair("BOOKMARK", "")]
    );
    assert_eq!(
        got[3]["object"],
        json!({"kind": "ServiceAccount", "apiVersion": "v1",
               "metadata": {"resourceVersion": rv, "annotations": {"k8s.io/initial-events-end": "true"}}})
    );
}

#[test]
fn selectors_filter_and_an_object_that_starts_or_stops_matching_is_added_or_deleted() {
    let s = server();
    let rv = list_revision(&s, "/api/v1/namespaces/default/serviceaccounts");
    let mut web = watch(
        &s,
        &format!("/api/v1/namespaces/default/serviceaccounts?watch=true&resourceVersion={rv}&labelSelector=tier%3Dweb"),
    );
    let mut named = watch(
        &s,
        &format!(
            "/api/v1/namespaces/default/serviceaccounts?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Da"
        ),
    );
    create_sa(&s, "default", "a", json!({"tier": "web"}));
    create_sa(&s, "default", "b", json!({"tier": "db"}));
    relabel(&s, "default", "b", json!({"tier": "web"}));
    relabel(&s, "default", "a", json!({"tier": "db"}));
    relabel(&s, "default", "a", json!({"tier": "cache"}));
    assert_eq!(summary(&web.take()), [pair("ADDED", "a"), pair("ADDED", "b"), pair("DELETED", "a")]);
    assert_eq!(summary(&named.take()), [pair("ADDED", "a"), pair("MODIFIED", "a"), pair("MODIFIED", "a")]);
}

#[test]
fn a_resource_version_from_before_a_restart_is_too_old_410_expired_as_an_error_event() {
    let s = server();
    create_sa(&s, "default", "builder", json!({}));
    let old: u64 = list_revision(&s, "/api/v1/namespaces/default/serviceaccounts").parse().unwrap();
    // After a restart, the change feed starts at the store's revision then: a watch may start
    // there, not before.
    let s = s.restart();
    let r = s.send(
        Method::GET,
        &format!("/api/v1/namespaces/default/serviceaccounts?watch=true&resourceVersion={}", old - 1),
        None,
        Some(ADMIN),
    );
    assert_eq!(r.status, 200, "past authentication and authorization, the error is an event");
    let mut events = Events::of(r);
    let got = events.take();
    assert_eq!(
        got,
        [json!({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {} ({old})", old - 1),
            "reason": "Expired", "code": 410}})]
    );
    assert!(events.ended(), "the stream ends after the error");
    // From the oldest revision the server holds, a watch starts.
    let mut fresh = watch(&s, &format!("/api/v1/namespaces/default/serviceaccounts?watch=true&resourceVersion={old}"));
    assert!(fresh.take().is_empty(), "no service account changed since");
    assert!(!fresh.ended());
}

#[test]
fn bad_watch_parameters_are_400_and_watch_is_authorized_as_its_own_verb() {
    let s = server();
    let r = s.send(Method::GET, "/api/v1/serviceaccounts?watch=true&resourceVersion=x", None, Some(ADMIN));
    assert_eq!(r.status, 400);
    assert_eq!(common::json_of(&r)["message"], "resourceVersion: Invalid value: \"x\": invalid digit found in string");
    let r = s.send(Method::GET, "/api/v1/serviceaccounts?watch=true&timeoutSeconds=-1", None, Some(ADMIN));
    assert_eq!(r.status, 400);
    // alice may list config maps in team, not watch them.
    s.admin(Method::POST, "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), 201);
    s.admin(
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles",
        Some(json!({"metadata": {"name": "list-only"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]})),
        201,
    );
    s.admin(
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
        Some(json!({"metadata": {"name": "alice"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "list-only"},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]})),
        201,
    );
    assert_eq!(s.send(Method::GET, "/api/v1/namespaces/team/configmaps", None, Some(ALICE)).status, 200);
    let r = s.send(Method::GET, "/api/v1/namespaces/team/configmaps?watch=true", None, Some(ALICE));
    assert_eq!(r.status, 403);
    assert_eq!(
        common::json_of(&r)["message"],
        "configmaps is forbidden: User \"alice\" cannot watch resource \"configmaps\" in API group \"\" in the namespace \"team\""
    );
}
