//! The review APIs and TokenRequest: TokenReview and SelfSubjectReview (authentication.k8s.io),
//! the SubjectAccessReview family (authorization.k8s.io), and `serviceaccounts/<name>/token`.
//! TokenReview calls the token chain directly; it does not fake an HTTP request.

use k8s_openapi::api::authorization::v1::{SelfSubjectAccessReviewSpec, SubjectAccessReviewSpec};
use kauth::authz::{local_subject_access_review, Attributes, InvalidReview, Rules};
use kauth::token::claims::{Binding, ObjectRef};
use kauth::token::issue::{plan_expiration, requested_expiration, BoundTokenSpec, IssueError};
use kauth::user::UserInfo;
use serde_json::{json, Map, Value};

use super::review_status::{access_review_status, token_review_status, user_info};
use crate::api::body::{body_object, decode_checked};
use crate::api::request::Request;
use crate::api::request_info::ResourceRequest;
use crate::api::resources::{self, meta_str, ResourceType, AUTHN_GROUP};
use crate::api::response::Response;
use crate::api::status::{ApiError, Cause};
use crate::state::State;

fn user_json(u: &UserInfo) -> Value {
    serde_json::to_value(user_info(u)).unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// POST to a review resource.
pub fn handle_review(
    state: &State,
    req: &Request,
    info: &ResourceRequest,
    rt: &'static ResourceType,
    user: &UserInfo,
) -> Result<Response, ApiError> {
    if let Some(answer) = super::typed_review::answer(state, req, rt) {
        return Ok(answer);
    }
    let body = body_object(req, rt.kind)?;
    let (mut obj, warnings) = decode_checked(req, rt, body)?;
    if rt.kind == "LocalSubjectAccessReview" {
        namespace_of_request(&obj, &info.namespace)?;
    }
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    let status = match rt.kind {
        "TokenReview" => token_review(state, &spec)?,
        "SelfSubjectReview" => json!({"userInfo": user_json(user)}),
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let spec: SubjectAccessReviewSpec = typed_spec(&spec)?;
            let attrs = if rt.kind == "LocalSubjectAccessReview" {
                local_subject_access_review(&spec, &info.namespace)
            } else {
                Attributes::try_from(&spec)
            };
            access_review(state, validated(rt, attrs, metadata_cause(rt, &obj))?)
        }
        "SelfSubjectAccessReview" => {
            let spec: SelfSubjectAccessReviewSpec = typed_spec(&spec)?;
            let attrs = Attributes::try_from((&spec, user.clone()));
            access_review(state, validated(rt, attrs, metadata_cause(rt, &obj))?)
        }
        "SelfSubjectRulesReview" => {
            let ns = spec.get("namespace").and_then(Value::as_str).unwrap_or("");
            if ns.is_empty() {
                return Err(ApiError::bad_request("no namespace on request"));
            }
            // kube-apiserver answers with a new object: the spec is not echoed.
            obj["spec"] = json!({});
            rules_json(&state.authorizer.rules_for(user, ns))
        }
        _ => return Err(ApiError::no_route()),
    };
    obj["status"] = status;
    if let Some(Value::Object(m)) = obj.get_mut("metadata") {
        m.retain(|k, _| k == "name" || k == "namespace");
    }
    if obj.get("metadata").is_none_or(|m| m.as_object().is_some_and(Map::is_empty)) {
        obj["metadata"] = json!({});
    }
    let mut r = Response::json(201, &obj);
    for w in warnings {
        r = r.warn(&w);
    }
    Ok(r)
}

fn token_review(state: &State, spec: &Value) -> Result<Value, ApiError> {
    let token = spec.get("token").and_then(Value::as_str).unwrap_or("");
    let audiences = strings(spec.get("audiences"));
    if token.is_empty() {
        return Err(ApiError::bad_request("token is required for TokenReview in authentication"));
    }
    serde_json::to_value(token_review_status(state, token, &audiences)).map_err(ApiError::internal)
}

/// A review's spec as its k8s-openapi type; a spec of the wrong shape is a 400.
fn typed_spec<T: serde::de::DeserializeOwned>(spec: &Value) -> Result<T, ApiError> {
    T::deserialize(spec).map_err(|e| ApiError::bad_request(format!("spec: {e}")))
}

/// The 422 Kubernetes answers for an invalid access review spec. kube-apiserver names the kind
/// of the decoded object, whose kind is empty by then: `.authorization.k8s.io "" is invalid`,
/// and no `details.kind`.
fn invalid_review(rt: &ResourceType, e: Option<&InvalidReview>, metadata: Option<Cause>) -> ApiError {
    let mut causes: Vec<Cause> = e
        .map(InvalidReview::errors)
        .unwrap_or_default()
        .iter()
        .map(|e| Cause { reason: e.reason(), field: e.field().into(), message: e.to_string() })
        .collect();
    causes.extend(metadata);
    ApiError::invalid(rt.group, "", "", causes)
}

/// An access review's attributes, or the 422 for its spec's errors and then its metadata's, in
/// kube-apiserver's order.
fn validated(
    rt: &ResourceType,
    attrs: Result<Attributes, InvalidReview>,
    metadata: Option<Cause>,
) -> Result<Attributes, ApiError> {
    match (attrs, metadata) {
        (Ok(a), None) => Ok(a),
        (Ok(_), Some(m)) => Err(invalid_review(rt, None, Some(m))),
        (Err(e), m) => Err(invalid_review(rt, Some(&e), m)),
    }
}

/// An access review's metadata must be empty (a LocalSubjectAccessReview's but for its
/// namespace), as kube-apiserver validates it. kube-apiserver prints the value as Go's `%#v` of
/// its internal ObjectMeta (with pointers and zero times no client can reproduce); kauth prints
/// the fields that were set, as JSON.
fn metadata_cause(rt: &ResourceType, obj: &Value) -> Option<Cause> {
    let mut meta = obj.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
    meta.remove("resourceVersion");
    let local = rt.kind == "LocalSubjectAccessReview";
    if local {
        meta.remove("namespace");
    }
    // Zero values are empty, as Go's DeepEqual against an empty ObjectMeta sees them; kubectl's
    // protobuf bodies carry a zero creationTimestamp, which decodes as the epoch.
    meta.retain(|_, v| match v {
        Value::Null => false,
        Value::String(s) => !(s.is_empty() || s == "1970-01-01T00:00:00Z" || s == "0001-01-01T00:00:00Z"),
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(b) => *b,
    });
    if meta.is_empty() {
        return None;
    }
    let rule = if local { "must be empty except for namespace" } else { "must be empty" };
    Some(Cause {
        reason: "FieldValueInvalid",
        field: "metadata".into(),
        message: format!("Invalid value: {}: {rule}", Value::Object(meta)),
    })
}

/// A namespaced review's `metadata.namespace` must be empty or the request's, as for any create.
fn namespace_of_request(obj: &Value, namespace: &str) -> Result<(), ApiError> {
    match meta_str(obj, "namespace") {
        "" => Ok(()),
        n if n == namespace => Ok(()),
        _ => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
    }
}

fn access_review(state: &State, attrs: Attributes) -> Value {
    serde_json::to_value(access_review_status(state, &attrs)).unwrap_or_default()
}

fn json_nonempty(mut v: Value, field: &str, s: &str) -> Value {
    if !s.is_empty() {
        v[field] = json!(s);
    }
    v
}

fn rules_json(r: &Rules) -> Value {
    let opt = |l: &[String]| if l.is_empty() { None } else { Some(l.to_vec()) };
    let resource_rules: Vec<Value> = r
        .resource_rules
        .iter()
        .map(|x| {
            let mut v = json!({"verbs": x.verbs});
            if let Some(g) = opt(&x.api_groups) {
                v["apiGroups"] = json!(g);
            }
            if let Some(g) = opt(&x.resources) {
                v["resources"] = json!(g);
            }
            if let Some(g) = opt(&x.resource_names) {
                v["resourceNames"] = json!(g);
            }
            v
        })
        .collect();
    let non_resource_rules: Vec<Value> = r
        .non_resource_rules
        .iter()
        .map(|x| json!({"verbs": x.verbs, "nonResourceURLs": x.non_resource_urls}))
        .collect();
    json_nonempty(
        json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": r.incomplete}),
        "evaluationError",
        &r.evaluation_error,
    )
}

/// POST `serviceaccounts/<name>/token`.
pub fn token_request(state: &State, req: &Request, info: &ResourceRequest) -> Result<Response, ApiError> {
    let trt = resources::TOKEN_REQUEST;
    let body = body_object(req, trt.kind)?;
    let (mut obj, _) = decode_checked(req, &trt, body)?;
    // In kube-apiserver's order: the object's namespace (any create's 400), its name and
    // namespace against the URL's (422 naming the service account), the service account, the
    // spec's validation (422 naming nothing), then the bound object.
    let (obj_name, obj_ns) = (meta_str(&obj, "name").to_owned(), meta_str(&obj, "namespace").to_owned());
    if !obj_ns.is_empty() && obj_ns != info.namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if !obj_name.is_empty() && obj_name != info.name {
        return Err(ApiError::invalid(
            AUTHN_GROUP,
            "TokenRequest",
            &info.name,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: format!("Invalid value: {obj_name:?}: must match the service account name if specified"),
            }],
        ));
    }
    let sa_rt = resources::by_kind("", "ServiceAccount").ok_or_else(|| ApiError::internal("no serviceaccounts"))?;
    let sa = state
        .registry
        .get(sa_rt, &info.namespace, &info.name)
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", &info.name))?;
    let sa_uid = sa.names().uid;
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    let audiences = strings(spec.get("audiences"));
    let requested = spec.get("expirationSeconds").and_then(Value::as_i64);
    requested_expiration(requested).map_err(invalid_expiration)?;
    let binding = match spec.get("boundObjectRef").filter(|v| v.is_object()) {
        None => None,
        Some(r) => Some(bound_object(state, info, r)?),
    };
    let pod_bound = matches!(binding, Some(Binding::Pod { .. }));
    let plan = plan_expiration(requested, pod_bound, &audiences, &state.config.api_audiences, state.config.expiration)
        .map_err(invalid_expiration)?;
    let warning = plan.warning.clone();
    let spec_out = BoundTokenSpec {
        namespace: info.namespace.clone(),
        service_account: ObjectRef { name: info.name.clone().into(), uid: sa_uid.into() },
        audiences: audiences.clone(),
        binding,
        jti: None,
    };
    let now = state.now();
    let issued = state
        .keys
        .active()
        .issuer
        .issue_bound(&spec_out, plan, &state.config.api_audiences, now.unix_timestamp())
        .map_err(ApiError::internal)?;
    state.metrics.token_issued("bound");
    let granted = issued.plan.granted;
    obj["spec"]["expirationSeconds"] = json!(granted);
    // kube-apiserver writes the absent reference as null (a pointer without omitempty).
    if obj["spec"].get("boundObjectRef").is_none() {
        obj["spec"]["boundObjectRef"] = Value::Null;
    }
    obj["spec"]["audiences"] = json!(if audiences.is_empty() { state.config.api_audiences.clone() } else { audiences });
    obj["status"] = json!({
        "token": issued.token.as_str(),
        "expirationTimestamp": kauth::timestamp::rfc3339(time::OffsetDateTime::from_unix_timestamp(issued.expiration_timestamp).unwrap_or(now)),
    });
    obj["metadata"] =
        json!({"name": info.name, "namespace": info.namespace, "creationTimestamp": kauth::timestamp::rfc3339(now)});
    let mut r = Response::json(201, &obj);
    if let Some(w) = warning {
        r = r.warn(&w);
    }
    Ok(r)
}

/// A TokenRequest's expirationSeconds refused: kube-apiserver's 422, naming no object.
fn invalid_expiration(e: IssueError) -> ApiError {
    let message = match e {
        IssueError::TooShort(v) => format!("Invalid value: {v}: may not specify a duration less than 10 minutes"),
        IssueError::TooLong(v) => format!("Invalid value: {v}: may not specify a duration larger than 2^32 seconds"),
        other => return ApiError::internal(other),
    };
    ApiError::invalid(
        AUTHN_GROUP,
        "TokenRequest",
        "",
        vec![Cause { reason: "FieldValueInvalid", field: "spec.expirationSeconds".into(), message }],
    )
}

/// The group and version of an `apiVersion` as Go's `schema.ParseGroupVersion` reads it (`None`
/// when it is not one).
fn group_version(api_version: &str) -> Option<(&str, &str)> {
    match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [""] => Some(("", "")),
        [v] => Some(("", v)),
        [g, v] => Some((g, v)),
        _ => None,
    }
}

fn bound_object(state: &State, info: &ResourceRequest, r: &Value) -> Result<Binding<'static>, ApiError> {
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
    let uid = r.get("uid").and_then(Value::as_str).unwrap_or("").to_owned();
    // kube-apiserver looks only at the group (any version of the core group will do).
    let (group, version) = group_version(api_version).unwrap_or(("", ""));
    let (plural, ns) = match (group, kind) {
        ("", "Pod") => ("pods", info.namespace.as_str()),
        ("", "Secret") => ("secrets", info.namespace.as_str()),
        ("", "Node") => ("nodes", ""),
        _ => {
            // Go's GroupVersionKind.String(); an apiVersion that is not one leaves group and version empty.
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )));
        }
    };
    let rt = resources::find("", "v1", plural).ok_or_else(|| ApiError::internal("no such resource"))?;
    let obj = state.registry.get(rt, ns, &name).ok_or_else(|| ApiError::not_found("", plural, &name))?;
    let actual_uid = obj.names().uid;
    if !uid.is_empty() && uid != actual_uid {
        return Err(ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {kind} {name:?}: the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
            details: Some(json!({"name": name, "kind": kind})),
        });
    }
    let oref = ObjectRef { name: name.clone().into(), uid: actual_uid.into() };
    Ok(match kind {
        "Pod" => {
            let pod = obj.value();
            let pod_sa = pod.pointer("/spec/serviceAccountName").and_then(Value::as_str).unwrap_or("default");
            if pod_sa != info.name {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {:?} to pod running with different serviceaccount name.",
                    info.name
                )));
            }
            // A node that does not exist still gives its name (no uid), as in kube-apiserver.
            let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()).map(|n| {
                let uid = resources::find("", "v1", "nodes")
                    .and_then(|nrt| state.registry.get(nrt, "", n))
                    .map(|node| node.names().uid)
                    .unwrap_or_default();
                ObjectRef { name: n.to_owned().into(), uid: uid.into() }
            });
            Binding::Pod { pod: oref, node }
        }
        "Secret" => Binding::Secret(oref),
        _ => Binding::Node(oref),
    })
}
