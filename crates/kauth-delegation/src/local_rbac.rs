//! RBAC decided locally: a copy of the cluster's Roles, ClusterRoles and their bindings in
//! kauth's index (`kauth::rbac::RbacIndex`), relisted every so often, so that no request costs
//! a SubjectAccessReview (the load node-exporter-style scrapes put on kube-apiserver). The
//! decisions are the cluster's own RBAC's, word for word, with `system:masters` allowed first
//! as kube-apiserver allows it; other authorizers the cluster may chain (Node, webhooks) are
//! not consulted.
//!
//! Staleness is bounded: a copy older than the configured age decides nothing (the layer
//! answers 503) until a relist succeeds. [`LocalRbac::age`] is for the metrics.
//!
//! The copy is relisted whole, not watched: simpler, and at the sizes of real policies (a few
//! thousand objects) a list every few seconds is cheap; a change reaches it within one period.

use std::sync::{Arc, Mutex, RwLock};

use kauth::authz::{Attributes, Authorizer, Decision, PrivilegedGroup, SYSTEM_MASTERS};
use kauth::rbac::load::PolicyDocuments;
use kauth::rbac::RbacIndex;
use time::{Duration, OffsetDateTime};

use crate::cluster::{Cluster, ClusterError};
use crate::decide::Decide;

/// The lists read at each relist.
pub const RBAC_LISTS: [&str; 4] = [
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/rbac.authorization.k8s.io/v1/roles",
    "/apis/rbac.authorization.k8s.io/v1/rolebindings",
];

/// A local copy of the cluster's RBAC.
pub struct LocalRbac {
    cluster: Cluster,
    max_age: Duration,
    index: RwLock<Arc<RbacIndex>>,
    synced: Mutex<Option<(OffsetDateTime, usize)>>,
}

impl std::fmt::Debug for LocalRbac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalRbac({:?}, max age {})", self.cluster, self.max_age)
    }
}

impl LocalRbac {
    /// A copy of `cluster`'s RBAC, trusted for `max_age` after each successful relist. Empty
    /// (deciding nothing) until [`LocalRbac::relist`] succeeds.
    pub fn new(cluster: Cluster, max_age: Duration) -> Self {
        LocalRbac { cluster, max_age, index: RwLock::new(Arc::new(RbacIndex::new())), synced: Mutex::new(None) }
    }

    /// Lists the cluster's RBAC objects and replaces the copy; `now` is when the lists began.
    /// Returns how many objects it holds.
    pub fn relist(&self, now: OffsetDateTime) -> Result<usize, ClusterError> {
        let mut docs = PolicyDocuments::new();
        for path in RBAC_LISTS {
            let list: serde_json::Value = self.cluster.get(path, "List")?;
            docs.parse(path, &list.to_string()).map_err(|e| ClusterError::Decode {
                url: format!("{}{path}", self.cluster.server()),
                kind: "RBAC list",
                problem: e.to_string(),
            })?;
        }
        let count = docs.len();
        let index = Arc::new(docs.index());
        if let Ok(mut i) = self.index.write() {
            *i = index;
        }
        if let Ok(mut s) = self.synced.lock() {
            *s = Some((now, count));
        }
        Ok(count)
    }

    /// How old the copy is at `now` (None: never listed).
    pub fn age(&self, now: OffsetDateTime) -> Option<Duration> {
        self.synced.lock().ok()?.map(|(at, _)| now - at)
    }

    /// How many objects the copy holds.
    pub fn objects(&self) -> usize {
        self.synced.lock().ok().and_then(|s| s.map(|(_, n)| n)).unwrap_or(0)
    }
}

impl Decide for LocalRbac {
    fn decide(&self, attributes: &Attributes, now: OffsetDateTime) -> Result<Decision, ClusterError> {
        let stale = |problem: String| ClusterError::Unreachable {
            url: self.cluster.server().to_owned(),
            problem,
            reset: false,
        };
        match self.age(now) {
            None => return Err(stale("the local copy of RBAC has never been listed".into())),
            Some(age) if age > self.max_age => {
                return Err(stale(format!(
                    "the local copy of RBAC was listed {} s ago, more than the allowed {} s",
                    age.whole_seconds(),
                    self.max_age.whole_seconds()
                )))
            }
            Some(_) => {}
        }
        let masters = PrivilegedGroup(SYSTEM_MASTERS.into()).authorize(attributes);
        if masters.is_allowed() {
            return Ok(masters);
        }
        let index = self.index.read().map(|i| i.clone()).map_err(|_| stale("the local copy is poisoned".into()))?;
        Ok(index.authorize(attributes))
    }

    fn explain(&self, attributes: &Attributes) -> Option<String> {
        let index = self.index.read().ok()?.clone();
        index.explain(attributes).map(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use kauth::authz::Target;
    use kauth::user::UserInfo;

    use super::*;

    fn local() -> LocalRbac {
        let cluster = Cluster::new(crate::cluster::ClusterSettings {
            server: "https://127.0.0.1:1".into(),
            ca_pem: None,
            client_cert: None,
            bearer: None,
            bearer_file: None,
            timeout: std::time::Duration::from_secs(2),
        })
        .unwrap();
        LocalRbac::new(cluster, Duration::seconds(60))
    }

    fn attrs(groups: &[&str]) -> Attributes {
        Attributes {
            user: UserInfo {
                name: "u".into(),
                groups: groups.iter().map(|g| (*g).to_owned()).collect(),
                ..Default::default()
            },
            verb: "get".into(),
            target: Target::NonResource { path: "/metrics".into() },
        }
    }

    #[test]
    fn a_copy_never_listed_or_too_old_decides_nothing() {
        let l = local();
        let t0 = OffsetDateTime::UNIX_EPOCH;
        assert!(l.decide(&attrs(&[]), t0).is_err_and(|e| e.is_unavailable()));
        *l.synced.lock().unwrap() = Some((t0, 0));
        assert!(!l.decide(&attrs(&[]), t0 + Duration::seconds(60)).unwrap().is_allowed());
        assert!(l.decide(&attrs(&[SYSTEM_MASTERS]), t0 + Duration::seconds(60)).unwrap().is_allowed());
        assert!(l.decide(&attrs(&[SYSTEM_MASTERS]), t0 + Duration::seconds(61)).is_err());
        assert_eq!(l.age(t0 + Duration::seconds(5)), Some(Duration::seconds(5)));
    }

    #[test]
    fn a_denial_is_explained_for_the_log() {
        let l = local();
        *l.synced.lock().unwrap() = Some((OffsetDateTime::UNIX_EPOCH, 0));
        let chain = crate::decide::FirstOf(vec![Box::new(l)]);
        let why = chain.explain(&attrs(&["dev"])).unwrap();
        assert!(why.contains("/metrics"), "{why}");
    }
}
