//! Create, read, update, patch and delete of stored resources, with Kubernetes' semantics:
//! typed decoding, `fieldValidation`, name rules, namespace lifecycle, optimistic concurrency,
//! label and field selectors, and the controllers' synchronous side effects.

use kauth::user::UserInfo;
use serde_json::{json, Map, Value};

use super::{controllers, patch, reviews, Request, Response, State, MAX_BODY_BYTES};
use crate::api::request::RequestInfo;
use crate::api::status::{success_status, ApiError, Cause};
use crate::registry::{Change, Stored};
use crate::resources::{self, meta_str, metadata_mut, ResourceType};

/// Dispatches a resource request (already authorized).
pub fn handle_resource(state: &State, req: &Request, info: &RequestInfo, user: &UserInfo) -> Response {
    match route(state, req, info, user) {
        Ok(r) => r,
        Err(e) => Response::error(&e),
    }
}

fn route(state: &State, req: &Request, info: &RequestInfo, user: &UserInfo) -> Result<Response, ApiError> {
    let rt = resources::find(&info.group, &info.version, &info.resource).ok_or_else(ApiError::no_route)?;
    if !rt.stored {
        if info.verb != "create" || !info.name.is_empty() {
            return Err(ApiError::method_not_allowed());
        }
        return reviews::handle_review(state, req, info, rt, user);
    }
    if !info.subresource.is_empty() {
        return match (rt.plural, info.subresource.as_str(), info.verb.as_str()) {
            ("serviceaccounts", "token", "create") => reviews::token_request(state, req, info),
            ("serviceaccounts", "token", _) => Err(ApiError::method_not_allowed()),
            _ => Err(ApiError::no_route()),
        };
    }
    if rt.namespaced && info.namespace.is_empty() && !matches!(info.verb.as_str(), "list" | "watch") {
        return Err(ApiError::no_route());
    }
    if !rt.namespaced && rt.plural != "namespaces" && !info.namespace.is_empty() {
        return Err(ApiError::no_route());
    }
    match info.verb.as_str() {
        "get" => get(state, req, info, rt),
        "list" => list(state, req, info, rt),
        "create" => create(state, req, info, rt, user),
        "update" => update(state, req, info, rt, user),
        "patch" => patch_object(state, req, info, rt, user),
        "delete" => delete(state, req, info, rt),
        "deletecollection" if rt.plural != "namespaces" => delete_collection(state, req, info, rt),
        "watch" => super::watch::start(state, req, info, rt),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// The request body as JSON (JSON or YAML by Content-Type), or a 400/413/415.
pub fn body_json(req: &Request) -> Result<Value, ApiError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let ct = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/json" | "" | "*/*" => serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))),
        crate::api::protobuf::CONTENT_TYPE => crate::api::protobuf::to_json(&req.body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_norway::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// Decodes a body as `rt`, applying `fieldValidation` (default Warn, as kube-apiserver).
/// Returns the object and the warnings to send.
pub fn decode_checked(req: &Request, rt: &ResourceType, body: Value) -> Result<(Value, Vec<String>), ApiError> {
    let (obj, unknown) = rt.decode(body)?;
    let unknown: Vec<String> = unknown.into_iter().map(|p| format!("unknown field {p:?}")).collect();
    match req.param("fieldValidation").unwrap_or("Warn") {
        "Strict" if !unknown.is_empty() => Err(ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
            rt.kind,
            rt.version,
            rt.kind,
            unknown.join(", ")
        ))),
        "Strict" | "Warn" => Ok((obj, unknown)),
        "Ignore" => Ok((obj, Vec::new())),
        other => Err(ApiError::bad_request(format!(
            "fieldValidation: Invalid value: {other:?}: fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\""
        ))),
    }
}

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        r = r.warn(w);
    }
    r
}

fn get(state: &State, req: &Request, info: &RequestInfo, rt: &'static ResourceType) -> Result<Response, ApiError> {
    let ns = scope_namespace(rt, info);
    let obj =
        state.registry.get(rt, ns, &info.name).ok_or_else(|| ApiError::not_found(rt.group, rt.plural, &info.name))?;
    if wants_table(req) {
        return Ok(Response::json(200, &super::discovery::table(rt, &[obj], state.now(), None)));
    }
    Ok(Response::json(200, &obj.value))
}

/// A parsed label selector requirement (`labelSelector` query parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `k=v`, `k==v`.
    Eq(String, String),
    /// `k!=v`.
    NotEq(String, String),
    /// `k in (a,b)`.
    In(String, Vec<String>),
    /// `k notin (a,b)`.
    NotIn(String, Vec<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    NotExists(String),
}

fn split_selector(s: &str) -> Vec<String> {
    // Commas inside `in (a,b)` do not separate requirements.
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

fn parse_set(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

/// Parses a `labelSelector` (`a=b,c!=d,e in (f,g),!h`); a 400 when malformed.
pub fn parse_label_selector(s: &str) -> Result<Vec<Requirement>, ApiError> {
    let bad = || ApiError::bad_request(format!("unable to parse requirement: invalid label selector {s:?}"));
    split_selector(s)
        .into_iter()
        .map(|r| {
            if let Some((k, v)) = r.split_once("!=") {
                Ok(Requirement::NotEq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = r.split_once("==") {
                Ok(Requirement::Eq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = r.split_once('=') {
                Ok(Requirement::Eq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = r.split_once(" notin ") {
                Ok(Requirement::NotIn(k.trim().into(), parse_set(v).ok_or_else(bad)?))
            } else if let Some((k, v)) = r.split_once(" in ") {
                Ok(Requirement::In(k.trim().into(), parse_set(v).ok_or_else(bad)?))
            } else if let Some(k) = r.strip_prefix('!') {
                Ok(Requirement::NotExists(k.trim().into()))
            } else if r.contains(char::is_whitespace) || r.contains(['(', ')']) {
                Err(bad())
            } else {
                Ok(Requirement::Exists(r))
            }
        })
        .collect()
}

fn matches_labels(obj: &Value, reqs: &[Requirement]) -> bool {
    let label = |k: &str| obj.pointer("/metadata/labels").and_then(|l| l.get(k)).and_then(Value::as_str);
    reqs.iter().all(|r| match r {
        Requirement::Eq(k, v) => label(k) == Some(v.as_str()),
        Requirement::NotEq(k, v) => label(k) != Some(v.as_str()),
        Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::Exists(k) => label(k).is_some(),
        Requirement::NotExists(k) => label(k).is_none(),
    })
}

/// One `fieldSelector` term: a supported field, the value, and whether it is `!=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    field: &'static str,
    value: String,
    negate: bool,
}

/// Parses a `fieldSelector` (`metadata.name=x,type!=y`); a 400 when malformed or unsupported.
pub fn parse_field_selector(selector: &str) -> Result<Vec<FieldTerm>, ApiError> {
    split_selector(selector)
        .into_iter()
        .map(|term| {
            let (field, value, negate) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!("invalid field selector: {term:?}")));
            };
            let field = match field.trim() {
                "metadata.name" => "metadata.name",
                "metadata.namespace" => "metadata.namespace",
                "type" => "type",
                other => return Err(ApiError::bad_request(format!("field label not supported: {other}"))),
            };
            Ok(FieldTerm { field, value: value.trim().to_owned(), negate })
        })
        .collect()
}

fn matches_fields(obj: &Value, terms: &[FieldTerm]) -> bool {
    terms.iter().all(|t| {
        let got = match t.field {
            "metadata.name" => meta_str(obj, "name"),
            "metadata.namespace" => meta_str(obj, "namespace"),
            _ => obj.get("type").and_then(Value::as_str).unwrap_or(""),
        };
        (got == t.value) != t.negate
    })
}

/// A request's label and field selectors, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<FieldTerm>,
}

impl Selector {
    /// From `labelSelector` and `fieldSelector`; a 400 when either is malformed.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        Ok(Selector {
            labels: parse_label_selector(req.param("labelSelector").unwrap_or(""))?,
            fields: parse_field_selector(req.param("fieldSelector").unwrap_or(""))?,
        })
    }

    /// Also requires `metadata.name` (a watch on one object's path).
    pub fn with_name(mut self, name: &str) -> Self {
        if !name.is_empty() {
            self.fields.push(FieldTerm { field: "metadata.name", value: name.to_owned(), negate: false });
        }
        self
    }

    /// Whether `obj` is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        matches_labels(obj, &self.labels) && matches_fields(obj, &self.fields)
    }
}

/// The selected objects and the revision they were read at.
fn select(
    state: &State,
    req: &Request,
    info: &RequestInfo,
    rt: &ResourceType,
) -> Result<(Vec<std::sync::Arc<Stored>>, u64), ApiError> {
    let selector = Selector::from_request(req)?;
    let (mut items, revision) = state.registry.list_at(rt, scope_namespace(rt, info));
    items.retain(|o| selector.matches(&o.value));
    Ok((items, revision))
}

/// The namespace a request on `rt` is scoped to: its namespace for namespaced resources
/// (empty: all namespaces), none for cluster-scoped ones.
pub fn scope_namespace<'a>(rt: &ResourceType, info: &'a RequestInfo) -> &'a str {
    if rt.namespaced {
        info.namespace.as_str()
    } else {
        ""
    }
}

/// Whether the client asked for a `meta.k8s.io` Table (`kubectl get`).
pub fn wants_table(req: &Request) -> bool {
    req.headers.get_all(http::header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|a| a.contains("as=Table"))
}

fn list(state: &State, req: &Request, info: &RequestInfo, rt: &'static ResourceType) -> Result<Response, ApiError> {
    let (items, revision) = select(state, req, info, rt)?;
    if wants_table(req) {
        return Ok(Response::json(200, &super::discovery::table(rt, &items, state.now(), Some(revision))));
    }
    let items: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut v = o.value.clone();
            if let Value::Object(m) = &mut v {
                m.remove("kind");
                m.remove("apiVersion");
            }
            v
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({
            "kind": format!("{}List", rt.kind),
            "apiVersion": rt.api_version(),
            "metadata": {"resourceVersion": revision.to_string()},
            "items": items,
        }),
    ))
}

const GENERATE_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generate_suffix() -> Result<String, ApiError> {
    let mut bytes = [0u8; 5];
    aws_lc_rs::rand::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(bytes.iter().map(|b| GENERATE_CHARS[*b as usize % GENERATE_CHARS.len()] as char).collect())
}

/// A new object's uid.
pub fn new_uid() -> Result<String, ApiError> {
    kauth::token::issue::random_uuid().map_err(ApiError::internal)
}

fn create(
    state: &State,
    req: &Request,
    info: &RequestInfo,
    rt: &'static ResourceType,
    user: &UserInfo,
) -> Result<Response, ApiError> {
    let body = body_json(req)?;
    let (mut obj, warnings) = decode_checked(req, rt, body)?;
    let ns = scope_namespace(rt, info).to_owned();
    {
        let meta = metadata_mut(&mut obj);
        if rt.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(n) if !n.is_empty() && n != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => {
                    meta.insert("namespace".into(), Value::String(ns.clone()));
                }
            }
        } else {
            meta.remove("namespace");
        }
        if meta.get("resourceVersion").and_then(Value::as_str).is_some_and(|s| !s.is_empty()) {
            return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
        }
        let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
        if name.is_empty() {
            match meta.get("generateName").and_then(Value::as_str) {
                Some(g) if !g.is_empty() => {
                    let generated = format!("{g}{}", generate_suffix()?);
                    meta.insert("name".into(), Value::String(generated));
                }
                _ => {
                    return Err(ApiError::invalid(
                        rt.group,
                        rt.kind,
                        "",
                        vec![Cause {
                            reason: "FieldValueRequired",
                            field: "metadata.name".into(),
                            message: "Required value: name or generateName is required".into(),
                        }],
                    ))
                }
            }
        }
        meta.insert("uid".into(), Value::String(new_uid()?));
        meta.insert("creationTimestamp".into(), Value::String(super::timestamp(state.now())));
        for f in ["deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"] {
            meta.remove(f);
        }
    }
    let name = meta_str(&obj, "name").to_owned();
    let causes = resources::name_causes(rt.names, &name);
    if !causes.is_empty() {
        return Err(ApiError::invalid(rt.group, rt.kind, &name, causes));
    }
    if rt.namespaced {
        require_active_namespace(state, &ns)?;
    }
    let mut changes = controllers::prepare_create(state, rt, &mut obj, user)?;
    changes.insert(0, Change::Create(rt, obj.clone()));
    if is_dry_run(req)? {
        return Ok(with_warnings(Response::json(201, &obj), &warnings));
    }
    let out = state.registry.commit(changes)?;
    let created = out.into_iter().next().flatten().ok_or_else(|| ApiError::internal("create returned nothing"))?;
    Ok(with_warnings(Response::json(201, &created.value), &warnings))
}

fn is_dry_run(req: &Request) -> Result<bool, ApiError> {
    match req.param("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => {
            Err(ApiError::bad_request(format!("dryRun: Unsupported value: {other:?}: supported values: \"All\"")))
        }
    }
}

/// 404 if the namespace is missing, 403 if it is being deleted.
pub fn require_active_namespace(state: &State, ns: &str) -> Result<(), ApiError> {
    let nsrt = resources::by_kind("Namespace").ok_or_else(|| ApiError::internal("no namespaces"))?;
    let n = state.registry.get(nsrt, "", ns).ok_or_else(|| ApiError::not_found("", "namespaces", ns))?;
    if n.value.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(ApiError::forbidden(
            "",
            "",
            "",
            &format!("unable to create new content in namespace {ns} because it is being terminated"),
        ));
    }
    Ok(())
}

/// Carries server-owned metadata from `old` into `new` and checks the update is allowed.
fn merge_update(rt: &'static ResourceType, old: &Value, new: &mut Value, name: &str) -> Result<(), ApiError> {
    if meta_str(new, "name") != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta_str(new, "name")
        )));
    }
    let old_meta = old.get("metadata").cloned().unwrap_or_else(|| Value::Object(Map::new()));
    let meta = metadata_mut(new);
    for f in ["uid", "creationTimestamp", "namespace", "deletionTimestamp", "generation"] {
        match old_meta.get(f) {
            Some(v) => meta.insert(f.into(), v.clone()),
            None => meta.remove(f),
        };
    }
    meta.remove("managedFields");
    controllers::validate_update(rt, old, new)
}

fn expected_revision(obj: &Value, current: u64) -> Result<u64, ApiError> {
    match meta_str(obj, "resourceVersion") {
        "" => Ok(current),
        rv => rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))),
    }
}

fn update(
    state: &State,
    req: &Request,
    info: &RequestInfo,
    rt: &'static ResourceType,
    user: &UserInfo,
) -> Result<Response, ApiError> {
    let body = body_json(req)?;
    let (mut obj, warnings) = decode_checked(req, rt, body)?;
    let ns = scope_namespace(rt, info);
    if rt.namespaced {
        match meta_str(&obj, "namespace") {
            "" => {
                metadata_mut(&mut obj).insert("namespace".into(), Value::String(ns.into()));
            }
            n if n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => {}
        }
    }
    let current =
        state.registry.get(rt, ns, &info.name).ok_or_else(|| ApiError::not_found(rt.group, rt.plural, &info.name))?;
    let expected = expected_revision(&obj, current.revision)?;
    merge_update(rt, &current.value, &mut obj, &info.name)?;
    let mut changes = controllers::prepare_update(state, rt, &current.value, &mut obj, user)?;
    changes.insert(0, Change::Update(rt, obj.clone(), expected));
    if is_dry_run(req)? {
        return Ok(with_warnings(Response::json(200, &obj), &warnings));
    }
    let out = state.registry.commit(changes)?;
    let updated = out.into_iter().next().flatten().ok_or_else(|| ApiError::internal("update returned nothing"))?;
    Ok(with_warnings(Response::json(200, &updated.value), &warnings))
}

fn patch_object(
    state: &State,
    req: &Request,
    info: &RequestInfo,
    rt: &'static ResourceType,
    user: &UserInfo,
) -> Result<Response, ApiError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let ct = req.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let kind = patch::PatchKind::from_content_type(ct).ok_or_else(|| ApiError::new_unsupported_patch(ct))?;
    let ns = scope_namespace(rt, info);
    // Patches are re-applied on a fresh read when another write raced them, as kube-apiserver does.
    for _ in 0..5 {
        let current = state
            .registry
            .get(rt, ns, &info.name)
            .ok_or_else(|| ApiError::not_found(rt.group, rt.plural, &info.name))?;
        let patched = patch::apply(kind, &current.value, &req.body)?;
        let (mut obj, warnings) = decode_checked(req, rt, patched)?;
        let precondition = meta_str(&obj, "resourceVersion") != current.revision.to_string();
        let expected = expected_revision(&obj, current.revision)?;
        merge_update(rt, &current.value, &mut obj, &info.name)?;
        let mut changes = controllers::prepare_update(state, rt, &current.value, &mut obj, user)?;
        changes.insert(0, Change::Update(rt, obj.clone(), expected));
        if is_dry_run(req)? {
            return Ok(with_warnings(Response::json(200, &obj), &warnings));
        }
        match state.registry.commit(changes) {
            Ok(out) => {
                let updated =
                    out.into_iter().next().flatten().ok_or_else(|| ApiError::internal("patch returned nothing"))?;
                return Ok(with_warnings(Response::json(200, &updated.value), &warnings));
            }
            Err(e) if e.reason == "Conflict" && !precondition => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(rt.group, rt.plural, &info.name))
}

fn delete_preconditions(req: &Request) -> Result<(Option<String>, Option<u64>), ApiError> {
    if req.body.is_empty() {
        return Ok((None, None));
    }
    let v = body_json(req)?;
    let uid = v.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_owned);
    let rv = match v.pointer("/preconditions/resourceVersion").and_then(Value::as_str) {
        Some(s) => Some(s.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?),
        None => None,
    };
    Ok((uid, rv))
}

fn delete(state: &State, req: &Request, info: &RequestInfo, rt: &'static ResourceType) -> Result<Response, ApiError> {
    let ns = scope_namespace(rt, info);
    let current =
        state.registry.get(rt, ns, &info.name).ok_or_else(|| ApiError::not_found(rt.group, rt.plural, &info.name))?;
    let (uid, rv) = delete_preconditions(req)?;
    if let Some(uid) = uid {
        if uid != meta_str(&current.value, "uid") {
            return Err(ApiError {
                code: 409,
                reason: "Conflict",
                message: format!(
                    "Operation cannot be fulfilled on {} {:?}: Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    if rt.group.is_empty() { rt.plural.to_owned() } else { format!("{}.{}", rt.plural, rt.group) },
                    info.name,
                    meta_str(&current.value, "uid")
                ),
                details: Some(json!({"name": info.name, "group": rt.group, "kind": rt.plural})),
            });
        }
    }
    let mut changes = vec![Change::Delete(rt, ns.to_owned(), info.name.clone(), Some(rv.unwrap_or(current.revision)))];
    changes.extend(controllers::cascade_delete(state, rt, &current.value));
    if is_dry_run(req)? {
        return Ok(Response::json(200, &current.value));
    }
    state.registry.commit(changes)?;
    if rt.plural == "namespaces" {
        let mut v = current.value.clone();
        v["status"]["phase"] = json!("Terminating");
        return Ok(Response::json(200, &v));
    }
    Ok(Response::json(200, &success_status(rt.group, rt.plural, &info.name, meta_str(&current.value, "uid"))))
}

fn delete_collection(
    state: &State,
    req: &Request,
    info: &RequestInfo,
    rt: &'static ResourceType,
) -> Result<Response, ApiError> {
    let (items, _) = select(state, req, info, rt)?;
    let mut changes = Vec::new();
    for o in &items {
        changes.push(Change::Delete(
            rt,
            meta_str(&o.value, "namespace").to_owned(),
            meta_str(&o.value, "name").to_owned(),
            Some(o.revision),
        ));
        changes.extend(controllers::cascade_delete(state, rt, &o.value));
    }
    if !changes.is_empty() && !is_dry_run(req)? {
        state.registry.commit(changes)?;
    }
    let revision = state.registry.revision()?;
    Ok(Response::json(
        200,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": {"resourceVersion": revision.to_string()}, "items": items.iter().map(|o| o.value.clone()).collect::<Vec<_>>()}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors() {
        let o = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        let m = |s: &str| matches_labels(&o, &parse_label_selector(s).unwrap());
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("app in (web,db)"));
        assert!(!m("app notin (web)"));
        assert!(m("!missing"));
        assert!(!m("missing"));
        assert!(parse_label_selector("a b").is_err());
    }

    #[test]
    fn field_selectors() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns"}});
        let fields = |s: &str| parse_field_selector(s).unwrap();
        assert!(matches_fields(&o, &fields("metadata.name=a")));
        assert!(!matches_fields(&o, &fields("metadata.name!=a")));
        assert!(matches_fields(&o, &fields("metadata.namespace==ns,metadata.name=a")));
        assert!(parse_field_selector("spec.x=1").is_err());
        assert!(parse_field_selector("metadata.name").is_err());
    }
}
