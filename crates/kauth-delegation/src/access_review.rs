//! Decisions asked of the cluster: a SubjectAccessReview per distinct question, as
//! kube-apiserver's webhook authorizer and k8s.io/apiserver's delegating authorizer send it,
//! with their cache: allowed answers kept for one TTL, denied and no-opinion answers for
//! another (10 s each by default, as `DelegatingAuthorizationOptions`), failures never.
//!
//! The cache key is the review's spec as JSON (user, groups, extra, uid and attributes): no
//! secret is in it, and two questions share an answer only when they are the same question.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kauth::authz::{Attributes, Decision, Reason, Target};
use time::{Duration, OffsetDateTime};

use crate::cluster::{Cluster, ClusterError};

/// kube-apiserver's delegating default for allowed answers.
pub const DEFAULT_ALLOWED_TTL: Duration = Duration::seconds(10);
/// kube-apiserver's delegating default for denied answers.
pub const DEFAULT_DENIED_TTL: Duration = Duration::seconds(10);
/// Entries kept at most; past it, expired entries are dropped, then the cache is cleared.
pub const MAX_ENTRIES: usize = 100_000;

/// The path SubjectAccessReviews are created at.
pub const SUBJECT_ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

/// The review's spec for `attributes`.
pub fn spec_of(attributes: &Attributes) -> SubjectAccessReviewSpec {
    let user = &attributes.user;
    let extra =
        user.extra.iter().map(|(k, v)| (k.to_owned(), v.to_vec())).collect::<std::collections::BTreeMap<_, _>>();
    let (resource_attributes, non_resource_attributes) = match &attributes.target {
        Target::Resource { namespace, api_group, api_version, resource, subresource, name } => (
            Some(ResourceAttributes {
                namespace: Some(namespace.clone()),
                verb: Some(attributes.verb.clone()),
                group: Some(api_group.clone()),
                version: Some(api_version.clone()),
                resource: Some(resource.clone()),
                subresource: Some(subresource.clone()),
                name: Some(name.clone()),
                ..Default::default()
            }),
            None,
        ),
        Target::NonResource { path } => {
            (None, Some(NonResourceAttributes { path: Some(path.clone()), verb: Some(attributes.verb.clone()) }))
        }
    };
    SubjectAccessReviewSpec {
        user: Some(user.name.clone()),
        uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
        groups: Some(user.groups.clone()),
        extra: (!extra.is_empty()).then_some(extra),
        resource_attributes,
        non_resource_attributes,
    }
}

/// The decision a review's status says.
pub fn decision_of(status: k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus) -> Decision {
    let reason = Reason::Text(status.reason.unwrap_or_default());
    if status.allowed {
        Decision::Allow(reason)
    } else if status.denied == Some(true) {
        Decision::Deny(reason)
    } else {
        Decision::NoOpinion(reason)
    }
}

struct Entry {
    stored: OffsetDateTime,
    expires: OffsetDateTime,
    decision: Decision,
}

/// Asks the cluster's SubjectAccessReview, caching answers.
pub struct SubjectAccessReviewAuthorizer {
    cluster: Cluster,
    allowed_ttl: Duration,
    denied_ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
    stale_for: Duration,
    stale: AtomicU64,
}

impl std::fmt::Debug for SubjectAccessReviewAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SubjectAccessReviewAuthorizer({:?}, allowed {}, denied {})",
            self.cluster, self.allowed_ttl, self.denied_ttl
        )
    }
}

impl SubjectAccessReviewAuthorizer {
    /// Asking `cluster`, keeping allowed answers for `allowed_ttl` and others for `denied_ttl`
    /// (zero: not cached).
    pub fn new(cluster: Cluster, allowed_ttl: Duration, denied_ttl: Duration) -> Self {
        SubjectAccessReviewAuthorizer {
            cluster,
            allowed_ttl,
            denied_ttl,
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stale_for: Duration::ZERO,
            stale: AtomicU64::new(0),
        }
    }

    /// Also answers with a decision stored less than `max_age` ago (expired or not) when the
    /// cluster cannot answer ([`ClusterError::is_unavailable`]).
    pub fn serve_stale(mut self, max_age: Duration) -> Self {
        self.stale_for = max_age;
        self
    }

    /// How many stale decisions were served while the cluster could not answer.
    pub fn stale_served(&self) -> u64 {
        self.stale.load(Ordering::Relaxed)
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    /// The decision on `attributes` at `now`: from the cache, else from the cluster. `Err` when
    /// the cluster could not be asked (never cached).
    pub fn review(&self, attributes: &Attributes, now: OffsetDateTime) -> Result<Decision, ClusterError> {
        let spec = spec_of(attributes);
        let key = serde_json::to_string(&spec).unwrap_or_default();
        if let Some(d) = self.hit(&key, now) {
            return Ok(d);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let review = SubjectAccessReview { spec, ..Default::default() };
        let answer = match self.cluster.create(SUBJECT_ACCESS_REVIEWS, &review, "SubjectAccessReview") {
            Err(e) if e.is_unavailable() && self.stale_for > Duration::ZERO => {
                return self.stale_hit(&key, now).ok_or(e);
            }
            other => other?,
        };
        let decision = decision_of(answer.status.unwrap_or_default());
        self.store(key, now, &decision);
        Ok(decision)
    }

    fn hit(&self, key: &str, now: OffsetDateTime) -> Option<Decision> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key).filter(|e| now < e.expires)?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(e.decision.clone())
    }

    fn stale_hit(&self, key: &str, now: OffsetDateTime) -> Option<Decision> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key).filter(|e| now < e.stored + self.stale_for)?;
        self.stale.fetch_add(1, Ordering::Relaxed);
        Some(e.decision.clone())
    }

    fn store(&self, key: String, now: OffsetDateTime, decision: &Decision) {
        let ttl = if decision.is_allowed() { self.allowed_ttl } else { self.denied_ttl };
        if ttl <= Duration::ZERO && self.stale_for <= Duration::ZERO {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| now < e.expires.max(e.stored + self.stale_for));
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, Entry { stored: now, expires: now + ttl, decision: decision.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use kauth::user::UserInfo;

    use super::*;

    fn attrs(path: &str) -> Attributes {
        Attributes {
            user: UserInfo { name: "alice".into(), groups: vec!["dev".into()], ..Default::default() },
            verb: "get".into(),
            target: Target::NonResource { path: path.into() },
        }
    }

    #[test]
    fn the_spec_carries_the_user_and_one_kind_of_attributes() {
        let spec = spec_of(&attrs("/metrics"));
        assert_eq!(spec.user.as_deref(), Some("alice"));
        assert_eq!(spec.groups, Some(vec!["dev".to_owned()]));
        assert!(spec.resource_attributes.is_none());
        let nr = spec.non_resource_attributes.unwrap();
        assert_eq!((nr.path.as_deref(), nr.verb.as_deref()), (Some("/metrics"), Some("get")));
    }

    #[test]
    fn status_to_decision() {
        use k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus as S;
        assert!(decision_of(S { allowed: true, ..Default::default() }).is_allowed());
        assert!(matches!(decision_of(S { denied: Some(true), ..Default::default() }), Decision::Deny(_)));
        assert!(matches!(decision_of(S::default()), Decision::NoOpinion(_)));
    }

    fn unreachable() -> SubjectAccessReviewAuthorizer {
        let cluster = Cluster::new(crate::cluster::ClusterSettings {
            server: "https://127.0.0.1:1".into(),
            ca_pem: None,
            client_cert: None,
            bearer: None,
            bearer_file: None,
            timeout: std::time::Duration::from_secs(2),
        })
        .unwrap();
        SubjectAccessReviewAuthorizer::new(cluster, Duration::seconds(10), Duration::seconds(5))
    }

    #[test]
    fn answers_are_kept_for_their_ttl_on_the_given_clock() {
        let a = unreachable();
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let key = |p: &str| serde_json::to_string(&spec_of(&attrs(p))).unwrap();
        a.store(key("/ok"), t0, &Decision::Allow(Reason::None));
        a.store(key("/no"), t0, &Decision::NoOpinion(Reason::None));
        // Within both TTLs: no call is made (the cluster is unreachable, so a call would fail).
        assert!(a.review(&attrs("/ok"), t0 + Duration::seconds(9)).unwrap().is_allowed());
        assert!(!a.review(&attrs("/no"), t0 + Duration::seconds(4)).unwrap().is_allowed());
        // The denied TTL is over: the cluster is asked, and fails, uncached.
        assert!(a.review(&attrs("/no"), t0 + Duration::seconds(5)).is_err());
        assert!(a.review(&attrs("/ok"), t0 + Duration::seconds(10)).is_err());
        assert_eq!(a.stats(), (2, 2));
    }

    #[test]
    fn stale_decisions_answer_while_the_cluster_cannot() {
        let a = unreachable().serve_stale(Duration::minutes(5));
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let key = |p: &str| serde_json::to_string(&spec_of(&attrs(p))).unwrap();
        a.store(key("/ok"), t0, &Decision::Allow(Reason::None));
        assert!(a.review(&attrs("/ok"), t0 + Duration::seconds(60)).unwrap().is_allowed());
        assert_eq!(a.stale_served(), 1);
        let late = a.review(&attrs("/ok"), t0 + Duration::minutes(5));
        assert!(late.as_ref().is_err_and(ClusterError::is_unavailable), "{late:?}");
        assert!(a.review(&attrs("/never"), t0).is_err());
    }
}
