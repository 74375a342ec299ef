//! The SubjectAccessReview family's specs as [`Attributes`], validated as kube-apiserver
//! validates them (`pkg/apis/authorization/validation`): exactly one of `resourceAttributes` and
//! `nonResourceAttributes`; a SubjectAccessReview names a user or a group; a
//! LocalSubjectAccessReview's namespace is the one in its path.

use std::fmt;

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReviewSpec, SubjectAccessReviewSpec,
};

use super::{Attributes, Target};
use crate::user::UserInfo;

/// A review spec Kubernetes would refuse with 422 Invalid. [`ReviewError::field`] is the field
/// path, [`ReviewError::reason`] the cause's reason, Display the cause's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewError {
    /// Neither `resourceAttributes` nor `nonResourceAttributes`.
    NoAttributes,
    /// Both `resourceAttributes` and `nonResourceAttributes`; carries the non-resource ones.
    BothAttributes {
        /// `nonResourceAttributes.path`.
        path: String,
        /// `nonResourceAttributes.verb`.
        verb: String,
    },
    /// A SubjectAccessReview with neither `user` nor `groups`.
    NoSubject,
    /// A LocalSubjectAccessReview whose `resourceAttributes.namespace` is not the request's.
    NamespaceMismatch {
        /// The spec's namespace (empty when absent).
        spec: String,
        /// The namespace of the request path.
        path: String,
    },
}

impl ReviewError {
    /// The field the error is about (`spec.resourceAttributes`).
    pub fn field(&self) -> &'static str {
        match self {
            ReviewError::NoAttributes => "spec.resourceAttributes",
            ReviewError::BothAttributes { .. } => "spec.nonResourceAttributes",
            ReviewError::NoSubject => "spec.user",
            ReviewError::NamespaceMismatch { .. } => "spec.resourceAttributes.namespace",
        }
    }

    /// The cause's reason, as in a Status (`FieldValueRequired`, `FieldValueInvalid`).
    pub fn reason(&self) -> &'static str {
        match self {
            ReviewError::NoAttributes => "FieldValueRequired",
            _ => "FieldValueInvalid",
        }
    }
}

impl fmt::Display for ReviewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReviewError::NoAttributes => f.write_str(
                "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ),
            // Go's %#v of the internal type, as field.Invalid prints a struct.
            ReviewError::BothAttributes { path, verb } => write!(
                f,
                "Invalid value: authorization.NonResourceAttributes{{Path:{path:?}, Verb:{verb:?}}}: \
                 cannot be specified in combination with resourceAttributes"
            ),
            ReviewError::NoSubject => {
                f.write_str("Invalid value: \"\": at least one of user or group must be specified")
            }
            ReviewError::NamespaceMismatch { spec, .. } => {
                write!(f, "Invalid value: {spec:?}: must match metadata.namespace")
            }
        }
    }
}

impl std::error::Error for ReviewError {}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The verb and target of exactly one of `resource` and `non_resource`.
fn verb_and_target(
    resource: Option<&ResourceAttributes>,
    non_resource: Option<&NonResourceAttributes>,
) -> Result<(String, Target), ReviewError> {
    match (resource, non_resource) {
        (Some(r), None) => Ok((
            text(&r.verb),
            Target::Resource {
                namespace: text(&r.namespace),
                api_group: text(&r.group),
                api_version: text(&r.version),
                resource: text(&r.resource),
                subresource: text(&r.subresource),
                name: text(&r.name),
            },
        )),
        (None, Some(n)) => Ok((text(&n.verb), Target::NonResource { path: text(&n.path) })),
        (Some(_), Some(n)) => Err(ReviewError::BothAttributes { path: text(&n.path), verb: text(&n.verb) }),
        (None, None) => Err(ReviewError::NoAttributes),
    }
}

impl TryFrom<&SubjectAccessReviewSpec> for Attributes {
    type Error = ReviewError;

    /// The subject (user, uid, groups, extra) and the request of a SubjectAccessReview.
    fn try_from(spec: &SubjectAccessReviewSpec) -> Result<Self, ReviewError> {
        let groups = spec.groups.clone().unwrap_or_default();
        let name = text(&spec.user);
        if name.is_empty() && groups.is_empty() {
            return Err(ReviewError::NoSubject);
        }
        let user = UserInfo {
            name,
            uid: text(&spec.uid),
            groups,
            extra: spec.extra.iter().flatten().map(|(k, v)| (k.clone(), v)).collect(),
        };
        let (verb, target) = verb_and_target(spec.resource_attributes.as_ref(), spec.non_resource_attributes.as_ref())?;
        Ok(Attributes { user, verb, target })
    }
}

impl TryFrom<(&SelfSubjectAccessReviewSpec, UserInfo)> for Attributes {
    type Error = ReviewError;

    /// The request of a SelfSubjectAccessReview, asked by `user` (the requesting user).
    fn try_from((spec, user): (&SelfSubjectAccessReviewSpec, UserInfo)) -> Result<Self, ReviewError> {
        let (verb, target) = verb_and_target(spec.resource_attributes.as_ref(), spec.non_resource_attributes.as_ref())?;
        Ok(Attributes { user, verb, target })
    }
}

/// The attributes of a LocalSubjectAccessReview posted in `namespace`: a SubjectAccessReview
/// whose `resourceAttributes.namespace` must be `namespace`.
pub fn local_subject_access_review(spec: &SubjectAccessReviewSpec, namespace: &str) -> Result<Attributes, ReviewError> {
    let ns = spec.resource_attributes.as_ref().and_then(|r| r.namespace.as_deref()).unwrap_or_default();
    if ns != namespace {
        return Err(ReviewError::NamespaceMismatch { spec: ns.to_owned(), path: namespace.to_owned() });
    }
    Attributes::try_from(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> ResourceAttributes {
        ResourceAttributes {
            verb: Some("get".into()),
            resource: Some("pods".into()),
            namespace: Some("team".into()),
            ..ResourceAttributes::default()
        }
    }

    fn non_resource() -> NonResourceAttributes {
        NonResourceAttributes { path: Some("/metrics".into()), verb: Some("get".into()) }
    }

    fn spec(r: Option<ResourceAttributes>, n: Option<NonResourceAttributes>) -> SubjectAccessReviewSpec {
        SubjectAccessReviewSpec {
            user: Some("ann".into()),
            resource_attributes: r,
            non_resource_attributes: n,
            ..SubjectAccessReviewSpec::default()
        }
    }

    #[test]
    fn exactly_one_kind_of_attributes() {
        let a = Attributes::try_from(&spec(Some(resource()), None)).expect("resource");
        assert_eq!(a.verb, "get");
        assert_eq!(a.target.namespace(), "team");
        let a = Attributes::try_from(&spec(None, Some(non_resource()))).expect("non-resource");
        assert_eq!(a.target, Target::NonResource { path: "/metrics".into() });
        let both = Attributes::try_from(&spec(Some(resource()), Some(non_resource()))).expect_err("both");
        assert_eq!(both, ReviewError::BothAttributes { path: "/metrics".into(), verb: "get".into() });
        assert_eq!(both.field(), "spec.nonResourceAttributes");
        assert!(both.to_string().ends_with(": cannot be specified in combination with resourceAttributes"));
        let neither = Attributes::try_from(&spec(None, None)).expect_err("neither");
        assert_eq!(neither, ReviewError::NoAttributes);
        assert_eq!((neither.field(), neither.reason()), ("spec.resourceAttributes", "FieldValueRequired"));
    }

    #[test]
    fn a_subject_access_review_names_someone() {
        let mut s = spec(Some(resource()), None);
        s.user = None;
        assert_eq!(Attributes::try_from(&s), Err(ReviewError::NoSubject));
        s.groups = Some(vec!["devs".into()]);
        s.extra = Some([("scopes".to_string(), vec!["a".to_string()])].into_iter().collect());
        let a = Attributes::try_from(&s).expect("a group is enough");
        assert_eq!(a.user.groups, ["devs"]);
        assert!(a.user.extra.contains_key("scopes"));
    }

    #[test]
    fn self_and_local_reviews() {
        let me = UserInfo { name: "me".into(), ..UserInfo::default() };
        let s = SelfSubjectAccessReviewSpec { resource_attributes: Some(resource()), non_resource_attributes: None };
        assert_eq!(Attributes::try_from((&s, me.clone())).expect("self").user, me);
        let both = SelfSubjectAccessReviewSpec {
            resource_attributes: Some(resource()),
            non_resource_attributes: Some(non_resource()),
        };
        assert!(matches!(Attributes::try_from((&both, me)), Err(ReviewError::BothAttributes { .. })));
        assert!(local_subject_access_review(&spec(Some(resource()), None), "team").is_ok());
        let e = local_subject_access_review(&spec(Some(resource()), None), "other").expect_err("wrong namespace");
        assert_eq!(e.field(), "spec.resourceAttributes.namespace");
        assert_eq!(e.to_string(), "Invalid value: \"team\": must match metadata.namespace");
    }
}
