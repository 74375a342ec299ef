//! Create, read, update, patch and delete of stored resources, with Kubernetes' semantics:
//! typed decoding, `fieldValidation`, name rules, namespace lifecycle, optimistic concurrency,
//! label and field selectors, and the controllers' synchronous side effects.

use kauth::user::UserInfo;
use serde_json::{json, Map, Value};

use super::list_body::{Form, ListBody};
use super::{patch, reviews};
use std::time::Duration;

use crate::api::body::{body_json, body_object, decode_checked};
use crate::api::continue_token;
use crate::api::list_options::{ListOptions, ListRead};
use crate::api::meta::{generate_suffix, new_uid};
use crate::api::request::{wants_table, Request, MAX_BODY_BYTES};
use crate::api::request_info::ResourceRequest;
use crate::api::resources::scope_namespace;
use crate::api::resources::{self, meta_str, metadata_mut, ResourceType};
use crate::api::response::Response;
use crate::api::selector::Selector;
use crate::api::status::{success_status, ApiError, Cause};
use crate::controllers;
use crate::controllers::garbage_collector::{self, Propagation};
use crate::registry::{Change, PageError, Stored};
use crate::state::State;

/// Dispatches a resource request (already authorized).
pub fn handle_resource(state: &State, req: &Request, info: &ResourceRequest, user: &UserInfo) -> Response {
    match route(state, req, info, user) {
        Ok(r) => r,
        Err(e) => Response::error(&e),
    }
}

fn route(state: &State, req: &Request, info: &ResourceRequest, user: &UserInfo) -> Result<Response, ApiError> {
    let rt = resources::find(&info.group, &info.version, &info.resource).ok_or_else(ApiError::no_route)?;
    if rt.serving == resources::Serving::Unserved {
        return Err(super::subresources::unserved_resource(rt));
    }
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
            _ => super::subresources::handle(state, req, info, rt),
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

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        r = r.warn(w);
    }
    r
}

fn get(state: &State, req: &Request, info: &ResourceRequest, rt: &'static ResourceType) -> Result<Response, ApiError> {
    let ns = scope_namespace(rt, info);
    let obj =
        state.registry.get(rt, ns, &info.name).ok_or_else(|| ApiError::not_found(rt.group, rt.plural, &info.name))?;
    if wants_table(req) {
        return Ok(Response::json(200, &super::discovery::table(rt, &[obj], state.now(), None)));
    }
    Ok(Response::json_bytes(200, obj.to_json()))
}

/// The selected objects and the revision they were read at.
fn select(
    state: &State,
    req: &Request,
    info: &ResourceRequest,
    rt: &ResourceType,
) -> Result<(Vec<std::sync::Arc<Stored>>, u64), ApiError> {
    let selector = Selector::from_request(req)?;
    let (mut items, revision) = state.registry.list_at(rt, scope_namespace(rt, info));
    items.retain(|o| o.selected_by(&selector));
    Ok((items, revision))
}

/// How long a list waits for a resourceVersion newer than the mirror (kube-apiserver's watch
/// cache waits as long).
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

/// kube-apiserver's text when a continue token's revision was compacted away (its etcd3 store).
const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// Lists as kube-apiserver does: paged by `limit` and `continue` after filtering by the
/// selectors, at the revision `resourceVersion`/`resourceVersionMatch` or the continue token
/// ask for (see [`ListOptions`]). A continued list reads the state at its first page's
/// revision, rebuilt from the change history; a revision the history no longer reaches is
/// `410 Expired` with a token that continues at the latest revision instead.
fn list(state: &State, req: &Request, info: &ResourceRequest, rt: &'static ResourceType) -> Result<Response, ApiError> {
    let prefix = rt.prefix(scope_namespace(rt, info));
    let opts = ListOptions::from_request(req, &prefix)?;
    let selector = Selector::from_request(req)?;
    let registry = &state.registry;
    let (start, revision, limit) = match &opts.read {
        ListRead::Latest => (prefix.clone(), None, opts.limit),
        ListRead::Any => (prefix.clone(), None, None),
        ListRead::NotOlderThan(n) => {
            if !registry.wait_for_revision(*n, FRESHNESS_WAIT) {
                return Err(ApiError::too_large_resource_version(*n, registry.applied_revision()));
            }
            (prefix.clone(), None, opts.limit)
        }
        ListRead::Exact(n) => (prefix.clone(), Some(*n), opts.limit),
        ListRead::Continue(c) => (c.key.clone(), u64::try_from(c.revision).ok(), opts.limit),
    };
    let read =
        || registry.list_page(&prefix, &start, revision, limit, |o| o.selected_by(&selector), selector.is_empty());
    let page = match read() {
        // Another replica, a little ahead, issued the token (or it asked for the future).
        Err(PageError::Future { requested, .. }) if registry.wait_for_revision(requested, FRESHNESS_WAIT) => read(),
        other => other,
    };
    let page = match (page, &opts.read) {
        (Ok(page), _) => page,
        (Err(PageError::TooOld(_)), ListRead::Continue(c)) => {
            let mut status = ApiError::expired(INCONSISTENT_CONTINUE).to_status();
            status["metadata"]["continue"] = json!(continue_token::encode(&c.key, &prefix, -1));
            return Ok(Response::json(410, &status));
        }
        (Err(PageError::TooOld(_)), _) => {
            return Err(ApiError::expired("The resourceVersion for the provided list is too old."))
        }
        (Err(PageError::Future { .. }), _) => {
            return Err(ApiError::bare("etcdserver: mvcc: required revision is a future revision"))
        }
    };
    let token =
        page.last_key.as_deref().map(|k| continue_token::encode(&format!("{k}\0"), &prefix, page.revision as i64));
    let (mut envelope, items_field, form) = if wants_table(req) {
        (super::discovery::table_envelope(rt, Some(page.revision)), "rows", Form::TableRow(rt, state.now()))
    } else {
        let mut envelope = Map::new();
        envelope.insert("kind".into(), json!(format!("{}List", rt.kind)));
        envelope.insert("apiVersion".into(), json!(rt.api_version()));
        envelope.insert("metadata".into(), json!({"resourceVersion": page.revision.to_string()}));
        (envelope, "items", Form::Object)
    };
    if let Some(Value::Object(meta)) = envelope.get_mut("metadata") {
        if let Some(token) = token {
            meta.insert("continue".into(), json!(token));
        }
        if let Some(n) = page.remaining {
            meta.insert("remainingItemCount".into(), json!(n));
        }
    }
    Ok(ListBody::new(envelope, items_field, page.items, form).into_response())
}

fn create(
    state: &State,
    req: &Request,
    info: &ResourceRequest,
    rt: &'static ResourceType,
    user: &UserInfo,
) -> Result<Response, ApiError> {
    let body = body_object(req, rt.kind)?;
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
        meta.insert("creationTimestamp".into(), Value::String(kauth::timestamp::rfc3339(state.now())));
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
    if is_dry_run(req)? {
        return Ok(with_warnings(Response::json(201, &obj), &warnings));
    }
    changes.insert(0, Change::Create(rt, obj));
    let out = state.registry.commit(changes)?;
    controllers::after_write(state, rt, &ns);
    let created = out.into_iter().next().flatten().ok_or_else(|| ApiError::internal("create returned nothing"))?;
    Ok(with_warnings(Response::json_bytes(201, created.to_json()), &warnings))
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
    let nsrt = resources::by_kind("", "Namespace").ok_or_else(|| ApiError::internal("no namespaces"))?;
    let n = state.registry.get(nsrt, "", ns).ok_or_else(|| ApiError::not_found("", "namespaces", ns))?;
    if n.object_state().deletion_timestamp.is_some() {
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
    // As kube-apiserver's strategies: where a `status` subresource exists, status is written
    // only through it; the main endpoint keeps the stored status.
    if rt.has_status() {
        match (old.get("status"), new.as_object_mut()) {
            (Some(s), Some(m)) => {
                m.insert("status".into(), s.clone());
            }
            (None, Some(m)) => {
                m.remove("status");
            }
            _ => {}
        }
    }
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
    info: &ResourceRequest,
    rt: &'static ResourceType,
    user: &UserInfo,
) -> Result<Response, ApiError> {
    let body = body_object(req, rt.kind)?;
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
    let current_value = current.value();
    merge_update(rt, &current_value, &mut obj, &info.name)?;
    let mut changes = controllers::prepare_update(state, rt, &current_value, &mut obj, user)?;
    if is_dry_run(req)? {
        return Ok(with_warnings(Response::json(200, &obj), &warnings));
    }
    changes.insert(0, Change::Update(rt, obj, expected));
    let out = state.registry.commit(changes)?;
    controllers::after_write(state, rt, ns);
    let updated = out.into_iter().next().flatten().ok_or_else(|| ApiError::internal("update returned nothing"))?;
    Ok(with_warnings(Response::json_bytes(200, updated.to_json()), &warnings))
}

fn patch_object(
    state: &State,
    req: &Request,
    info: &ResourceRequest,
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
        let current_value = current.value();
        let patched = patch::apply(kind, &current_value, &req.body)?;
        let (mut obj, warnings) = decode_checked(req, rt, patched)?;
        let precondition = meta_str(&obj, "resourceVersion") != current.revision.to_string();
        let expected = expected_revision(&obj, current.revision)?;
        merge_update(rt, &current_value, &mut obj, &info.name)?;
        let mut changes = controllers::prepare_update(state, rt, &current_value, &mut obj, user)?;
        if is_dry_run(req)? {
            return Ok(with_warnings(Response::json(200, &obj), &warnings));
        }
        changes.insert(0, Change::Update(rt, obj, expected));
        match state.registry.commit(changes) {
            Ok(out) => {
                controllers::after_write(state, rt, ns);
                let updated =
                    out.into_iter().next().flatten().ok_or_else(|| ApiError::internal("patch returned nothing"))?;
                return Ok(with_warnings(Response::json_bytes(200, updated.to_json()), &warnings));
            }
            Err(e) if e.reason == "Conflict" && !precondition => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(rt.group, rt.plural, &info.name))
}

/// The resource types and namespaces a batch writes to, once each: what the controllers that
/// follow a commit look at (a delete's cascade and collected dependents included).
fn touched(changes: &[Change]) -> Vec<(&'static ResourceType, String)> {
    let mut seen: Vec<(&'static ResourceType, String)> = Vec::new();
    for c in changes {
        let (rt, ns) = match c {
            Change::Create(rt, v) | Change::Update(rt, v, _) => (*rt, meta_str(v, "namespace")),
            Change::Delete(rt, ns, _, _) => (*rt, ns.as_str()),
        };
        if !seen.iter().any(|(r, n)| std::ptr::eq(*r, rt) && n == ns) {
            seen.push((rt, ns.to_owned()));
        }
    }
    seen
}

/// The propagation a delete asks for (DeleteOptions body or query), validated.
fn delete_propagation(req: &Request) -> Result<Propagation, ApiError> {
    let body = if req.body.is_empty() { None } else { Some(body_json(req)?) };
    garbage_collector::propagation(body.as_ref(), req.param("propagationPolicy"))
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

fn delete(
    state: &State,
    req: &Request,
    info: &ResourceRequest,
    rt: &'static ResourceType,
) -> Result<Response, ApiError> {
    let ns = scope_namespace(rt, info);
    let current =
        state.registry.get(rt, ns, &info.name).ok_or_else(|| ApiError::not_found(rt.group, rt.plural, &info.name))?;
    let current_value = current.value();
    let (uid, rv) = delete_preconditions(req)?;
    if let Some(uid) = uid {
        if uid != meta_str(&current_value, "uid") {
            return Err(ApiError {
                code: 409,
                reason: "Conflict",
                message: format!(
                    "Operation cannot be fulfilled on {} {:?}: Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    if rt.group.is_empty() { rt.plural.to_owned() } else { format!("{}.{}", rt.plural, rt.group) },
                    info.name,
                    meta_str(&current_value, "uid")
                ),
                details: Some(json!({"name": info.name, "group": rt.group, "kind": rt.plural})),
            });
        }
    }
    let propagation = delete_propagation(req)?;
    let mut changes = vec![Change::Delete(rt, ns.to_owned(), info.name.clone(), Some(rv.unwrap_or(current.revision)))];
    changes.extend(controllers::cascade_delete(state, rt, &current_value));
    garbage_collector::collect(state, &mut changes, &[rt.key(ns, &info.name)], propagation)?;
    changes.extend(controllers::reaggregate_after_deletes(state, &changes));
    if is_dry_run(req)? {
        return Ok(Response::json(200, &current_value));
    }
    let touched = touched(&changes);
    state.registry.commit(changes)?;
    for (rt, ns) in touched {
        controllers::after_write(state, rt, &ns);
    }
    if rt.plural == "namespaces" {
        let mut v = current_value;
        v["status"]["phase"] = json!("Terminating");
        return Ok(Response::json(200, &v));
    }
    Ok(Response::json(200, &success_status(rt.group, rt.plural, &info.name, meta_str(&current_value, "uid"))))
}

fn delete_collection(
    state: &State,
    req: &Request,
    info: &ResourceRequest,
    rt: &'static ResourceType,
) -> Result<Response, ApiError> {
    let (items, _) = select(state, req, info, rt)?;
    let propagation = delete_propagation(req)?;
    let mut changes = Vec::new();
    let mut primary = Vec::with_capacity(items.len());
    let values: Vec<Value> = items.iter().map(|o| o.value()).collect();
    for (o, v) in items.iter().zip(&values) {
        let (ns, name) = (meta_str(v, "namespace"), meta_str(v, "name"));
        primary.push(rt.key(ns, name));
        changes.push(Change::Delete(rt, ns.to_owned(), name.to_owned(), Some(o.revision)));
        changes.extend(controllers::cascade_delete(state, rt, v));
    }
    garbage_collector::collect(state, &mut changes, &primary, propagation)?;
    changes.extend(controllers::reaggregate_after_deletes(state, &changes));
    if !changes.is_empty() && !is_dry_run(req)? {
        let touched = touched(&changes);
        state.registry.commit(changes)?;
        for (rt, ns) in touched {
            controllers::after_write(state, rt, &ns);
        }
    }
    let revision = state.registry.revision()?;
    Ok(Response::json(
        200,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": {"resourceVersion": revision.to_string()}, "items": values}),
    ))
}
