//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl's
//! typed clients send for `create`, `create token`, `auth can-i` and `auth whoami`.
//!
//! The envelope is the 4-byte magic `k8s\0` and a `runtime.Unknown` whose `raw` holds the
//! object's message; the messages are k8s-pb's (prost). Each kind kauth accepts is turned into
//! the same JSON its JSON clients send, so one code path (typed decoding, validation) follows.
//! Responses stay JSON: kubectl accepts `application/json` as well.

use base64::Engine;
use k8s_pb::api::{authentication::v1 as authn, authorization::v1 as authz, core::v1 as core, rbac::v1 as rbac};
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use prost::Message;
use serde_json::{json, Map, Value};

use super::protobuf_json::{decode, label_selector, object_meta, Obj};
use super::status::ApiError;

/// The media type.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

fn rules(r: &[rbac::PolicyRule]) -> Vec<Value> {
    r.iter()
        .map(|r| {
            Obj::new()
                .list("verbs", &r.verbs)
                .list("apiGroups", &r.api_groups)
                .list("resources", &r.resources)
                .list("resourceNames", &r.resource_names)
                .list("nonResourceURLs", &r.non_resource_ur_ls)
                .done()
        })
        .collect()
}

fn binding(metadata: &Option<meta::ObjectMeta>, subjects: &[rbac::Subject], role_ref: &Option<rbac::RoleRef>) -> Obj {
    Obj::new()
        .v("metadata", object_meta(metadata))
        .objs(
            "subjects",
            subjects
                .iter()
                .map(|s| {
                    Obj::new()
                        .s("kind", &s.kind)
                        .s_omitempty("apiGroup", &s.api_group)
                        .s("name", &s.name)
                        .s_omitempty("namespace", &s.namespace)
                        .done()
                })
                .collect(),
        )
        .v(
            "roleRef",
            role_ref
                .as_ref()
                .map(|r| Obj::new().s("apiGroup", &r.api_group).s("kind", &r.kind).s("name", &r.name).done()),
        )
}

fn resource_attributes(r: &Option<authz::ResourceAttributes>) -> Option<Value> {
    let r = r.as_ref()?;
    Some(
        Obj::new()
            .s_omitempty("namespace", &r.namespace)
            .s_omitempty("verb", &r.verb)
            .s_omitempty("group", &r.group)
            .s_omitempty("version", &r.version)
            .s_omitempty("resource", &r.resource)
            .s_omitempty("subresource", &r.subresource)
            .s_omitempty("name", &r.name)
            .done(),
    )
}

fn non_resource_attributes(r: &Option<authz::NonResourceAttributes>) -> Option<Value> {
    let r = r.as_ref()?;
    Some(Obj::new().s_omitempty("path", &r.path).s_omitempty("verb", &r.verb).done())
}

fn b64_map(m: &std::collections::BTreeMap<String, Vec<u8>>) -> std::collections::BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), base64::engine::general_purpose::STANDARD.encode(v))).collect()
}

/// Decodes a protobuf body into Kubernetes JSON (with apiVersion and kind).
pub fn to_json(body: &[u8]) -> Result<Value, ApiError> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| ApiError::bad_request("protobuf body does not start with the Kubernetes magic number"))?;
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(rest)
        .map_err(|e| ApiError::bad_request(format!("protobuf envelope could not be decoded: {e}")))?;
    let tm = unknown.type_meta.unwrap_or_default();
    let api_version = tm.api_version.unwrap_or_default();
    let kind = tm.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let body = match kind.as_str() {
        "ServiceAccount" => {
            let m: core::ServiceAccount = decode(&kind, &raw)?;
            Obj::new()
                .v("metadata", object_meta(&m.metadata))
                .objs(
                    "secrets",
                    m.secrets
                        .iter()
                        .map(|r| {
                            Obj::new()
                                .s_omitempty("kind", &r.kind)
                                .s_omitempty("namespace", &r.namespace)
                                .s_omitempty("name", &r.name)
                                .s_omitempty("uid", &r.uid)
                                .s_omitempty("apiVersion", &r.api_version)
                                .done()
                        })
                        .collect(),
                )
                .objs(
                    "imagePullSecrets",
                    m.image_pull_secrets.iter().map(|r| Obj::new().s("name", &r.name).done()).collect(),
                )
                .b("automountServiceAccountToken", m.automount_service_account_token)
        }
        "Namespace" => {
            let m: core::Namespace = decode(&kind, &raw)?;
            Obj::new()
                .v("metadata", object_meta(&m.metadata))
                .v("spec", m.spec.map(|s| Obj::new().list("finalizers", &s.finalizers).done()))
        }
        "Secret" => {
            let m: core::Secret = decode(&kind, &raw)?;
            Obj::new()
                .v("metadata", object_meta(&m.metadata))
                .b("immutable", m.immutable)
                .map("data", &b64_map(&m.data))
                .map("stringData", &m.string_data)
                .s_omitempty("type", &m.r#type)
        }
        "ConfigMap" => {
            let m: core::ConfigMap = decode(&kind, &raw)?;
            Obj::new()
                .v("metadata", object_meta(&m.metadata))
                .b("immutable", m.immutable)
                .map("data", &m.data)
                .map("binaryData", &b64_map(&m.binary_data))
        }
        "Role" => {
            let m: rbac::Role = decode(&kind, &raw)?;
            Obj::new().v("metadata", object_meta(&m.metadata)).objs("rules", rules(&m.rules))
        }
        "ClusterRole" => {
            let m: rbac::ClusterRole = decode(&kind, &raw)?;
            Obj::new().v("metadata", object_meta(&m.metadata)).objs("rules", rules(&m.rules)).v(
                "aggregationRule",
                m.aggregation_rule.map(|a| {
                    Obj::new()
                        .objs("clusterRoleSelectors", a.cluster_role_selectors.iter().map(label_selector).collect())
                        .done()
                }),
            )
        }
        "RoleBinding" => {
            let m: rbac::RoleBinding = decode(&kind, &raw)?;
            binding(&m.metadata, &m.subjects, &m.role_ref)
        }
        "ClusterRoleBinding" => {
            let m: rbac::ClusterRoleBinding = decode(&kind, &raw)?;
            binding(&m.metadata, &m.subjects, &m.role_ref)
        }
        "TokenRequest" => {
            let m: authn::TokenRequest = decode(&kind, &raw)?;
            Obj::new().v("metadata", object_meta(&m.metadata)).v(
                "spec",
                m.spec.map(|s| {
                    Obj::new()
                        .list("audiences", &s.audiences)
                        .i("expirationSeconds", s.expiration_seconds)
                        .v(
                            "boundObjectRef",
                            s.bound_object_ref.map(|b| {
                                Obj::new()
                                    .s_omitempty("kind", &b.kind)
                                    .s_omitempty("apiVersion", &b.api_version)
                                    .s_omitempty("name", &b.name)
                                    .s_omitempty("uid", &b.u_id)
                                    .done()
                            }),
                        )
                        .done()
                }),
            )
        }
        "TokenReview" => {
            let m: authn::TokenReview = decode(&kind, &raw)?;
            Obj::new().v("metadata", object_meta(&m.metadata)).v(
                "spec",
                m.spec.map(|s| Obj::new().s_omitempty("token", &s.token).list("audiences", &s.audiences).done()),
            )
        }
        "SelfSubjectReview" => {
            let m: authn::SelfSubjectReview = decode(&kind, &raw)?;
            Obj::new().v("metadata", object_meta(&m.metadata))
        }
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let (metadata, spec) = if kind == "SubjectAccessReview" {
                let m: authz::SubjectAccessReview = decode(&kind, &raw)?;
                (m.metadata, m.spec)
            } else {
                let m: authz::LocalSubjectAccessReview = decode(&kind, &raw)?;
                (m.metadata, m.spec)
            };
            Obj::new().v("metadata", object_meta(&metadata)).v(
                "spec",
                spec.map(|s| {
                    let extra: Map<String, Value> = s.extra.iter().map(|(k, v)| (k.clone(), json!(v.items))).collect();
                    Obj::new()
                        .v("resourceAttributes", resource_attributes(&s.resource_attributes))
                        .v("nonResourceAttributes", non_resource_attributes(&s.non_resource_attributes))
                        .s_omitempty("user", &s.user)
                        .list("groups", &s.groups)
                        .v("extra", (!extra.is_empty()).then_some(Value::Object(extra)))
                        .s_omitempty("uid", &s.uid)
                        .done()
                }),
            )
        }
        "SelfSubjectAccessReview" => {
            let m: authz::SelfSubjectAccessReview = decode(&kind, &raw)?;
            Obj::new().v("metadata", object_meta(&m.metadata)).v(
                "spec",
                m.spec.map(|s| {
                    Obj::new()
                        .v("resourceAttributes", resource_attributes(&s.resource_attributes))
                        .v("nonResourceAttributes", non_resource_attributes(&s.non_resource_attributes))
                        .done()
                }),
            )
        }
        "SelfSubjectRulesReview" => {
            let m: authz::SelfSubjectRulesReview = decode(&kind, &raw)?;
            Obj::new()
                .v("metadata", object_meta(&m.metadata))
                .v("spec", m.spec.map(|s| Obj::new().s_omitempty("namespace", &s.namespace).done()))
        }
        "Deployment" => super::protobuf_deployment::deployment(&raw)?,
        other => {
            return Err(ApiError {
                code: 415,
                reason: "UnsupportedMediaType",
                message: format!("kauth does not decode {other} from protobuf; send application/json"),
                details: None,
            })
        }
    };
    let mut v = body.done();
    v["apiVersion"] = json!(api_version);
    v["kind"] = json!(kind);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let u = k8s_pb::apimachinery::pkg::runtime::Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(u.encode_to_vec());
        out
    }

    #[test]
    fn service_account_and_token_request_decode_to_kubernetes_json() {
        let sa = core::ServiceAccount {
            // Go's protobuf writes every plain string and integer, empty or not, as kubectl sends.
            metadata: Some(meta::ObjectMeta {
                name: Some("builder".into()),
                generate_name: Some(String::new()),
                namespace: Some(String::new()),
                generation: Some(0),
                labels: [("a".to_string(), "b".to_string())].into(),
                ..Default::default()
            }),
            automount_service_account_token: Some(false),
            ..Default::default()
        };
        let v = to_json(&envelope("v1", "ServiceAccount", sa.encode_to_vec())).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder", "labels": {"a": "b"}}, "automountServiceAccountToken": false})
        );
        let tr = authn::TokenRequest {
            spec: Some(authn::TokenRequestSpec {
                audiences: vec!["x".into()],
                expiration_seconds: Some(600),
                bound_object_ref: None,
            }),
            ..Default::default()
        };
        let v = to_json(&envelope("authentication.k8s.io/v1", "TokenRequest", tr.encode_to_vec())).unwrap();
        assert_eq!(v["spec"], json!({"audiences": ["x"], "expirationSeconds": 600}));
    }

    #[test]
    fn garbage_is_a_bad_request_not_a_panic() {
        assert_eq!(to_json(b"nope").unwrap_err().code, 400);
        assert_eq!(to_json(b"k8s\0\xff\xff\xff").unwrap_err().code, 400);
        assert_eq!(to_json(&envelope("v1", "ServiceAccount", vec![0xff, 0xff])).unwrap_err().code, 400);
        assert_eq!(to_json(&envelope("v1", "Pod", vec![])).unwrap_err().code, 415);
    }
}
