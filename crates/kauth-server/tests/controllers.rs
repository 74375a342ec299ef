//! What kauth does in place of kube-controller-manager's auth controllers, inside the commit of
//! the write that triggers it (`controllers/mod.rs`): a namespace's default ServiceAccount and
//! `kube-root-ca.crt`, legacy token Secrets filled and their use tracked, cascading deletes, and
//! ClusterRole aggregation. Driven through the pipeline, on a fake clock.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::watch::{summary, Events};
use common::{server, Server, ADMIN};
use http::Method;
use kauth::authn::{Rejection, TokenAuthenticator};
use kauth::token::Rejection as TokenRejection;
use kauth_server::controllers;
use kauth_server::controllers::aggregation::{aggregate, Pending};
use kauth_server::registry::Change;
use serde_json::{json, Value};

const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(v: &Value) -> String {
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap()).unwrap()
}

fn create_sa(s: &Server, ns: &str, name: &str) -> Value {
    s.admin(
        Method::POST,
        &format!("/api/v1/namespaces/{ns}/serviceaccounts"),
        Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})),
        201,
    )
}

fn token_secret(name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
           "metadata": {"name": name, "annotations": annotations}})
}

fn cluster_role(name: &str, labels: Value, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
           "metadata": {"name": name, "labels": labels}, "rules": rules})
}

fn rules_of(s: &Server, role: &str) -> Vec<Value> {
    s.admin(Method::GET, &format!("{RBAC}/clusterroles/{role}"), None, 200)["rules"].as_array().unwrap().clone()
}

#[test]
fn a_new_namespace_gets_its_default_service_account_and_the_cluster_ca_in_the_same_commit() {
    let s = server();
    s.clock.advance(30);
    let ns = s.admin(
        Method::POST,
        "/api/v1/namespaces",
        Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})),
        201,
    );
    assert_eq!(ns["metadata"]["labels"], json!({"kubernetes.io/metadata.name": "team"}));
    assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
    assert_eq!(ns["status"], json!({"phase": "Active"}));
    let revision = &ns["metadata"]["resourceVersion"];

    let sa = s.admin(Method::GET, "/api/v1/namespaces/team/serviceaccounts/default", None, 200);
    assert_eq!(sa["metadata"]["creationTimestamp"], "2027-01-15T08:00:30Z", "stamped by the fake clock");
    assert_eq!(&sa["metadata"]["resourceVersion"], revision, "committed with the namespace");

    let cm = s.admin(Method::GET, "/api/v1/namespaces/team/configmaps/kube-root-ca.crt", None, 200);
    assert_eq!(&cm["metadata"]["resourceVersion"], revision);
    assert_eq!(cm["data"]["ca.crt"], s.state.config.ca_pem.as_str());
    assert!(s.state.config.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(cm["metadata"]["annotations"]["kubernetes.io/description"]
        .as_str()
        .unwrap()
        .starts_with("Contains a CA bundle that can be used to verify the kube-apiserver"));
    // What the controller makes is what the functions make.
    let made = controllers::root_ca_configmap(&s.state, "team").unwrap();
    assert_eq!(made["data"], cm["data"]);
    assert_eq!(controllers::default_service_account(&s.state, "x").unwrap()["metadata"]["namespace"], "x");
}

#[test]
fn a_token_secret_is_filled_with_a_legacy_token_whose_use_is_recorded_once_a_day() {
    let s = server();
    let sa = create_sa(&s, "default", "builder");
    let secret = s.admin(
        Method::POST,
        "/api/v1/namespaces/default/secrets",
        Some(token_secret("builder-token", json!({"kubernetes.io/service-account.name": "builder"}))),
        201,
    );
    assert_eq!(secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"], sa["metadata"]["uid"]);
    assert_eq!(secret["data"]["namespace"], b64("default"));
    assert_eq!(secret["data"]["ca.crt"], b64(&s.state.config.ca_pem));
    let token = unb64(&secret["data"]["token"]);
    let claims = kauth::token::validate::parse(&token).unwrap().claims;
    assert_eq!(claims.iss.as_deref(), Some("kubernetes/serviceaccount"));
    assert_eq!(claims.legacy_secret_name.as_deref(), Some("builder-token"));
    assert_eq!(claims.legacy_service_account_uid.as_deref(), sa["metadata"]["uid"].as_str());

    let last_used = || {
        let v = s.admin(Method::GET, "/api/v1/namespaces/default/secrets/builder-token", None, 200);
        let label = v["metadata"]["labels"]["kubernetes.io/legacy-token-last-used"].clone();
        (label, v["metadata"]["resourceVersion"].clone())
    };
    assert_eq!(last_used().0, Value::Null, "not used yet");
    // The token authenticates (RBAC then refuses the service account: no binding).
    let r = s.send(Method::GET, "/api/v1/namespaces/default/secrets", None, Some(&token));
    assert_eq!(r.status, 403);
    assert_eq!(
        common::json_of(&r)["message"],
        "secrets is forbidden: User \"system:serviceaccount:default:builder\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    let (label, revision) = last_used();
    assert_eq!(label, "2027-01-15");
    // Another use the same day writes nothing.
    s.clock.advance(3600);
    s.send(Method::GET, "/api/v1/namespaces/default/secrets", None, Some(&token));
    assert_eq!(last_used(), (json!("2027-01-15"), revision.clone()));
    // The next day, once more.
    s.clock.advance(86_400);
    s.send(Method::GET, "/api/v1/namespaces/default/secrets", None, Some(&token));
    let (label, later) = last_used();
    assert_eq!(label, "2027-01-16");
    assert_ne!(later, revision);
}

/// kube-apiserver leaves a label saying today or tomorrow (written by a replica whose clock is ahead).
#[test]
fn a_last_used_label_that_says_tomorrow_is_left_alone() {
    let s = server();
    create_sa(&s, "default", "builder");
    let mut secret = token_secret("builder-token", json!({"kubernetes.io/service-account.name": "builder"}));
    secret["metadata"]["labels"] = json!({"kubernetes.io/legacy-token-last-used": "2027-01-16"});
    let secret = s.admin(Method::POST, "/api/v1/namespaces/default/secrets", Some(secret), 201);
    let token = unb64(&secret["data"]["token"]);
    let path = "/api/v1/namespaces/default/secrets/builder-token";
    s.send(Method::GET, "/api/v1/namespaces/default/secrets", None, Some(&token));
    let now = s.admin(Method::GET, path, None, 200);
    assert_eq!(now["metadata"]["labels"]["kubernetes.io/legacy-token-last-used"], "2027-01-16");
    assert_eq!(now["metadata"]["resourceVersion"], secret["metadata"]["resourceVersion"], "not written");
    // A day further ahead is no clock skew: it is set back to today.
    let mut later = now.clone();
    later["metadata"]["labels"]["kubernetes.io/legacy-token-last-used"] = json!("2027-01-17");
    s.admin(Method::PUT, path, Some(later), 200);
    s.send(Method::GET, "/api/v1/namespaces/default/secrets", None, Some(&token));
    let now = s.admin(Method::GET, path, None, 200);
    assert_eq!(now["metadata"]["labels"]["kubernetes.io/legacy-token-last-used"], "2027-01-15");
}

#[test]
fn a_token_secret_must_name_an_existing_service_account_with_its_uid() {
    let s = server();
    let post = |secret: Value| s.send(Method::POST, "/api/v1/namespaces/default/secrets", Some(secret), Some(ADMIN));
    let r = post(token_secret("t", json!({})));
    assert_eq!(r.status, 422);
    assert_eq!(
        common::json_of(&r)["message"],
        "Secret \"t\" is invalid: metadata.annotations[kubernetes.io/service-account.name]: Required value"
    );
    let r = post(token_secret("t", json!({"kubernetes.io/service-account.name": "ghost"})));
    assert_eq!(r.status, 404);
    assert_eq!(common::json_of(&r)["message"], "serviceaccounts \"ghost\" not found");
    let sa = create_sa(&s, "default", "builder");
    let r = post(token_secret(
        "t",
        json!({"kubernetes.io/service-account.name": "builder", "kubernetes.io/service-account.uid": "not-its-uid"}),
    ));
    assert_eq!(r.status, 422);
    assert_eq!(
        common::json_of(&r)["message"],
        format!(
            "Secret \"t\" is invalid: metadata.annotations[kubernetes.io/service-account.uid]: Invalid value: \"not-its-uid\": does not match serviceaccount \"builder\" (uid {})",
            sa["metadata"]["uid"].as_str().unwrap()
        )
    );
    // An Opaque Secret needs none of it, and gets no token.
    let opaque = s.admin(
        Method::POST,
        "/api/v1/namespaces/default/secrets",
        Some(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "plain"}, "data": {"k": b64("v")}})),
        201,
    );
    assert_eq!(opaque["type"], "Opaque");
    assert_eq!(opaque["data"], json!({"k": b64("v")}));
}

#[test]
fn deleting_a_service_account_deletes_its_token_secrets_and_their_tokens_fail() {
    let s = server();
    create_sa(&s, "default", "builder");
    create_sa(&s, "default", "other");
    let mine = s.admin(
        Method::POST,
        "/api/v1/namespaces/default/secrets",
        Some(token_secret("builder-token", json!({"kubernetes.io/service-account.name": "builder"}))),
        201,
    );
    s.admin(
        Method::POST,
        "/api/v1/namespaces/default/secrets",
        Some(token_secret("other-token", json!({"kubernetes.io/service-account.name": "other"}))),
        201,
    );
    let token = unb64(&mine["data"]["token"]);
    assert!(s.state.tokens.authenticate_token(&token, None, s.clock.now()).unwrap().is_some());

    s.admin(Method::DELETE, "/api/v1/namespaces/default/serviceaccounts/builder", None, 200);
    s.admin(Method::GET, "/api/v1/namespaces/default/secrets/builder-token", None, 404);
    s.admin(Method::GET, "/api/v1/namespaces/default/secrets/other-token", None, 200);
    assert_eq!(
        s.state.tokens.authenticate_token(&token, None, s.clock.now()),
        Err(Rejection::Token {
            authenticator: "service-account",
            rejection: TokenRejection::LegacySecretNotFound { secret: "default/builder-token".into() },
        })
    );
}

#[test]
fn deleting_a_namespace_deletes_what_is_in_it_and_nothing_else() {
    let s = server();
    s.admin(Method::POST, "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), 201);
    create_sa(&s, "team", "builder");
    create_sa(&s, "default", "builder");
    s.admin(
        Method::POST,
        &format!("{RBAC}/namespaces/team/roles"),
        Some(json!({"metadata": {"name": "reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})),
        201,
    );
    let gone = s.admin(Method::DELETE, "/api/v1/namespaces/team", None, 200);
    assert_eq!(gone["status"]["phase"], "Terminating");
    s.admin(Method::GET, "/api/v1/namespaces/team", None, 404);
    for list in ["/api/v1/namespaces/team/serviceaccounts", "/api/v1/namespaces/team/configmaps"] {
        assert_eq!(s.admin(Method::GET, list, None, 200)["items"], json!([]), "{list}");
    }
    assert_eq!(s.admin(Method::GET, &format!("{RBAC}/namespaces/team/roles"), None, 200)["items"], json!([]));
    s.admin(Method::GET, "/api/v1/namespaces/default/serviceaccounts/builder", None, 200);
}

#[test]
fn a_cluster_role_with_an_aggregation_label_adds_its_rules_to_the_aggregated_role() {
    let s = server();
    let view = rules_of(&s, "view");
    let widgets = json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]});
    s.admin(
        Method::POST,
        &format!("{RBAC}/clusterroles"),
        Some(cluster_role(
            "widgets-view",
            json!({"rbac.authorization.k8s.io/aggregate-to-view": "true"}),
            json!([widgets]),
        )),
        201,
    );
    let mut want = view.clone();
    want.push(widgets);
    assert_eq!(rules_of(&s, "view"), want);
    // Its rules change: so do the aggregated role's.
    let gadgets = json!({"apiGroups": ["example.com"], "resources": ["gadgets"], "verbs": ["get"]});
    s.admin(
        Method::PUT,
        &format!("{RBAC}/clusterroles/widgets-view"),
        Some(cluster_role(
            "widgets-view",
            json!({"rbac.authorization.k8s.io/aggregate-to-view": "true"}),
            json!([gadgets]),
        )),
        200,
    );
    let mut want = view.clone();
    want.push(gadgets.clone());
    assert_eq!(rules_of(&s, "view"), want);
    // It loses the label: the aggregated role loses its rules.
    s.admin(
        Method::PUT,
        &format!("{RBAC}/clusterroles/widgets-view"),
        Some(cluster_role("widgets-view", json!({}), json!([gadgets]))),
        200,
    );
    assert_eq!(rules_of(&s, "view"), view);
}

#[test]
fn an_aggregated_role_holds_the_union_whatever_rules_it_is_written_with() {
    let s = server();
    let pods = json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]});
    let secrets = json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]});
    for (name, rule) in [("b-source", &secrets), ("a-source", &pods)] {
        s.admin(
            Method::POST,
            &format!("{RBAC}/clusterroles"),
            Some(cluster_role(name, json!({"example.com/aggregate-to-mine": "true"}), json!([rule]))),
            201,
        );
    }
    let mut mine = cluster_role("mine", json!({}), json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]));
    mine["aggregationRule"] =
        json!({"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-mine": "true"}}]});
    let created = s.admin(Method::POST, &format!("{RBAC}/clusterroles"), Some(mine), 201);
    // The sources' rules in name order; what the role was written with is replaced.
    assert_eq!(created["rules"], json!([pods, secrets]));
}

#[test]
fn deleting_a_cluster_role_drops_its_rules_from_the_roles_that_aggregated_it() {
    let s = server();
    let before: Vec<_> = ["view", "edit", "admin"].into_iter().map(|r| rules_of(&s, r)).collect();
    let widgets = json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]});
    s.admin(
        Method::POST,
        &format!("{RBAC}/clusterroles"),
        Some(cluster_role(
            "widgets-view",
            json!({"rbac.authorization.k8s.io/aggregate-to-view": "true"}),
            json!([widgets]),
        )),
        201,
    );
    assert!(rules_of(&s, "admin").contains(&widgets), "aggregated through view and edit");
    s.admin(Method::DELETE, &format!("{RBAC}/clusterroles/widgets-view"), None, 200);
    let after: Vec<_> = ["view", "edit", "admin"].into_iter().map(|r| rules_of(&s, r)).collect();
    assert_eq!(after, before);
}

/// An aggregated role whose rules change by aggregation is aggregated in turn into the roles that
/// select it (view into edit into admin), in the same commit: none of them lags a write behind
/// or keeps rules view has lost.
#[test]
fn aggregation_goes_through_aggregated_roles_and_drops_what_they_lose() {
    let s = server();
    let example = |role: &str| -> Vec<Value> {
        rules_of(&s, role).into_iter().filter(|r| r["apiGroups"][0] == "example.com").collect()
    };
    let widgets = json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]});
    let labels = json!({"rbac.authorization.k8s.io/aggregate-to-view": "true"});
    s.admin(
        Method::POST,
        &format!("{RBAC}/clusterroles"),
        Some(cluster_role("widgets-view", labels, json!([widgets]))),
        201,
    );
    // view carries aggregate-to-edit, edit carries aggregate-to-admin.
    for role in ["view", "edit", "admin"] {
        assert_eq!(example(role), std::slice::from_ref(&widgets), "{role}");
    }
    // The label goes: so do its rules, from all three.
    s.admin(
        Method::PUT,
        &format!("{RBAC}/clusterroles/widgets-view"),
        Some(cluster_role("widgets-view", json!({}), json!([widgets]))),
        200,
    );
    for role in ["view", "edit", "admin"] {
        assert_eq!(example(role), Vec::<Value>::new(), "{role}");
    }
    assert!(aggregate(&s.state, Pending::Nothing).unwrap().is_empty(), "every aggregated role in step");
}

/// The list revision of ClusterRoles, and each one's name and resourceVersion.
fn cluster_role_versions(s: &Server) -> (String, Vec<(String, String)>) {
    let list = s.admin(Method::GET, &format!("{RBAC}/clusterroles"), None, 200);
    let versions = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let meta = &r["metadata"];
            (meta["name"].as_str().unwrap().to_owned(), meta["resourceVersion"].as_str().unwrap().to_owned())
        })
        .collect();
    (list["metadata"]["resourceVersion"].as_str().unwrap().to_owned(), versions)
}

#[test]
fn a_restart_writes_nothing_when_the_default_policy_and_aggregation_are_in_step() {
    let s = server();
    // A role of the user's aggregated into view, so into edit and admin too.
    s.admin(
        Method::POST,
        &format!("{RBAC}/clusterroles"),
        Some(cluster_role(
            "widgets-view",
            json!({"rbac.authorization.k8s.io/aggregate-to-view": "true"}),
            json!([{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]),
        )),
        201,
    );
    let (revision, versions) = cluster_role_versions(&s);
    let store = s.state.registry.revision().unwrap();
    let s = s.restart();
    assert_eq!(s.state.registry.revision().unwrap(), store, "the restart committed nothing");
    assert_eq!(cluster_role_versions(&s), (revision.clone(), versions));
    let mut events = Events::of(s.send(
        Method::GET,
        &format!("{RBAC}/clusterroles?watch=true&resourceVersion={revision}"),
        None,
        Some(ADMIN),
    ));
    assert_eq!(summary(&events.take()), Vec::<(String, String)>::new(), "no MODIFIED event");
}

#[test]
fn a_cluster_role_write_rewrites_only_the_aggregated_roles_whose_rules_change() {
    let s = server();
    let (revision, _) = cluster_role_versions(&s);
    let mut events = Events::of(s.send(
        Method::GET,
        &format!("{RBAC}/clusterroles?watch=true&resourceVersion={revision}"),
        None,
        Some(ADMIN),
    ));
    let widgets = json!([{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]);
    let pair = |kind: &str, name: &str| (kind.to_owned(), name.to_owned());
    // Selected by no aggregation: nothing else is written.
    s.admin(
        Method::POST,
        &format!("{RBAC}/clusterroles"),
        Some(cluster_role("plain", json!({}), widgets.clone())),
        201,
    );
    assert_eq!(summary(&events.take()), [pair("ADDED", "plain")]);
    // Into view, so edit and admin: those three, in the same commit.
    let labelled =
        cluster_role("widgets-view", json!({"rbac.authorization.k8s.io/aggregate-to-view": "true"}), widgets);
    s.admin(Method::POST, &format!("{RBAC}/clusterroles"), Some(labelled.clone()), 201);
    let got = events.take();
    let mut names = summary(&got);
    names.sort();
    assert_eq!(
        names,
        [pair("ADDED", "widgets-view"), pair("MODIFIED", "admin"), pair("MODIFIED", "edit"), pair("MODIFIED", "view")]
    );
    let revisions: Vec<_> = got.iter().map(|e| e["object"]["metadata"]["resourceVersion"].clone()).collect();
    assert!(revisions.iter().all(|r| *r == revisions[0]), "one commit: {revisions:?}");
    // Written again the same: no aggregated role changes, none is written.
    let mut same = s.admin(Method::GET, &format!("{RBAC}/clusterroles/widgets-view"), None, 200);
    same["metadata"]["annotations"] = json!({"note": "touched"});
    s.admin(Method::PUT, &format!("{RBAC}/clusterroles/widgets-view"), Some(same), 200);
    assert_eq!(summary(&events.take()), [pair("MODIFIED", "widgets-view")]);
}

#[test]
fn aggregated_roles_selecting_each_other_settle_and_keep_nothing_no_source_grants() {
    let s = server();
    let aggregated = |name: &str, labels: Value, selects: &str| {
        let mut r = cluster_role(name, labels, json!([]));
        r["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {selects: "true"}}]});
        r
    };
    let pods = json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]});
    let post = |role: Value| s.admin(Method::POST, &format!("{RBAC}/clusterroles"), Some(role), 201);
    post(aggregated("ring-a", json!({"example.com/to-b": "true"}), "example.com/to-a"));
    post(aggregated("ring-b", json!({"example.com/to-a": "true"}), "example.com/to-b"));
    post(cluster_role("pods-reader", json!({"example.com/to-a": "true"}), json!([pods])));
    assert_eq!(rules_of(&s, "ring-a"), std::slice::from_ref(&pods));
    assert_eq!(rules_of(&s, "ring-b"), std::slice::from_ref(&pods), "through ring-a");
    // The source goes: the cycle does not keep its rule alive.
    s.admin(Method::DELETE, &format!("{RBAC}/clusterroles/pods-reader"), None, 200);
    assert_eq!(rules_of(&s, "ring-a"), Vec::<Value>::new());
    assert_eq!(rules_of(&s, "ring-b"), Vec::<Value>::new());
    assert!(aggregate(&s.state, Pending::Nothing).unwrap().is_empty(), "every aggregated role in step");
}

/// The ClusterRole events a watch from `revision` gets, `(type, name)`, sorted.
fn cluster_role_events_since(s: &Server, revision: &str) -> Vec<(String, String)> {
    let path = format!("{RBAC}/clusterroles?watch=true&resourceVersion={revision}");
    let mut events = summary(&Events::of(s.send(Method::GET, &path, None, Some(ADMIN))).take());
    events.sort();
    events
}

fn modified(names: &[&str]) -> Vec<(String, String)> {
    names.iter().map(|n| ("MODIFIED".to_owned(), n.to_string())).collect()
}

#[test]
fn a_restart_resets_a_changed_default_role_and_the_roles_aggregating_it_and_nothing_else() {
    let s = server();
    let before: Vec<_> = ["view", "edit", "admin"].into_iter().map(|r| rules_of(&s, r)).collect();
    // A default role still marked autoupdate loses its rules: so do view, edit and admin.
    let path = format!("{RBAC}/clusterroles/system:aggregate-to-view");
    let mut emptied = s.admin(Method::GET, &path, None, 200);
    let dropped = emptied["rules"][0].clone();
    emptied["rules"] = json!([]);
    s.admin(Method::PUT, &path, Some(emptied), 200);
    for role in ["view", "edit", "admin"] {
        assert!(!rules_of(&s, role).contains(&dropped), "{role}");
    }
    let (revision, _) = cluster_role_versions(&s);
    let s = s.restart();
    let after: Vec<_> = ["view", "edit", "admin"].into_iter().map(|r| rules_of(&s, r)).collect();
    assert_eq!(after, before);
    assert_eq!(
        cluster_role_events_since(&s, &revision),
        modified(&["admin", "edit", "system:aggregate-to-view", "view"])
    );
}

#[test]
fn a_restart_drops_a_rule_an_aggregated_role_kept_and_rewrites_nothing_else() {
    let s = server();
    let edit_rules = rules_of(&s, "edit");
    // A data directory from a kauth that left a rule behind in edit (written past the controllers).
    let crt = kauth_server::api::resources::by_kind("rbac.authorization.k8s.io", "ClusterRole").unwrap();
    let edit = s.state.registry.get(crt, "", "edit").unwrap();
    let mut stale = edit.value();
    stale["rules"].as_array_mut().unwrap().push(json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}));
    s.state.registry.commit(vec![Change::Update(crt, stale, edit.revision)]).unwrap();
    let (revision, _) = cluster_role_versions(&s);
    let s = s.restart();
    assert_eq!(rules_of(&s, "edit"), edit_rules);
    assert_eq!(cluster_role_events_since(&s, &revision), modified(&["edit"]));
    assert!(aggregate(&s.state, Pending::Nothing).unwrap().is_empty(), "every aggregated role in step");
}

#[test]
fn a_restart_leaves_a_default_role_whose_rules_differ_only_in_form() {
    let s = server();
    // Empty lists where the defaults have none: the same rules, as Kubernetes compares them.
    let path = format!("{RBAC}/clusterroles/system:discovery");
    let mut role = s.admin(Method::GET, &path, None, 200);
    for rule in role["rules"].as_array_mut().unwrap() {
        rule["resourceNames"] = json!([]);
        rule["apiGroups"] = json!([]);
    }
    let written = s.admin(Method::PUT, &path, Some(role), 200);
    assert_eq!(written["rules"][0]["resourceNames"], json!([]), "stored as written");
    let (revision, _) = cluster_role_versions(&s);
    let s = s.restart();
    assert_eq!(cluster_role_events_since(&s, &revision), modified(&[]));
}

/// Creates ClusterRoles `w1` and `w2`, each granting `get` on a resource of its own name and
/// aggregated into `view`, with `metadata` merged into each one's; checks that `view` gained
/// both rules. Returns `view`'s rules from before.
fn two_roles_aggregated_into_view(s: &Server, metadata: Value) -> Vec<Value> {
    let view = rules_of(s, "view");
    for name in ["w1", "w2"] {
        let labels = json!({"rbac.authorization.k8s.io/aggregate-to-view": "true", "example.com/batch": "1"});
        let rules = json!([{"apiGroups": ["example.com"], "resources": [name], "verbs": ["get"]}]);
        let mut role = cluster_role(name, labels, rules);
        for (k, v) in metadata.as_object().unwrap() {
            role["metadata"][k] = v.clone();
        }
        s.admin(Method::POST, &format!("{RBAC}/clusterroles"), Some(role), 201);
    }
    assert_eq!(rules_of(s, "view").len(), view.len() + 2, "both aggregated into view");
    view
}

/// Both roles of [`two_roles_aggregated_into_view`] are gone, and `view` has its rules of
/// before: neither deleted role's rules are left in it.
fn both_gone_and_view_as_before(s: &Server, view: &[Value]) {
    for name in ["w1", "w2"] {
        s.admin(Method::GET, &format!("{RBAC}/clusterroles/{name}"), None, 404);
    }
    assert_eq!(rules_of(s, "view"), view);
}

/// `kubectl delete clusterroles -l ...` over several roles aggregated into one: Kubernetes deletes
/// them all and its controller re-aggregates; kauth recomputes the aggregated role once, without
/// all of them, in the same commit (each role's own recomputation made two updates of one role,
/// a 409).
#[test]
fn kubernetes_deletes_a_collection_of_roles_aggregated_into_the_same_role() {
    let s = server();
    let view = two_roles_aggregated_into_view(&s, json!({}));
    let deleted =
        s.admin(Method::DELETE, &format!("{RBAC}/clusterroles?labelSelector=example.com%2Fbatch%3D1"), None, 200);
    assert_eq!(deleted["kind"], "ClusterRoleList");
    assert_eq!(deleted["items"].as_array().unwrap().len(), 2);
    both_gone_and_view_as_before(&s, &view);
}

/// The garbage collector deleting several ClusterRoles aggregated into one role (their owner
/// deleted): the aggregated role loses all their rules, not just the first one's.
#[test]
fn roles_the_garbage_collector_deletes_leave_the_aggregated_role_together() {
    let s = server();
    let owner =
        s.admin(Method::POST, &format!("{RBAC}/clusterroles"), Some(cluster_role("owner", json!({}), json!([]))), 201);
    let owned_by = json!([{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "owner",
                           "uid": owner["metadata"]["uid"]}]);
    let view = two_roles_aggregated_into_view(&s, json!({"ownerReferences": owned_by}));
    s.admin(Method::DELETE, &format!("{RBAC}/clusterroles/owner"), None, 200);
    both_gone_and_view_as_before(&s, &view);
}

/// The root CA publisher: `kube-root-ca.crt` comes back right after it is deleted (alone or with
/// every ConfigMap of its namespace) and is restored right after it is edited, data and
/// description, as kube-controller-manager's publisher does on its next sync.
#[test]
fn kube_root_ca_crt_is_recreated_and_restored_at_once() {
    let s = server();
    let path = "/api/v1/namespaces/default/configmaps/kube-root-ca.crt";
    let ca = s.state.config.ca_pem.clone();
    s.admin(Method::DELETE, path, None, 200);
    let back = s.admin(Method::GET, path, None, 200);
    assert_eq!(back["data"], json!({"ca.crt": ca}));

    let mut edited = back.clone();
    edited["data"] = json!({"ca.crt": "not a CA", "extra": "x"});
    edited["metadata"]["annotations"] = json!({"team": "blue"});
    s.admin(Method::PUT, path, Some(edited), 200);
    let restored = s.admin(Method::GET, path, None, 200);
    assert_eq!(restored["data"], json!({"ca.crt": ca}), "data is exactly the CA again");
    assert_eq!(restored["metadata"]["annotations"]["team"], "blue", "other annotations stay");
    assert!(restored["metadata"]["annotations"]["kubernetes.io/description"].as_str().unwrap().starts_with("Contains"));

    let mut req = common::request(Method::PATCH, path, Some(&json!({"data": {"ca.crt": "patched"}})), Some(ADMIN));
    req.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/merge-patch+json"));
    assert_eq!(common::handle(&s.state, req).status, 200);
    assert_eq!(s.admin(Method::GET, path, None, 200)["data"], json!({"ca.crt": ca}));

    s.admin(Method::DELETE, "/api/v1/namespaces/default/configmaps", None, 200);
    assert_eq!(s.admin(Method::GET, path, None, 200)["data"], json!({"ca.crt": ca}), "after a collection delete");
    // Another ConfigMap is left alone.
    s.admin(
        Method::POST,
        "/api/v1/namespaces/default/configmaps",
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"a": "1"}})),
        201,
    );
    assert_eq!(s.admin(Method::GET, "/api/v1/namespaces/default/configmaps/app", None, 200)["data"], json!({"a": "1"}));
}
