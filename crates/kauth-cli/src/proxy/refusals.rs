//! What `kauth proxy` tells refused clients: kube-rbac-proxy's words and codes (Go's
//! `http.Error`: plain text, a newline, `nosniff`), so clients and dashboards built for it see
//! no difference. kauth's precise reason goes to the log and the metrics, never here.

use bytes::Bytes;
use http_body_util::Full;
use kauth::authz::{Attributes, Decision, Target};
use kauth_delegation::refusals::Refusals;

/// Go's `http.Error(w, text, code)`.
pub fn plain(code: u16, text: &str) -> http::Response<Full<Bytes>> {
    let mut resp = http::Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *resp.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert("x-content-type-options", http::HeaderValue::from_static("nosniff"));
    resp
}

/// Go's `http.NotFound`.
pub fn not_found() -> http::Response<Full<Bytes>> {
    plain(404, "404 page not found")
}

/// `(user=…, verb=…, resource=…, subresource=…)`, as kube-rbac-proxy names a question.
pub fn question(a: &Attributes) -> String {
    let (resource, subresource) = match &a.target {
        Target::Resource { resource, subresource, .. } => (resource.as_str(), subresource.as_str()),
        Target::NonResource { .. } => ("", ""),
    };
    format!("(user={}, verb={}, resource={resource}, subresource={subresource})", a.user.name, a.verb)
}

/// kube-rbac-proxy's refusals.
#[derive(Debug, Clone, Copy, Default)]
pub struct RbacProxyRefusals;

impl Refusals for RbacProxyRefusals {
    fn unauthorized(&self) -> http::Response<Full<Bytes>> {
        plain(401, "Unauthorized")
    }

    fn forbidden(&self, attributes: &Attributes, _decision: &Decision) -> http::Response<Full<Bytes>> {
        plain(403, &format!("Forbidden {}", question(attributes)))
    }

    fn bad_request(&self) -> http::Response<Full<Bytes>> {
        plain(400, "Bad Request. The request or configuration is malformed.")
    }

    fn internal_error(&self, attributes: Option<&Attributes>) -> http::Response<Full<Bytes>> {
        match attributes {
            Some(a) => plain(500, &format!("Authorization error {}", question(a))),
            None => plain(500, "Internal Server Error"),
        }
    }

    fn unavailable(&self) -> http::Response<Full<Bytes>> {
        plain(503, "Service Unavailable")
    }
}

#[cfg(test)]
mod tests {
    use kauth::authz::Reason;
    use kauth::user::UserInfo;

    use super::*;

    #[test]
    fn kube_rbac_proxys_texts() {
        let a = Attributes {
            user: UserInfo { name: "alice".into(), ..Default::default() },
            verb: "get".into(),
            target: Target::NonResource { path: "/metrics".into() },
        };
        let r = RbacProxyRefusals.forbidden(&a, &Decision::NoOpinion(Reason::None));
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        let body = r.into_body();
        let bytes = futures_body(body);
        assert_eq!(bytes, "Forbidden (user=alice, verb=get, resource=, subresource=)\n");
        assert_eq!(futures_body(RbacProxyRefusals.unauthorized().into_body()), "Unauthorized\n");
    }

    fn futures_body(body: Full<Bytes>) -> String {
        use http_body_util::BodyExt;
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = rt.block_on(body.collect()).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
