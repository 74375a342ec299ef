//! The indexed RBAC authorizer: the same decisions as Kubernetes' walk ([`super::RbacAuthorizer`]),
//! reasons included, but a decision reads only the bindings that name the user, one of the
//! user's groups, or the user's service account.
//!
//! Layout: one [`Scope`] for ClusterRoleBindings and one per namespace for RoleBindings. Each
//! scope maps a subject key (user name, group name, or the full service-account user name
//! `system:serviceaccount:<ns>:<name>`, which is exactly what Kubernetes' `MatchesUsername`
//! compares) to the sorted names of the bindings naming it. A decision gathers the candidate
//! names from at most `2 + groups` hash lookups per scope, sorts them (the walk visits bindings
//! in name order, and the first allowing rule names the reason) and evaluates only those.
//! Roles are looked up by name when a binding is evaluated, so a role change is one map write.
//! Every put/remove updates the index in place: no rebuild, whatever the policy size.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};

pub use super::binding::Binding;
use super::{collect_rules, decide, RuleVisitor};
use crate::authz::{Attributes, Authorizer, Decision, Explanation, Rules};
use crate::user::{UserInfo, SERVICE_ACCOUNT_USER_PREFIX};

/// Maps with foldhash: a decision does a dozen lookups, and SipHash made them half its cost.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    User,
    Group,
    ServiceAccount,
}

/// The index key of a subject, or None when it can match nobody (an unknown kind, or a
/// namespaceless ServiceAccount in a ClusterRoleBinding).
fn subject_key(s: &Subject, binding_namespace: &str) -> Option<(KeyKind, String)> {
    match s.kind.as_str() {
        "User" => Some((KeyKind::User, s.name.clone())),
        "Group" => Some((KeyKind::Group, s.name.clone())),
        "ServiceAccount" => {
            let ns = s.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(binding_namespace);
            (!ns.is_empty()).then(|| (KeyKind::ServiceAccount, format!("{SERVICE_ACCOUNT_USER_PREFIX}{ns}:{}", s.name)))
        }
        _ => None,
    }
}

/// Subject key to the bindings naming it, sorted by name.
#[derive(Debug, Default, Clone)]
struct BySubject {
    users: HashMap<String, Vec<Arc<Binding>>>,
    groups: HashMap<String, Vec<Arc<Binding>>>,
    service_accounts: HashMap<String, Vec<Arc<Binding>>>,
}

impl BySubject {
    fn map(&mut self, kind: KeyKind) -> &mut HashMap<String, Vec<Arc<Binding>>> {
        match kind {
            KeyKind::User => &mut self.users,
            KeyKind::Group => &mut self.groups,
            KeyKind::ServiceAccount => &mut self.service_accounts,
        }
    }

    fn add(&mut self, b: &Arc<Binding>) {
        for s in &b.subjects {
            if let Some((kind, key)) = subject_key(s, &b.namespace) {
                let list = self.map(kind).entry(key).or_default();
                if let Err(at) = list.binary_search_by(|x| x.name.cmp(&b.name)) {
                    list.insert(at, b.clone());
                }
            }
        }
    }

    fn remove(&mut self, b: &Binding) {
        for s in &b.subjects {
            if let Some((kind, key)) = subject_key(s, &b.namespace) {
                let map = self.map(kind);
                if let Some(list) = map.get_mut(&key) {
                    if let Ok(at) = list.binary_search_by(|x| x.name.cmp(&b.name)) {
                        list.remove(at);
                    }
                    if list.is_empty() {
                        map.remove(&key);
                    }
                }
            }
        }
    }

    /// The bindings that may name `user`, sorted by name, without duplicates.
    fn candidates<'a>(&'a self, user: &UserInfo, out: &mut Vec<&'a Arc<Binding>>) {
        out.clear();
        // A slice's iterator knows its length: each list is one reservation and one copy.
        let mut add = |list: Option<&'a Vec<Arc<Binding>>>| {
            if let Some(list) = list {
                out.extend(list.iter());
            }
        };
        add(self.users.get(&user.name));
        if user.name.starts_with(SERVICE_ACCOUNT_USER_PREFIX) {
            add(self.service_accounts.get(&user.name));
        }
        for g in &user.groups {
            add(self.groups.get(g));
        }
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| Arc::ptr_eq(a, b));
    }

    fn len(&self) -> usize {
        self.users.len() + self.groups.len() + self.service_accounts.len()
    }
}

/// The bindings of one scope (the cluster, or one namespace) and their subject index.
#[derive(Debug, Default, Clone)]
struct Scope {
    bindings: HashMap<Arc<str>, Arc<Binding>>,
    by_subject: BySubject,
}

impl Scope {
    fn put(&mut self, b: Binding) {
        if let Some(old) = self.bindings.remove(&b.name) {
            self.by_subject.remove(&old);
        }
        let b = Arc::new(b);
        self.by_subject.add(&b);
        self.bindings.insert(b.name.clone(), b);
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.bindings.remove(name) {
            self.by_subject.remove(&old);
        }
    }

    /// Visits the rules of the bindings naming `user`, in name order; false when `visit` stopped.
    /// `candidates` is scratch space, reused across scopes so a decision allocates it once.
    fn visit<'a>(
        &'a self,
        index: &RbacIndex,
        user: &UserInfo,
        candidates: &mut Vec<&'a Arc<Binding>>,
        visit: &mut RuleVisitor<'_>,
    ) -> bool {
        self.by_subject.candidates(user, candidates);
        for b in candidates.iter() {
            let Some(subject) = b.subject_index_for(user) else { continue };
            match index.role_rules_in_place(&b.role_ref, &b.namespace) {
                Err(e) => {
                    if !visit(Err(e)) {
                        return false;
                    }
                }
                Ok(rules) => {
                    let source = Binding::source(b, subject);
                    for rule in rules.iter() {
                        if !visit(Ok((&source, rule))) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }
}

/// Roles and bindings, indexed by subject; decides like Kubernetes' RBAC authorizer.
#[derive(Debug, Default, Clone)]
pub struct RbacIndex {
    cluster: Scope,
    namespaces: HashMap<String, Scope>,
    cluster_roles: HashMap<String, Arc<Vec<PolicyRule>>>,
    roles: HashMap<String, HashMap<String, Arc<Vec<PolicyRule>>>>,
}

fn meta_name(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    m.name.as_deref().unwrap_or_default()
}

fn meta_namespace(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    m.namespace.as_deref().unwrap_or_default()
}

impl RbacIndex {
    /// An empty index.
    pub fn new() -> Self {
        RbacIndex::default()
    }

    /// Adds or replaces a ClusterRole.
    pub fn put_cluster_role(&mut self, r: &ClusterRole) {
        self.cluster_roles.insert(meta_name(&r.metadata).to_owned(), Arc::new(r.rules.clone().unwrap_or_default()));
    }

    /// Removes a ClusterRole.
    pub fn remove_cluster_role(&mut self, name: &str) {
        self.cluster_roles.remove(name);
    }

    /// Adds or replaces a Role.
    pub fn put_role(&mut self, r: &Role) {
        self.roles
            .entry(meta_namespace(&r.metadata).to_owned())
            .or_default()
            .insert(meta_name(&r.metadata).to_owned(), Arc::new(r.rules.clone().unwrap_or_default()));
    }

    /// Removes a Role.
    pub fn remove_role(&mut self, namespace: &str, name: &str) {
        if let Some(m) = self.roles.get_mut(namespace) {
            m.remove(name);
            if m.is_empty() {
                self.roles.remove(namespace);
            }
        }
    }

    /// Adds or replaces a ClusterRoleBinding.
    pub fn put_cluster_role_binding(&mut self, b: &ClusterRoleBinding) {
        self.cluster.put(Binding {
            namespace: Arc::from(""),
            name: Arc::from(meta_name(&b.metadata)),
            role_ref: b.role_ref.clone(),
            subjects: b.subjects.clone().unwrap_or_default(),
        });
    }

    /// Removes a ClusterRoleBinding.
    pub fn remove_cluster_role_binding(&mut self, name: &str) {
        self.cluster.remove(name);
    }

    /// Adds or replaces a RoleBinding.
    pub fn put_role_binding(&mut self, b: &RoleBinding) {
        let ns = meta_namespace(&b.metadata);
        self.namespaces.entry(ns.to_owned()).or_default().put(Binding {
            namespace: Arc::from(ns),
            name: Arc::from(meta_name(&b.metadata)),
            role_ref: b.role_ref.clone(),
            subjects: b.subjects.clone().unwrap_or_default(),
        });
    }

    /// Removes a RoleBinding.
    pub fn remove_role_binding(&mut self, namespace: &str, name: &str) {
        if let Some(scope) = self.namespaces.get_mut(namespace) {
            scope.remove(name);
            if scope.bindings.is_empty() {
                self.namespaces.remove(namespace);
            }
        }
    }

    /// A ClusterRole's rules.
    pub fn cluster_role_rules(&self, name: &str) -> Option<Arc<Vec<PolicyRule>>> {
        self.cluster_roles.get(name).cloned()
    }

    /// A Role's rules.
    pub fn role_rules(&self, namespace: &str, name: &str) -> Option<Arc<Vec<PolicyRule>>> {
        self.roles.get(namespace).and_then(|m| m.get(name)).cloned()
    }

    /// The rules a roleRef points at, or Kubernetes' error text when it cannot be resolved.
    pub fn role_rules_of(&self, role_ref: &RoleRef, binding_namespace: &str) -> Result<Arc<Vec<PolicyRule>>, String> {
        self.role_rules_in_place(role_ref, binding_namespace).cloned()
    }

    /// [`RbacIndex::role_rules_of`], borrowed: a decision reads the rules of a few roles that
    /// every worker reads, and cloning each one's `Arc` wrote its count, a cache line the
    /// cores then passed back and forth on every request.
    fn role_rules_in_place(
        &self,
        role_ref: &RoleRef,
        binding_namespace: &str,
    ) -> Result<&Arc<Vec<PolicyRule>>, String> {
        super::resolve_role_ref(
            role_ref,
            |name| self.cluster_roles.get(name),
            |name| self.roles.get(binding_namespace).and_then(|m| m.get(name)),
        )
    }

    /// Visits every rule that applies to `user` in `namespace`, in the reference walk's order
    /// (ClusterRoleBindings by name, then the namespace's RoleBindings by name).
    pub fn visit_rules(&self, user: &UserInfo, namespace: &str, visit: &mut RuleVisitor<'_>) {
        // Room for the usual few candidates of both scopes, so that gathering them does not
        // grow the list.
        let mut candidates = Vec::with_capacity(16);
        if !self.cluster.visit(self, user, &mut candidates, visit) || namespace.is_empty() {
            return;
        }
        if let Some(scope) = self.namespaces.get(namespace) {
            scope.visit(self, user, &mut candidates, visit);
        }
    }

    /// Every binding naming `user`, in any namespace: ClusterRoleBindings first, then
    /// RoleBindings by namespace and name.
    pub fn bindings_of(&self, user: &UserInfo) -> Vec<Arc<Binding>> {
        let mut out = Vec::new();
        let mut found = Vec::new();
        self.cluster.by_subject.candidates(user, &mut found);
        out.extend(found.iter().map(|b| Arc::clone(b)));
        let mut namespaces: Vec<&String> = self.namespaces.keys().collect();
        namespaces.sort();
        for ns in namespaces {
            let scope = &self.namespaces[ns];
            scope.by_subject.candidates(user, &mut found);
            out.extend(found.iter().map(|b| Arc::clone(b)));
        }
        out.retain(|b| b.subject_for(user).is_some());
        out
    }

    /// Every binding, ClusterRoleBindings first (by name), then RoleBindings by namespace and name.
    pub fn bindings(&self) -> Vec<Arc<Binding>> {
        let mut crbs: Vec<_> = self.cluster.bindings.values().cloned().collect();
        crbs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut rbs: Vec<_> = self.namespaces.values().flat_map(|s| s.bindings.values().cloned()).collect();
        rbs.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        crbs.extend(rbs);
        crbs
    }

    /// Every RoleBinding in `namespace`, by name.
    pub fn role_bindings_in(&self, namespace: &str) -> Vec<Arc<Binding>> {
        let mut out: Vec<_> =
            self.namespaces.get(namespace).map(|s| s.bindings.values().cloned().collect()).unwrap_or_default();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// How many bindings it holds.
    pub fn binding_count(&self) -> usize {
        self.cluster.bindings.len() + self.namespaces.values().map(|s| s.bindings.len()).sum::<usize>()
    }

    /// How many distinct subject keys the index holds (for sizing reports).
    pub fn subject_key_count(&self) -> usize {
        self.cluster.by_subject.len() + self.namespaces.values().map(|s| s.by_subject.len()).sum::<usize>()
    }
}

impl Authorizer for RbacIndex {
    fn authorize(&self, a: &Attributes) -> Decision {
        decide(a, |visit| self.visit_rules(&a.user, a.target.namespace(), visit))
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        collect_rules(|visit| self.visit_rules(user, namespace, visit))
    }

    fn explain(&self, a: &Attributes) -> Option<Explanation> {
        Some(RbacIndex::explain(self, a))
    }
}

impl Authorizer for std::sync::RwLock<RbacIndex> {
    fn authorize(&self, a: &Attributes) -> Decision {
        self.read().unwrap_or_else(|p| p.into_inner()).authorize(a)
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        self.read().unwrap_or_else(|p| p.into_inner()).rules_for(user, namespace)
    }

    fn explain(&self, a: &Attributes) -> Option<Explanation> {
        Some(self.read().unwrap_or_else(|p| p.into_inner()).explain(a))
    }
}

impl<T: Authorizer + ?Sized> Authorizer for Arc<T> {
    fn authorize(&self, a: &Attributes) -> Decision {
        (**self).authorize(a)
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        (**self).rules_for(user, namespace)
    }

    fn explain(&self, a: &Attributes) -> Option<Explanation> {
        (**self).explain(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Target;
    use crate::rbac::testing::{meta, role_ref, said, subject};

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo { name: name.into(), groups: groups.iter().map(|g| g.to_string()).collect(), ..UserInfo::default() }
    }

    fn get(u: UserInfo, resource: &str, ns: &str) -> Attributes {
        Attributes {
            user: u,
            verb: "get".into(),
            target: Target::Resource {
                namespace: ns.into(),
                api_group: "".into(),
                api_version: "v1".into(),
                resource: resource.into(),
                subresource: "".into(),
                name: "x".into(),
            },
        }
    }

    fn rule(resource: &str) -> PolicyRule {
        PolicyRule {
            verbs: vec!["get".into()],
            api_groups: Some(vec!["".into()]),
            resources: Some(vec![resource.into()]),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn first_binding_by_name_names_the_reason() {
        let mut idx = RbacIndex::new();
        idx.put_cluster_role(&ClusterRole {
            metadata: meta(None, "r"),
            rules: Some(vec![rule("secrets")]),
            ..Default::default()
        });
        for (name, s) in [("b-group", subject("Group", "dev", None)), ("a-user", subject("User", "ann", None))] {
            idx.put_cluster_role_binding(&ClusterRoleBinding {
                metadata: meta(None, name),
                role_ref: role_ref("ClusterRole", "r"),
                subjects: Some(vec![s]),
            });
        }
        assert_eq!(
            said(&idx.authorize(&get(user("ann", &["dev"]), "secrets", "ns"))),
            (true, r#"RBAC: allowed by ClusterRoleBinding "a-user" of ClusterRole "r" to User "ann""#.to_string())
        );
        idx.remove_cluster_role_binding("a-user");
        assert_eq!(
            said(&idx.authorize(&get(user("ann", &["dev"]), "secrets", "ns"))),
            (true, r#"RBAC: allowed by ClusterRoleBinding "b-group" of ClusterRole "r" to Group "dev""#.to_string())
        );
        // Replacing a binding re-keys it: the old subject no longer reaches it.
        idx.put_cluster_role_binding(&ClusterRoleBinding {
            metadata: meta(None, "b-group"),
            role_ref: role_ref("ClusterRole", "r"),
            subjects: Some(vec![subject("Group", "ops", None)]),
        });
        assert!(!idx.authorize(&get(user("ann", &["dev"]), "secrets", "ns")).is_allowed());
        assert!(idx.authorize(&get(user("bo", &["ops"]), "secrets", "ns")).is_allowed());
        assert_eq!(idx.subject_key_count(), 1);
    }

    #[test]
    fn service_accounts_default_to_the_binding_namespace() {
        let mut idx = RbacIndex::new();
        idx.put_role(&Role { metadata: meta(Some("team"), "r"), rules: Some(vec![rule("pods")]) });
        idx.put_role_binding(&RoleBinding {
            metadata: meta(Some("team"), "b"),
            role_ref: role_ref("Role", "r"),
            subjects: Some(vec![subject("ServiceAccount", "ci", None)]),
        });
        // A ClusterRoleBinding's namespaceless ServiceAccount subject matches nobody.
        idx.put_cluster_role_binding(&ClusterRoleBinding {
            metadata: meta(None, "nobody"),
            role_ref: role_ref("ClusterRole", "missing"),
            subjects: Some(vec![subject("ServiceAccount", "ci", None)]),
        });
        let sa = user("system:serviceaccount:team:ci", &[]);
        assert!(idx.authorize(&get(sa.clone(), "pods", "team")).is_allowed());
        assert_eq!(said(&idx.authorize(&get(sa.clone(), "pods", "other"))), (false, String::new()));
        assert_eq!(idx.bindings_of(&sa).len(), 1);
        idx.remove_role("team", "r");
        assert_eq!(
            said(&idx.authorize(&get(sa, "pods", "team"))),
            (false, r#"RBAC: role.rbac.authorization.k8s.io "r" not found"#.to_string())
        );
        idx.remove_role_binding("team", "b");
        assert_eq!(idx.binding_count(), 1);
    }
}
