//! The pieces every protobuf-to-JSON conversion shares: a JSON object built field by field with
//! Go's `omitempty` rules, ObjectMeta, LabelSelector, and decoding a message.

use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use prost::Message;
use serde_json::{json, Map, Value};

use super::status::ApiError;

pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    pub(crate) fn new() -> Self {
        Obj(Map::new())
    }
    pub(crate) fn s(mut self, k: &str, v: &Option<String>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    /// A Go `string` field tagged `omitempty`: Go's protobuf writes it even when empty, and
    /// kube-apiserver, decoding it into a plain string, never shows an empty one.
    pub(crate) fn s_omitempty(mut self, k: &str, v: &Option<String>) -> Self {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    /// A Go `int64` field tagged `omitempty`, likewise.
    pub(crate) fn i_omitempty(mut self, k: &str, v: Option<i64>) -> Self {
        if let Some(v) = v.filter(|v| *v != 0) {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    pub(crate) fn b(mut self, k: &str, v: Option<bool>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    pub(crate) fn i(mut self, k: &str, v: Option<i64>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    pub(crate) fn list(mut self, k: &str, v: &[String]) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    pub(crate) fn map(mut self, k: &str, v: &std::collections::BTreeMap<String, String>) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    pub(crate) fn v(mut self, k: &str, v: Option<Value>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.into(), v);
        }
        self
    }
    pub(crate) fn objs(mut self, k: &str, v: Vec<Value>) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), Value::Array(v));
        }
        self
    }
    pub(crate) fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn time(t: &Option<meta::Time>) -> Option<Value> {
    // Go writes a zero Time (JSON `null`) as 0 seconds: not a time set.
    let t = t.as_ref().filter(|t| t.seconds.unwrap_or(0) != 0 || t.nanos.unwrap_or(0) != 0)?;
    let dt = time::OffsetDateTime::from_unix_timestamp(t.seconds.unwrap_or(0)).ok()?;
    Some(json!(kauth::timestamp::rfc3339(dt)))
}

pub(crate) fn object_meta(m: &Option<meta::ObjectMeta>) -> Option<Value> {
    let m = m.as_ref()?;
    Some(
        Obj::new()
            .s_omitempty("name", &m.name)
            .s_omitempty("generateName", &m.generate_name)
            .s_omitempty("namespace", &m.namespace)
            .s_omitempty("uid", &m.uid)
            .s_omitempty("resourceVersion", &m.resource_version)
            .i_omitempty("generation", m.generation)
            .v("creationTimestamp", time(&m.creation_timestamp))
            .v("deletionTimestamp", time(&m.deletion_timestamp))
            .map("labels", &m.labels)
            .map("annotations", &m.annotations)
            .objs(
                "ownerReferences",
                m.owner_references
                    .iter()
                    .map(|o| {
                        Obj::new()
                            .s("apiVersion", &o.api_version)
                            .s("kind", &o.kind)
                            .s("name", &o.name)
                            .s("uid", &o.uid)
                            .b("controller", o.controller)
                            .b("blockOwnerDeletion", o.block_owner_deletion)
                            .done()
                    })
                    .collect(),
            )
            .list("finalizers", &m.finalizers)
            .done(),
    )
}

pub(crate) fn label_selector(l: &meta::LabelSelector) -> Value {
    Obj::new()
        .map("matchLabels", &l.match_labels)
        .objs(
            "matchExpressions",
            l.match_expressions
                .iter()
                .map(|e| Obj::new().s("key", &e.key).s("operator", &e.operator).list("values", &e.values).done())
                .collect(),
        )
        .done()
}

pub(crate) fn decode<M: Message + Default>(kind: &str, raw: &[u8]) -> Result<M, ApiError> {
    M::decode(raw).map_err(|e| ApiError::bad_request(format!("{kind} in protobuf could not be decoded: {e}")))
}
