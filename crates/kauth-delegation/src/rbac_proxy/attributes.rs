//! How kube-rbac-proxy turns a request into authorization questions: the method becomes a verb
//! (`POST` create, `GET` get, `PUT` update, `PATCH` patch, `DELETE` delete, anything else `*`);
//! without `resourceAttributes` the question is about the request's path; with them, about
//! that resource; with `rewrites`, one question per value of the query parameter and then of
//! the header, each with `{{.Value}}` replaced, and none (a 400) when there is no value.

use kauth::authz::{Attributes, Target};
use kauth::user::UserInfo;

use super::config::{substitute, Authorization, ResourceAttributes};
use crate::attributes::RequestAttributes;

/// kube-rbac-proxy's verb for `method`.
pub fn verb(method: &http::Method) -> &'static str {
    match *method {
        http::Method::POST => "create",
        http::Method::GET => "get",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "*",
    }
}

/// kube-rbac-proxy's reading of requests, for one configuration.
#[derive(Debug, Clone, Default)]
pub struct RbacProxyAttributes {
    authorization: Authorization,
}

impl RbacProxyAttributes {
    /// Reading requests as `authorization` says.
    pub fn new(authorization: Authorization) -> Self {
        RbacProxyAttributes { authorization }
    }
}

fn resource(r: &ResourceAttributes, value: Option<&str>) -> Target {
    // Checked at load: every field is a valid template, so substitution cannot fail.
    let f = |t: &String| match value {
        Some(v) => substitute(t, v).unwrap_or_default(),
        None => t.clone(),
    };
    Target::Resource {
        namespace: f(&r.namespace),
        api_group: f(&r.api_group),
        api_version: f(&r.api_version),
        resource: f(&r.resource),
        subresource: f(&r.subresource),
        name: f(&r.name),
    }
}

/// The rewrite values of `request`: the query parameter's, then the header's.
fn rewrite_values(a: &Authorization, request: &http::Request<()>) -> Vec<String> {
    let Some(rewrites) = &a.rewrites else { return Vec::new() };
    let mut values = Vec::new();
    if let Some(q) = rewrites.by_query_parameter.as_ref().filter(|q| !q.name.is_empty()) {
        let query = request.uri().query().unwrap_or("");
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if percent_decode(k) == q.name {
                values.push(percent_decode(v));
            }
        }
    }
    if let Some(h) = rewrites.by_http_header.as_ref().filter(|h| !h.name.is_empty()) {
        values.extend(
            request.headers().get_all(h.name.as_str()).iter().filter_map(|v| v.to_str().ok().map(str::to_owned)),
        );
    }
    values
}

/// A query string component decoded as Go's `url.ParseQuery` decodes it (`+` is a space).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

impl RequestAttributes for RbacProxyAttributes {
    fn attributes(&self, request: &http::Request<()>, user: &UserInfo) -> Vec<Attributes> {
        let verb = verb(request.method()).to_owned();
        let a = &self.authorization;
        let question = |target| Attributes { user: user.clone(), verb: verb.clone(), target };
        match (&a.resource_attributes, &a.rewrites) {
            (None, _) => vec![question(Target::NonResource { path: request.uri().path().to_owned() })],
            (Some(r), None) => vec![question(resource(r, None))],
            (Some(r), Some(_)) => rewrite_values(a, request).iter().map(|v| question(resource(r, Some(v)))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac_proxy::config::ProxyConfig;

    fn read(config: &str, method: http::Method, uri: &str, header: Option<(&str, &str)>) -> Vec<(String, Target)> {
        let a = RbacProxyAttributes::new(ProxyConfig::parse("f", config).unwrap().authorization);
        let mut req = http::Request::builder().method(method).uri(uri);
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        a.attributes(&req.body(()).unwrap(), &UserInfo::default()).into_iter().map(|q| (q.verb, q.target)).collect()
    }

    #[test]
    fn without_resource_attributes_the_path_is_asked_about() {
        assert_eq!(
            read("", http::Method::GET, "/metrics?x=1", None),
            vec![("get".into(), Target::NonResource { path: "/metrics".into() })]
        );
        assert_eq!(read("", http::Method::HEAD, "/", None)[0].0, "*");
        assert_eq!(read("", http::Method::POST, "/", None)[0].0, "create");
    }

    #[test]
    fn rewrites_ask_one_question_per_value() {
        let config = r#"
authorization:
  rewrites:
    byQueryParameter: {name: namespace}
    byHttpHeader: {name: x-namespace}
  resourceAttributes: {apiVersion: v1, resource: pods, namespace: "{{.Value}}"}
"#;
        let got = read(config, http::Method::GET, "/m?namespace=a&namespace=b%20c", Some(("X-Namespace", "d")));
        let ns: Vec<&str> = got.iter().map(|(_, t)| t.namespace()).collect();
        assert_eq!(ns, ["a", "b c", "d"]);
        assert!(read(config, http::Method::GET, "/m", None).is_empty(), "no value, no question: a 400");
    }

    #[test]
    fn resource_attributes_without_rewrites_are_taken_literally() {
        let config = "authorization:\n  resourceAttributes: {resource: services, name: '{{.Value}}'}\n";
        let got = read(config, http::Method::GET, "/m", None);
        assert!(matches!(&got[0].1, Target::Resource { name, .. } if name == "{{.Value}}"), "{got:?}");
    }
}
