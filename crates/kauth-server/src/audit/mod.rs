//! The audit log: JSON lines of `audit.k8s.io/v1` Events, as kube-apiserver writes them
//! (`--audit-log-path`), for the requests and at the level the audit policy says
//! (`--audit-policy-file`, [`policy`]; without one, every request at `--audit-level`), in
//! rotated files ([`writer`]).
//!
//! Stages: a request that passed authentication is recorded at `RequestReceived` (its time is
//! when the request arrived) and `ResponseComplete`, each unless the policy omits it; one whose
//! authentication failed, at `ResponseStarted` only, with kube-apiserver's
//! `Authentication failed, attempted: …` message; a handler that panicked, at `Panic`. The
//! events of one request share its `auditID` and are written together when it ends. Events
//! carry Kubernetes' annotations (authorization decision and reason, stale-token, legacy-token)
//! and kauth's precise authentication failure. Bodies (`requestObject` from `Request`,
//! `responseObject` from `RequestResponse`) are never recorded for Secrets, TokenReviews and
//! TokenRequests, whatever the level: they carry credentials.

pub mod policy;
pub mod writer;

use std::io::Write;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::api::request::Request;
use crate::api::request_info::RequestInfo;
use crate::api::response::Response;
pub use policy::{Level, Policy, Stage};

/// An audit log writing to a file.
pub struct AuditLog {
    policy: Policy,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditLog({} rules)", self.policy.rules.len())
    }
}

fn user_json(u: &kauth::user::UserInfo) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if !u.uid.is_empty() {
        v["uid"] = json!(u.uid);
    }
    if !u.extra.is_empty() {
        v["extra"] = json!(u.extra);
    }
    v
}

/// What happened, for audit and metrics.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The user, if authenticated.
    pub user: Option<kauth::user::UserInfo>,
    /// The impersonating user.
    pub impersonated_by: Option<kauth::user::UserInfo>,
    /// Audit annotations, in the order they were added.
    pub annotations: Vec<(&'static str, String)>,
}

/// When the request arrived and when its answer was complete.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    /// Received.
    pub received: time::OffsetDateTime,
    /// Answered.
    pub completed: time::OffsetDateTime,
}

/// kube-apiserver's message for a request whose authentication failed: the methods it tried.
fn authentication_methods(req: &Request) -> String {
    let mut methods = Vec::new();
    let auth = req.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    let mut parts = auth.split(' ');
    if let (Some(scheme), Some(_)) = (parts.next(), parts.next()) {
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => methods.push("basic"),
            "bearer" => methods.push("bearer"),
            _ => {}
        }
    }
    if req.param("access_token").is_some_and(|t| !t.trim().is_empty()) {
        methods.push("access_token");
    }
    if req.peer.as_ref().is_some_and(|p| !p.is_empty()) {
        methods.push("x509");
    }
    if methods.is_empty() {
        "Authentication failed, no credentials provided".into()
    } else {
        format!("Authentication failed, attempted: {}", methods.join(", "))
    }
}

impl AuditLog {
    /// Appends to `out` what `policy` says.
    pub fn new(policy: Policy, out: Box<dyn Write + Send>) -> Self {
        AuditLog { policy, out: Mutex::new(out) }
    }

    /// Records one request: its events, at the stages the policy keeps.
    pub fn record(
        &self,
        times: Times,
        req: &Request,
        info: &RequestInfo,
        outcome: &Outcome,
        resp: &Response,
        panicked: bool,
    ) {
        // The policy sees the authenticated user, the impersonator when there is one.
        let authenticated = outcome.impersonated_by.as_ref().or(outcome.user.as_ref());
        let attrs = policy::Attributes { user: authenticated.map(|u| (u.name.as_str(), u.groups.as_slice())), info };
        let decision = self.policy.evaluate(&attrs);
        if decision.level == Level::None {
            return;
        }
        let failed_authentication = outcome.user.is_none() && resp.status == 401;
        let stages: &[Stage] = if panicked {
            &[Stage::RequestReceived, Stage::Panic]
        } else if failed_authentication {
            &[Stage::ResponseStarted]
        } else {
            &[Stage::RequestReceived, Stage::ResponseComplete]
        };
        let audit_id = crate::api::meta::new_uid().unwrap_or_default();
        let mut lines = Vec::new();
        for stage in stages.iter().filter(|s| !decision.omit_stages.contains(s)) {
            let mut ev =
                self.event(*stage, &audit_id, decision.level, times, req, info, outcome, resp, failed_authentication);
            if decision.omit_managed_fields {
                for body in ["requestObject", "responseObject"] {
                    if let Some(meta) =
                        ev.get_mut(body).and_then(|b| b.get_mut("metadata")).and_then(Value::as_object_mut)
                    {
                        meta.remove("managedFields");
                    }
                }
            }
            lines.extend(serde_json::to_vec(&ev).unwrap_or_default());
            lines.push(b'\n');
        }
        if lines.is_empty() {
            return;
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if out.write_all(&lines).and_then(|_| out.flush()).is_err() {
            tracing::warn!("audit log write failed");
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        stage: Stage,
        audit_id: &str,
        level: Level,
        times: Times,
        req: &Request,
        info: &RequestInfo,
        outcome: &Outcome,
        resp: &Response,
        failed_authentication: bool,
    ) -> Value {
        let received = kauth::timestamp::rfc3339_micro(times.received);
        let at = if stage == Stage::RequestReceived {
            received.clone()
        } else {
            kauth::timestamp::rfc3339_micro(times.completed)
        };
        let mut annotations = Map::new();
        for (k, v) in &outcome.annotations {
            annotations.insert((*k).to_owned(), Value::String(v.clone()));
        }
        let uri = if req.query.is_empty() {
            req.path.clone()
        } else {
            let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&req.query).finish();
            format!("{}?{query}", req.path)
        };
        let mut ev = json!({
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level.as_str(),
            "auditID": audit_id,
            "stage": stage.as_str(),
            "requestURI": uri,
            "verb": info.verb(),
            "user": outcome.user.as_ref().map(user_json).unwrap_or_else(|| json!({})),
            "sourceIPs": [req.source_ip],
            "requestReceivedTimestamp": received,
            "stageTimestamp": at,
        });
        if let Some(ua) = req.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()) {
            ev["userAgent"] = json!(ua);
        }
        if let Some(by) = &outcome.impersonated_by {
            ev["impersonatedUser"] = ev["user"].clone();
            ev["user"] = user_json(by);
        }
        let resource = info.resource();
        if let Some(r) = resource {
            let mut obj = json!({"resource": r.resource, "apiVersion": r.version});
            for (k, v) in [
                ("namespace", &r.namespace),
                ("name", &r.name),
                ("apiGroup", &r.group),
                ("subresource", &r.subresource),
            ] {
                if !v.is_empty() {
                    obj[k] = json!(v);
                }
            }
            ev["objectRef"] = obj;
        }
        match stage {
            Stage::RequestReceived => {}
            Stage::Panic => {
                ev["responseStatus"] = json!({"metadata": {}, "status": "Failure", "message": "APIServer panic'd", "reason": "InternalError", "code": 500});
            }
            _ if failed_authentication => {
                ev["responseStatus"] =
                    json!({"metadata": {}, "message": authentication_methods(req), "code": resp.status});
            }
            _ => ev["responseStatus"] = json!({"metadata": {}, "code": resp.status}),
        }
        if !annotations.is_empty() {
            ev["annotations"] = Value::Object(annotations);
        }
        let sensitive = resource
            .is_some_and(|r| matches!(r.resource.as_str(), "secrets" | "tokenreviews") || r.subresource == "token");
        // Never the body of a request whose authentication failed: anyone could write it here.
        if level >= Level::Request && !sensitive && !failed_authentication && !req.body.is_empty() {
            if let Ok(body) = serde_json::from_slice::<Value>(&req.body) {
                ev["requestObject"] = body;
            }
        }
        if level >= Level::RequestResponse
            && stage == Stage::ResponseComplete
            && !sensitive
            && resp.stream.is_none()
            && resp.content_type.starts_with("application/json")
        {
            if let Ok(body) = serde_json::from_slice::<Value>(&resp.body) {
                ev["responseObject"] = body;
            }
        }
        ev
    }
}
