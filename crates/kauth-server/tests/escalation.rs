//! RBAC escalation prevention (`controllers/escalation.rs` over `kauth::rbac::escalation`): a
//! user writes a role only with permissions they hold, or with the `escalate` verb; binds a role
//! only if they hold its permissions, or with the `bind` verb on it. The 403 lists what is missing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{json_of, server, Server, BOB, NODE1};
use http::Method;
use serde_json::{json, Value};

const NS: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/team";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name}, "rules": rules})
}

fn binding(name: &str, kind: &str, role: &str, user: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
           "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
}

/// Gives bob, in namespace team, the role `name` with `rules` (written by admin).
fn grant_bob(s: &Server, name: &str, rules: Value) {
    s.admin(Method::POST, &format!("{NS}/roles"), Some(role(name, rules)), 201);
    s.admin(Method::POST, &format!("{NS}/rolebindings"), Some(binding(name, "Role", name, "bob")), 201);
}

/// Namespace team, where bob may write roles and bindings and read pods.
fn team() -> Server {
    let s = server();
    s.admin(Method::POST, "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), 201);
    grant_bob(
        &s,
        "rbac-writer",
        json!([
            rule(&["rbac.authorization.k8s.io"], &["roles", "rolebindings"], &["create", "update", "get"]),
            rule(&[""], &["pods"], &["get", "list"]),
        ]),
    );
    s
}

fn as_bob(s: &Server, method: Method, path: &str, body: Value) -> common::Response {
    s.send(method, path, Some(body), Some(BOB))
}

const HELD: &str =
    "user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:";

#[test]
fn a_role_with_permissions_the_user_lacks_is_refused_with_the_missing_ones() {
    let s = team();
    let r =
        as_bob(&s, Method::POST, &format!("{NS}/roles"), role("pod-reader", json!([rule(&[""], &["pods"], &["get"])])));
    assert_eq!(r.status, 201);

    let r = as_bob(
        &s,
        Method::POST,
        &format!("{NS}/roles"),
        role(
            "secret-reader",
            json!([rule(&[""], &["secrets"], &["get"]), rule(&[""], &["pods", "secrets"], &["list"])]),
        ),
    );
    assert_eq!(r.status, 403);
    let status = json_of(&r);
    // As kube-apiserver: one line per group, resource (and name) with its verbs together, sorted.
    assert_eq!(
        status["message"],
        format!(
            "roles.rbac.authorization.k8s.io \"secret-reader\" is forbidden: {HELD}\n\
             {{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}}"
        )
    );
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["details"],
        json!({"name": "secret-reader", "group": "rbac.authorization.k8s.io", "kind": "roles"})
    );
    s.admin(Method::GET, &format!("{NS}/roles/secret-reader"), None, 404);

    // An update is checked too.
    let mut more = s.admin(Method::GET, &format!("{NS}/roles/pod-reader"), None, 200);
    more["rules"] = json!([rule(&[""], &["pods"], &["get", "delete"])]);
    let r = as_bob(&s, Method::PUT, &format!("{NS}/roles/pod-reader"), more);
    assert_eq!(r.status, 403);
    assert_eq!(
        json_of(&r)["message"],
        format!(
            "roles.rbac.authorization.k8s.io \"pod-reader\" is forbidden: {HELD}\n{{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}}"
        )
    );
}

#[test]
fn the_escalate_verb_allows_writing_any_role() {
    let s = team();
    grant_bob(&s, "escalator", json!([rule(&["rbac.authorization.k8s.io"], &["roles"], &["escalate"])]));
    let r = as_bob(
        &s,
        Method::POST,
        &format!("{NS}/roles"),
        role("secret-admin", json!([rule(&[""], &["secrets"], &["*"])])),
    );
    assert_eq!(r.status, 201, "{}", json_of(&r));
    // It is not bind: binding it still needs its permissions.
    let r = as_bob(&s, Method::POST, &format!("{NS}/rolebindings"), binding("carol", "Role", "secret-admin", "carol"));
    assert_eq!(r.status, 403);
    assert_eq!(
        json_of(&r)["message"],
        format!(
            "rolebindings.rbac.authorization.k8s.io \"carol\" is forbidden: {HELD}\n{{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"*\"]}}"
        )
    );
}

#[test]
fn binding_a_role_needs_its_permissions_or_the_bind_verb_on_it() {
    let s = team();
    s.admin(
        Method::POST,
        &format!("{NS}/roles"),
        Some(role("pod-reader", json!([rule(&[""], &["pods"], &["get"])]))),
        201,
    );
    let bind = |name: &str, kind: &str, role: &str| {
        as_bob(&s, Method::POST, &format!("{NS}/rolebindings"), binding(name, kind, role, "carol"))
    };
    assert_eq!(bind("carol-pods", "Role", "pod-reader").status, 201, "bob holds get pods");

    let r = bind("carol-edit", "ClusterRole", "edit");
    assert_eq!(r.status, 403);
    let message = json_of(&r)["message"].as_str().unwrap().to_owned();
    let mut lines = message.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("rolebindings.rbac.authorization.k8s.io \"carol-edit\" is forbidden: {HELD}")
    );
    let missing: Vec<&str> = lines.collect();
    // One line per group and resource, its verbs together, the lines sorted.
    let verbs_of = |resource: &str| {
        let prefix = format!("{{APIGroups:[\"\"], Resources:[\"{resource}\"], Verbs:[");
        let lines: Vec<&&str> = missing.iter().filter(|l| l.starts_with(&prefix)).collect();
        assert!(lines.len() <= 1, "{message}");
        lines.first().map(|l| l[prefix.len()..l.len() - 2].to_owned()).unwrap_or_default()
    };
    assert!(verbs_of("secrets").contains("\"get\""), "{message}");
    assert!(verbs_of("serviceaccounts").contains("\"impersonate\""), "{message}");
    assert!(!verbs_of("pods").contains("\"get\""), "bob holds it: {message}");
    let mut sorted = missing.clone();
    sorted.sort();
    assert_eq!(missing, sorted);

    // bind on ClusterRole edit, by name: edit may be bound, admin still not.
    grant_bob(
        &s,
        "edit-binder",
        json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["edit"]}]),
    );
    assert_eq!(bind("carol-edit", "ClusterRole", "edit").status, 201);
    assert_eq!(bind("carol-admin", "ClusterRole", "admin").status, 403);
    // A role that does not exist cannot be checked: 404 naming the role's resource. (kube-apiserver
    // names the binding's resource with the role's name, `rolebindings... "ghost" not found`;
    // kauth keeps naming what is missing: README, Decisions.)
    let r = bind("carol-ghost", "Role", "ghost");
    assert_eq!(r.status, 404);
    assert_eq!(
        json_of(&r),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404,
               "message": "roles.rbac.authorization.k8s.io \"ghost\" not found",
               "details": {"name": "ghost", "group": "rbac.authorization.k8s.io", "kind": "roles"}})
    );
}

#[test]
fn rbac_field_errors_print_values_as_kube_apiserver_does() {
    let s = team();
    // Go's %#v of the values, every cause at once (checked against kube-apiserver 1.32).
    let r = s.send(
        Method::POST,
        &format!("{NS}/roles"),
        Some(role("urls", json!([{"apiGroups": [""], "resources": ["pods"], "nonResourceURLs": ["/healthz", "/x"], "verbs": ["get"]}]))),
        Some(common::ADMIN),
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        json_of(&r)["message"],
        "Role.rbac.authorization.k8s.io \"urls\" is invalid: [rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\", \"/x\"}: namespaced rules cannot apply to non-resource URLs, rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\", \"/x\"}: rules cannot apply to both regular resources and non-resource URLs]"
    );
    // A binding's roleRef does not change.
    s.admin(Method::POST, &format!("{NS}/rolebindings"), Some(binding("rr", "Role", "rbac-writer", "x")), 201);
    let r = s.send(
        Method::PUT,
        &format!("{NS}/rolebindings/rr"),
        Some(binding("rr", "ClusterRole", "view", "x")),
        Some(common::ADMIN),
    );
    assert_eq!(r.status, 422);
    let message = "Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"view\"}: cannot change roleRef";
    assert_eq!(
        json_of(&r),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Invalid", "code": 422,
               "message": format!("RoleBinding.rbac.authorization.k8s.io \"rr\" is invalid: roleRef: {message}"),
               "details": {"name": "rr", "group": "rbac.authorization.k8s.io", "kind": "RoleBinding",
                           "causes": [{"reason": "FieldValueInvalid", "field": "roleRef", "message": message}]}})
    );
    // A roleRef kind that is neither Role nor ClusterRole: 422, not a server error.
    let r =
        s.send(Method::POST, &format!("{NS}/rolebindings"), Some(binding("foo", "Foo", "x", "x")), Some(common::ADMIN));
    assert_eq!(r.status, 422);
    assert_eq!(
        json_of(&r)["message"],
        "RoleBinding.rbac.authorization.k8s.io \"foo\" is invalid: roleRef.kind: Unsupported value: \"Foo\": supported values: \"Role\", \"ClusterRole\""
    );
}

/// A kubelet's Node-authorizer permissions are not RBAC permissions it could grant: a node
/// allowed (by RBAC) to write roles still cannot write a role that reads nodes, which only the
/// Node authorizer lets it do.
#[test]
fn node_authorizer_permissions_are_not_grantable() {
    let s = team();
    s.admin(
        Method::POST,
        &format!("{NS}/roles"),
        Some(role("node-writer", json!([rule(&["rbac.authorization.k8s.io"], &["roles"], &["create"])]))),
        201,
    );
    s.admin(
        Method::POST,
        &format!("{NS}/rolebindings"),
        Some(binding("node-writer", "Role", "node-writer", "system:node:n1")),
        201,
    );
    // The node may read its own Node object (the Node authorizer allows it)...
    assert_eq!(s.send(Method::GET, "/api/v1/nodes/n1", None, Some(NODE1)).status, 404, "allowed, and not there");
    // ...but may not grant reading nodes.
    let r = s.send(
        Method::POST,
        &format!("{NS}/roles"),
        Some(role("reads-nodes", json!([rule(&[""], &["nodes"], &["get"])]))),
        Some(NODE1),
    );
    let body = json_of(&r);
    assert_eq!(r.status, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("is attempting to grant RBAC permissions not currently held"),
        "{body}"
    );
}
