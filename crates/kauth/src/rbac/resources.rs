//! Kubernetes' built-in resources and their scope, as the RBAC tools ask about them: which
//! resources an access matrix lists, whether a request for one is namespaced, and kubectl's
//! short names (`po`, `deploy`).

/// A built-in resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownResource {
    /// The API group (`""` for core).
    pub group: &'static str,
    /// The resource (plural).
    pub resource: &'static str,
    /// Whether its objects live in a namespace.
    pub namespaced: bool,
    /// kubectl's short and singular names.
    pub short_names: &'static [&'static str],
}

const fn known(
    group: &'static str,
    resource: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> KnownResource {
    KnownResource { group, resource, namespaced, short_names }
}

/// The resources kauth knows the scope of, core first, then by group.
pub const KNOWN_RESOURCES: &[KnownResource] = &[
    known("", "pods", true, &["po", "pod"]),
    known("", "services", true, &["svc", "service"]),
    known("", "configmaps", true, &["cm", "configmap"]),
    known("", "secrets", true, &["secret"]),
    known("", "serviceaccounts", true, &["sa", "serviceaccount"]),
    known("", "persistentvolumeclaims", true, &["pvc"]),
    known("", "endpoints", true, &["ep"]),
    known("", "events", true, &["ev", "event"]),
    known("", "limitranges", true, &["limits"]),
    known("", "resourcequotas", true, &["quota"]),
    known("", "replicationcontrollers", true, &["rc"]),
    known("", "podtemplates", true, &[]),
    known("", "namespaces", false, &["ns", "namespace"]),
    known("", "nodes", false, &["no", "node"]),
    known("", "persistentvolumes", false, &["pv"]),
    known("apps", "deployments", true, &["deploy", "deployment"]),
    known("apps", "statefulsets", true, &["sts", "statefulset"]),
    known("apps", "daemonsets", true, &["ds", "daemonset"]),
    known("apps", "replicasets", true, &["rs", "replicaset"]),
    known("apps", "controllerrevisions", true, &[]),
    known("batch", "jobs", true, &["job"]),
    known("batch", "cronjobs", true, &["cj", "cronjob"]),
    known("autoscaling", "horizontalpodautoscalers", true, &["hpa"]),
    known("policy", "poddisruptionbudgets", true, &["pdb"]),
    known("networking.k8s.io", "ingresses", true, &["ing", "ingress"]),
    known("networking.k8s.io", "networkpolicies", true, &["netpol"]),
    known("networking.k8s.io", "ingressclasses", false, &[]),
    known("discovery.k8s.io", "endpointslices", true, &[]),
    known("coordination.k8s.io", "leases", true, &["lease"]),
    known("rbac.authorization.k8s.io", "roles", true, &["role"]),
    known("rbac.authorization.k8s.io", "rolebindings", true, &["rolebinding"]),
    known("rbac.authorization.k8s.io", "clusterroles", false, &["clusterrole"]),
    known("rbac.authorization.k8s.io", "clusterrolebindings", false, &["clusterrolebinding"]),
    known("storage.k8s.io", "storageclasses", false, &["sc"]),
    known("storage.k8s.io", "csidrivers", false, &[]),
    known("storage.k8s.io", "csinodes", false, &[]),
    known("storage.k8s.io", "volumeattachments", false, &[]),
    known("apiextensions.k8s.io", "customresourcedefinitions", false, &["crd", "crds"]),
    known("admissionregistration.k8s.io", "validatingwebhookconfigurations", false, &[]),
    known("admissionregistration.k8s.io", "mutatingwebhookconfigurations", false, &[]),
    known("apiregistration.k8s.io", "apiservices", false, &[]),
    known("certificates.k8s.io", "certificatesigningrequests", false, &["csr"]),
    known("scheduling.k8s.io", "priorityclasses", false, &["pc"]),
    known("node.k8s.io", "runtimeclasses", false, &[]),
    known("authentication.k8s.io", "tokenreviews", false, &[]),
    known("authorization.k8s.io", "subjectaccessreviews", false, &[]),
    known("authorization.k8s.io", "localsubjectaccessreviews", true, &[]),
];

/// The built-in resource kubectl would mean by `name` (plural or short), in `group` when given.
pub fn find(name: &str, group: Option<&str>) -> Option<&'static KnownResource> {
    KNOWN_RESOURCES
        .iter()
        .find(|k| (k.resource == name || k.short_names.contains(&name)) && group.is_none_or(|g| g == k.group))
}

/// Whether `resource` (or `resource/subresource`) of `group` is namespaced: as listed for
/// built-in resources, and taken as namespaced for any other (most custom resources are).
pub fn is_namespaced(group: &str, resource: &str) -> bool {
    let resource = resource.split('/').next().unwrap_or(resource);
    KNOWN_RESOURCES.iter().find(|k| k.group == group && k.resource == resource).is_none_or(|k| k.namespaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_groups_and_scope() {
        assert_eq!(find("deploy", None).map(|k| (k.group, k.resource)), Some(("apps", "deployments")));
        assert_eq!(find("po", Some("")).map(|k| k.resource), Some("pods"));
        assert!(find("pods", Some("apps")).is_none(), "the group must match when given");
        assert!(find("widgets", None).is_none());
        assert!(!is_namespaced("", "nodes/proxy"));
        assert!(is_namespaced("", "pods/log"));
        assert!(is_namespaced("example.com", "widgets"), "unknown resources are namespaced");
        let mut seen = std::collections::BTreeSet::new();
        assert!(KNOWN_RESOURCES.iter().all(|k| seen.insert((k.group, k.resource))), "listed once each");
    }
}
