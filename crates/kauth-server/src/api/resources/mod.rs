//! The catalog of resources kauth serves: every built-in group, version and resource of
//! Kubernetes 1.32 ([`table`]), with its kind, scope, verbs, short names, categories and
//! subresources, for discovery and routing; and how a body becomes a stored object: decoded
//! through the k8s-openapi type of its group and kind ([`types`]; Kubernetes' JSON exactly,
//! unknown fields found by comparing before and after), names validated by the rule Kubernetes
//! applies to that resource ([`names`]).
//!
//! Decisions, against kube-apiserver 1.32:
//! - **Versions.** Only the group-versions kube-apiserver enables by default are served (the
//!   stable ones, apiextensions.k8s.io/v1, apiregistration.k8s.io/v1). HorizontalPodAutoscalers
//!   are served and stored as autoscaling/v2, the preferred version; autoscaling/v1 is not
//!   served at all, because serving it without kube's conversion would show different objects
//!   under the two versions (`kubectl api-resources` lists preferred versions only, so its
//!   listing is unchanged).
//! - **Events.** kube-apiserver keeps core and events.k8s.io Events as one object, converted on
//!   read. kauth stores them apart (events.k8s.io Events under their own store segment,
//!   [`ResourceType::store`]): an Event written through one API is not seen through the other.
//!   Lookups are therefore by group and kind ([`by_kind`]), never by kind alone.
//! - **Serving.** Objects of every kind are stored ([`Serving::Stored`]) and get the generic
//!   CRUD, patch, watch, selectors and paging; reviews answer and keep nothing
//!   ([`Serving::Review`]); `bindings` and `componentstatuses` are listed in discovery but
//!   answer a Status saying kauth does not serve them ([`Serving::Unserved`]): kauth runs no
//!   scheduler to bind pods and has no components to report on.
//! - **Controllers.** Apart from its own (namespaces, service accounts, tokens, aggregation,
//!   garbage collection, root CA, bootstrap signer), kauth runs no Kubernetes controller: a
//!   Deployment makes no ReplicaSet, a Job no Pod; objects stay as written.

mod index;
mod model;
mod names;
mod table;
pub mod types;

use serde_json::{Map, Value};

use self::model::res;
pub use self::model::{ResourceType, Serving, Subresource, CREATE, CRUD, GET_UPDATE};
pub use self::names::{name_causes, name_errors, NameRule};
pub use self::table::{GROUPS, RESOURCES};
use crate::api::status::ApiError;

/// rbac.authorization.k8s.io
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// authentication.k8s.io
pub const AUTHN_GROUP: &str = "authentication.k8s.io";
/// authorization.k8s.io
pub const AUTHZ_GROUP: &str = "authorization.k8s.io";

/// `serviceaccounts/token`'s TokenRequest, decoded like a resource's body.
pub const TOKEN_REQUEST: ResourceType = res(
    AUTHN_GROUP,
    "v1",
    "tokenrequests",
    "tokenrequest",
    "TokenRequest",
    true,
    &[],
    CREATE,
    &[],
    &[],
    NameRule::PathSegment,
    Serving::Review,
    "tokenrequests",
);

/// The autoscaling/v1 Scale that `*/scale` subresources take and return.
pub const SCALE: ResourceType = res(
    "autoscaling",
    "v1",
    "scales",
    "scale",
    "Scale",
    true,
    &[],
    GET_UPDATE,
    &[],
    &[],
    NameRule::Subdomain,
    Serving::Review,
    "scales",
);

/// Finds a resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    index::by_plural(group, version, plural)
}

/// Finds a stored resource by group and kind (`""` for core): kinds alone are ambiguous
/// (`Event` is core and events.k8s.io).
pub fn by_kind(group: &str, kind: &str) -> Option<&'static ResourceType> {
    index::by_kind(group, kind)
}

/// The stored resource a store key (`/registry/<store>/...`) belongs to.
pub fn by_key(key: &str) -> Option<&'static ResourceType> {
    let segment = key.strip_prefix("/registry/")?.split('/').next()?;
    index::by_store(segment)
}

/// The versions kauth serves of `group`, preferred first (`None`: not a group kauth serves).
pub fn group_versions(group: &str) -> Option<&'static [&'static str]> {
    GROUPS.iter().find(|(g, _)| *g == group).map(|(_, v)| *v)
}

/// A resource type's `apiVersion` as text: `version`, or `group/version`.
#[derive(Debug, Clone, Copy)]
pub struct ApiVersion {
    group: &'static str,
    version: &'static str,
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.group.is_empty() {
            f.write_str(self.group)?;
            f.write_str("/")?;
        }
        f.write_str(self.version)
    }
}

impl ResourceType {
    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        self.api_version_text().to_string()
    }

    /// `apiVersion` of its objects, written where it is needed without a `String` of its own
    /// (an object served writes it into its answer on every GET).
    pub fn api_version_text(&self) -> ApiVersion {
        ApiVersion { group: self.group, version: self.version }
    }

    /// Its subresource named `name`.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether it has a `status` subresource (then its main endpoint leaves status alone).
    pub fn has_status(&self) -> bool {
        self.subresource("status").is_some()
    }

    /// The store key of an object: `/registry/<store>/<namespace>/<name>` when namespaced,
    /// else `/registry/<store>/<name>`.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        let namespace = self.namespaced.then_some(namespace);
        let mut key = self.key_start(namespace, name.len());
        key.push_str(name);
        key
    }

    /// The key prefix of a namespace's objects (or all objects, for an empty namespace).
    pub fn prefix(&self, namespace: &str) -> String {
        let namespace = (self.namespaced && !namespace.is_empty()).then_some(namespace);
        self.key_start(namespace, 0)
    }

    /// `/registry/<store>/`, then `<namespace>/` when there is one, with room for `more` bytes.
    /// Joined by hand: `format!` cost a GET about 900 instructions to build its key.
    fn key_start(&self, namespace: Option<&str>, more: usize) -> String {
        const ROOT: &str = "/registry/";
        let room = ROOT.len() + self.store.len() + namespace.map_or(0, |n| n.len() + 1) + 1 + more;
        let mut key = String::with_capacity(room);
        key.push_str(ROOT);
        key.push_str(self.store);
        key.push('/');
        if let Some(namespace) = namespace {
            key.push_str(namespace);
            key.push('/');
        }
        key
    }

    /// Decodes a body through the k8s-openapi type: Kubernetes' JSON out, plus the paths of
    /// fields the type does not have (for `fieldValidation`).
    pub fn decode(&self, mut body: Value) -> Result<(Value, Vec<String>), ApiError> {
        let Value::Object(map) = &mut body else {
            return Err(ApiError::bad_request(format!(
                "{} in version {:?} cannot be handled as a {}: the body is not a JSON object",
                self.kind, self.version, self.kind
            )));
        };
        let api_version = self.api_version();
        let body_kind = map.get("kind").and_then(Value::as_str).unwrap_or(self.kind).to_owned();
        let body_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or(&api_version).to_owned();
        if body_kind != self.kind || body_version != api_version {
            return Err(self.wrong_kind(&body_kind, &body_version));
        }
        map.insert("kind".into(), Value::String(self.kind.into()));
        map.insert("apiVersion".into(), Value::String(api_version));
        let typed = types::roundtrip(&self.api_version(), self.kind, &body)
            .unwrap_or_else(|| Ok(body.clone()))
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "{} in version {:?} cannot be handled as a {}: {e}",
                    self.kind, self.version, self.kind
                ))
            })?;
        let mut unknown = Vec::new();
        unknown_fields(&body, &typed, "", &mut unknown);
        Ok((typed, unknown))
    }
}

impl ResourceType {
    /// kube-apiserver's 400 for a body of another kind or version than this endpoint takes:
    /// `<kind> in version "<version>" cannot be handled as a <Kind>: ...`, the reason being an
    /// unknown conversion between Go types for a kind it knows, or a kind not registered.
    /// kauth knows the kinds of its catalog (and TokenRequest and Scale), as kube-apiserver its built-ins.
    fn wrong_kind(&self, kind: &str, api_version: &str) -> ApiError {
        let version = api_version.rsplit('/').next().unwrap_or_default();
        let known = types::known(api_version, kind);
        // The internal Go package of this endpoint's group (`core` for the legacy group).
        let internal = if self.group.is_empty() { "core" } else { self.group.split('.').next().unwrap_or_default() };
        let reason = if known {
            format!("converting ({version}.{kind}) to ({internal}.{}): unknown conversion", self.kind)
        } else {
            format!(
                "no kind {kind:?} is registered for version {api_version:?} in scheme \"pkg/api/legacyscheme/scheme.go:30\""
            )
        };
        ApiError::bad_request(format!("{kind} in version {version:?} cannot be handled as a {}: {reason}", self.kind))
    }
}

/// Paths present (non-null) in `before` but gone from `after`.
pub fn unknown_fields(before: &Value, after: &Value, path: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, v) in b {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match a.get(k) {
                    None if !v.is_null() => out.push(p),
                    Some(av) => unknown_fields(v, av, &p, out),
                    None => {}
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                unknown_fields(bv, av, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The object's `metadata` map, created if missing.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or("")
}

/// The namespace a request on `rt` is scoped to: its namespace for namespaced resources
/// (empty: all namespaces), none for cluster-scoped ones.
pub fn scope_namespace<'a>(rt: &ResourceType, info: &'a super::request_info::ResourceRequest) -> &'a str {
    if rt.namespaced {
        info.namespace.as_str()
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use serde_json::json;

    #[test]
    fn decode_reports_unknown_fields_and_wrong_kinds() {
        let sa = find("", "v1", "serviceaccounts").unwrap();
        let (v, unknown) = sa
            .decode(json!({"metadata": {"name": "a", "bogus": 1}, "automountServiceAccountToken": true, "spec": {}}))
            .unwrap();
        assert_eq!(unknown, ["metadata.bogus", "spec"]);
        assert_eq!(v["kind"], "ServiceAccount");
        assert_eq!(v["automountServiceAccountToken"], true);
        let e = sa.decode(json!({"kind": "Secret", "apiVersion": "v1"})).unwrap_err();
        assert_eq!(e.code, 400);
        let e = sa.decode(json!({"metadata": {"name": 5}})).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(sa.decode(json!([1])).is_err());
    }

    #[test]
    fn lookups_are_by_group_and_keys_do_not_collide() {
        assert_eq!(by_kind("", "Event").unwrap().group, "");
        assert_eq!(by_kind("events.k8s.io", "Event").unwrap().group, "events.k8s.io");
        let stored: Vec<_> = RESOURCES.iter().filter(|r| r.stored).collect();
        let segments: BTreeSet<_> = stored.iter().map(|r| r.store).collect();
        assert_eq!(segments.len(), stored.len(), "two resources share a store segment");
        for r in stored {
            assert_eq!(by_key(&r.key("ns", "x")), Some(r), "{}", r.plural);
        }
        assert_eq!(by_key("/registry/kauth.dev/keyring"), None);
    }

    #[test]
    fn keys_prefixes_and_api_versions_are_spelled_exactly() {
        let sa = find("", "v1", "serviceaccounts").unwrap();
        assert_eq!(sa.key("default", "app"), "/registry/serviceaccounts/default/app");
        assert_eq!(sa.key("", "app"), "/registry/serviceaccounts//app");
        assert_eq!(sa.prefix("default"), "/registry/serviceaccounts/default/");
        assert_eq!(sa.prefix(""), "/registry/serviceaccounts/");
        assert_eq!(sa.api_version(), "v1");
        let crb = find("rbac.authorization.k8s.io", "v1", "clusterrolebindings").unwrap();
        assert_eq!(crb.key("ignored", "admin"), "/registry/clusterrolebindings/admin");
        assert_eq!(crb.prefix("ignored"), "/registry/clusterrolebindings/");
        assert_eq!(crb.api_version(), "rbac.authorization.k8s.io/v1");
        for r in RESOURCES {
            let joined = if r.group.is_empty() { r.version.to_owned() } else { format!("{}/{}", r.group, r.version) };
            assert_eq!(r.api_version(), joined);
            let key =
                if r.namespaced { format!("/registry/{}/ns/x", r.store) } else { format!("/registry/{}/x", r.store) };
            assert_eq!(r.key("ns", "x"), key);
        }
    }

    #[test]
    fn every_served_group_version_has_resources() {
        for (g, versions) in GROUPS {
            for v in *versions {
                assert!(RESOURCES.iter().any(|r| r.group == *g && r.version == *v), "{g}/{v}");
            }
        }
        assert!(find("autoscaling", "v1", "horizontalpodautoscalers").is_none(), "autoscaling/v1 is not served");
        let deploy = find("apps", "v1", "deployments").unwrap();
        assert_eq!(deploy.subresource("scale").unwrap().group_version, Some(("autoscaling", "v1")));
        assert!(deploy.has_status());
    }
}
