//! Where RBAC reads roles and bindings from.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};

/// Roles and bindings, read by the authorizer on every decision. Lists are shared snapshots
/// (`Arc`) so a decision copies nothing.
pub trait PolicySource: Send + Sync {
    /// Every ClusterRoleBinding, in name order.
    fn cluster_role_bindings(&self) -> Arc<Vec<Arc<ClusterRoleBinding>>>;
    /// The RoleBindings of one namespace, in name order.
    fn role_bindings(&self, namespace: &str) -> Arc<Vec<Arc<RoleBinding>>>;
    /// A ClusterRole's rules.
    fn cluster_role_rules(&self, name: &str) -> Option<Arc<Vec<PolicyRule>>>;
    /// A Role's rules.
    fn role_rules(&self, namespace: &str, name: &str) -> Option<Arc<Vec<PolicyRule>>>;
}

/// A policy held in memory and changed object by object (the server keeps one in step with
/// its store; the CLI loads one from files).
#[derive(Debug, Default, Clone)]
pub struct MemoryPolicy {
    crbs: BTreeMap<String, Arc<ClusterRoleBinding>>,
    crb_list: Arc<Vec<Arc<ClusterRoleBinding>>>,
    rbs: HashMap<String, BTreeMap<String, Arc<RoleBinding>>>,
    rb_lists: HashMap<String, Arc<Vec<Arc<RoleBinding>>>>,
    cluster_roles: HashMap<String, Arc<Vec<PolicyRule>>>,
    roles: HashMap<(String, String), Arc<Vec<PolicyRule>>>,
}

fn name_of(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    m.name.clone().unwrap_or_default()
}

fn ns_of(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    m.namespace.clone().unwrap_or_default()
}

impl MemoryPolicy {
    /// An empty policy.
    pub fn new() -> Self {
        MemoryPolicy::default()
    }

    /// Adds or replaces a ClusterRole.
    pub fn put_cluster_role(&mut self, r: &ClusterRole) {
        self.cluster_roles.insert(name_of(&r.metadata), Arc::new(r.rules.clone().unwrap_or_default()));
    }

    /// Removes a ClusterRole.
    pub fn remove_cluster_role(&mut self, name: &str) {
        self.cluster_roles.remove(name);
    }

    /// Adds or replaces a Role.
    pub fn put_role(&mut self, r: &Role) {
        self.roles.insert((ns_of(&r.metadata), name_of(&r.metadata)), Arc::new(r.rules.clone().unwrap_or_default()));
    }

    /// Removes a Role.
    pub fn remove_role(&mut self, namespace: &str, name: &str) {
        self.roles.remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// Adds or replaces a ClusterRoleBinding.
    pub fn put_cluster_role_binding(&mut self, b: &ClusterRoleBinding) {
        self.crbs.insert(name_of(&b.metadata), Arc::new(b.clone()));
        self.crb_list = Arc::new(self.crbs.values().cloned().collect());
    }

    /// Adds or replaces many ClusterRoleBindings, rebuilding the ordered list once.
    pub fn put_cluster_role_bindings(&mut self, bindings: &[ClusterRoleBinding]) {
        for b in bindings {
            self.crbs.insert(name_of(&b.metadata), Arc::new(b.clone()));
        }
        self.crb_list = Arc::new(self.crbs.values().cloned().collect());
    }

    /// Removes a ClusterRoleBinding.
    pub fn remove_cluster_role_binding(&mut self, name: &str) {
        if self.crbs.remove(name).is_some() {
            self.crb_list = Arc::new(self.crbs.values().cloned().collect());
        }
    }

    /// Adds or replaces a RoleBinding.
    pub fn put_role_binding(&mut self, b: &RoleBinding) {
        let ns = ns_of(&b.metadata);
        let map = self.rbs.entry(ns.clone()).or_default();
        map.insert(name_of(&b.metadata), Arc::new(b.clone()));
        let list = Arc::new(map.values().cloned().collect());
        self.rb_lists.insert(ns, list);
    }

    /// Removes a RoleBinding.
    pub fn remove_role_binding(&mut self, namespace: &str, name: &str) {
        if let Some(map) = self.rbs.get_mut(namespace) {
            map.remove(name);
            let list = Arc::new(map.values().cloned().collect());
            self.rb_lists.insert(namespace.to_owned(), list);
        }
    }

    /// How many bindings it holds.
    pub fn binding_count(&self) -> usize {
        self.crbs.len() + self.rbs.values().map(|m| m.len()).sum::<usize>()
    }
}

impl PolicySource for MemoryPolicy {
    fn cluster_role_bindings(&self) -> Arc<Vec<Arc<ClusterRoleBinding>>> {
        self.crb_list.clone()
    }

    fn role_bindings(&self, namespace: &str) -> Arc<Vec<Arc<RoleBinding>>> {
        self.rb_lists.get(namespace).cloned().unwrap_or_default()
    }

    fn cluster_role_rules(&self, name: &str) -> Option<Arc<Vec<PolicyRule>>> {
        self.cluster_roles.get(name).cloned()
    }

    fn role_rules(&self, namespace: &str, name: &str) -> Option<Arc<Vec<PolicyRule>>> {
        self.roles.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }
}

impl<T: PolicySource + ?Sized> PolicySource for Arc<T> {
    fn cluster_role_bindings(&self) -> Arc<Vec<Arc<ClusterRoleBinding>>> {
        (**self).cluster_role_bindings()
    }
    fn role_bindings(&self, namespace: &str) -> Arc<Vec<Arc<RoleBinding>>> {
        (**self).role_bindings(namespace)
    }
    fn cluster_role_rules(&self, name: &str) -> Option<Arc<Vec<PolicyRule>>> {
        (**self).cluster_role_rules(name)
    }
    fn role_rules(&self, namespace: &str, name: &str) -> Option<Arc<Vec<PolicyRule>>> {
        (**self).role_rules(namespace, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{Attributes, Authorizer, Target};
    use crate::rbac::testing::{meta, role_ref, said, subject};
    use crate::rbac::RbacAuthorizer;
    use crate::user::UserInfo;

    fn get_secrets(user: &str, groups: &[&str], ns: &str) -> Attributes {
        Attributes {
            user: UserInfo {
                name: user.into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                ..UserInfo::default()
            },
            verb: "get".into(),
            target: Target::Resource {
                namespace: ns.into(),
                api_group: "".into(),
                api_version: "v1".into(),
                resource: "secrets".into(),
                subresource: "".into(),
                name: "x".into(),
            },
        }
    }

    fn policy() -> MemoryPolicy {
        let mut p = MemoryPolicy::new();
        let reader = vec![PolicyRule {
            verbs: vec!["get".into()],
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["secrets".into()]),
            ..PolicyRule::default()
        }];
        p.put_cluster_role(&ClusterRole {
            metadata: meta(None, "reader"),
            rules: Some(reader.clone()),
            ..Default::default()
        });
        p.put_role(&Role { metadata: meta(Some("team"), "local-reader"), rules: Some(reader) });
        p.put_cluster_role_binding(&ClusterRoleBinding {
            metadata: meta(None, "ops"),
            role_ref: role_ref("ClusterRole", "reader"),
            subjects: Some(vec![subject("Group", "ops", None)]),
        });
        p.put_role_binding(&RoleBinding {
            metadata: meta(Some("team"), "sa-read"),
            role_ref: role_ref("Role", "local-reader"),
            subjects: Some(vec![subject("ServiceAccount", "builder", None)]),
        });
        p.put_role_binding(&RoleBinding {
            metadata: meta(Some("team"), "dangling"),
            role_ref: role_ref("ClusterRole", "gone"),
            subjects: Some(vec![subject("User", "bob", None)]),
        });
        p
    }

    #[test]
    fn reasons_match_kubernetes() {
        let z = RbacAuthorizer::new(policy());
        assert_eq!(
            said(&z.authorize(&get_secrets("alice", &["ops"], "team"))),
            (true, r#"RBAC: allowed by ClusterRoleBinding "ops" of ClusterRole "reader" to Group "ops""#.to_string())
        );
        assert_eq!(
            said(&z.authorize(&get_secrets("system:serviceaccount:team:builder", &[], "team"))),
            (true, r#"RBAC: allowed by RoleBinding "sa-read/team" of Role "local-reader" to ServiceAccount "builder/team""#.to_string())
        );
        // The same service account elsewhere, and a namespaceless SA subject, match nothing.
        assert_eq!(
            said(&z.authorize(&get_secrets("system:serviceaccount:other:builder", &[], "team"))),
            (false, String::new())
        );
        assert_eq!(
            said(&z.authorize(&get_secrets("bob", &[], "team"))),
            (false, r#"RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found"#.to_string())
        );
        let rules = z.rules_for(&UserInfo { name: "bob".into(), ..UserInfo::default() }, "team");
        assert!(!rules.incomplete, "kube-apiserver reports RBAC's list complete");
        assert_eq!(rules.evaluation_error, r#"clusterrole.rbac.authorization.k8s.io "gone" not found"#);
        assert!(rules.resource_rules.is_empty());
    }

    #[test]
    fn removals_take_effect() {
        let mut p = policy();
        p.remove_cluster_role_binding("ops");
        let z = RbacAuthorizer::new(p);
        assert!(!z.authorize(&get_secrets("alice", &["ops"], "team")).is_allowed());
    }
}
