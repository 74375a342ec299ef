//! The resources kauth serves: their names, kinds and verbs (for discovery and routing), and
//! how a body becomes a stored object: decoded through the k8s-openapi type (Kubernetes' JSON
//! exactly; unknown fields found by comparing before and after), names validated by the rules
//! Kubernetes applies to that resource, server-side defaults applied.

use serde_json::{Map, Value};

use crate::api::status::{ApiError, Cause};

/// One resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// API group.
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Plural name (the URL segment).
    pub plural: &'static str,
    /// Singular name.
    pub singular: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names for kubectl.
    pub short_names: &'static [&'static str],
    /// Verbs in discovery.
    pub verbs: &'static [&'static str],
    /// How names are validated.
    pub names: NameRule,
    /// Whether objects are stored (false: review-style, create-only, nothing kept).
    pub stored: bool,
}

/// How a resource's names are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 label (namespaces).
    Label,
    /// RFC 1123 subdomain (most core objects).
    Subdomain,
    /// Any path segment (RBAC objects).
    PathSegment,
}

const CRUD: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const NS_VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const CREATE: &[&str] = &["create"];

const fn core(
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    verbs: &'static [&'static str],
    names: NameRule,
) -> ResourceType {
    ResourceType {
        group: "",
        version: "v1",
        plural,
        singular,
        kind,
        namespaced,
        short_names: short,
        verbs,
        names,
        stored: true,
    }
}

const fn rbac(plural: &'static str, singular: &'static str, kind: &'static str, namespaced: bool) -> ResourceType {
    ResourceType {
        group: RBAC_GROUP,
        version: "v1",
        plural,
        singular,
        kind,
        namespaced,
        short_names: &[],
        verbs: CRUD,
        names: NameRule::PathSegment,
        stored: true,
    }
}

const fn review(
    group: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        version: "v1",
        plural,
        singular,
        kind,
        namespaced,
        short_names: &[],
        verbs: CREATE,
        names: NameRule::PathSegment,
        stored: false,
    }
}

/// rbac.authorization.k8s.io
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// authentication.k8s.io
pub const AUTHN_GROUP: &str = "authentication.k8s.io";
/// authorization.k8s.io
pub const AUTHZ_GROUP: &str = "authorization.k8s.io";

/// Every resource, in discovery order.
pub const RESOURCES: &[ResourceType] = &[
    core("configmaps", "configmap", "ConfigMap", true, &["cm"], CRUD, NameRule::Subdomain),
    core("namespaces", "namespace", "Namespace", false, &["ns"], NS_VERBS, NameRule::Label),
    core("nodes", "node", "Node", false, &["no"], CRUD, NameRule::Subdomain),
    core("pods", "pod", "Pod", true, &["po"], CRUD, NameRule::Subdomain),
    core("secrets", "secret", "Secret", true, &[], CRUD, NameRule::Subdomain),
    core("serviceaccounts", "serviceaccount", "ServiceAccount", true, &["sa"], CRUD, NameRule::Subdomain),
    review(AUTHN_GROUP, "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false),
    review(AUTHN_GROUP, "tokenreviews", "tokenreview", "TokenReview", false),
    review(AUTHZ_GROUP, "localsubjectaccessreviews", "localsubjectaccessreview", "LocalSubjectAccessReview", true),
    review(AUTHZ_GROUP, "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", false),
    review(AUTHZ_GROUP, "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", false),
    review(AUTHZ_GROUP, "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false),
    rbac("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false),
    rbac("clusterroles", "clusterrole", "ClusterRole", false),
    rbac("rolebindings", "rolebinding", "RoleBinding", true),
    rbac("roles", "role", "Role", true),
];

/// The API groups besides core, in discovery order.
pub const GROUPS: &[&str] = &[AUTHN_GROUP, AUTHZ_GROUP, RBAC_GROUP];

/// Finds a resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a stored resource by kind.
pub fn by_kind(kind: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.kind == kind && r.stored)
}

/// The stored resource a store key (`/registry/<plural>/...`) belongs to.
pub fn by_key(key: &str) -> Option<&'static ResourceType> {
    let plural = key.strip_prefix("/registry/")?.split('/').next()?;
    RESOURCES.iter().find(|r| r.plural == plural && r.stored)
}

impl ResourceType {
    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store key of an object.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        if self.namespaced {
            format!("/registry/{}/{namespace}/{name}", self.plural)
        } else {
            format!("/registry/{}/{name}", self.plural)
        }
    }

    /// The key prefix of a namespace's objects (or all objects, for an empty namespace).
    pub fn prefix(&self, namespace: &str) -> String {
        if self.namespaced && !namespace.is_empty() {
            format!("/registry/{}/{namespace}/", self.plural)
        } else {
            format!("/registry/{}/", self.plural)
        }
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
        let typed = roundtrip(self.kind, body.clone()).map_err(|e| {
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
    /// kauth knows the kinds it serves (and TokenRequest); kube-apiserver knows every built-in.
    fn wrong_kind(&self, kind: &str, api_version: &str) -> ApiError {
        let version = api_version.rsplit('/').next().unwrap_or_default();
        let known = kind == "TokenRequest" && api_version == "authentication.k8s.io/v1"
            || RESOURCES.iter().any(|r| r.kind == kind && r.api_version() == api_version);
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

fn rt<T: serde::de::DeserializeOwned + serde::Serialize>(v: Value) -> Result<Value, serde_json::Error> {
    let t: T = serde_json::from_value(v)?;
    serde_json::to_value(t)
}

/// Decodes and re-encodes `v` as the k8s-openapi type of `kind`.
pub fn roundtrip(kind: &str, v: Value) -> Result<Value, serde_json::Error> {
    use k8s_openapi::api::{
        authentication::v1 as authn, authorization::v1 as authz, core::v1 as core, rbac::v1 as rbac,
    };
    match kind {
        "ConfigMap" => rt::<core::ConfigMap>(v),
        "Namespace" => rt::<core::Namespace>(v),
        "Node" => rt::<core::Node>(v),
        "Pod" => rt::<core::Pod>(v),
        "Secret" => rt::<core::Secret>(v),
        "ServiceAccount" => rt::<core::ServiceAccount>(v),
        "TokenRequest" => rt::<authn::TokenRequest>(v),
        "TokenReview" => rt::<authn::TokenReview>(v),
        "SelfSubjectReview" => rt::<authn::SelfSubjectReview>(v),
        "SubjectAccessReview" => rt::<authz::SubjectAccessReview>(v),
        "LocalSubjectAccessReview" => rt::<authz::LocalSubjectAccessReview>(v),
        "SelfSubjectAccessReview" => rt::<authz::SelfSubjectAccessReview>(v),
        "SelfSubjectRulesReview" => rt::<authz::SelfSubjectRulesReview>(v),
        "ClusterRole" => rt::<rbac::ClusterRole>(v),
        "ClusterRoleBinding" => rt::<rbac::ClusterRoleBinding>(v),
        "Role" => rt::<rbac::Role>(v),
        "RoleBinding" => rt::<rbac::RoleBinding>(v),
        // Only the kinds above reach here; anything else passes through untouched.
        _ => Ok(v),
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

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Kubernetes' name errors for `name` under `rule` (messages without the field).
pub fn name_errors(rule: NameRule, name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    match rule {
        NameRule::Label => {
            if name.len() > 63 {
                errs.push("must be no more than 63 characters".to_owned());
            }
            if !is_label(name) {
                errs.push(LABEL_MSG.to_owned());
            }
        }
        NameRule::Subdomain => {
            if name.len() > 253 {
                errs.push("must be no more than 253 characters".to_owned());
            }
            if !name.split('.').all(is_label) {
                errs.push(SUBDOMAIN_MSG.to_owned());
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                errs.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errs.push(format!("may not contain '{bad}'"));
                }
            }
        }
    }
    errs
}

/// `metadata.name` causes for an invalid name.
pub fn name_causes(rule: NameRule, name: &str) -> Vec<Cause> {
    name_errors(rule, name)
        .into_iter()
        .map(|m| Cause {
            reason: "FieldValueInvalid",
            field: "metadata.name".into(),
            message: format!("Invalid value: {name:?}: {m}"),
        })
        .collect()
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
    fn names_follow_each_resources_rule() {
        assert!(name_errors(NameRule::Label, "team-a").is_empty());
        assert_eq!(name_errors(NameRule::Label, "Team"), [LABEL_MSG]);
        assert_eq!(name_errors(NameRule::Label, "a.b"), [LABEL_MSG]);
        assert!(name_errors(NameRule::Subdomain, "a.b-c").is_empty());
        assert_eq!(name_errors(NameRule::Subdomain, "a..b"), [SUBDOMAIN_MSG]);
        assert_eq!(name_errors(NameRule::Subdomain, &"a".repeat(254)).len(), 1);
        assert!(name_errors(NameRule::PathSegment, "system:node").is_empty());
        assert_eq!(name_errors(NameRule::PathSegment, "a/b"), ["may not contain '/'"]);
    }
}
