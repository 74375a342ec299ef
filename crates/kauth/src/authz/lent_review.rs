//! A SubjectAccessReview's [`Attributes`] with the spec's strings moved out rather than copied,
//! and put back after the decision ([`lend_subject_access_review`], [`give_back`]).
//!
//! A server answering SubjectAccessReviews builds the attributes of every review it is sent and
//! then echoes the spec in its answer. Copying the spec's strings (user, groups, verb, resource,
//! namespace...) was an allocation each per review; lending them costs none, and the spec
//! comes back exactly as it was, `None` and `Some("")` alike. Validation is the same as
//! `Attributes::try_from(&SubjectAccessReviewSpec)`'s, done before anything is lent.

use k8s_openapi::api::authorization::v1::SubjectAccessReviewSpec;

use super::review::{attribute_errors, checked, subject_errors, InvalidReview};
use super::{Attributes, Target};
use crate::user::UserInfo;

/// The string inside `field`, moved out; `Some("")` stays in its place, so [`put_back`] knows
/// the field was there.
fn lend(field: &mut Option<String>) -> String {
    field.as_mut().map(std::mem::take).unwrap_or_default()
}

/// Returns to `field` what [`lend`] took (nothing was taken from a `None`).
fn put_back(field: &mut Option<String>, lent: String) {
    if let Some(s) = field {
        *s = lent;
    }
}

/// The subject (user, uid, groups, extra) and the request of a SubjectAccessReview, as
/// `Attributes::try_from(&spec)` gives them, with the strings moved out of `spec`; refused
/// (with nothing moved) as that refuses. The extras are copied.
pub fn lend_subject_access_review(spec: &mut SubjectAccessReviewSpec) -> Result<Attributes, InvalidReview> {
    checked(subject_errors(spec))?;
    let (verb, target) = match (spec.resource_attributes.as_mut(), spec.non_resource_attributes.as_mut()) {
        (Some(r), None) => (
            lend(&mut r.verb),
            Target::Resource {
                namespace: lend(&mut r.namespace),
                api_group: lend(&mut r.group),
                api_version: lend(&mut r.version),
                resource: lend(&mut r.resource),
                subresource: lend(&mut r.subresource),
                name: lend(&mut r.name),
            },
        ),
        (None, Some(n)) => (lend(&mut n.verb), Target::NonResource { path: lend(&mut n.path) }),
        // Validation above refuses every other shape; nothing has been moved yet.
        _ => {
            return Err(InvalidReview(attribute_errors(
                spec.resource_attributes.as_ref(),
                spec.non_resource_attributes.as_ref(),
            )))
        }
    };
    let user = UserInfo {
        name: lend(&mut spec.user),
        uid: lend(&mut spec.uid),
        groups: spec.groups.as_mut().map(std::mem::take).unwrap_or_default(),
        extra: spec.extra.iter().flatten().map(|(k, v)| (k.clone(), v)).collect(),
    };
    Ok(Attributes { user, verb, target })
}

/// Puts back into `spec` what [`lend_subject_access_review`] moved out of it into `attrs`.
pub fn give_back(attrs: Attributes, spec: &mut SubjectAccessReviewSpec) {
    let Attributes { user, verb, target } = attrs;
    put_back(&mut spec.user, user.name);
    put_back(&mut spec.uid, user.uid);
    if let Some(groups) = &mut spec.groups {
        *groups = user.groups;
    }
    match (target, spec.resource_attributes.as_mut(), spec.non_resource_attributes.as_mut()) {
        (Target::Resource { namespace, api_group, api_version, resource, subresource, name }, Some(r), _) => {
            put_back(&mut r.verb, verb);
            put_back(&mut r.namespace, namespace);
            put_back(&mut r.group, api_group);
            put_back(&mut r.version, api_version);
            put_back(&mut r.resource, resource);
            put_back(&mut r.subresource, subresource);
            put_back(&mut r.name, name);
        }
        (Target::NonResource { path }, _, Some(n)) => {
            put_back(&mut n.verb, verb);
            put_back(&mut n.path, path);
        }
        // Attributes lent by a spec come back to the same spec: nothing else to restore.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::authorization::v1::{NonResourceAttributes, ResourceAttributes};
    use proptest::prelude::*;

    use super::*;

    /// A field absent, empty or holding text.
    fn field() -> impl Strategy<Value = Option<String>> {
        prop_oneof![Just(None), Just(Some(String::new())), "[a-z:.-]{1,8}".prop_map(Some)]
    }

    fn spec() -> impl Strategy<Value = SubjectAccessReviewSpec> {
        let resource = (field(), field(), field(), field(), field(), field(), field()).prop_map(
            |(verb, namespace, group, version, resource, subresource, name)| ResourceAttributes {
                verb,
                namespace,
                group,
                version,
                resource,
                subresource,
                name,
                ..Default::default()
            },
        );
        let non_resource = (field(), field()).prop_map(|(verb, path)| NonResourceAttributes { verb, path });
        let groups = prop::option::of(prop::collection::vec("[a-z:]{0,6}", 0..3));
        let extra = prop::option::of(prop::collection::btree_map(
            "[a-z./]{1,6}",
            prop::collection::vec("[a-z]{0,4}", 0..2),
            0..2,
        ));
        (prop::option::of(resource), prop::option::of(non_resource), field(), field(), groups, extra).prop_map(
            |(resource_attributes, non_resource_attributes, user, uid, groups, extra)| SubjectAccessReviewSpec {
                resource_attributes,
                non_resource_attributes,
                user,
                uid,
                groups,
                extra,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The lent attributes (or the refusal) are `Attributes::try_from`'s, and the spec comes
        /// back exactly as it was.
        #[test]
        fn lending_gives_what_copying_gives_and_leaves_the_spec_as_it_was(original in spec()) {
            let copied = Attributes::try_from(&original);
            let mut spec = original.clone();
            let lent = lend_subject_access_review(&mut spec);
            prop_assert_eq!(&lent, &copied);
            // A refused spec had nothing moved out of it.
            if let Ok(attrs) = lent {
                give_back(attrs, &mut spec);
            }
            prop_assert_eq!(spec, original);
        }
    }
}
