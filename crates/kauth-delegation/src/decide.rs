//! Where decisions come from: the cluster's SubjectAccessReview, a local `kauth` authorizer
//! (static rules, an RBAC index), or several in order. Unlike `kauth::authz::Authorizer`, a
//! decision may fail (the cluster could not be asked): the layer answers that with a 500, never
//! with an allow.

use kauth::authz::{Attributes, Authorizer, Decision, Reason};
use time::OffsetDateTime;

use crate::access_review::SubjectAccessReviewAuthorizer;
use crate::cluster::ClusterError;

/// Decides requests; `Err` when no decision could be had.
pub trait Decide: Send + Sync {
    /// The decision on `attributes` at `now`.
    fn decide(&self, attributes: &Attributes, now: OffsetDateTime) -> Result<Decision, ClusterError>;

    /// Why `attributes` is not allowed, for operators (bindings, nearest rules and what they
    /// lack), when this decider can say more than its decision's reason; asked only on denial.
    fn explain(&self, _attributes: &Attributes) -> Option<String> {
        None
    }
}

impl Decide for SubjectAccessReviewAuthorizer {
    fn decide(&self, attributes: &Attributes, now: OffsetDateTime) -> Result<Decision, ClusterError> {
        self.review(attributes, now)
    }
}

impl<D: Decide + ?Sized> Decide for std::sync::Arc<D> {
    fn decide(&self, attributes: &Attributes, now: OffsetDateTime) -> Result<Decision, ClusterError> {
        (**self).decide(attributes, now)
    }

    fn explain(&self, attributes: &Attributes) -> Option<String> {
        (**self).explain(attributes)
    }
}

/// A local authorizer (no I/O, never fails).
#[derive(Debug)]
pub struct Local<A>(pub A);

impl<A: Authorizer> Decide for Local<A> {
    fn decide(&self, attributes: &Attributes, _now: OffsetDateTime) -> Result<Decision, ClusterError> {
        Ok(self.0.authorize(attributes))
    }

    fn explain(&self, attributes: &Attributes) -> Option<String> {
        self.0.explain(attributes).map(|e| e.to_string())
    }
}

/// Asks each in order: the first to allow or deny decides; no opinion passes on, as
/// k8s.io/apiserver's authorizer union. A failure stops the walk: kube-apiserver's union
/// returns the error with the decision of none.
#[derive(Default)]
pub struct FirstOf(pub Vec<Box<dyn Decide>>);

impl std::fmt::Debug for FirstOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FirstOf({} deciders)", self.0.len())
    }
}

impl Decide for FirstOf {
    fn decide(&self, attributes: &Attributes, now: OffsetDateTime) -> Result<Decision, ClusterError> {
        let mut reasons = Vec::new();
        for d in &self.0 {
            match d.decide(attributes, now)? {
                Decision::NoOpinion(r) => {
                    if !r.is_empty() {
                        reasons.push(r.to_string());
                    }
                }
                decided => return Ok(decided),
            }
        }
        Ok(Decision::NoOpinion(Reason::Text(reasons.join("\n"))))
    }

    fn explain(&self, attributes: &Attributes) -> Option<String> {
        self.0.iter().find_map(|d| d.explain(attributes))
    }
}

#[cfg(test)]
mod tests {
    use kauth::authz::{Rules, Target};
    use kauth::user::UserInfo;

    use super::*;

    struct Fixed(Decision);
    impl Authorizer for Fixed {
        fn authorize(&self, _: &Attributes) -> Decision {
            self.0.clone()
        }
        fn rules_for(&self, _: &UserInfo, _: &str) -> Rules {
            Rules::default()
        }
    }

    fn attrs() -> Attributes {
        Attributes { user: UserInfo::default(), verb: "get".into(), target: Target::NonResource { path: "/".into() } }
    }

    #[test]
    fn the_first_opinion_decides() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let chain = FirstOf(vec![
            Box::new(Local(Fixed(Decision::NoOpinion(Reason::Text("a".into()))))),
            Box::new(Local(Fixed(Decision::Deny(Reason::Text("b".into()))))),
            Box::new(Local(Fixed(Decision::Allow(Reason::None)))),
        ]);
        assert_eq!(chain.decide(&attrs(), now).unwrap(), Decision::Deny(Reason::Text("b".into())));
        let none = FirstOf(vec![Box::new(Local(Fixed(Decision::NoOpinion(Reason::Text("a".into())))))]);
        assert_eq!(none.decide(&attrs(), now).unwrap(), Decision::NoOpinion(Reason::Text("a".into())));
    }
}
