//! The two reviews other servers send on every request they serve — TokenReview (a webhook
//! token authenticator's question) and SubjectAccessReview (a webhook authorizer's) — read from
//! their JSON straight into their k8s-openapi types and answered from them: one parse and one
//! serialization, where the general path (`handle_review` in `reviews.rs`) parses the body
//! into a `Value`, takes it through the type and back to find the fields the type lacks, and
//! builds its answer as another `Value`.
//!
//! Only a body this path answers exactly as the general one would is answered here: JSON, within
//! the size limit, of the right kind, every field known to its type (so no warning to word), a
//! valid `fieldValidation`, and a spec the general path would not refuse. Anything else — and
//! every refusal — goes the general way, so errors, warnings and their texts have one home.

use k8s_openapi::api::authentication::v1::TokenReview;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kauth::authz::Attributes;
use serde::de::DeserializeOwned;

use super::review_status::{access_review_status, token_review_status};
use crate::api::body::is_json;
use crate::api::request::{Request, MAX_BODY_BYTES};
use crate::api::resources::ResourceType;
use crate::api::response::Response;
use crate::state::State;

/// The answer to a review of kind `rt`, when this path can give it (see the module's docs).
pub fn answer(state: &State, req: &Request, rt: &ResourceType) -> Option<Response> {
    if !is_json(req) || req.body.len() > MAX_BODY_BYTES {
        return None;
    }
    if !matches!(req.param("fieldValidation"), None | Some("Ignore" | "Warn" | "Strict")) {
        return None;
    }
    let body = match rt.kind {
        "TokenReview" if rt.version == "v1" => token_review(state, decode(&req.body)?)?,
        "SubjectAccessReview" if rt.version == "v1" => subject_access_review(state, decode(&req.body)?)?,
        _ => return None,
    };
    Some(Response::json_bytes(201, body))
}

/// The body as `T`, when it decodes with no field left over (an unknown field, even a null one,
/// is the general path's to warn about or ignore) and nothing after it.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut skipped = false;
    let value = serde_ignored::deserialize(&mut de, |_| skipped = true).ok()?;
    de.end().ok()?;
    (!skipped).then_some(value)
}

/// The answer's metadata: the request's name and namespace only, as the general path keeps.
fn answer_metadata(m: ObjectMeta) -> ObjectMeta {
    ObjectMeta { name: m.name, namespace: m.namespace, ..Default::default() }
}

fn token_review(state: &State, mut review: TokenReview) -> Option<Vec<u8>> {
    let token = review.spec.token.as_deref().filter(|t| !t.is_empty())?;
    let audiences = review.spec.audiences.as_deref().unwrap_or_default();
    review.status = Some(token_review_status(state, token, audiences));
    review.metadata = answer_metadata(review.metadata);
    serde_json::to_vec(&review).ok()
}

fn subject_access_review(state: &State, mut review: SubjectAccessReview) -> Option<Vec<u8>> {
    // A review's metadata must be empty (but for a resourceVersion, which is ignored); the
    // general path words the 422.
    let metadata = ObjectMeta { resource_version: None, ..review.metadata.clone() };
    if metadata != ObjectMeta::default() {
        return None;
    }
    let attrs = Attributes::try_from(&review.spec).ok()?;
    review.status = Some(access_review_status(state, &attrs));
    review.metadata = ObjectMeta::default();
    serde_json::to_vec(&review).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_body_with_every_field_known_decodes_here() {
        let clean = br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","metadata":{"creationTimestamp":null},"spec":{"token":"t","audiences":["a"]}}"#;
        let review: TokenReview = decode(clean).unwrap();
        assert_eq!(review.spec.token.as_deref(), Some("t"));
        for other in [
            // An unknown field, at the top, in the spec, or null.
            &br#"{"kind":"TokenReview","spec":{"token":"t"},"extra":1}"#[..],
            br#"{"kind":"TokenReview","spec":{"token":"t","tokenz":"u"}}"#,
            br#"{"kind":"TokenReview","spec":{"token":"t"},"x":null}"#,
            // Another kind or version, a wrong type, trailing text, not JSON.
            br#"{"kind":"SubjectAccessReview","spec":{"token":"t"}}"#,
            br#"{"apiVersion":"authentication.k8s.io/v1beta1","spec":{"token":"t"}}"#,
            br#"{"spec":{"token":7}}"#,
            br#"{"spec":{"token":"t"}} {}"#,
            br#"{"spec":"#,
        ] {
            assert!(decode::<TokenReview>(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
    }
}
