//! RBAC objects from files: manifests (one or many YAML documents, or JSON), `List`s such as
//! `kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o yaml` prints, and the
//! API's typed lists (`ClusterRoleList`, whose items carry no `kind`). Objects of other kinds
//! are counted and skipped. Namespaced objects without a namespace land in `default`, as
//! `kubectl apply` would put them.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Deserialize;
use serde_json::Value;

use super::RbacIndex;

/// A document that is not valid RBAC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {message}")]
pub struct LoadError {
    /// The file (or URL) and document.
    pub what: String,
    /// What is wrong.
    pub message: String,
}

/// The RBAC objects read so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyDocuments {
    /// ClusterRoles.
    pub cluster_roles: Vec<ClusterRole>,
    /// Roles.
    pub roles: Vec<Role>,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// RoleBindings.
    pub role_bindings: Vec<RoleBinding>,
    /// Objects of other kinds, skipped.
    pub skipped: usize,
}

const RBAC_GROUP_PREFIX: &str = "rbac.authorization.k8s.io/";

impl PolicyDocuments {
    /// An empty set.
    pub fn new() -> Self {
        PolicyDocuments::default()
    }

    /// Reads every document of `text` (YAML or JSON); `what` names the source in errors.
    pub fn parse(&mut self, what: &str, text: &str) -> Result<(), LoadError> {
        for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
            let at = || format!("{what}: document {}", i + 1);
            let value = Value::deserialize(doc)
                .map_err(|e| LoadError { what: at(), message: format!("not valid YAML or JSON: {e}") })?;
            if value.is_null() {
                continue;
            }
            self.add_value(&at(), value, None)?;
        }
        Ok(())
    }

    fn add_value(&mut self, what: &str, value: Value, implied_kind: Option<&str>) -> Result<(), LoadError> {
        let err = |message: String| LoadError { what: what.to_owned(), message };
        if !value.is_object() {
            return Err(err("expected a Kubernetes object (a mapping with apiVersion and kind)".into()));
        }
        let kind = value.get("kind").and_then(Value::as_str).or(implied_kind).unwrap_or_default().to_owned();
        if kind.is_empty() {
            return Err(err("the object has no kind".into()));
        }
        if kind == "List" || kind.ends_with("List") {
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
            let Some(items) = value.get("items").and_then(Value::as_array) else {
                return Err(err(format!("{kind} has no items list")));
            };
            for (j, item) in items.iter().enumerate() {
                self.add_value(&format!("{what}, item {}", j + 1), item.clone(), item_kind)?;
            }
            return Ok(());
        }
        let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or(RBAC_GROUP_PREFIX);
        if !api_version.starts_with(RBAC_GROUP_PREFIX)
            || !matches!(kind.as_str(), "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding")
        {
            self.skipped += 1;
            return Ok(());
        }
        let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        if name.is_empty() {
            return Err(err(format!("{kind} has no metadata.name")));
        }
        let bad = |e: serde_json::Error| err(format!("{kind} {name:?} is not valid: {e}"));
        let ns = |m: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            if m.namespace.as_deref().unwrap_or_default().is_empty() {
                m.namespace = Some("default".into());
            }
        };
        match kind.as_str() {
            "ClusterRole" => self.cluster_roles.push(serde_json::from_value(value).map_err(bad)?),
            "Role" => {
                let mut r: Role = serde_json::from_value(value).map_err(bad)?;
                ns(&mut r.metadata);
                self.roles.push(r);
            }
            "ClusterRoleBinding" => self.cluster_role_bindings.push(serde_json::from_value(value).map_err(bad)?),
            _ => {
                let mut b: RoleBinding = serde_json::from_value(value).map_err(bad)?;
                ns(&mut b.metadata);
                self.role_bindings.push(b);
            }
        }
        Ok(())
    }

    /// Fills every ClusterRole that has an `aggregationRule` with the rules of the ClusterRoles
    /// its selectors pick (by name, without duplicates), as kube-controller-manager does.
    /// Files from `kubectl get` already hold them; hand-written manifests do not.
    pub fn aggregate(&mut self) {
        super::aggregate::aggregate(&mut self.cluster_roles);
    }

    /// An index of these objects.
    pub fn index(&self) -> RbacIndex {
        let mut idx = RbacIndex::new();
        self.cluster_roles.iter().for_each(|r| idx.put_cluster_role(r));
        self.roles.iter().for_each(|r| idx.put_role(r));
        self.cluster_role_bindings.iter().for_each(|b| idx.put_cluster_role_binding(b));
        self.role_bindings.iter().for_each(|b| idx.put_role_binding(b));
        idx
    }

    /// How many objects were read.
    pub fn len(&self) -> usize {
        self.cluster_roles.len() + self.roles.len() + self.cluster_role_bindings.len() + self.role_bindings.len()
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_lists_and_typed_lists() {
        let mut docs = PolicyDocuments::new();
        docs.parse(
            "a.yaml",
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
---
apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: b, namespace: team}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
  subjects: [{kind: User, name: ann}]
"#,
        )
        .expect("parses");
        docs.parse(
            "list.json",
            r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleList","items":[{"metadata":{"name":"c"},"rules":[]}]}"#,
        )
        .expect("typed list");
        assert_eq!((docs.roles.len(), docs.role_bindings.len(), docs.cluster_roles.len(), docs.skipped), (1, 1, 1, 1));
        assert_eq!(docs.roles[0].metadata.namespace.as_deref(), Some("default"));
        assert_eq!(docs.index().binding_count(), 1);
    }

    #[test]
    fn errors_name_the_document_and_object() {
        let mut docs = PolicyDocuments::new();
        let e = docs
            .parse("x.yaml", "kind: Role\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: r}\nrules: 5\n")
            .expect_err("rules must be a list");
        assert!(e.to_string().starts_with(r#"x.yaml: document 1: Role "r" is not valid: "#), "{e}");
        let e = docs.parse("y.yaml", "a: [").expect_err("bad YAML");
        assert!(e.to_string().contains("not valid YAML or JSON"), "{e}");
        let e = docs.parse("z.yaml", "- 1\n- 2\n").expect_err("not an object");
        assert!(e.to_string().contains("expected a Kubernetes object"), "{e}");
    }

    #[test]
    fn aggregation_fills_rules_from_selected_roles() {
        let mut docs = PolicyDocuments::new();
        docs.parse(
            "agg.yaml",
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: a, labels: {rbac.example.com/aggregate-to-monitoring: "true"}}
rules: [{apiGroups: [""], resources: [services], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: b}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
"#,
        )
        .expect("parses");
        docs.aggregate();
        let rules = docs.cluster_roles[0].rules.clone().unwrap_or_default();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].resources.as_deref(), Some(&["services".to_string()][..]));
    }
}
