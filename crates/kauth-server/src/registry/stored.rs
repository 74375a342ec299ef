//! An object as the registry holds it: compact, as the JSON it is served as, decoded on demand;
//! with what token validation reads of it worked out once.
//!
//! A million ServiceAccounts held as decoded `serde_json::Value`s took about 3 KiB each (a
//! tree of small maps and strings); held as their JSON text they take the size of that text,
//! a few hundred bytes. Reads that only pass an object on (a GET, a list, a watch event) copy
//! the text as it is, with no decoding; the few that look inside (selectors, tables, updates,
//! the controllers) decode it, or only the part they read ([`Stored::decode`]).
//!
//! The text leaves out `kind` and `apiVersion` (the type's, put back when the whole object is
//! written: [`Stored::write_json`]) because list items go without them, as kube-apiserver's
//! do; and it holds `metadata.resourceVersion`, which the store does not keep in values.

use std::sync::{Arc, OnceLock};

use kauth::token::validate::{ObjectState, SecretState};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::encoded::Encoded;
use crate::api::resources::ResourceType;
use crate::api::selector::Selector;

/// An object as read: its JSON and revision.
pub struct Stored {
    resource: &'static ResourceType,
    /// The object's JSON but `kind` and `apiVersion`, with `metadata.resourceVersion`: always a
    /// JSON object, as serde_json wrote it.
    body: Box<str>,
    /// Its revision.
    pub revision: u64,
    /// What token validation reads of it (uid, deletion; a Secret's token and labels), worked
    /// out once, at the first lookup, instead of at every one.
    object_state: OnceLock<Arc<ObjectState>>,
    secret_state: OnceLock<Arc<SecretState>>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may be a Secret: its length only.
        f.debug_struct("Stored")
            .field("kind", &self.resource.kind)
            .field("revision", &self.revision)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision && std::ptr::eq(self.resource, other.resource) && self.body == other.body
    }
}

/// The three names of an object's metadata most readers want, decoded alone.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Names {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (empty for cluster-scoped objects).
    pub namespace: String,
    /// `metadata.uid`.
    pub uid: String,
}

#[derive(serde::Deserialize)]
struct OnlyMetadata {
    #[serde(default)]
    metadata: Names,
}

impl Stored {
    /// `value`, an object of `resource`, read at `revision`: its `resourceVersion` is set to
    /// `revision`.
    pub fn new(resource: &'static ResourceType, value: Value, revision: u64) -> Self {
        Stored::encoded(resource, &Encoded::new(value), revision)
    }

    /// An object of `resource` already serialized for the store, at `revision`.
    pub fn encoded(resource: &'static ResourceType, encoded: &Encoded, revision: u64) -> Self {
        let body = encoded.body(revision);
        Stored { resource, body, revision, object_state: OnceLock::new(), secret_state: OnceLock::new() }
    }

    /// The same object at another revision (a deletion's last state, at the deleting revision).
    pub fn at_revision(&self, revision: u64) -> Self {
        Stored::new(self.resource, self.value(), revision)
    }

    /// The resource it is an object of.
    pub fn resource(&self) -> &'static ResourceType {
        self.resource
    }

    /// The whole object, decoded: `kind`, `apiVersion`, `metadata.resourceVersion` and the rest.
    pub fn value(&self) -> Value {
        let mut value = self.decode::<Value>().unwrap_or_else(|e| {
            // The body is serde_json's own output, so this does not happen; if it did, the
            // object is served empty rather than taking the server down.
            tracing::error!(kind = self.resource.kind, revision = self.revision, "a held object does not decode: {e}");
            Value::Object(Map::new())
        });
        if let Value::Object(m) = &mut value {
            m.insert("apiVersion".into(), Value::String(self.resource.api_version()));
            m.insert("kind".into(), Value::String(self.resource.kind.to_owned()));
        }
        value
    }

    /// The object decoded as `T`, from its JSON without `kind` and `apiVersion` (k8s-openapi's
    /// types accept them absent; a struct of the few fields a reader needs decodes only those).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.body)
    }

    /// Its name, namespace and uid, decoded without the rest.
    pub fn names(&self) -> Names {
        self.decode::<OnlyMetadata>().map(|m| m.metadata).unwrap_or_default()
    }

    /// Whether `selector` selects it (decoding it only for a selector that reads it).
    pub fn selected_by(&self, selector: &Selector) -> bool {
        selector.is_empty() || selector.matches(&self.value())
    }

    /// Whether its JSON holds `text` anywhere: a quick "certainly not" before decoding for a
    /// field (serde_json writes ASCII names as they are, never escaped).
    pub fn mentions(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    /// Its JSON as a list item: without `kind` and `apiVersion`.
    pub fn item_json(&self) -> &str {
        &self.body
    }

    /// Appends the whole object's JSON (with `kind` and `apiVersion`) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"apiVersion\":");
        // Writing to a `Vec` cannot fail. `collect_str` escapes as `to_writer` does, without a
        // `String` for the text first.
        let _ = serde::Serializer::collect_str(
            &mut serde_json::Serializer::new(&mut *out),
            &self.resource.api_version_text(),
        );
        out.extend_from_slice(b",\"kind\":");
        let _ = serde_json::to_writer(&mut *out, self.resource.kind);
        match self.body.strip_prefix('{') {
            Some("}") | None => out.push(b'}'),
            Some(members) => {
                out.push(b',');
                out.extend_from_slice(members.as_bytes());
            }
        }
    }

    /// The whole object's JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 64);
        self.write_json(&mut out);
        out
    }

    /// Its uid and deletion time, for token validation.
    pub fn object_state(&self) -> Arc<ObjectState> {
        self.object_state.get_or_init(|| Arc::new(self.state())).clone()
    }

    /// As a legacy token Secret: its token and invalid-since label, for token validation.
    pub fn secret_state(&self) -> Arc<SecretState> {
        self.secret_state
            .get_or_init(|| {
                let value = self.value();
                let token = value.pointer("/data/token").and_then(Value::as_str).and_then(|b| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(b).ok()
                });
                let invalid_since = value
                    .pointer("/metadata/labels/kubernetes.io~1legacy-token-invalid-since")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Arc::new(SecretState { object: (*self.object_state()).clone(), token, invalid_since })
            })
            .clone()
    }

    fn state(&self) -> ObjectState {
        #[derive(Default, serde::Deserialize)]
        #[serde(default, rename_all = "camelCase")]
        struct Meta {
            uid: String,
            deletion_timestamp: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Object {
            #[serde(default)]
            metadata: Meta,
        }
        let meta = self.decode::<Object>().map(|o| o.metadata).unwrap_or_default();
        let deletion = meta
            .deletion_timestamp
            .and_then(|t| time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| t.unix_timestamp());
        ObjectState { uid: meta.uid, deletion_timestamp: deletion }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::resources;

    fn sa() -> &'static ResourceType {
        resources::by_kind("", "ServiceAccount").unwrap()
    }

    #[test]
    fn holds_the_object_as_served_and_lists_it_without_type_meta() {
        let v = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "1"}, "automountServiceAccountToken": false});
        let s = Stored::new(sa(), v, 7);
        let whole: Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(whole["kind"], "ServiceAccount");
        assert_eq!(whole["apiVersion"], "v1");
        assert_eq!(whole["metadata"]["resourceVersion"], "7");
        assert_eq!(whole["automountServiceAccountToken"], false);
        assert_eq!(whole, s.value());
        let item: Value = serde_json::from_str(s.item_json()).unwrap();
        assert!(item.get("kind").is_none() && item.get("apiVersion").is_none());
        let names = s.names();
        assert_eq!((names.name.as_str(), names.namespace.as_str(), names.uid.as_str()), ("a", "ns", "u"));
        assert_eq!(s.object_state().uid, "u");
        assert!(s.mentions("automountServiceAccountToken") && !s.mentions("ownerReferences"));
        // Another revision of the same object.
        assert_eq!(s.at_revision(9).value()["metadata"]["resourceVersion"], "9");
    }

    #[test]
    fn an_object_with_only_type_meta_is_still_whole_json() {
        let s = Stored::new(sa(), json!({"kind": "ServiceAccount"}), 3);
        let whole: Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(whole, json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"resourceVersion": "3"}}));
    }

    #[test]
    fn deletion_and_secret_state_are_read_from_the_text() {
        let secret = resources::by_kind("", "Secret").unwrap();
        let v = json!({"metadata": {"name": "s", "uid": "u2", "deletionTimestamp": "2026-01-01T00:00:00Z", "labels": {"kubernetes.io/legacy-token-invalid-since": "2026-01-02"}}, "data": {"token": "b25l"}});
        let s = Stored::new(secret, v, 1);
        assert_eq!(s.object_state().deletion_timestamp, Some(1_767_225_600));
        let st = s.secret_state();
        assert_eq!(st.token.as_deref(), Some(&b"one"[..]));
        assert_eq!(st.invalid_since.as_deref(), Some("2026-01-02"));
        assert!(!format!("{s:?}").contains("b25l"), "Debug never shows the body");
    }
}
