//! RBAC escalation prevention: a user may create or update a role only with permissions they
//! hold (or the `escalate` verb on it), and bind a role only if they hold its permissions (or
//! the `bind` verb on it). Messages follow kube-apiserver's.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::PolicyRule;
use kauth::authz::{Attributes, Target};
use kauth::rbac::rules::{compact, uncovered};
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
    let owner = state.authorizer.rules_for(user, ns);
    let owner_rules: Vec<PolicyRule> = owner
        .resource_rules
        .iter()
        .map(|r| PolicyRule {
            verbs: r.verbs.clone(),
            api_groups: Some(r.api_groups.clone()),
            resources: Some(r.resources.clone()),
            resource_names: Some(r.resource_names.clone()),
            non_resource_urls: None,
        })
        .chain(owner.non_resource_rules.iter().map(|r| PolicyRule {
            verbs: r.verbs.clone(),
            non_resource_urls: Some(r.non_resource_urls.clone()),
            ..PolicyRule::default()
        }))
        .collect();
    let missing: Vec<String> = granted.iter().flat_map(|g| uncovered(&owner_rules, g)).map(|r| compact(&r)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let groups = user.groups.iter().map(|g| format!("{g:?}")).collect::<Vec<_>>().join(" ");
    Err(ApiError::forbidden(
        RBAC_GROUP,
        rt.plural,
        name,
        &format!(
            "user {:?} (groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            missing.join("\n")
        ),
    ))
}
