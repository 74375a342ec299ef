//! One RBAC object by kind, namespace and name, as kauth's tools name it in their findings and
//! warnings: `ClusterRole "view"`, `RoleBinding "devs-read/prod"` (name, then namespace, as
//! Kubernetes' RBAC reasons write a RoleBinding).

use std::fmt;

use serde::{Serialize, Serializer};

use super::binding::Binding;

/// The four RBAC kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RbacKind {
    /// A ClusterRole.
    ClusterRole,
    /// A ClusterRoleBinding.
    ClusterRoleBinding,
    /// A Role (namespaced).
    Role,
    /// A RoleBinding (namespaced).
    RoleBinding,
}

impl RbacKind {
    /// The kind as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RbacKind::ClusterRole => "ClusterRole",
            RbacKind::ClusterRoleBinding => "ClusterRoleBinding",
            RbacKind::Role => "Role",
            RbacKind::RoleBinding => "RoleBinding",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        matches!(self, RbacKind::Role | RbacKind::RoleBinding)
    }
}

impl fmt::Display for RbacKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RBAC object. Display (and JSON, a string) is `Kind "name"`, or `Kind "name/namespace"`
/// for the namespaced kinds, quoted as Go's `%q`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// Its kind.
    pub kind: RbacKind,
    /// Its namespace; empty for the cluster-scoped kinds.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ObjectRef {
    /// A cluster-scoped object.
    pub fn cluster(kind: RbacKind, name: &str) -> ObjectRef {
        ObjectRef { kind, namespace: String::new(), name: name.to_owned() }
    }

    /// A namespaced object.
    pub fn namespaced(kind: RbacKind, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef { kind, namespace: namespace.to_owned(), name: name.to_owned() }
    }

    /// The binding an index holds: a ClusterRoleBinding when it has no namespace.
    pub fn binding(b: &Binding) -> ObjectRef {
        if b.is_cluster() {
            ObjectRef::cluster(RbacKind::ClusterRoleBinding, &b.name)
        } else {
            ObjectRef::namespaced(RbacKind::RoleBinding, &b.namespace, &b.name)
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind.is_namespaced() {
            write!(f, "{} {:?}", self.kind, format!("{}/{}", self.name, self.namespace))
        } else {
            write!(f, "{} {:?}", self.kind, self.name)
        }
    }
}

impl Serialize for ObjectRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_names_objects_name_first() {
        assert_eq!(ObjectRef::cluster(RbacKind::ClusterRole, "view").to_string(), r#"ClusterRole "view""#);
        let rb = ObjectRef::namespaced(RbacKind::RoleBinding, "prod", "devs-read");
        assert_eq!(rb.to_string(), r#"RoleBinding "devs-read/prod""#);
        assert_eq!(serde_json::to_value(&rb).ok(), Some(serde_json::json!(r#"RoleBinding "devs-read/prod""#)));
        assert_eq!(ObjectRef::cluster(RbacKind::ClusterRole, "a\"b").to_string(), r#"ClusterRole "a\"b""#);
    }
}
