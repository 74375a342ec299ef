//! Non-resource paths: health, version, legacy discovery (`/api`, `/apis`, group and
//! group-version documents; aggregated discovery falls back to these cleanly), the OpenAPI v3
//! documents kubectl reads to learn that kauth validates fields server-side, OIDC discovery and
//! JWKS, and `/metrics`. Also the `Table` rendering kubectl asks for on `get`.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::api::request::Request;
use crate::api::resources::{group_versions, ResourceType, Serving, GROUPS, RESOURCES};
use crate::api::response::Response;
use crate::api::status::ApiError;
use crate::registry::Stored;
use crate::state::State;

/// The Kubernetes version kauth's API corresponds to.
pub const KUBERNETES_MINOR: &str = "33";

/// Serves a non-resource request (already authorized); `verb` is its lowercased method.
pub fn handle_non_resource(state: &State, req: &Request, verb: &str) -> Response {
    let path = req.path.trim_end_matches('/');
    // kauth's own: the service-account key ring (`kauth keys list|rotate`).
    match (verb, path) {
        ("get", "/kauth/v1/keys") => {
            return super::keys::list(state).map_or_else(|e| Response::error(&e), |v| Response::json(200, &v))
        }
        ("post", "/kauth/v1/keys/rotate") => {
            return super::keys::rotate(state).map_or_else(|e| Response::error(&e), |v| Response::json(201, &v))
        }
        (_, "/kauth/v1/keys" | "/kauth/v1/keys/rotate") => return Response::error(&ApiError::method_not_allowed()),
        _ => {}
    }
    if !matches!(verb, "get" | "head") {
        return Response::error(&ApiError::method_not_allowed());
    }
    match path {
        "/healthz" | "/livez" | "/readyz" | "/healthz/ping" | "/livez/ping" | "/readyz/ping" => {
            health(state, req, path)
        }
        "/version" => Response::json(200, &version()),
        "/api" => Response::json(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.config.advertise}]}),
        ),
        "/api/v1" => Response::json(200, &resource_list("", "v1")),
        "/apis" => Response::json(
            200,
            &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": GROUPS.iter().map(|(g, _)| group(g)).collect::<Vec<_>>()}),
        ),
        "/openapi/v3" => Response::json(200, &openapi_index()),
        "/.well-known/openid-configuration" => oidc(state),
        "/openid/v1/jwks" => jwks(state, req),
        "/metrics" => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: state.metrics.render(state.now(), state.tokens.stats(), state.replicas.as_deref()).into(),
            headers: Vec::new(),
            stream: None,
        },
        _ => {
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match parts.as_slice() {
                ["apis", g] if group_versions(g).is_some() => {
                    let mut v = group(g);
                    v["kind"] = json!("APIGroup");
                    v["apiVersion"] = json!("v1");
                    Response::json(200, &v)
                }
                ["apis", g, v] if serves(g, v) => Response::json(200, &resource_list(g, v)),
                ["openapi", "v3", "api", "v1"] => Response::json(200, &openapi_doc("", "v1")),
                ["openapi", "v3", "apis", g, v] if serves(g, v) => Response::json(200, &openapi_doc(g, v)),
                _ => Response::error(&ApiError::no_route()),
            }
        }
    }
}

fn health(state: &State, req: &Request, path: &str) -> Response {
    let store = state.registry.revision().map(|_| ()).map_err(|e| e.message);
    // On a shared store (etcd), this replica must also be following it: otherwise its memory,
    // which authentication and authorization read, is no longer in step with other replicas.
    let following = state.registry.is_following();
    let checks = [
        ("store", store.clone().err()),
        ("store-watch", (!following).then(|| "not following the store's changes".to_owned())),
    ];
    let ready = checks.iter().all(|(_, failed)| failed.is_none());
    let name = path.trim_start_matches('/');
    if req.param("verbose").is_some() {
        let mut body = String::from("[+]ping ok\n[+]log ok\n");
        for (check, failed) in &checks {
            match failed {
                None => body.push_str(&format!("[+]{check} ok\n")),
                Some(why) => body.push_str(&format!("[-]{check} failed: {why}\n")),
            }
        }
        if let Some(replicas) = &state.replicas {
            body.push_str(&replicas.readiness_line(state.now()));
            body.push('\n');
        }
        for line in state.jwt.readiness_lines() {
            body.push_str(&line);
            body.push('\n');
        }
        body.push_str(&format!("{name} check {}\n", if ready { "passed" } else { "failed" }));
        return Response::text(if ready { 200 } else { 500 }, &body);
    }
    if ready {
        Response::text(200, "ok")
    } else {
        // As kube-apiserver: without `verbose`, the failing checks are named, not explained.
        let mut body = String::new();
        for (check, failed) in &checks {
            if failed.is_some() {
                body.push_str(&format!("[-]{check} failed: reason withheld\n"));
            }
        }
        body.push_str(&format!("{name} check failed\n"));
        Response::text(500, &body)
    }
}

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBERNETES_MINOR,
        "gitVersion": format!("v1.{KUBERNETES_MINOR}.0-kauth.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

fn serves(group: &str, version: &str) -> bool {
    group_versions(group).is_some_and(|vs| vs.contains(&version))
}

/// A group's APIGroup entry: its versions, preferred first (as the table lists them).
fn group(name: &str) -> Value {
    let versions: Vec<Value> = group_versions(name)
        .unwrap_or_default()
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": versions, "preferredVersion": preferred})
}

/// A group-version's APIResourceList: each resource, then its subresources (`pods/log`), as
/// kube-apiserver's legacy discovery lists them.
fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
    let mut resources: Vec<Value> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
        let mut v = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs});
        if !r.short_names.is_empty() {
            v["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            v["categories"] = json!(r.categories);
        }
        resources.push(v);
        for s in r.subresources {
            let mut v = json!({"name": format!("{}/{}", r.plural, s.name), "singularName": "", "namespaced": r.namespaced, "kind": s.kind, "verbs": s.verbs});
            if let Some((g, ver)) = s.group_version {
                v["group"] = json!(g);
                v["version"] = json!(ver);
            }
            resources.push(v);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn openapi_index() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert("api/v1".into(), json!({"serverRelativeURL": format!("/openapi/v3/api/v1?hash={}", hash("api/v1"))}));
    for (g, versions) in GROUPS {
        for v in *versions {
            let p = format!("apis/{g}/{v}");
            paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", hash(&p))}));
        }
    }
    json!({"paths": paths})
}

fn hash(path: &str) -> String {
    // Stable per build: the documents change only with kauth's version.
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{path}@{}", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    hex_upper(&d.as_ref()[..16])
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// The OpenAPI v3 document of a group-version: every path with its operations, each naming its
/// kind (`x-kubernetes-group-version-kind`); PATCH operations take `fieldValidation`, so kubectl
/// leaves validation to the server (which checks every field against the Kubernetes types).
fn openapi_doc(group: &str, version: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
    let field_validation = json!({"name": "fieldValidation", "in": "query", "description": "Ignore, Warn or Strict", "schema": {"type": "string", "uniqueItems": true}});
    for r in RESOURCES.iter().filter(|r| r.group == group && r.version == version && r.serving != Serving::Unserved) {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let op = |action: &str, params: bool| {
            let mut o = json!({"operationId": format!("{action}{}", r.kind), "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}});
            if params {
                o["parameters"] = json!([field_validation]);
            }
            o
        };
        let base = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        if r.stored {
            paths.insert(base.clone(), json!({"get": op("list", false), "post": op("post", true)}));
            let mut patch = op("patch", true);
            patch["requestBody"] =
                json!({"content": {"application/json-patch+json": {}, "application/merge-patch+json": {}}});
            paths.insert(
                format!("{base}/{{name}}"),
                json!({"get": op("get", false), "put": op("put", true), "patch": patch, "delete": op("delete", false)}),
            );
        } else {
            // Reviews are create-only; kubectl still looks for a PATCH naming the kind.
            paths.insert(base.clone(), json!({"post": op("post", true), "patch": op("patch", true)}));
        }
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes (kauth)", "version": format!("v1.{KUBERNETES_MINOR}.0")}, "paths": paths, "components": {"schemas": {}}})
}

fn oidc(state: &State) -> Response {
    let issuer = state.config.issuers.first().cloned().unwrap_or_default();
    let jwks_uri = format!("https://{}/openid/v1/jwks", state.config.advertise);
    let doc = kauth::token::jwks::openid_configuration(&issuer, &jwks_uri, &state.keys.active().keys);
    let mut r = Response::json(200, &serde_json::to_value(doc).unwrap_or(Value::Null));
    r.headers.push(("cache-control", "public, max-age=3600".into()));
    r
}

fn jwks(state: &State, req: &Request) -> Response {
    let accept = req.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("*/*");
    let acceptable = accept.split(',').any(|a| {
        let t = a.split(';').next().unwrap_or("").trim();
        matches!(t, "application/jwk-set+json" | "*/*" | "application/*" | "")
    });
    if !acceptable {
        return Response::error(&ApiError::not_acceptable_route("application/jwk-set+json"));
    }
    match kauth::token::jwks::jwks(&state.keys.active().keys) {
        Ok(set) => {
            let mut r = Response::json(200, &serde_json::to_value(set).unwrap_or(Value::Null));
            r.content_type = "application/jwk-set+json";
            r.headers.push(("cache-control", "public, max-age=3600".into()));
            r
        }
        Err(e) => Response::error(&ApiError::internal(e)),
    }
}

fn age(created: &str, now: OffsetDateTime) -> String {
    let Ok(t) = OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339) else {
        return "<unknown>".into();
    };
    let s = (now - t).whole_seconds().max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=599 => format!("{}m{}s", s / 60, s % 60),
        600..=10799 => format!("{}m", s / 60),
        10800..=172799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// A `meta.k8s.io/v1` Table of `items` (NAME, kind-specific columns, AGE), as `kubectl get` prints.
pub fn table(rt: &ResourceType, items: &[Arc<Stored>], now: OffsetDateTime, revision: Option<u64>) -> Value {
    let mut envelope = table_envelope(rt, revision);
    let rows: Vec<Value> = items.iter().map(|o| table_row(rt, o, now)).collect();
    envelope.insert("rows".into(), Value::Array(rows));
    Value::Object(envelope)
}

/// A Table's members but its rows: `kind`, `apiVersion`, `metadata` and `columnDefinitions`.
pub fn table_envelope(rt: &ResourceType, revision: Option<u64>) -> Map<String, Value> {
    let col = |name: &str, ty: &str, desc: &str| json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" }, "description": desc, "priority": 0});
    let mut columns = vec![col("Name", "string", "Name must be unique within a namespace.")];
    let extra: &[(&str, &str)] = match rt.kind {
        "Secret" => &[("Type", "string"), ("Data", "string")],
        "ConfigMap" => &[("Data", "string")],
        "Namespace" => &[("Status", "string")],
        "ClusterRoleBinding" | "RoleBinding" => &[("Role", "string")],
        _ => &[],
    };
    for (n, t) in extra {
        columns.push(col(n, t, ""));
    }
    columns.push(col(
        "Age",
        "string",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ));
    let mut meta = json!({});
    if let Some(rv) = revision {
        meta["resourceVersion"] = json!(rv.to_string());
    }
    let mut envelope = Map::new();
    envelope.insert("kind".into(), json!("Table"));
    envelope.insert("apiVersion".into(), json!("meta.k8s.io/v1"));
    envelope.insert("metadata".into(), meta);
    envelope.insert("columnDefinitions".into(), Value::Array(columns));
    envelope
}

/// One object's Table row: its cells and its metadata (without `managedFields`).
pub fn table_row(rt: &ResourceType, o: &Stored, now: OffsetDateTime) -> Value {
    let v = &o.value();
    let mut cells = vec![json!(v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(""))];
    match rt.kind {
        "Secret" => {
            cells.push(json!(v.get("type").and_then(Value::as_str).unwrap_or("")));
            cells.push(json!(v.get("data").and_then(Value::as_object).map(|m| m.len()).unwrap_or(0)));
        }
        "ConfigMap" => cells.push(json!(v.get("data").and_then(Value::as_object).map(|m| m.len()).unwrap_or(0))),
        "Namespace" => {
            cells.push(json!(if v.pointer("/metadata/deletionTimestamp").is_some() { "Terminating" } else { "Active" }))
        }
        "ClusterRoleBinding" | "RoleBinding" => cells.push(json!(format!(
            "{}/{}",
            v.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or(""),
            v.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or("")
        ))),
        _ => {}
    }
    cells.push(json!(age(v.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or(""), now)));
    let mut meta = v.get("metadata").cloned().unwrap_or(json!({}));
    if let Value::Object(m) = &mut meta {
        m.remove("managedFields");
    }
    json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
}
