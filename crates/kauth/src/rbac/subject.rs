//! Whether a binding's subject names a user, as Kubernetes compares them.

use k8s_openapi::api::rbac::v1::Subject;

use crate::user::UserInfo;

/// Whether `subject` names `user`. ServiceAccount subjects without a namespace take the
/// binding's (`binding_namespace`, empty for ClusterRoleBindings: then they match nobody).
pub fn subject_matches(user: &UserInfo, subject: &Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = subject.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(binding_namespace);
            !ns.is_empty() && service_account_username_is(&user.name, ns, &subject.name)
        }
        _ => false,
    }
}

/// Whether `username` is `system:serviceaccount:<namespace>:<name>`, compared piece by piece
/// as Kubernetes' `serviceaccount.MatchesUsername` does (no allocation, no splitting: a name
/// or namespace holding `:` still compares as the concatenation).
pub fn service_account_username_is(username: &str, namespace: &str, name: &str) -> bool {
    username
        .strip_prefix(crate::user::SERVICE_ACCOUNT_USER_PREFIX)
        .and_then(|r| r.strip_prefix(namespace))
        .and_then(|r| r.strip_prefix(':'))
        .is_some_and(|r| r == name)
}
