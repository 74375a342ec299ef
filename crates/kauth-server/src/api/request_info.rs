//! What a request is about, parsed from its method and path the way kube-apiserver's
//! `RequestInfoFactory` does: API resource requests (`/api/v1/...`, `/apis/<g>/<v>/...`) get a
//! namespace, resource, name, subresource and a Kubernetes verb; everything else is a
//! non-resource request whose verb is the lowercased HTTP method.

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestInfo {
    /// Whether it addresses an API resource.
    pub is_resource: bool,
    /// The path.
    pub path: String,
    /// The Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`), or the lowercased method for non-resource requests.
    pub verb: String,
    /// `api` or `apis` for API requests.
    pub prefix: String,
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace (for `namespaces/<n>` itself, `<n>`).
    pub namespace: String,
    /// Resource.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Name.
    pub name: String,
    /// Path segments after the version (for discovery).
    pub parts: Vec<String>,
}

fn split(path: &str) -> Vec<String> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Parses `method` and `path` (without query); `watch` is the `watch` query parameter.
pub fn parse(method: &str, path: &str, watch: bool) -> RequestInfo {
    let non_resource = || RequestInfo {
        is_resource: false,
        path: path.to_owned(),
        verb: method.to_ascii_lowercase(),
        ..RequestInfo::default()
    };
    let mut parts = split(path);
    let prefix = match parts.first().map(String::as_str) {
        Some(p @ ("api" | "apis")) => p.to_owned(),
        _ => return non_resource(),
    };
    parts.remove(0);
    let mut info = RequestInfo { path: path.to_owned(), prefix: prefix.clone(), ..RequestInfo::default() };
    if prefix == "apis" {
        if parts.is_empty() {
            return non_resource();
        }
        info.group = parts.remove(0);
    }
    if parts.is_empty() {
        return non_resource();
    }
    info.version = parts.remove(0);
    if parts.is_empty() {
        return non_resource();
    }
    // The deprecated `/api/v1/watch/...` form: a watch of what follows.
    let watch = watch || (parts.first().map(String::as_str) == Some("watch") && matches!(method, "GET" | "HEAD"));
    if parts.first().map(String::as_str) == Some("watch") && watch {
        parts.remove(0);
        if parts.is_empty() {
            return non_resource();
        }
    }
    info.parts = parts.clone();
    info.is_resource = true;
    info.verb = match method {
        "POST" => "create",
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "",
    }
    .to_owned();
    let mut cur: &[String] = &parts;
    if cur[0] == "namespaces" && cur.len() > 1 {
        info.namespace = cur[1].clone();
        if cur.len() > 2 && !matches!(cur[2].as_str(), "status" | "finalize") {
            cur = &cur[2..];
        }
    }
    info.resource = cur[0].clone();
    if cur.len() >= 2 {
        info.name = cur[1].clone();
    }
    if cur.len() >= 3 {
        info.subresource = cur[2].clone();
    }
    if cur.len() > 3 {
        // Deeper paths are not resources kauth serves; the router answers 404.
        info.subresource = cur[2..].join("/");
    }
    if info.name.is_empty() {
        match info.verb.as_str() {
            "get" => info.verb = if watch { "watch" } else { "list" }.into(),
            "delete" => info.verb = "deletecollection".into(),
            _ => {}
        }
    } else if info.verb == "get" && watch {
        info.verb = "watch".into();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_like_kube_apiserver() {
        let r = parse("GET", "/api/v1/namespaces/default/serviceaccounts/builder", false);
        assert_eq!(
            (r.verb.as_str(), r.namespace.as_str(), r.resource.as_str(), r.name.as_str()),
            ("get", "default", "serviceaccounts", "builder")
        );
        let r = parse("POST", "/api/v1/namespaces/default/serviceaccounts/builder/token", false);
        assert_eq!((r.verb.as_str(), r.subresource.as_str()), ("create", "token"));
        let r = parse("GET", "/api/v1/namespaces/team", false);
        assert_eq!(
            (r.verb.as_str(), r.namespace.as_str(), r.resource.as_str(), r.name.as_str()),
            ("get", "team", "namespaces", "team")
        );
        let r = parse("GET", "/api/v1/namespaces", false);
        assert_eq!((r.verb.as_str(), r.resource.as_str()), ("list", "namespaces"));
        let r = parse("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles", false);
        assert_eq!((r.verb.as_str(), r.group.as_str()), ("deletecollection", "rbac.authorization.k8s.io"));
        let r = parse("GET", "/api/v1/secrets", true);
        assert_eq!(r.verb, "watch");
        let r = parse("GET", "/healthz", false);
        assert!(!r.is_resource);
        assert_eq!(r.verb, "get");
        assert!(!parse("GET", "/apis/rbac.authorization.k8s.io/v1", false).is_resource);
        assert!(!parse("POST", "/api", false).is_resource);
        assert_eq!(parse("POST", "/version", false).verb, "post");
    }
}
