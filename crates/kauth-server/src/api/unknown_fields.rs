//! Whether decoding a body into its type passed over a field the type does not know.
//!
//! k8s-openapi's types read a field they do not know as `serde::de::IgnoredAny`, which asks the
//! deserializer for `deserialize_ignored_any`; nothing else in them does. [`deserialize`] wraps
//! the deserializer, and every deserializer it hands out below (through visitors, maps,
//! sequences, options, newtypes and enums), so that such a call anywhere in the body is noted.
//!
//! serde_ignored does the same and builds each field's path for its callback, allocating every
//! key's name as it goes; the typed review path (`handlers/typed_review.rs`) only needs to know
//! whether anything was skipped, so this is the same walk with a flag instead of a path. Its
//! tests hold the two to the same answer.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// `T` from `de`, and whether any field of the input was one `T` does not know (skipped).
pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(de: D) -> Result<(T, bool), D::Error> {
    let skipped = Cell::new(false);
    let value = T::deserialize(Noting { inner: de, skipped: &skipped })?;
    Ok((value, skipped.get()))
}

/// A deserializer, visitor, seed or access passed on with the flag it sets.
struct Noting<'f, X> {
    inner: X,
    skipped: &'f Cell<bool>,
}

impl<'f, X> Noting<'f, X> {
    fn wrap<Y>(&self, inner: Y) -> Noting<'f, Y> {
        Noting { inner, skipped: self.skipped }
    }
}

/// Forwards each `deserialize_*` method to the inner deserializer with the visitor wrapped.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            let visitor = self.wrap(visitor);
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Noting<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }

    /// The one place a type passes over a field it does not know.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.skipped.set(true);
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Forwards each `visit_*` method of a plain value unchanged: nothing below it to wrap.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Noting<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let de = self.wrap(de);
        self.inner.visit_some(de)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let de = self.wrap(de);
        self.inner.visit_newtype_struct(de)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let seq = self.wrap(seq);
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let map = self.wrap(map);
        self.inner.visit_map(map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let data = self.wrap(data);
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Noting<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let de = self.wrap(de);
        self.inner.deserialize(de)
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Noting<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, Self::Error> {
        let seed = self.wrap(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A map's keys are read as they are (a key is the name of a field, known or not); its values
/// through the flag.
impl<'de, A: MapAccess<'de>> MapAccess<'de> for Noting<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Self::Error> {
        let seed = self.wrap(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, 'f, A: EnumAccess<'de>> EnumAccess<'de> for Noting<'f, A> {
    type Error = A::Error;
    type Variant = Noting<'f, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant), Self::Error> {
        let skipped = self.skipped;
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((value, Noting { inner: variant, skipped }))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Noting<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Self::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::authentication::v1::TokenReview;
    use k8s_openapi::api::authorization::v1::SubjectAccessReview;
    use k8s_openapi::api::core::v1::Pod;
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    use super::*;

    /// A decoded value and whether anything was skipped; `None` when the body does not decode.
    type Noted<T> = Option<(T, bool)>;

    /// `deserialize`'s answer and serde_ignored's on the same body.
    fn both<T: DeserializeOwned + PartialEq + fmt::Debug>(body: &[u8]) -> (Noted<T>, Noted<T>) {
        let ours = deserialize(&mut serde_json::Deserializer::from_slice(body)).ok();
        let mut skipped = false;
        let theirs = serde_ignored::deserialize(&mut serde_json::Deserializer::from_slice(body), |_| skipped = true)
            .ok()
            .map(|v| (v, skipped));
        (ours, theirs)
    }

    #[test]
    fn a_field_the_type_does_not_know_is_noted_at_any_depth() {
        let known = json!({"kind": "TokenReview", "spec": {"token": "t", "audiences": ["a"]}});
        let (value, skipped) = deserialize::<TokenReview, _>(known).unwrap();
        assert_eq!(value.spec.token.as_deref(), Some("t"));
        assert!(!skipped);
        for unknown in [
            json!({"kind": "TokenReview", "spec": {"token": "t"}, "extra": 1}),
            json!({"kind": "TokenReview", "spec": {"token": "t", "tokenz": null}}),
            json!({"kind": "TokenReview", "metadata": {"labels": {"a": "b"}, "x": {}}}),
            // Inside a list's items and inside a map's values.
            json!({"kind": "Pod", "spec": {"containers": [{"name": "a"}, {"name": "b", "x": [1]}]}}),
            json!({"kind": "Pod", "spec": {"containers": [], "nodeSelector": {"a": "b"}, "overhead": {"cpu": "1"}},
                "metadata": {"managedFields": [{"fieldsV1": {"f:a": {}}, "y": 2}]}}),
        ] {
            let skipped = if unknown["kind"] == "Pod" {
                deserialize::<Pod, _>(unknown.clone()).unwrap().1
            } else {
                deserialize::<TokenReview, _>(unknown.clone()).unwrap().1
            };
            assert!(skipped, "{unknown}");
        }
    }

    #[test]
    fn errors_are_the_inner_deserializers() {
        let err = deserialize::<TokenReview, _>(&mut serde_json::Deserializer::from_slice(br#"{"spec":{"token":7}}"#))
            .unwrap_err();
        let plain = serde_json::from_slice::<TokenReview>(br#"{"spec":{"token":7}}"#).unwrap_err();
        assert_eq!(err.to_string(), plain.to_string());
    }

    /// Any JSON, a few levels deep, with names a review or a pod knows and names it does not.
    fn json_value() -> impl Strategy<Value = Value> {
        let name = prop_oneof![
            Just("spec".to_owned()),
            Just("metadata".to_owned()),
            Just("kind".to_owned()),
            Just("token".to_owned()),
            Just("audiences".to_owned()),
            Just("labels".to_owned()),
            Just("containers".to_owned()),
            Just("name".to_owned()),
            Just("user".to_owned()),
            Just("groups".to_owned()),
            Just("extra".to_owned()),
            Just("resourceAttributes".to_owned()),
            Just("verb".to_owned()),
            "[a-z]{1,3}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map(name.clone(), inner, 0..4)
                    .prop_map(|m: BTreeMap<String, Value>| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A review or a pod that decodes, with a few fields of any JSON (known names or not) put
    /// into its objects at any depth.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let template = prop_oneof![
            Just(json!({"kind": "TokenReview", "metadata": {"name": "a", "labels": {"x": "y"}},
                "spec": {"token": "t", "audiences": ["a"]}})),
            Just(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": "u", "groups": ["g"], "extra": {"k": ["v"]},
                    "resourceAttributes": {"verb": "get", "resource": "pods"}}})),
            Just(json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "env": [{"name": "e"}]}]}})),
        ];
        let extras = prop::collection::vec((any::<prop::sample::Index>(), "[a-z]{1,6}", json_value()), 0..3);
        (template, extras).prop_map(|(mut value, extras)| {
            for (at, name, extra) in extras {
                let mut objects = Vec::new();
                collect_objects(&value, &mut objects);
                let object = objects.swap_remove(at.index(objects.len()));
                insert_at(&mut value, &object, name, extra);
            }
            serde_json::to_vec(&value).unwrap()
        })
    }

    /// The JSON pointer of every object in `value`.
    fn collect_objects(value: &Value, into: &mut Vec<String>) {
        fn walk(value: &Value, at: String, into: &mut Vec<String>) {
            match value {
                Value::Object(m) => {
                    for (k, v) in m {
                        walk(v, format!("{at}/{k}"), into);
                    }
                    into.push(at);
                }
                Value::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        walk(v, format!("{at}/{i}"), into);
                    }
                }
                _ => {}
            }
        }
        walk(value, String::new(), into);
    }

    fn insert_at(value: &mut Value, pointer: &str, name: String, extra: Value) {
        if let Some(Value::Object(m)) = value.pointer_mut(pointer) {
            m.insert(name, extra);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// On any body, the same value (or the same refusal) as serde_ignored, and the same
        /// answer to "was a field skipped".
        #[test]
        fn answers_as_serde_ignored_does(body in prop_oneof![body(), json_value().prop_map(|v| serde_json::to_vec(&v).unwrap())]) {
            let (ours, theirs) = both::<TokenReview>(&body);
            prop_assert_eq!(ours, theirs);
            let (ours, theirs) = both::<SubjectAccessReview>(&body);
            prop_assert_eq!(ours, theirs);
            let (ours, theirs) = both::<Pod>(&body);
            prop_assert_eq!(ours, theirs);
        }
    }
}
