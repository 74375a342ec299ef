//! What a request asks to do, for the authorizer: kube-apiserver's reading of a path
//! (`RequestInfoFactory`: resource requests under `/api` and `/apis`, everything else a
//! non-resource path with the method, lower-cased, as its verb), or any other reading a server
//! plugs in (`kauth proxy` maps methods as kube-rbac-proxy does and may name a resource).
//!
//! A reading may give several questions (all must be allowed) or none (the request cannot be
//! judged: 400).

use kauth::authz::{Attributes, Target};
use kauth::user::UserInfo;

/// Reads a request as authorization questions.
pub trait RequestAttributes: Send + Sync {
    /// The questions `request` (its method, URI and headers; no body) asks for `user`.
    fn attributes(&self, request: &http::Request<()>, user: &UserInfo) -> Vec<Attributes>;
}

/// kube-apiserver's reading of paths.
#[derive(Debug, Clone, Copy, Default)]
pub struct KubernetesPaths;

fn resource_verb(method: &http::Method, has_name: bool, watch: bool) -> String {
    let verb = match *method {
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE if has_name => "delete",
        http::Method::DELETE => "deletecollection",
        http::Method::GET | http::Method::HEAD if watch => "watch",
        http::Method::GET | http::Method::HEAD if has_name => "get",
        http::Method::GET | http::Method::HEAD => "list",
        _ => return method.as_str().to_ascii_lowercase(),
    };
    verb.to_owned()
}

/// kube-apiserver's `RequestInfo` for `method` and `uri`, as authorization attributes' verb and
/// target (without the user).
pub fn kubernetes_target(method: &http::Method, uri: &http::Uri) -> (String, Target) {
    let path = uri.path();
    let non_resource = || (method.as_str().to_ascii_lowercase(), Target::NonResource { path: path.to_owned() });
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_group, api_version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return non_resource(),
    };
    let watch_query = uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    let (watch_path, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    // As kube-apiserver: after `namespaces/{ns}` comes a resource of that namespace, except for
    // the namespace's own subresources (`status`, `finalize`); `namespaces/{ns}` alone is the
    // namespace object, in its own namespace.
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if tail.first().is_some_and(|n| !matches!(*n, "status" | "finalize")) => {
            (*ns, tail)
        }
        ["namespaces", ns, ..] => (*ns, rest),
        _ => ("", rest),
    };
    // Parts after the subresource are ignored, as kube-apiserver ignores them: the request is
    // still one on that subresource, never a non-resource path.
    let (resource, name, subresource) = match rest {
        [r] => (*r, "", ""),
        [r, n] => (*r, *n, ""),
        [r, n, s, ..] => (*r, *n, *s),
        [] => return non_resource(),
    };
    let verb = resource_verb(method, !name.is_empty(), watch_path || watch_query);
    (
        verb,
        Target::Resource {
            namespace: namespace.to_owned(),
            api_group: api_group.to_owned(),
            api_version: api_version.to_owned(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: name.to_owned(),
        },
    )
}

impl RequestAttributes for KubernetesPaths {
    fn attributes(&self, request: &http::Request<()>, user: &UserInfo) -> Vec<Attributes> {
        let (verb, target) = kubernetes_target(request.method(), request.uri());
        vec![Attributes { user: user.clone(), verb, target }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(method: http::Method, uri: &str) -> (String, Target) {
        kubernetes_target(&method, &uri.parse().unwrap())
    }

    fn res(ns: &str, group: &str, resource: &str, sub: &str, name: &str) -> Target {
        Target::Resource {
            namespace: ns.into(),
            api_group: group.into(),
            api_version: if group.is_empty() { "v1".into() } else { "v1alpha1".into() },
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
        }
    }

    #[test]
    fn deeper_paths_stay_resource_requests_and_namespace_subresources_are_the_namespace_s() {
        use http::Method as M;
        // Parts after the subresource are ignored, never a non-resource path `system:discovery`
        // would allow.
        assert_eq!(
            read(M::GET, "/apis/example.com/v1alpha1/namespaces/ns/widgets/w/proxy/a/b"),
            ("get".into(), res("ns", "example.com", "widgets", "proxy", "w"))
        );
        assert_eq!(
            read(M::PUT, "/api/v1/namespaces/ns/status"),
            ("update".into(), res("ns", "", "namespaces", "status", "ns"))
        );
        assert_eq!(
            read(M::PUT, "/api/v1/namespaces/ns/finalize"),
            ("update".into(), res("ns", "", "namespaces", "finalize", "ns"))
        );
        assert_eq!(read(M::GET, "/api/v1/namespaces/ns"), ("get".into(), res("ns", "", "namespaces", "", "ns")));
        assert_eq!(read(M::GET, "/api/v1/namespaces"), ("list".into(), res("", "", "namespaces", "", "")));
    }

    #[test]
    fn paths_read_as_kube_apiserver_reads_them() {
        use http::Method as M;
        assert_eq!(read(M::GET, "/healthz"), ("get".into(), Target::NonResource { path: "/healthz".into() }));
        assert_eq!(read(M::POST, "/apis"), ("post".into(), Target::NonResource { path: "/apis".into() }));
        assert_eq!(read(M::GET, "/api/v1/pods"), ("list".into(), res("", "", "pods", "", "")));
        assert_eq!(
            read(M::GET, "/apis/example.com/v1alpha1/namespaces/ns/widgets/w/status"),
            ("get".into(), res("ns", "example.com", "widgets", "status", "w"))
        );
        assert_eq!(
            read(M::GET, "/apis/example.com/v1alpha1/namespaces/ns/widgets?watch=true"),
            ("watch".into(), res("ns", "example.com", "widgets", "", ""))
        );
        assert_eq!(
            read(M::DELETE, "/api/v1/namespaces/ns/pods"),
            ("deletecollection".into(), res("ns", "", "pods", "", ""))
        );
        assert_eq!(read(M::GET, "/api/v1/namespaces/ns"), ("get".into(), res("ns", "", "namespaces", "", "ns")));
        assert_eq!(
            read(M::POST, "/apis/example.com/v1alpha1/namespaces/ns/widgets"),
            ("create".into(), res("ns", "example.com", "widgets", "", ""))
        );
    }
}
