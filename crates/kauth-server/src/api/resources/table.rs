//! The data of the catalog: every resource kube-apiserver 1.32 serves by default, in its discovery
//! order (core first, then the groups in `/apis` order), with the subresources each has.
//!
//! Derived from Kubernetes 1.32's discovery documents, restricted to the group-versions enabled
//! by default (the stable ones, plus apiextensions.k8s.io/v1 and apiregistration.k8s.io/v1).
//! Deliberate differences, each a decision documented in [`super`]:
//! - autoscaling/v1 is not served (HorizontalPodAutoscalers are served and stored as
//!   autoscaling/v2, the preferred version; kauth has no conversion between the two);
//! - `pods/resize` is left out: 1.32 registers it only with the alpha `InPlacePodVerticalScaling`
//!   gate, off by default;
//! - events.k8s.io Events are stored apart from core Events (store segment `events.k8s.io`).

use super::model::{res, sub, ResourceType, Serving::*, CREATE, CRUD, GET_UPDATE};
use super::names::NameRule::*;

/// Every resource, in discovery order.
#[rustfmt::skip]
pub const RESOURCES: &[ResourceType] = &[
    res("", "v1", "bindings", "binding", "Binding", true, &[], CREATE, &[], &[], Subdomain, Unserved, "bindings"),
    res("", "v1", "componentstatuses", "componentstatus", "ComponentStatus", false, &["cs"], &["get", "list"], &[], &[], Subdomain, Unserved, "componentstatuses"),
    res("", "v1", "configmaps", "configmap", "ConfigMap", true, &["cm"], CRUD, &[], &[], Subdomain, Stored, "configmaps"),
    res("", "v1", "endpoints", "endpoints", "Endpoints", true, &["ep"], CRUD, &[], &[], Subdomain, Stored, "endpoints"),
    res("", "v1", "events", "event", "Event", true, &["ev"], CRUD, &[], &[], Subdomain, Stored, "events"),
    res("", "v1", "limitranges", "limitrange", "LimitRange", true, &["limits"], CRUD, &[], &[], Subdomain, Stored, "limitranges"),
    res("", "v1", "namespaces", "namespace", "Namespace", false, &["ns"], &["create", "delete", "get", "list", "patch", "update", "watch"], &[], &[sub("finalize", "Namespace", None, &["update"]), sub("status", "Namespace", None, GET_UPDATE)], Label, Stored, "namespaces"),
    res("", "v1", "nodes", "node", "Node", false, &["no"], CRUD, &[], &[sub("proxy", "NodeProxyOptions", None, &["create", "delete", "get", "patch", "update"]), sub("status", "Node", None, GET_UPDATE)], Subdomain, Stored, "nodes"),
    res("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true, &["pvc"], CRUD, &[], &[sub("status", "PersistentVolumeClaim", None, GET_UPDATE)], Subdomain, Stored, "persistentvolumeclaims"),
    res("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, &["pv"], CRUD, &[], &[sub("status", "PersistentVolume", None, GET_UPDATE)], Subdomain, Stored, "persistentvolumes"),
    res("", "v1", "pods", "pod", "Pod", true, &["po"], CRUD, &["all"], &[sub("attach", "PodAttachOptions", None, &["create", "get"]), sub("binding", "Binding", None, CREATE), sub("ephemeralcontainers", "Pod", None, GET_UPDATE), sub("eviction", "Eviction", Some(("policy", "v1")), CREATE), sub("exec", "PodExecOptions", None, &["create", "get"]), sub("log", "Pod", None, &["get"]), sub("portforward", "PodPortForwardOptions", None, &["create", "get"]), sub("proxy", "PodProxyOptions", None, &["create", "delete", "get", "patch", "update"]), sub("status", "Pod", None, GET_UPDATE)], Subdomain, Stored, "pods"),
    res("", "v1", "podtemplates", "podtemplate", "PodTemplate", true, &[], CRUD, &[], &[], Subdomain, Stored, "podtemplates"),
    res("", "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController", true, &["rc"], CRUD, &["all"], &[sub("scale", "Scale", Some(("autoscaling", "v1")), GET_UPDATE), sub("status", "ReplicationController", None, GET_UPDATE)], Subdomain, Stored, "replicationcontrollers"),
    res("", "v1", "resourcequotas", "resourcequota", "ResourceQuota", true, &["quota"], CRUD, &[], &[sub("status", "ResourceQuota", None, GET_UPDATE)], Subdomain, Stored, "resourcequotas"),
    res("", "v1", "secrets", "secret", "Secret", true, &[], CRUD, &[], &[], Subdomain, Stored, "secrets"),
    res("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, &["sa"], CRUD, &[], &[sub("token", "TokenRequest", Some(("authentication.k8s.io", "v1")), CREATE)], Subdomain, Stored, "serviceaccounts"),
    res("", "v1", "services", "service", "Service", true, &["svc"], CRUD, &["all"], &[sub("proxy", "ServiceProxyOptions", None, &["create", "delete", "get", "patch", "update"]), sub("status", "Service", None, GET_UPDATE)], Dns1035, Stored, "services"),
    res("apiregistration.k8s.io", "v1", "apiservices", "apiservice", "APIService", false, &[], CRUD, &["api-extensions"], &[sub("status", "APIService", None, GET_UPDATE)], Subdomain, Stored, "apiservices"),
    res("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", true, &[], CRUD, &[], &[], Subdomain, Stored, "controllerrevisions"),
    res("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, &["ds"], CRUD, &["all"], &[sub("status", "DaemonSet", None, GET_UPDATE)], Subdomain, Stored, "daemonsets"),
    res("apps", "v1", "deployments", "deployment", "Deployment", true, &["deploy"], CRUD, &["all"], &[sub("scale", "Scale", Some(("autoscaling", "v1")), GET_UPDATE), sub("status", "Deployment", None, GET_UPDATE)], Subdomain, Stored, "deployments"),
    res("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, &["rs"], CRUD, &["all"], &[sub("scale", "Scale", Some(("autoscaling", "v1")), GET_UPDATE), sub("status", "ReplicaSet", None, GET_UPDATE)], Subdomain, Stored, "replicasets"),
    res("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, &["sts"], CRUD, &["all"], &[sub("scale", "Scale", Some(("autoscaling", "v1")), GET_UPDATE), sub("status", "StatefulSet", None, GET_UPDATE)], Label, Stored, "statefulsets"),
    res("events.k8s.io", "v1", "events", "event", "Event", true, &["ev"], CRUD, &[], &[], Subdomain, Stored, "events.k8s.io"),
    res("authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false, &[], CREATE, &[], &[], Subdomain, Review, "selfsubjectreviews"),
    res("authentication.k8s.io", "v1", "tokenreviews", "tokenreview", "TokenReview", false, &[], CREATE, &[], &[], Subdomain, Review, "tokenreviews"),
    res("authorization.k8s.io", "v1", "localsubjectaccessreviews", "localsubjectaccessreview", "LocalSubjectAccessReview", true, &[], CREATE, &[], &[], Subdomain, Review, "localsubjectaccessreviews"),
    res("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", false, &[], CREATE, &[], &[], Subdomain, Review, "selfsubjectaccessreviews"),
    res("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", false, &[], CREATE, &[], &[], Subdomain, Review, "selfsubjectrulesreviews"),
    res("authorization.k8s.io", "v1", "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false, &[], CREATE, &[], &[], Subdomain, Review, "subjectaccessreviews"),
    res("autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true, &["hpa"], CRUD, &["all"], &[sub("status", "HorizontalPodAutoscaler", None, GET_UPDATE)], Subdomain, Stored, "horizontalpodautoscalers"),
    res("batch", "v1", "cronjobs", "cronjob", "CronJob", true, &["cj"], CRUD, &["all"], &[sub("status", "CronJob", None, GET_UPDATE)], Subdomain, Stored, "cronjobs"),
    res("batch", "v1", "jobs", "job", "Job", true, &[], CRUD, &["all"], &[sub("status", "Job", None, GET_UPDATE)], Subdomain, Stored, "jobs"),
    res("certificates.k8s.io", "v1", "certificatesigningrequests", "certificatesigningrequest", "CertificateSigningRequest", false, &["csr"], CRUD, &[], &[sub("approval", "CertificateSigningRequest", None, GET_UPDATE), sub("status", "CertificateSigningRequest", None, GET_UPDATE)], Subdomain, Stored, "certificatesigningrequests"),
    res("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", false, &[], CRUD, &[], &[], Subdomain, Stored, "ingressclasses"),
    res("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, &["ing"], CRUD, &[], &[sub("status", "Ingress", None, GET_UPDATE)], Subdomain, Stored, "ingresses"),
    res("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, &["netpol"], CRUD, &[], &[], Subdomain, Stored, "networkpolicies"),
    res("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, &["pdb"], CRUD, &[], &[sub("status", "PodDisruptionBudget", None, GET_UPDATE)], Subdomain, Stored, "poddisruptionbudgets"),
    res("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, &[], CRUD, &[], &[], PathSegment, Stored, "clusterrolebindings"),
    res("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, &[], CRUD, &[], &[], PathSegment, Stored, "clusterroles"),
    res("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, &[], CRUD, &[], &[], PathSegment, Stored, "rolebindings"),
    res("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, &[], CRUD, &[], &[], PathSegment, Stored, "roles"),
    res("storage.k8s.io", "v1", "csidrivers", "csidriver", "CSIDriver", false, &[], CRUD, &[], &[], Subdomain, Stored, "csidrivers"),
    res("storage.k8s.io", "v1", "csinodes", "csinode", "CSINode", false, &[], CRUD, &[], &[], Subdomain, Stored, "csinodes"),
    res("storage.k8s.io", "v1", "csistoragecapacities", "csistoragecapacity", "CSIStorageCapacity", true, &[], CRUD, &[], &[], Subdomain, Stored, "csistoragecapacities"),
    res("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false, &["sc"], CRUD, &[], &[], Subdomain, Stored, "storageclasses"),
    res("storage.k8s.io", "v1", "volumeattachments", "volumeattachment", "VolumeAttachment", false, &[], CRUD, &[], &[sub("status", "VolumeAttachment", None, GET_UPDATE)], Subdomain, Stored, "volumeattachments"),
    res("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", false, &[], CRUD, &["api-extensions"], &[], Subdomain, Stored, "mutatingwebhookconfigurations"),
    res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "validatingadmissionpolicy", "ValidatingAdmissionPolicy", false, &[], CRUD, &["api-extensions"], &[sub("status", "ValidatingAdmissionPolicy", None, GET_UPDATE)], Subdomain, Stored, "validatingadmissionpolicies"),
    res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "validatingadmissionpolicybinding", "ValidatingAdmissionPolicyBinding", false, &[], CRUD, &["api-extensions"], &[], Subdomain, Stored, "validatingadmissionpolicybindings"),
    res("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", false, &[], CRUD, &["api-extensions"], &[], Subdomain, Stored, "validatingwebhookconfigurations"),
    res("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition", false, &["crd", "crds"], CRUD, &["api-extensions"], &[sub("status", "CustomResourceDefinition", None, GET_UPDATE)], Subdomain, Stored, "customresourcedefinitions"),
    res("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", false, &["pc"], CRUD, &[], &[], Subdomain, Stored, "priorityclasses"),
    res("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, &[], CRUD, &[], &[], Subdomain, Stored, "leases"),
    res("node.k8s.io", "v1", "runtimeclasses", "runtimeclass", "RuntimeClass", false, &[], CRUD, &[], &[], Subdomain, Stored, "runtimeclasses"),
    res("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, &[], CRUD, &[], &[], Subdomain, Stored, "endpointslices"),
    res("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "flowschema", "FlowSchema", false, &[], CRUD, &[], &[sub("status", "FlowSchema", None, GET_UPDATE)], Subdomain, Stored, "flowschemas"),
    res("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", "prioritylevelconfiguration", "PriorityLevelConfiguration", false, &[], CRUD, &[], &[sub("status", "PriorityLevelConfiguration", None, GET_UPDATE)], Subdomain, Stored, "prioritylevelconfigurations"),
];

/// The API groups besides core, in `/apis` order, each with the versions kauth serves (preferred first).
#[rustfmt::skip]
pub const GROUPS: &[(&str, &[&str])] = &[
    ("apiregistration.k8s.io", &["v1"]),
    ("apps", &["v1"]),
    ("events.k8s.io", &["v1"]),
    ("authentication.k8s.io", &["v1"]),
    ("authorization.k8s.io", &["v1"]),
    ("autoscaling", &["v2"]),
    ("batch", &["v1"]),
    ("certificates.k8s.io", &["v1"]),
    ("networking.k8s.io", &["v1"]),
    ("policy", &["v1"]),
    ("rbac.authorization.k8s.io", &["v1"]),
    ("storage.k8s.io", &["v1"]),
    ("admissionregistration.k8s.io", &["v1"]),
    ("apiextensions.k8s.io", &["v1"]),
    ("scheduling.k8s.io", &["v1"]),
    ("coordination.k8s.io", &["v1"]),
    ("node.k8s.io", &["v1"]),
    ("discovery.k8s.io", &["v1"]),
    ("flowcontrol.apiserver.k8s.io", &["v1"]),
];
