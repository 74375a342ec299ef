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

/// One reason Kubernetes refuses a review spec with 422 Invalid. [`ReviewError::field`] is the
/// field path, [`ReviewError::reason`] the cause's reason, Display the cause's message.
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
    /// A LocalSubjectAccessReview with `nonResourceAttributes` (they have no namespace).
    NonResourceInNamespace {
        /// `nonResourceAttributes.path`.
        path: String,
        /// `nonResourceAttributes.verb`.
        verb: String,
    },
}

impl ReviewError {
    /// The field the error is about (`spec.resourceAttributes`).
    pub fn field(&self) -> &'static str {
        match self {
            ReviewError::NoAttributes => "spec.resourceAttributes",
            ReviewError::BothAttributes { .. } | ReviewError::NonResourceInNamespace { .. } => {
                "spec.nonResourceAttributes"
            }
            ReviewError::NoSubject => "spec.user",
            ReviewError::NamespaceMismatch { .. } => "spec.resourceAttributes.namespace",
        }
    }

    /// The cause's reason, as in a Status: kube-apiserver reports each as `FieldValueInvalid`.
    pub fn reason(&self) -> &'static str {
        "FieldValueInvalid"
    }
}

/// Go's `%#v` of kube-apiserver's internal `NonResourceAttributes`, as `field.Invalid` prints it.
fn go_non_resource(path: &str, verb: &str) -> String {
    format!("authorization.NonResourceAttributes{{Path:{path:?}, Verb:{verb:?}}}")
}

impl fmt::Display for ReviewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The value kube-apiserver prints is the absent nonResourceAttributes: "null".
            ReviewError::NoAttributes => f.write_str(
                "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ),
            ReviewError::BothAttributes { path, verb } => write!(
                f,
                "Invalid value: {}: cannot be specified in combination with resourceAttributes",
                go_non_resource(path, verb)
            ),
            ReviewError::NoSubject => {
                f.write_str("Invalid value: \"\": at least one of user or group must be specified")
            }
            ReviewError::NamespaceMismatch { spec, .. } => {
                write!(f, "Invalid value: {spec:?}: must match metadata.namespace")
            }
            ReviewError::NonResourceInNamespace { path, verb } => {
                write!(f, "Invalid value: {}: disallowed on this kind of request", go_non_resource(path, verb))
            }
        }
    }
}

impl std::error::Error for ReviewError {}

/// A review spec Kubernetes refuses: every reason, in the order kube-apiserver's validation finds
/// them (never empty). Display is `<field>: <message>`, several in brackets, as in a Status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidReview(pub(super) Vec<ReviewError>);

impl InvalidReview {
    /// The reasons, in kube-apiserver's order.
    pub fn errors(&self) -> &[ReviewError] {
        &self.0
    }
}

impl fmt::Display for InvalidReview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(|e| format!("{}: {e}", e.field())).collect();
        match list.as_slice() {
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

impl std::error::Error for InvalidReview {}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The attribute errors of a spec (`ValidateSubjectAccessReviewSpec`'s first two checks).
pub(super) fn attribute_errors(
    resource: Option<&ResourceAttributes>,
    non_resource: Option<&NonResourceAttributes>,
) -> Vec<ReviewError> {
    match (resource, non_resource) {
        (Some(_), Some(n)) => vec![ReviewError::BothAttributes { path: text(&n.path), verb: text(&n.verb) }],
        (None, None) => vec![ReviewError::NoAttributes],
        _ => Vec::new(),
    }
}

/// A SubjectAccessReview spec's errors, in kube-apiserver's order.
pub(super) fn subject_errors(spec: &SubjectAccessReviewSpec) -> Vec<ReviewError> {
    let mut errors = attribute_errors(spec.resource_attributes.as_ref(), spec.non_resource_attributes.as_ref());
    if spec.user.as_deref().unwrap_or_default().is_empty() && spec.groups.as_ref().is_none_or(Vec::is_empty) {
        errors.push(ReviewError::NoSubject);
    }
    errors
}

/// The verb and target of a spec with exactly one of `resource` and `non_resource`.
fn verb_and_target(
    resource: Option<&ResourceAttributes>,
    non_resource: Option<&NonResourceAttributes>,
) -> Result<(String, Target), InvalidReview> {
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
        _ => Err(InvalidReview(attribute_errors(resource, non_resource))),
    }
}

pub(super) fn checked(errors: Vec<ReviewError>) -> Result<(), InvalidReview> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(InvalidReview(errors))
    }
}

/// The subject of a valid SubjectAccessReview spec and its request.
fn subject_attributes(spec: &SubjectAccessReviewSpec) -> Result<Attributes, InvalidReview> {
    let user = UserInfo {
        name: text(&spec.user),
        uid: text(&spec.uid),
        groups: spec.groups.clone().unwrap_or_default(),
        extra: spec.extra.iter().flatten().map(|(k, v)| (k.clone(), v)).collect(),
    };
    let (verb, target) = verb_and_target(spec.resource_attributes.as_ref(), spec.non_resource_attributes.as_ref())?;
    Ok(Attributes { user, verb, target })
}

impl TryFrom<&SubjectAccessReviewSpec> for Attributes {
    type Error = InvalidReview;

    /// The subject (user, uid, groups, extra) and the request of a SubjectAccessReview.
    fn try_from(spec: &SubjectAccessReviewSpec) -> Result<Self, InvalidReview> {
        checked(subject_errors(spec))?;
        subject_attributes(spec)
    }
}

impl TryFrom<(&SelfSubjectAccessReviewSpec, UserInfo)> for Attributes {
    type Error = InvalidReview;

    /// The request of a SelfSubjectAccessReview, asked by `user` (the requesting user).
    fn try_from((spec, user): (&SelfSubjectAccessReviewSpec, UserInfo)) -> Result<Self, InvalidReview> {
        let (verb, target) = verb_and_target(spec.resource_attributes.as_ref(), spec.non_resource_attributes.as_ref())?;
        Ok(Attributes { user, verb, target })
    }
}

/// The attributes of a LocalSubjectAccessReview posted in `namespace`: a SubjectAccessReview
/// whose `resourceAttributes.namespace` must be `namespace` and that has no
/// `nonResourceAttributes`.
pub fn local_subject_access_review(
    spec: &SubjectAccessReviewSpec,
    namespace: &str,
) -> Result<Attributes, InvalidReview> {
    let mut errors = subject_errors(spec);
    if let Some(r) = &spec.resource_attributes {
        let ns = r.namespace.as_deref().unwrap_or_default();
        if ns != namespace {
            errors.push(ReviewError::NamespaceMismatch { spec: ns.to_owned(), path: namespace.to_owned() });
        }
    }
    if let Some(n) = &spec.non_resource_attributes {
        errors.push(ReviewError::NonResourceInNamespace { path: text(&n.path), verb: text(&n.verb) });
    }
    checked(errors)?;
    subject_attributes(spec)
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
        assert_eq!(both.errors(), [ReviewError::BothAttributes { path: "/metrics".into(), verb: "get".into() }]);
        assert_eq!(
            both.to_string(),
            "spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes{Path:\"/metrics\", \
             Verb:\"get\"}: cannot be specified in combination with resourceAttributes"
        );
        let neither = Attributes::try_from(&spec(None, None)).expect_err("neither");
        assert_eq!(neither.errors(), [ReviewError::NoAttributes]);
        assert_eq!(
            (neither.errors()[0].field(), neither.errors()[0].reason()),
            ("spec.resourceAttributes", "FieldValueInvalid")
        );
    }

    #[test]
    fn a_subject_access_review_names_someone() {
        let mut s = spec(Some(resource()), None);
        s.user = None;
        assert_eq!(Attributes::try_from(&s).expect_err("no one").errors(), [ReviewError::NoSubject]);
        // Every reason at once, in kube-apiserver's order, several in brackets.
        let nothing = Attributes::try_from(&SubjectAccessReviewSpec::default()).expect_err("nothing");
        assert_eq!(nothing.errors(), [ReviewError::NoAttributes, ReviewError::NoSubject]);
        assert!(nothing.to_string().starts_with("[spec.resourceAttributes: Invalid value: \"null\": "), "{nothing}");
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
        let e = Attributes::try_from((&both, me)).expect_err("both");
        assert!(matches!(e.errors(), [ReviewError::BothAttributes { .. }]));
        assert!(local_subject_access_review(&spec(Some(resource()), None), "team").is_ok());
        let e = local_subject_access_review(&spec(Some(resource()), None), "other").expect_err("wrong namespace");
        assert_eq!(
            e.to_string(),
            "spec.resourceAttributes.namespace: Invalid value: \"team\": must match metadata.namespace"
        );
        let e = local_subject_access_review(&spec(None, Some(non_resource())), "team").expect_err("no URLs");
        assert_eq!(e.errors(), [ReviewError::NonResourceInNamespace { path: "/metrics".into(), verb: "get".into() }]);
        assert!(e.to_string().ends_with("}: disallowed on this kind of request"), "{e}");
    }
}
