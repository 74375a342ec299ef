//! An object serialized once, for both of its homes: the store's value and the mirror's text.
//!
//! The store keeps an object with `kind` and `apiVersion` but without `metadata.resourceVersion`
//! (the key's revision is the object's, as in kube-apiserver's etcd store); the mirror holds it
//! without `kind` and `apiVersion` but with `metadata.resourceVersion` (`stored.rs`). A
//! create used to serialize the object twice, once for each. Here serde_json writes its parts
//! once — the type members, `metadata` without `resourceVersion`, and every other member — and
//! both forms are put together from those JSON texts: only whole members are joined, each
//! written by serde_json, never taken apart.

use serde_json::{Map, Value};

/// An object's JSON, in the parts its two forms are joined from.
#[derive(Debug)]
pub struct Encoded {
    /// `"apiVersion":…,"kind":…` as the object had them (either may be absent): members without
    /// braces, empty for none.
    type_members: String,
    /// `metadata` without `resourceVersion`: a JSON object.
    metadata: String,
    /// Every other member: a JSON object.
    rest: String,
}

/// The members of a JSON object's text (`{…}` without its braces); empty for `{}`.
fn members(object: &str) -> &str {
    object.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or_default()
}

/// Appends `,members` unless `members` is empty.
fn push_members(out: &mut String, members: &str) {
    if !members.is_empty() {
        out.push(',');
        out.push_str(members);
    }
}

fn to_json(value: &impl serde::Serialize) -> String {
    // Serializing a `Value` or a map of them cannot fail: keys are strings, numbers finite.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

impl Encoded {
    /// Serializes `value`, an object. Anything else (never stored: the API decodes bodies through
    /// their types) is kept under the name `value` rather than lost.
    pub fn new(value: Value) -> Self {
        let mut map = match value {
            Value::Object(m) => m,
            other => Map::from_iter([("value".to_owned(), other)]),
        };
        let mut type_members = String::new();
        for field in ["apiVersion", "kind"] {
            if let Some(v) = map.remove(field) {
                if !type_members.is_empty() {
                    type_members.push(',');
                }
                type_members.push_str(&to_json(&field));
                type_members.push(':');
                type_members.push_str(&to_json(&v));
            }
        }
        let metadata = match map.remove("metadata") {
            Some(Value::Object(mut m)) => {
                m.remove("resourceVersion");
                to_json(&m)
            }
            // Metadata that is not an object is replaced, as everywhere in the registry.
            _ => "{}".to_owned(),
        };
        Encoded { type_members, metadata, rest: to_json(&map) }
    }

    /// The store's value: the object with its type members, without `resourceVersion`.
    pub fn store_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.type_members.len() + self.metadata.len() + self.rest.len() + 16);
        out.push('{');
        out.push_str(&self.type_members);
        if !self.type_members.is_empty() {
            out.push(',');
        }
        out.push_str("\"metadata\":");
        out.push_str(&self.metadata);
        push_members(&mut out, members(&self.rest));
        out.push('}');
        out.into_bytes()
    }

    /// The mirror's text at `revision`: without type members, with `metadata.resourceVersion`.
    pub fn body(&self, revision: u64) -> Box<str> {
        let mut out = String::with_capacity(self.metadata.len() + self.rest.len() + 48);
        out.push_str("{\"metadata\":{\"resourceVersion\":\"");
        out.push_str(&revision.to_string());
        out.push('"');
        push_members(&mut out, members(&self.metadata));
        out.push('}');
        push_members(&mut out, members(&self.rest));
        out.push('}');
        out.into_boxed_str()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn the_store_keeps_the_type_and_not_the_revision_the_mirror_the_reverse() {
        let v = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "resourceVersion": "3"}, "secrets": [{"name": "s"}]});
        let e = Encoded::new(v);
        assert_eq!(
            parse(&e.store_bytes()),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}, "secrets": [{"name": "s"}]})
        );
        assert_eq!(
            parse(e.body(12).as_bytes()),
            json!({"metadata": {"name": "a", "resourceVersion": "12"}, "secrets": [{"name": "s"}]})
        );
    }

    #[test]
    fn empty_parts_leave_no_stray_commas() {
        let e = Encoded::new(json!({}));
        assert_eq!(std::str::from_utf8(&e.store_bytes()).unwrap(), r#"{"metadata":{}}"#);
        assert_eq!(&*e.body(1), r#"{"metadata":{"resourceVersion":"1"}}"#);
        let e = Encoded::new(json!({"kind": "Secret", "metadata": 7}));
        assert_eq!(std::str::from_utf8(&e.store_bytes()).unwrap(), r#"{"kind":"Secret","metadata":{}}"#);
        let e = Encoded::new(json!([1]));
        assert_eq!(parse(e.body(2).as_bytes()), json!({"metadata": {"resourceVersion": "2"}, "value": [1]}));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z{}\",:\\\\ é\u{1F600}]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z{},\":]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever the object, both forms are valid JSON, equal to the object with the right
        /// members put in and taken out.
        #[test]
        fn both_forms_are_the_object_with_the_right_members(
            mut object in prop::collection::btree_map("[a-zA-Z{},\":]{0,6}", json_value(), 0..5),
            metadata in prop::option::of(prop::collection::btree_map("[a-zA-Z{}\":]{0,6}", json_value(), 0..4)),
            revision in any::<u64>(),
        ) {
            object.remove("metadata");
            let mut value: Map<String, Value> = object.into_iter().collect();
            let mut meta: Map<String, Value> = metadata.clone().unwrap_or_default().into_iter().collect();
            if metadata.is_some() {
                value.insert("metadata".into(), Value::Object(meta.clone()));
            }
            let e = Encoded::new(Value::Object(value.clone()));
            meta.remove("resourceVersion");
            let mut stored = value.clone();
            stored.insert("metadata".into(), Value::Object(meta.clone()));
            prop_assert_eq!(parse(&e.store_bytes()), Value::Object(stored.clone()));
            meta.insert("resourceVersion".into(), json!(revision.to_string()));
            stored.insert("metadata".into(), Value::Object(meta));
            stored.remove("kind");
            stored.remove("apiVersion");
            prop_assert_eq!(parse(e.body(revision).as_bytes()), Value::Object(stored));
        }
    }
}
