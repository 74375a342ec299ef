//! A binding as the RBAC index keeps it: what a decision and its reason need, nothing more.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{RoleRef, Subject};

use crate::user::UserInfo;

/// A binding as the index keeps it: what a decision and its reason need, nothing more.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The namespace; empty for a ClusterRoleBinding.
    pub namespace: Arc<str>,
    /// The name.
    pub name: Arc<str>,
    /// The role it grants.
    pub role_ref: RoleRef,
    /// Whom it grants it to, in the object's order (the first that matches names the reason).
    pub subjects: Vec<Subject>,
}

impl Binding {
    /// Whether this is a ClusterRoleBinding.
    pub fn is_cluster(&self) -> bool {
        self.namespace.is_empty()
    }

    /// The first subject that names `user`.
    pub fn subject_for(&self, user: &UserInfo) -> Option<&Subject> {
        self.subjects.iter().find(|s| super::subject::subject_matches(user, s, &self.namespace))
    }

    /// The position of the first subject that names `user`.
    pub fn subject_index_for(&self, user: &UserInfo) -> Option<usize> {
        self.subjects.iter().position(|s| super::subject::subject_matches(user, s, &self.namespace))
    }
}
