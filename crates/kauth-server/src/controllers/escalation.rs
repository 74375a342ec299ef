//! RBAC escalation prevention: a user may create or update a role only with permissions they
//! hold (or the `escalate` verb on it), and bind a role only if they hold its permissions (or
//! the `bind` verb on it). Messages follow kube-apiserver's. The check itself is
//! [`kauth::rbac::escalation`]; this file is the wiring.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::PolicyRule;
use kauth::authz::{Attributes, Target};
use kauth::rbac::escalation::check_escalation;
use kauth::user::UserInfo;
use serde_json::Value;

use crate::api::resources::{meta_str, ResourceType, RBAC_GROUP};
use crate::api::status::ApiError;
use crate::state::State;

fn allowed(state: &State, user: &UserInfo, verb: &str, resource: &str, ns: &str, name: &str) -> bool {
    let a = Attributes {
        user: user.clone(),
        verb: verb.into(),
        target: Target::Resource {
            namespace: ns.into(),
            api_group: RBAC_GROUP.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            subresource: String::new(),
            name: name.into(),
        },
    };
    state.authorize(&a).is_allowed()
}

/// Checks `obj` (a Role, ClusterRole, RoleBinding or ClusterRoleBinding about to be written by `user`).
pub fn check(state: &State, rt: &ResourceType, obj: &Value, user: &UserInfo) -> Result<(), ApiError> {
    let ns = meta_str(obj, "namespace");
    let name = meta_str(obj, "name");
    let granted: Arc<Vec<PolicyRule>> = match rt.kind {
        "Role" | "ClusterRole" => {
            if allowed(state, user, "escalate", rt.plural, ns, name) {
                return Ok(());
            }
            let rules: Vec<PolicyRule> =
                serde_json::from_value(obj.get("rules").cloned().unwrap_or(Value::Array(vec![])))
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Arc::new(rules)
        }
        _ => {
            let kind = obj.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or("");
            let role = obj.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or("");
            let resource = if kind == "Role" { "roles" } else { "clusterroles" };
            if allowed(state, user, "bind", resource, ns, role) {
                return Ok(());
            }
            let policy = state.registry.policy();
            let rules = if kind == "Role" { policy.role_rules(ns, role) } else { policy.cluster_role_rules(role) };
            match rules {
                Some(r) => r,
                None => {
                    let what = if kind == "Role" { "roles" } else { "clusterroles" };
                    return Err(ApiError::not_found(RBAC_GROUP, what, role));
                }
            }
        }
    };
    // What the user holds through RBAC only, as kube-apiserver's check asks RBAC's rule
    // resolver: what the Node authorizer lets a kubelet do is not a permission it can grant.
    let held = {
        use kauth::authz::Authorizer;
        state.registry.policy().rules_for(user, ns)
    };
    check_escalation(user, &held, &granted)
        .map_err(|e| ApiError::forbidden(RBAC_GROUP, rt.plural, name, &e.to_string()))
}
