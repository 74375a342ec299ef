//! The request pipeline: authenticate → impersonate → authorize → handle, with audit and
//! metrics around it. [`handle`] is the whole path of one request.

pub mod authentication;

use kauth::authz::{Attributes, Target};
use kauth::user::UserInfo;

use crate::api::request::Request;
use crate::api::request_info::{self, RequestInfo};
use crate::api::response::Response;
use crate::api::status::ApiError;
use crate::audit::Outcome;
use crate::metrics::Stale;
use crate::state::State;
use crate::{controllers, handlers};

/// The whole pipeline for one request.
pub fn handle(state: &State, req: &Request) -> Response {
    let watch = req.param("watch").is_some_and(|v| v == "true" || v == "1");
    let info = request_info::parse(req.method.as_str(), &req.path, watch);
    let mut outcome = Outcome::default();
    let response = pipeline(state, req, &info, &mut outcome);
    if let Some(audit) = &state.audit {
        audit.record(state.now(), req, &info, &outcome, &response);
    }
    response
}

fn pipeline(state: &State, req: &Request, info: &RequestInfo, outcome: &mut Outcome) -> Response {
    let start = std::time::Instant::now();
    let authn = authentication::authenticate(state, req.peer.as_deref().map(Vec::as_slice), &req.headers);
    let took = start.elapsed();
    match &authn {
        Ok(u) => {
            let stale = u.annotations.iter().any(|(k, _)| *k == kauth::authn::service_account::STALE_TOKEN_ANNOTATION);
            state.metrics.authentication(u.authenticator, Ok(if stale { Stale::Yes } else { Stale::No }), took);
        }
        Err(e) => state.metrics.authentication(e.rejection.authenticator(), Err(e.rejection.code()), took),
    }
    let user = match authn {
        Ok(u) => u,
        Err(why) => {
            tracing::info!(
                authenticator = why.rejection.authenticator(),
                code = why.rejection.code(),
                path = %req.path,
                source = %req.source_ip,
                "unauthorized: {}",
                why.reason
            );
            outcome.annotations.push(("authentication.kauth.dev/failure", why.reason));
            return Response::error(&ApiError::unauthorized());
        }
    };
    for (k, v) in &user.annotations {
        outcome.annotations.push((k, v.clone()));
        if *k == kauth::authn::service_account::LEGACY_TOKEN_SECRET_ANNOTATION {
            controllers::track_legacy_token_use(state, v);
        }
    }
    outcome.user = Some(user.user.clone());
    let user = match authentication::impersonate(state, user, &req.headers) {
        Ok(u) => u,
        Err(e) => return Response::error(&e),
    };
    outcome.user = Some(user.user.clone());
    outcome.impersonated_by = user.impersonated_by.clone();
    let attrs = attributes(&user.user, info);
    let decision = state.authorize(&attrs);
    let verdict = if decision.is_allowed() { "allow" } else { "forbid" };
    let reason = decision.reason().to_string();
    outcome.annotations.push(("authorization.k8s.io/decision", verdict.into()));
    outcome.annotations.push(("authorization.k8s.io/reason", reason.clone()));
    if !decision.is_allowed() {
        let msg = attrs.forbidden_message();
        let msg = if reason.is_empty() { msg } else { format!("{msg}: {reason}") };
        // Kubernetes' reason stays as it is on the wire; operators get the explanation
        // (bindings, nearest rule and what it lacks) in the log and the audit event.
        let explanation = state.authorizer.explain(&attrs).map(|e| e.summary()).unwrap_or_default();
        tracing::info!(user = %user.user.name, path = %req.path, verb = %info.verb(), %explanation, "forbidden: {msg}");
        outcome.annotations.push(("authorization.kauth.dev/explanation", explanation));
        return Response::error(&match info {
            RequestInfo::Resource(r) => ApiError::forbidden(&r.group, &r.resource, &r.name, &msg),
            RequestInfo::NonResource { .. } => ApiError::forbidden("", "", "", &msg),
        });
    }
    match info {
        RequestInfo::Resource(r) => handlers::crud::handle_resource(state, req, r, &user.user),
        RequestInfo::NonResource { verb, .. } => handlers::discovery::handle_non_resource(state, req, verb),
    }
}

/// The authorization attributes of a request.
pub fn attributes(user: &UserInfo, info: &RequestInfo) -> Attributes {
    Attributes {
        user: user.clone(),
        verb: info.verb().to_owned(),
        target: match info {
            RequestInfo::Resource(r) => Target::Resource {
                namespace: r.namespace.clone(),
                api_group: r.group.clone(),
                api_version: r.version.clone(),
                resource: r.resource.clone(),
                subresource: r.subresource.clone(),
                name: r.name.clone(),
            },
            RequestInfo::NonResource { path, .. } => Target::NonResource { path: path.clone() },
        },
    }
}
