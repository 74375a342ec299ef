//! What a pod bound to a node lets that node read: the objects its spec names, as
//! kube-apiserver's graph finds them (`AddPod` over `podutil.VisitPodSecretNames`,
//! `VisitPodConfigmapNames`, the volumes' claims and the resource claims).

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};

use super::vertex::VertexKind;

/// The annotation that marks a mirror pod (a static pod's copy in the API).
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// A pod as the graph keeps it: its node and the objects (in its namespace) it references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRefs {
    /// The node it is bound to (`spec.nodeName`).
    pub node: String,
    /// The objects it references, each once, in the order kube-apiserver visits them.
    pub refs: Vec<(VertexKind, String)>,
}

impl PodRefs {
    /// What `pod` references; `None` when it is bound to no node (kube-apiserver's graph leaves
    /// such pods out). A mirror pod references nothing: a node must not grant itself access to
    /// objects by creating one.
    pub fn of(pod: &Pod) -> Option<PodRefs> {
        let spec = pod.spec.as_ref()?;
        let node = spec.node_name.as_deref().filter(|n| !n.is_empty())?.to_owned();
        let mut out = PodRefs { node, refs: Vec::new() };
        let mirror = pod.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION));
        if mirror {
            return Some(out);
        }
        if let Some(sa) = spec.service_account_name.as_deref().filter(|s| !s.is_empty()) {
            out.push(VertexKind::ServiceAccount, sa);
        }
        visit_secrets(spec, &mut |s| out.push(VertexKind::Secret, s));
        visit_config_maps(spec, &mut |c| out.push(VertexKind::ConfigMap, c));
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        for v in spec.volumes.iter().flatten() {
            if let Some(pvc) = &v.persistent_volume_claim {
                out.push(VertexKind::Pvc, &pvc.claim_name);
            } else if v.ephemeral.is_some() {
                // ephemeral.VolumeClaimName: the claim a generic ephemeral volume gets.
                out.push(VertexKind::Pvc, &format!("{pod_name}-{}", v.name));
            }
        }
        let statuses = pod.status.as_ref().and_then(|s| s.resource_claim_statuses.as_ref());
        for claim in spec.resource_claims.iter().flatten() {
            // resourceclaim.Name: a named claim; or the claim made from a template, once the
            // pod's status names it (none yet, or none needed: no edge).
            let name = match (&claim.resource_claim_name, &claim.resource_claim_template_name) {
                (Some(n), _) => Some(n.clone()),
                (None, Some(_)) => statuses
                    .and_then(|s| s.iter().find(|st| st.name == claim.name))
                    .and_then(|st| st.resource_claim_name.clone()),
                (None, None) => None,
            };
            if let Some(name) = name {
                out.push(VertexKind::ResourceClaim, &name);
            }
        }
        Some(out)
    }

    fn push(&mut self, kind: VertexKind, name: &str) {
        if !name.is_empty() && !self.refs.iter().any(|(k, n)| *k == kind && n == name) {
            self.refs.push((kind, name.to_owned()));
        }
    }
}

/// Init containers, containers, then ephemeral containers, as `podutil.VisitContainers`.
fn containers(spec: &PodSpec) -> impl Iterator<Item = ContainerRefs<'_>> {
    let init = spec.init_containers.iter().flatten().map(ContainerRefs::of);
    let main = spec.containers.iter().map(ContainerRefs::of);
    let ephemeral = spec.ephemeral_containers.iter().flatten().map(|c| ContainerRefs {
        env_from: c.env_from.as_deref().unwrap_or_default(),
        env: c.env.as_deref().unwrap_or_default(),
    });
    init.chain(main).chain(ephemeral)
}

/// The parts of a container (or an ephemeral one) that name objects.
struct ContainerRefs<'a> {
    env_from: &'a [k8s_openapi::api::core::v1::EnvFromSource],
    env: &'a [k8s_openapi::api::core::v1::EnvVar],
}

impl<'a> ContainerRefs<'a> {
    fn of(c: &'a Container) -> Self {
        ContainerRefs { env_from: c.env_from.as_deref().unwrap_or_default(), env: c.env.as_deref().unwrap_or_default() }
    }
}

fn visit_secrets(spec: &PodSpec, visit: &mut dyn FnMut(&str)) {
    for r in spec.image_pull_secrets.iter().flatten() {
        visit(&r.name);
    }
    for c in containers(spec) {
        for e in c.env_from {
            if let Some(s) = &e.secret_ref {
                visit(&s.name);
            }
        }
        for e in c.env {
            if let Some(s) = e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
                visit(&s.name);
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        // One source per volume, in the order kube-apiserver's switch tests them.
        let name = if let Some(s) = &v.azure_file {
            Some(s.secret_name.as_str())
        } else if let Some(s) = &v.cephfs {
            s.secret_ref.as_ref().map(|r| r.name.as_str())
        } else if let Some(s) = &v.cinder {
            s.secret_ref.as_ref().map(|r| r.name.as_str())
        } else if let Some(s) = &v.flex_volume {
            s.secret_ref.as_ref().map(|r| r.name.as_str())
        } else if let Some(p) = &v.projected {
            for s in p.sources.iter().flatten().filter_map(|s| s.secret.as_ref()) {
                visit(&s.name);
            }
            None
        } else if let Some(s) = &v.rbd {
            s.secret_ref.as_ref().map(|r| r.name.as_str())
        } else if let Some(s) = &v.secret {
            s.secret_name.as_deref()
        } else if let Some(s) = &v.scale_io {
            Some(s.secret_ref.name.as_str())
        } else if let Some(s) = &v.iscsi {
            s.secret_ref.as_ref().map(|r| r.name.as_str())
        } else if let Some(s) = &v.storageos {
            s.secret_ref.as_ref().map(|r| r.name.as_str())
        } else if let Some(s) = &v.csi {
            s.node_publish_secret_ref.as_ref().map(|r| r.name.as_str())
        } else {
            None
        };
        if let Some(name) = name {
            visit(name);
        }
    }
}

fn visit_config_maps(spec: &PodSpec, visit: &mut dyn FnMut(&str)) {
    for c in containers(spec) {
        for e in c.env_from {
            if let Some(s) = &e.config_map_ref {
                visit(&s.name);
            }
        }
        for e in c.env {
            if let Some(s) = e.value_from.as_ref().and_then(|v| v.config_map_key_ref.as_ref()) {
                visit(&s.name);
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(p) = &v.projected {
            for c in p.sources.iter().flatten().filter_map(|s| s.config_map.as_ref()) {
                visit(&c.name);
            }
        } else if let Some(c) = &v.config_map {
            visit(&c.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_kind_of_reference_is_found_once() {
        let p = pod(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {
                "nodeName": "n1",
                "serviceAccountName": "sa",
                "imagePullSecrets": [{"name": "pull"}, {"name": ""}],
                "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
                "containers": [{"name": "c",
                    "envFrom": [{"configMapRef": {"name": "cm-env"}}, {"secretRef": {"name": "pull"}}],
                    "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "key-secret", "key": "k"}}},
                            {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "key-cm", "key": "k"}}}]}],
                "ephemeralContainers": [{"name": "e", "env": [{"name": "C", "valueFrom": {"secretKeyRef": {"name": "eph", "key": "k"}}}]}],
                "volumes": [
                    {"name": "s", "secret": {"secretName": "vol-secret"}},
                    {"name": "c", "configMap": {"name": "vol-cm"}},
                    {"name": "pr", "projected": {"sources": [{"secret": {"name": "proj-secret"}}, {"configMap": {"name": "proj-cm"}}, {"serviceAccountToken": {"path": "t"}}]}},
                    {"name": "csi", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-secret"}}},
                    {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}
                ],
                "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu-claim"},
                                   {"name": "t", "resourceClaimTemplateName": "tpl"},
                                   {"name": "u", "resourceClaimTemplateName": "tpl"}]
            },
            "status": {"resourceClaimStatuses": [{"name": "t", "resourceClaimName": "p-t-abc"}, {"name": "u"}]}
        }));
        let refs = PodRefs::of(&p).unwrap();
        assert_eq!(refs.node, "n1");
        use VertexKind::*;
        let want: Vec<(VertexKind, String)> = [
            (ServiceAccount, "sa"),
            (Secret, "pull"),
            (Secret, "init-env"),
            (Secret, "key-secret"),
            (Secret, "eph"),
            (Secret, "vol-secret"),
            (Secret, "proj-secret"),
            (Secret, "csi-secret"),
            (ConfigMap, "cm-env"),
            (ConfigMap, "key-cm"),
            (ConfigMap, "vol-cm"),
            (ConfigMap, "proj-cm"),
            (Pvc, "data"),
            (Pvc, "p-scratch"),
            (ResourceClaim, "gpu-claim"),
            (ResourceClaim, "p-t-abc"),
        ]
        .into_iter()
        .map(|(k, n)| (k, n.to_owned()))
        .collect();
        assert_eq!(refs.refs, want);
    }

    #[test]
    fn unbound_pods_are_left_out_and_mirror_pods_reference_nothing() {
        assert_eq!(PodRefs::of(&pod(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}))), None);
        let mirror = pod(json!({
            "metadata": {"name": "p", "annotations": {"kubernetes.io/config.mirror": "x"}},
            "spec": {"nodeName": "n1", "serviceAccountName": "sa", "containers": [],
                     "volumes": [{"name": "s", "secret": {"secretName": "s"}}]}
        }));
        assert_eq!(PodRefs::of(&mirror), Some(PodRefs { node: "n1".into(), refs: vec![] }));
    }
}
