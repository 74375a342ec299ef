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
//!
//! This path reads and writes JSON with sonic-rs, serde's data model with SIMD string scanning
//! and escaping, where the rest of the server uses serde_json: a TokenReview's answer echoes its
//! token (about 1 KB), which serde_json escapes byte by byte. A body with a backslash anywhere
//! goes the general way, so that escapes (and lone surrogates among them) are only ever read by
//! serde_json; the tests below hold the two libraries to the same values from the same bodies
//! and to the same bytes from the same values.

use k8s_openapi::api::authentication::v1::TokenReview;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kauth::authz::lent_review;
use serde::de::DeserializeOwned;

use super::review_status::{access_review_status, token_review_status};
use crate::api::body::is_json;
use crate::api::request::{Request, MAX_BODY_BYTES};
use crate::api::resources::ResourceType;
use crate::api::response::Response;
use crate::api::unknown_fields;
use crate::state::State;

/// The answer to a review of kind `rt`, when this path can give it (see the module's docs).
pub fn answer(state: &State, req: &Request, rt: &ResourceType) -> Option<Response> {
    if !is_json(req) || req.body.len() > MAX_BODY_BYTES || req.body.contains(&b'\\') {
        return None;
    }
    if !matches!(req.param("fieldValidation"), None | Some("Ignore" | "Warn" | "Strict")) {
        return None;
    }
    let body = match rt.kind {
        "TokenReview" if rt.version == "v1" => to_json(&token_review(state, decode(&req.body)?)?, req.body.len())?,
        "SubjectAccessReview" if rt.version == "v1" => {
            to_json(&subject_access_review(state, decode(&req.body)?)?, req.body.len())?
        }
        _ => return None,
    };
    Some(Response::json_bytes(201, body))
}

/// The body as `T`, when it decodes with no field left over (an unknown field, even a null one,
/// is the general path's to warn about or ignore) and nothing after it.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let mut de = sonic_rs::Deserializer::from_slice(body);
    let (value, skipped) = unknown_fields::deserialize(&mut de).ok()?;
    de.end().ok()?;
    (!skipped).then_some(value)
}

/// The answer's metadata: the request's name and namespace only, as the general path keeps.
fn answer_metadata(m: ObjectMeta) -> ObjectMeta {
    ObjectMeta { name: m.name, namespace: m.namespace, ..Default::default() }
}

/// The answer's JSON, written into a buffer sized once for it. sonic-rs reserves six bytes for
/// each byte of a string it writes (the most escaping can make of it), so `to_vec`'s first 128
/// bytes grew three to six times per answer, each time copying what was written. An answer
/// echoes its request (`body_len`) and adds a status of at most a few hundred bytes. The size
/// given up front is capped ([`PRESIZED_AT_MOST`]): a large body's answer grows as it is
/// written, and no request makes the server set aside six times its size before it answers.
fn to_json(review: &impl serde::Serialize, body_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(presized(body_len));
    sonic_rs::to_writer(&mut out, review).ok()?;
    Some(out)
}

/// The most [`to_json`] sets aside before writing: room for a review with a token of about
/// 10 KB (service-account and OIDC tokens are 1–2 KB).
const PRESIZED_AT_MOST: usize = 64 * 1024;

fn presized(body_len: usize) -> usize {
    body_len.saturating_mul(6).saturating_add(1024).min(PRESIZED_AT_MOST)
}

fn token_review(state: &State, mut review: TokenReview) -> Option<TokenReview> {
    let token = review.spec.token.as_deref().filter(|t| !t.is_empty())?;
    let audiences = review.spec.audiences.as_deref().unwrap_or_default();
    review.status = Some(token_review_status(state, token, audiences));
    review.metadata = answer_metadata(review.metadata);
    Some(review)
}

fn subject_access_review(state: &State, mut review: SubjectAccessReview) -> Option<SubjectAccessReview> {
    // A review's metadata must be empty (but for a resourceVersion, which is ignored); the
    // general path words the 422. The answer's metadata is empty: it moves out to be looked at.
    let metadata = ObjectMeta { resource_version: None, ..std::mem::take(&mut review.metadata) };
    if metadata != ObjectMeta::default() {
        return None;
    }
    // The spec's strings are lent to the decision and put back for the answer, not copied.
    let attrs = lent_review::lend_subject_access_review(&mut review.spec).ok()?;
    let status = access_review_status(state, &attrs);
    lent_review::give_back(attrs, &mut review.spec);
    review.status = Some(status);
    Some(review)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// What serde_json, the general path's library, makes of `body` on `decode`'s terms.
    fn decode_with_serde_json<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let mut skipped = false;
        let value = serde_ignored::deserialize(&mut de, |_| skipped = true).ok()?;
        de.end().ok()?;
        (!skipped).then_some(value)
    }

    /// Text of every kind: names, quotes, backslashes, control characters, any Unicode.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z:.-]{0,12}", "[\\\\\"\u{0}-\u{1f}\u{7f}a]{0,6}", any::<String>()]
    }

    /// A review body as clients send it, with text of every kind, sometimes an unknown field or a
    /// wrong type, then a few bytes overwritten (which may leave it invalid JSON or UTF-8).
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let review = (text(), text(), prop::collection::vec(text(), 0..3), any::<bool>(), any::<u8>()).prop_map(
            |(a, b, groups, token_review, shape)| {
                let mut v = if token_review {
                    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                        "metadata": {"name": a}, "spec": {"token": b, "audiences": groups}})
                } else {
                    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                        "spec": {"user": a, "groups": groups, "extra": {b.clone(): [b]},
                            "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"}}})
                };
                match shape % 4 {
                    0 => v["spec"]["unknown"] = json!(null),
                    1 => v["metadata"] = json!({"generation": i64::from(shape) - 300}),
                    _ => {}
                }
                serde_json::to_vec(&v).unwrap()
            },
        );
        (review, prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3)).prop_map(
            |(mut body, edits)| {
                for (at, byte) in edits {
                    let i = at.index(body.len());
                    body[i] = byte;
                }
                body
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A body this path decodes (one without a backslash) is one serde_json decodes to the
        /// same value: this path never answers what the general path would refuse or read otherwise.
        #[test]
        fn what_this_path_decodes_serde_json_decodes_alike(mut body in body()) {
            // `answer` sends a body with a backslash the general way: here, none is left.
            body.iter_mut().filter(|b| **b == b'\\').for_each(|b| *b = b'x');
            let fast: Option<TokenReview> = decode(&body);
            if fast.is_some() {
                prop_assert_eq!(fast, decode_with_serde_json::<TokenReview>(&body));
            }
            let fast: Option<SubjectAccessReview> = decode(&body);
            if fast.is_some() {
                prop_assert_eq!(fast, decode_with_serde_json::<SubjectAccessReview>(&body));
            }
        }

        /// Its answers are byte for byte what serde_json writes, whatever the text.
        #[test]
        fn answers_are_the_bytes_serde_json_writes(body in body(), user in text(), reason in text()) {
            if let Some(mut review) = decode_with_serde_json::<TokenReview>(&body) {
                review.status = Some(k8s_openapi::api::authentication::v1::TokenReviewStatus {
                    authenticated: Some(true),
                    user: Some(k8s_openapi::api::authentication::v1::UserInfo {
                        username: Some(user.clone()),
                        groups: Some(vec![reason.clone()]),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                prop_assert_eq!(to_json(&review, body.len()).unwrap(), serde_json::to_vec(&review).unwrap());
            }
            if let Some(mut review) = decode_with_serde_json::<SubjectAccessReview>(&body) {
                review.status = Some(k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus {
                    allowed: true,
                    reason: Some(reason),
                    evaluation_error: Some(user),
                    ..Default::default()
                });
                prop_assert_eq!(to_json(&review, 0).unwrap(), serde_json::to_vec(&review).unwrap());
            }
        }
    }

    #[test]
    fn the_answer_buffer_is_sized_for_the_body_up_to_a_cap() {
        assert_eq!(presized(0), 1024);
        assert_eq!(presized(1000), 7024);
        assert_eq!(presized(MAX_BODY_BYTES), PRESIZED_AT_MOST);
        assert_eq!(presized(usize::MAX), PRESIZED_AT_MOST);
        // A body over the cap is answered all the same: the buffer grows.
        let token = "t".repeat(2 * PRESIZED_AT_MOST);
        let review: TokenReview = serde_json::from_value(
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}),
        )
        .unwrap();
        assert_eq!(to_json(&review, token.len()).unwrap(), serde_json::to_vec(&review).unwrap());
    }

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
