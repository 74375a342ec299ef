//! The audit log: one JSON line per request in the `audit.k8s.io/v1` Event shape, with
//! Kubernetes' annotations (authorization decision and reason, stale-token, legacy-token) and
//! kauth's precise authentication failure. Levels: `None`, `Metadata` (default), `Request`
//! (adds the request body; Secret and TokenRequest/TokenReview bodies are never logged).

use std::io::Write;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::api::request::Request;
use crate::api::request_info::RequestInfo;
use crate::api::response::Response;

/// How much to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Nothing.
    None,
    /// Who, what, when, the decision.
    Metadata,
    /// Plus the request body (except for credential-bearing resources).
    Request,
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "None" => Ok(Level::None),
            "Metadata" => Ok(Level::Metadata),
            "Request" => Ok(Level::Request),
            other => Err(format!("unknown audit level {other:?} (None, Metadata, Request)")),
        }
    }
}

/// An audit log writing to a file.
pub struct AuditLog {
    level: Level,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditLog({:?})", self.level)
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

impl AuditLog {
    /// Appends to `out` at `level`.
    pub fn new(level: Level, out: Box<dyn Write + Send>) -> Self {
        AuditLog { level, out: Mutex::new(out) }
    }

    /// Records one request.
    pub fn record(
        &self,
        now: time::OffsetDateTime,
        req: &Request,
        info: &RequestInfo,
        outcome: &Outcome,
        resp: &Response,
    ) {
        if self.level == Level::None {
            return;
        }
        let now = kauth::timestamp::rfc3339(now);
        let mut annotations = Map::new();
        for (k, v) in &outcome.annotations {
            annotations.insert((*k).to_owned(), Value::String(v.clone()));
        }
        let mut ev = json!({
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": if self.level == Level::Request { "Request" } else { "Metadata" },
            "auditID": crate::api::meta::new_uid().unwrap_or_default(),
            "stage": "ResponseComplete",
            "requestURI": req.path,
            "verb": info.verb(),
            "user": outcome.user.as_ref().map(user_json).unwrap_or_else(|| json!({})),
            "sourceIPs": [req.source_ip],
            "responseStatus": {"metadata": {}, "code": resp.status},
            "requestReceivedTimestamp": now,
            "stageTimestamp": now,
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
        if !annotations.is_empty() {
            ev["annotations"] = Value::Object(annotations);
        }
        let sensitive = resource
            .is_some_and(|r| matches!(r.resource.as_str(), "secrets" | "tokenreviews") || r.subresource == "token");
        if self.level == Level::Request && !sensitive && !req.body.is_empty() {
            if let Ok(body) = serde_json::from_slice::<Value>(&req.body) {
                ev["requestObject"] = body;
            }
        }
        if let Ok(mut out) = self.out.lock() {
            let mut line = serde_json::to_vec(&ev).unwrap_or_default();
            line.push(b'\n');
            if out.write_all(&line).and_then(|_| out.flush()).is_err() {
                tracing::warn!("audit log write failed");
            }
        }
    }
}
