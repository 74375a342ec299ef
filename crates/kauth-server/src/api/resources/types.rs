//! Which k8s-openapi type each stored or accepted kind is decoded through, by `apiVersion` and
//! kind together: `Event` is a kind of both the core group and events.k8s.io, with different
//! fields, so a kind alone does not name a type.

use serde_json::Value;

/// Decoded from the borrowed value (no copy of the body first), then encoded again.
fn rt<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Result<Value, serde_json::Error> {
    let t = T::deserialize(v)?;
    serde_json::to_value(t)
}

/// Whether kauth has a type for `kind` in `api_version`.
pub fn known(api_version: &str, kind: &str) -> bool {
    roundtrip(api_version, kind, &Value::Object(Default::default())).is_some()
}

/// Decodes and re-encodes `v` as the k8s-openapi type of `kind` in `api_version`; `None` for a
/// kind kauth has no type for.
pub fn roundtrip(api_version: &str, kind: &str, v: &Value) -> Option<Result<Value, serde_json::Error>> {
    Some(match (api_version, kind) {
        ("v1", "ConfigMap") => rt::<k8s_openapi::api::core::v1::ConfigMap>(v),
        ("v1", "Endpoints") => rt::<k8s_openapi::api::core::v1::Endpoints>(v),
        ("v1", "Event") => rt::<k8s_openapi::api::core::v1::Event>(v),
        ("v1", "LimitRange") => rt::<k8s_openapi::api::core::v1::LimitRange>(v),
        ("v1", "Namespace") => rt::<k8s_openapi::api::core::v1::Namespace>(v),
        ("v1", "Node") => rt::<k8s_openapi::api::core::v1::Node>(v),
        ("v1", "PersistentVolumeClaim") => rt::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(v),
        ("v1", "PersistentVolume") => rt::<k8s_openapi::api::core::v1::PersistentVolume>(v),
        ("v1", "Pod") => rt::<k8s_openapi::api::core::v1::Pod>(v),
        ("v1", "PodTemplate") => rt::<k8s_openapi::api::core::v1::PodTemplate>(v),
        ("v1", "ReplicationController") => rt::<k8s_openapi::api::core::v1::ReplicationController>(v),
        ("v1", "ResourceQuota") => rt::<k8s_openapi::api::core::v1::ResourceQuota>(v),
        ("v1", "Secret") => rt::<k8s_openapi::api::core::v1::Secret>(v),
        ("v1", "ServiceAccount") => rt::<k8s_openapi::api::core::v1::ServiceAccount>(v),
        ("v1", "Service") => rt::<k8s_openapi::api::core::v1::Service>(v),
        ("apiregistration.k8s.io/v1", "APIService") => {
            rt::<k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService>(v)
        }
        ("apps/v1", "ControllerRevision") => rt::<k8s_openapi::api::apps::v1::ControllerRevision>(v),
        ("apps/v1", "DaemonSet") => rt::<k8s_openapi::api::apps::v1::DaemonSet>(v),
        ("apps/v1", "Deployment") => rt::<k8s_openapi::api::apps::v1::Deployment>(v),
        ("apps/v1", "ReplicaSet") => rt::<k8s_openapi::api::apps::v1::ReplicaSet>(v),
        ("apps/v1", "StatefulSet") => rt::<k8s_openapi::api::apps::v1::StatefulSet>(v),
        ("events.k8s.io/v1", "Event") => rt::<k8s_openapi::api::events::v1::Event>(v),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            rt::<k8s_openapi::api::authentication::v1::SelfSubjectReview>(v)
        }
        ("authentication.k8s.io/v1", "TokenReview") => rt::<k8s_openapi::api::authentication::v1::TokenReview>(v),
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => {
            rt::<k8s_openapi::api::authorization::v1::LocalSubjectAccessReview>(v)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            rt::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview>(v)
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            rt::<k8s_openapi::api::authorization::v1::SelfSubjectRulesReview>(v)
        }
        ("authorization.k8s.io/v1", "SubjectAccessReview") => {
            rt::<k8s_openapi::api::authorization::v1::SubjectAccessReview>(v)
        }
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            rt::<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>(v)
        }
        ("batch/v1", "CronJob") => rt::<k8s_openapi::api::batch::v1::CronJob>(v),
        ("batch/v1", "Job") => rt::<k8s_openapi::api::batch::v1::Job>(v),
        ("certificates.k8s.io/v1", "CertificateSigningRequest") => {
            rt::<k8s_openapi::api::certificates::v1::CertificateSigningRequest>(v)
        }
        ("networking.k8s.io/v1", "IngressClass") => rt::<k8s_openapi::api::networking::v1::IngressClass>(v),
        ("networking.k8s.io/v1", "Ingress") => rt::<k8s_openapi::api::networking::v1::Ingress>(v),
        ("networking.k8s.io/v1", "NetworkPolicy") => rt::<k8s_openapi::api::networking::v1::NetworkPolicy>(v),
        ("policy/v1", "PodDisruptionBudget") => rt::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(v),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            rt::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>(v)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => rt::<k8s_openapi::api::rbac::v1::ClusterRole>(v),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => rt::<k8s_openapi::api::rbac::v1::RoleBinding>(v),
        ("rbac.authorization.k8s.io/v1", "Role") => rt::<k8s_openapi::api::rbac::v1::Role>(v),
        ("storage.k8s.io/v1", "CSIDriver") => rt::<k8s_openapi::api::storage::v1::CSIDriver>(v),
        ("storage.k8s.io/v1", "CSINode") => rt::<k8s_openapi::api::storage::v1::CSINode>(v),
        ("storage.k8s.io/v1", "CSIStorageCapacity") => rt::<k8s_openapi::api::storage::v1::CSIStorageCapacity>(v),
        ("storage.k8s.io/v1", "StorageClass") => rt::<k8s_openapi::api::storage::v1::StorageClass>(v),
        ("storage.k8s.io/v1", "VolumeAttachment") => rt::<k8s_openapi::api::storage::v1::VolumeAttachment>(v),
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration") => {
            rt::<k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration>(v)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy") => {
            rt::<k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy>(v)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding") => {
            rt::<k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding>(v)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration") => {
            rt::<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration>(v)
        }
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            rt::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>(v)
        }
        ("scheduling.k8s.io/v1", "PriorityClass") => rt::<k8s_openapi::api::scheduling::v1::PriorityClass>(v),
        ("coordination.k8s.io/v1", "Lease") => rt::<k8s_openapi::api::coordination::v1::Lease>(v),
        ("node.k8s.io/v1", "RuntimeClass") => rt::<k8s_openapi::api::node::v1::RuntimeClass>(v),
        ("discovery.k8s.io/v1", "EndpointSlice") => rt::<k8s_openapi::api::discovery::v1::EndpointSlice>(v),
        ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema") => rt::<k8s_openapi::api::flowcontrol::v1::FlowSchema>(v),
        ("flowcontrol.apiserver.k8s.io/v1", "PriorityLevelConfiguration") => {
            rt::<k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration>(v)
        }
        ("authentication.k8s.io/v1", "TokenRequest") => rt::<k8s_openapi::api::authentication::v1::TokenRequest>(v),
        ("autoscaling/v1", "Scale") => rt::<k8s_openapi::api::autoscaling::v1::Scale>(v),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_and_review_kind_has_its_type() {
        for r in super::super::table::RESOURCES.iter().filter(|r| r.serving != super::super::model::Serving::Unserved) {
            assert!(known(&r.api_version(), r.kind), "{}/{}", r.api_version(), r.kind);
        }
        let core =
            roundtrip("v1", "Event", &serde_json::json!({"metadata": {}, "involvedObject": {}})).unwrap().unwrap();
        assert!(core.get("involvedObject").is_some());
        let events = roundtrip(
            "events.k8s.io/v1",
            "Event",
            &serde_json::json!({"involvedObject": {}, "regarding": {}, "eventTime": "2024-01-01T00:00:00.000000Z"}),
        );
        assert!(events.unwrap().unwrap().get("involvedObject").is_none(), "events.k8s.io has no involvedObject");
    }
}
