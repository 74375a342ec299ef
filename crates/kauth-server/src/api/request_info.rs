//! What a request is about, parsed from its method and path the way kube-apiserver's
//! `RequestInfoFactory` does: API resource requests (`/api/v1/...`, `/apis/<g>/<v>/...`) get a
//! namespace, resource, name, subresource and a Kubernetes verb; everything else is a
//! non-resource request whose verb is the lowercased HTTP method.

/// What a request addresses: an API resource, or any other path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestInfo {
    /// An API resource (`/api/v1/...`, `/apis/<group>/<version>/...` with a resource).
    Resource(ResourceRequest),
    /// Any other path: discovery, health, version, OIDC, metrics, kauth's own.
    NonResource {
        /// The path.
        path: String,
        /// The lowercased HTTP method (`get`, `post`, ...).
        verb: String,
    },
}

/// A request on an API resource. Fields a path does not name are empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// The path.
    pub path: String,
    /// The Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`); empty for a method Kubernetes gives no verb.
    pub verb: String,
    /// `api` (the core group) or `apis`.
    pub prefix: &'static str,
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace (for `namespaces/<n>` itself, `<n>`).
    pub namespace: String,
    /// Resource.
    pub resource: String,
    /// Subresource (segments past it joined with `/`: no served resource has them).
    pub subresource: String,
    /// Name.
    pub name: String,
}

impl RequestInfo {
    /// The verb: Kubernetes' for a resource, the lowercased method otherwise.
    pub fn verb(&self) -> &str {
        match self {
            RequestInfo::Resource(r) => &r.verb,
            RequestInfo::NonResource { verb, .. } => verb,
        }
    }

    /// The path (without query).
    pub fn path(&self) -> &str {
        match self {
            RequestInfo::Resource(r) => &r.path,
            RequestInfo::NonResource { path, .. } => path,
        }
    }

    /// The resource request, if it is one.
    pub fn resource(&self) -> Option<&ResourceRequest> {
        match self {
            RequestInfo::Resource(r) => Some(r),
            RequestInfo::NonResource { .. } => None,
        }
    }
}

/// Parses `method` and `path` (without query); `watch` is the `watch` query parameter.
pub fn parse(method: &str, path: &str, watch: bool) -> RequestInfo {
    let non_resource = || RequestInfo::NonResource { path: path.to_owned(), verb: method.to_ascii_lowercase() };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (prefix, mut rest) = match segments.split_first() {
        Some((&"api", rest)) => ("api", rest),
        Some((&"apis", rest)) => ("apis", rest),
        _ => return non_resource(),
    };
    let mut group = "";
    if prefix == "apis" {
        let Some((g, after)) = rest.split_first() else { return non_resource() };
        group = g;
        rest = after;
    }
    let Some((version, after)) = rest.split_first() else { return non_resource() };
    rest = after;
    let Some(&first) = rest.first() else { return non_resource() };
    // The deprecated `/api/v1/watch/...` form: a watch of what follows.
    let watch = watch || (first == "watch" && matches!(method, "GET" | "HEAD"));
    if first == "watch" && watch {
        rest = &rest[1..];
    }
    let mut verb = match method {
        "POST" => "create",
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "",
    };
    let mut namespace = "";
    let mut cur = rest;
    if let ["namespaces", ns, more @ ..] = cur {
        namespace = ns;
        if !more.is_empty() && !matches!(more[0], "status" | "finalize") {
            cur = more;
        }
    }
    let (resource, name, subresource) = match cur {
        [] => return non_resource(),
        [resource] => (*resource, "", String::new()),
        [resource, name] => (*resource, *name, String::new()),
        // Deeper paths are not resources kauth serves; the router answers 404.
        [resource, name, sub @ ..] => (*resource, *name, sub.join("/")),
    };
    if name.is_empty() {
        match verb {
            "get" => verb = if watch { "watch" } else { "list" },
            "delete" => verb = "deletecollection",
            _ => {}
        }
    } else if verb == "get" && watch {
        verb = "watch";
    }
    RequestInfo::Resource(ResourceRequest {
        path: path.to_owned(),
        verb: verb.to_owned(),
        prefix,
        group: group.to_owned(),
        version: (*version).to_owned(),
        namespace: namespace.to_owned(),
        resource: resource.to_owned(),
        subresource,
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(r: RequestInfo) -> ResourceRequest {
        match r {
            RequestInfo::Resource(r) => r,
            other => panic!("not a resource request: {other:?}"),
        }
    }

    #[test]
    fn paths_parse_like_kube_apiserver() {
        let r = resource(parse("GET", "/api/v1/namespaces/default/serviceaccounts/builder", false));
        assert_eq!(
            (r.verb.as_str(), r.namespace.as_str(), r.resource.as_str(), r.name.as_str()),
            ("get", "default", "serviceaccounts", "builder")
        );
        assert_eq!((r.prefix, r.group.as_str(), r.version.as_str()), ("api", "", "v1"));
        let r = resource(parse("POST", "/api/v1/namespaces/default/serviceaccounts/builder/token", false));
        assert_eq!((r.verb.as_str(), r.subresource.as_str()), ("create", "token"));
        let r = resource(parse("GET", "/api/v1/namespaces/team", false));
        assert_eq!(
            (r.verb.as_str(), r.namespace.as_str(), r.resource.as_str(), r.name.as_str()),
            ("get", "team", "namespaces", "team")
        );
        let r = resource(parse("GET", "/api/v1/namespaces", false));
        assert_eq!((r.verb.as_str(), r.resource.as_str()), ("list", "namespaces"));
        let r = resource(parse("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles", false));
        assert_eq!((r.verb.as_str(), r.group.as_str()), ("deletecollection", "rbac.authorization.k8s.io"));
        assert_eq!(r.prefix, "apis");
        let r = parse("GET", "/api/v1/secrets", true);
        assert_eq!(r.verb(), "watch");
        let r = parse("GET", "/healthz", false);
        assert_eq!(r, RequestInfo::NonResource { path: "/healthz".into(), verb: "get".into() });
        assert_eq!((r.verb(), r.path()), ("get", "/healthz"));
        assert!(parse("GET", "/apis/rbac.authorization.k8s.io/v1", false).resource().is_none());
        assert!(parse("POST", "/api", false).resource().is_none());
        assert_eq!(parse("POST", "/version", false).verb(), "post");
    }

    #[test]
    fn namespace_status_watch_and_deep_paths_keep_kube_apiserver_rules() {
        let r = resource(parse("PUT", "/api/v1/namespaces/team/status", false));
        assert_eq!(
            (r.namespace.as_str(), r.resource.as_str(), r.name.as_str(), r.subresource.as_str()),
            ("team", "namespaces", "team", "status")
        );
        let r = resource(parse("GET", "/api/v1/watch/namespaces/default/secrets/s", false));
        assert_eq!((r.verb.as_str(), r.namespace.as_str(), r.name.as_str()), ("watch", "default", "s"));
        // Not a GET: `watch` is a resource name, not the deprecated watch form.
        let r = resource(parse("POST", "/api/v1/watch", false));
        assert_eq!((r.verb.as_str(), r.resource.as_str()), ("create", "watch"));
        assert!(parse("GET", "/api/v1/watch", false).resource().is_none());
        let r = resource(parse("GET", "/api/v1/namespaces/default/pods/p/a/b", false));
        assert_eq!(r.subresource, "a/b");
        let r = resource(parse("OPTIONS", "/api/v1/pods", false));
        assert_eq!(r.verb, "");
        assert_eq!(r.path, "/api/v1/pods");
        assert_eq!(parse("GET", "//api//v1//pods/", false).resource().map(|r| r.resource.as_str()), Some("pods"));
    }
}
