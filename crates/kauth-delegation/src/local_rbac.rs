//! RBAC decided locally: a copy of the cluster's Roles, ClusterRoles and their bindings in
//! kauth's index (`kauth::rbac::RbacIndex`), kept by list and watch ([`crate::watched`]), so
//! that no request costs a SubjectAccessReview (the load node-exporter-style scrapes put on
//! kube-apiserver). The decisions are the cluster's own RBAC's, word for word, with
//! `system:masters` allowed first as kube-apiserver allows it; other authorizers the cluster
//! may chain (Node, webhooks) are not consulted.
//!
//! A change reaches the copy as its watch event arrives; the index is rebuilt from the copy
//! then (RBAC changes are rare, and rebuilding a few thousand objects takes milliseconds).
//! Staleness is bounded: while a watch is failing the copy ages, and past the configured age
//! it decides nothing (the layer answers 503) until a watch is open again. [`LocalRbac::age`]
//! and [`LocalRbac::objects`] are for the metrics.

use std::sync::{Arc, RwLock, Weak};

use kauth::authz::{Attributes, Authorizer, Decision, PrivilegedGroup, SYSTEM_MASTERS};
use kauth::rbac::load::PolicyDocuments;
use kauth::rbac::RbacIndex;
use time::{Duration, OffsetDateTime};

use crate::cluster::{Cluster, ClusterError};
use crate::decide::Decide;
use crate::watched::{too_old, Watched};

/// The lists copied.
pub const RBAC_LISTS: [&str; 4] = [
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/rbac.authorization.k8s.io/v1/roles",
    "/apis/rbac.authorization.k8s.io/v1/rolebindings",
];

/// A local copy of the cluster's RBAC.
pub struct LocalRbac {
    watched: Arc<Watched>,
    max_age: Duration,
    index: RwLock<Arc<RbacIndex>>,
}

impl std::fmt::Debug for LocalRbac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalRbac({:?}, max age {})", self.watched.cluster(), self.max_age)
    }
}

impl LocalRbac {
    /// A copy of `cluster`'s RBAC, trusted while current and for `max_age` after its watches
    /// fail. Empty (deciding nothing) until listed ([`LocalRbac::start`], [`LocalRbac::relist`]).
    pub fn new(cluster: Cluster, max_age: Duration) -> Self {
        LocalRbac {
            watched: Watched::new(cluster, RBAC_LISTS.to_vec()),
            max_age,
            index: RwLock::new(Arc::new(RbacIndex::new())),
        }
    }

    /// Lists the RBAC objects now, then keeps the copy by watching them on background threads;
    /// how many objects were listed. When the first list fails the watch threads keep trying
    /// (nothing is decided until one succeeds).
    pub fn start(self: &Arc<Self>) -> Result<usize, ClusterError> {
        let listed = self.relist();
        let me: Weak<LocalRbac> = Arc::downgrade(self);
        self.watched.spawn(Arc::new(move || {
            if let Some(me) = me.upgrade() {
                me.rebuild();
            }
        }));
        listed
    }

    /// Lists the cluster's RBAC objects and replaces the copy; how many objects it holds.
    pub fn relist(&self) -> Result<usize, ClusterError> {
        let count = self.watched.list_all()?;
        self.rebuild();
        Ok(count)
    }

    /// Builds the index again from the copy.
    fn rebuild(&self) {
        let mut docs = PolicyDocuments::new();
        for (i, path) in RBAC_LISTS.iter().enumerate() {
            if let Err(e) = docs.parse(path, &self.watched.list_object(i).to_string()) {
                tracing::warn!(path, "local RBAC: an object of the copy is not RBAC, the index keeps the rest: {e}");
            }
        }
        let index = Arc::new(docs.index());
        if let Ok(mut i) = self.index.write() {
            *i = index;
        }
    }

    /// How old the copy is at `now`: zero while current (None: never listed).
    pub fn age(&self, now: OffsetDateTime) -> Option<Duration> {
        self.watched.age(now)
    }

    /// How many objects the copy holds.
    pub fn objects(&self) -> usize {
        self.watched.objects()
    }
}

impl Decide for LocalRbac {
    fn decide(&self, attributes: &Attributes, now: OffsetDateTime) -> Result<Decision, ClusterError> {
        let stale = |problem: String| ClusterError::Unreachable {
            url: self.watched.cluster().server().to_owned(),
            problem,
            reset: false,
        };
        if let Some(problem) =
            too_old(self.age(now), self.max_age, "the local copy of RBAC has never been listed", "RBAC")
        {
            return Err(stale(problem));
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
        l.watched.set_sync_for_tests(t0);
        assert!(!l.decide(&attrs(&[]), t0 + Duration::seconds(60)).unwrap().is_allowed());
        assert!(l.decide(&attrs(&[SYSTEM_MASTERS]), t0 + Duration::seconds(60)).unwrap().is_allowed());
        assert!(l.decide(&attrs(&[SYSTEM_MASTERS]), t0 + Duration::seconds(61)).is_err());
        assert_eq!(l.age(t0 + Duration::seconds(5)), Some(Duration::seconds(5)));
    }

    #[test]
    fn a_denial_is_explained_for_the_log() {
        let l = local();
        l.watched.set_sync_for_tests(OffsetDateTime::UNIX_EPOCH);
        let chain = crate::decide::FirstOf(vec![Box::new(l)]);
        let why = chain.explain(&attrs(&["dev"])).unwrap();
        assert!(why.contains("/metrics"), "{why}");
    }
}
