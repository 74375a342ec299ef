//! ClusterRole aggregation, kube-controller-manager's `clusterroleaggregation` controller done
//! inside the commit of the ClusterRole write that triggers it: every ClusterRole with an
//! `aggregationRule` recomputed, to a fixed point, from the ClusterRoles as they will be after
//! the write ([`kauth::rbac::aggregate::aggregate`]), and only those whose rules change written.

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kauth::rbac::aggregate::{self, same_rules, Convergence};
use serde::Deserialize;
use serde_json::Value;

use crate::api::resources::{self, meta_str};
use crate::api::status::ApiError;
use crate::registry::Change;
use crate::state::State;

/// The ClusterRole writes about to be committed, seen in place of what is stored.
#[derive(Debug)]
pub enum Pending<'a> {
    /// None: the ClusterRoles as stored (to check they are in step).
    Nothing,
    /// This ClusterRole is about to be created or replaced. When it aggregates, its rules are set
    /// here, in place (only when they differ from what it carries).
    Write(&'a mut Value),
    /// The ClusterRoles of these names are about to be deleted, all in one commit (one delete,
    /// a collection's, and the garbage collector's): each aggregated role is recomputed once
    /// without all of them.
    Delete(&'a [&'a str]),
}

impl Pending<'_> {
    /// Whether the stored ClusterRole `name` is replaced or deleted by this write.
    fn replaces(&self, name: &str) -> bool {
        match self {
            Pending::Nothing => false,
            Pending::Write(v) => meta_str(v, "name") == name,
            Pending::Delete(names) => names.contains(&name),
        }
    }
}

/// Recomputes every aggregated ClusterRole with `pending` applied. A pending write that
/// aggregates gets its rules set in place; the other aggregated roles whose rules change are
/// returned as updates, to commit with the pending write (none when all are in step).
pub fn aggregate(state: &State, mut pending: Pending<'_>) -> Result<Vec<Change>, ApiError> {
    let crt = resources::by_kind(resources::RBAC_GROUP, "ClusterRole")
        .ok_or_else(|| ApiError::internal("no ClusterRole resource"))?;
    let stored: Vec<_> =
        state.registry.list(crt, "").into_iter().filter(|r| !pending.replaces(&r.names().name)).collect();
    let mut roles: Vec<ClusterRole> = stored.iter().map(|r| typed(&r.value())).collect::<Result<_, _>>()?;
    if let Pending::Write(v) = &pending {
        roles.push(typed(v)?);
    }
    let before: Vec<Option<Vec<PolicyRule>>> = roles.iter().map(|r| r.rules.clone()).collect();
    if let Convergence::Bounded { rounds } = aggregate::aggregate(&mut roles) {
        tracing::warn!(rounds, "ClusterRole aggregation: a cycle of aggregated roles kept reordering rules");
    }
    let mut out = Vec::new();
    for (i, (role, before)) in roles.iter().zip(&before).enumerate() {
        if role.aggregation_rule.is_none() || same_rules(before.as_deref(), role.rules.as_deref()) {
            continue;
        }
        let rules = rules_value(role.rules.as_deref().unwrap_or_default())?;
        // The roles are the stored ones in order, then the pending write's.
        match stored.get(i) {
            Some(stored) => {
                let mut v = stored.value();
                v["rules"] = rules;
                out.push(Change::Update(crt, v, stored.revision));
            }
            None => {
                if let Pending::Write(v) = &mut pending {
                    v["rules"] = rules;
                }
            }
        }
    }
    Ok(out)
}

fn typed(v: &Value) -> Result<ClusterRole, ApiError> {
    ClusterRole::deserialize(v)
        .map_err(|e| ApiError::bad_request(format!("ClusterRole {:?}: {e}", meta_str(v, "name"))))
}

fn rules_value(rules: &[PolicyRule]) -> Result<Value, ApiError> {
    serde_json::to_value(rules).map_err(|e| ApiError::internal(e.to_string()))
}
