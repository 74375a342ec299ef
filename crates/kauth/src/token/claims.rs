//! Service-account token claims, in Kubernetes' JSON.
//!
//! Field order is alphabetical at every level because kube-apiserver's go-jose marshals claims
//! through a map, and seeds 000/002/004 show exactly that order; kauth's tokens are byte-for-byte
//! shaped like kube-apiserver's.
//!
//! Strings are `Cow<'a, str>`: validation parses claims borrowing from the decoded payload (no
//! allocation per string on the hot path), while issuing and tools use `Claims<'static>`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The legacy tokens' issuer.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// A JWT NumericDate: seconds since the epoch. Read from an integer or a float (truncated), as
/// go-jose reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct NumericDate(pub i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        if let Some(i) = n.as_i64() {
            return Ok(NumericDate(i));
        }
        match n.as_f64() {
            Some(f) if f.is_finite() && f.abs() < 9.2e18 => Ok(NumericDate(f as i64)),
            _ => Err(serde::de::Error::custom(format!("{n} is not a usable NumericDate"))),
        }
    }
}

/// `aud`: a string or an array of strings on the wire; always written as an array.
///
/// Nearly every token has exactly one audience, which is kept inline: parsing such a token's
/// claims allocates nothing for it. (Not a `SmallVec`: that would make `Claims<'a>` invariant
/// in `'a`.)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience<'a> {
    /// The first audience; `None` only when there are none (then `rest` is empty too).
    first: Option<Cow<'a, str>>,
    /// The others, in order.
    rest: Vec<Cow<'a, str>>,
}

impl Serialize for Audience<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Audience<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than `#[serde(untagged)]`, which buffers the whole value first.
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Audience<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Audience { first: Some(Cow::Borrowed(v)), rest: Vec::new() })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Audience { first: Some(Cow::Owned(v.to_owned())), rest: Vec::new() })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Audience::default();
                while let Some(BorrowedStr(s)) = seq.next_element()? {
                    out.push(s);
                }
                Ok(out)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'a> Audience<'a> {
    /// Adds an audience after the others.
    pub fn push(&mut self, aud: Cow<'a, str>) {
        if self.first.is_none() {
            self.first = Some(aud);
        } else {
            self.rest.push(aud);
        }
    }

    /// How many audiences.
    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// True without any.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// An owned copy.
    pub fn into_owned(self) -> Audience<'static> {
        let owned = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        Audience { first: self.first.map(owned), rest: self.rest.into_iter().map(owned).collect() }
    }

    /// The audiences as string slices, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.first.iter().chain(&self.rest).map(|c| c.as_ref())
    }

    /// The audiences, in order, as the `Cow`s they were parsed into.
    pub fn cows(&self) -> impl Iterator<Item = &Cow<'a, str>> {
        self.first.iter().chain(&self.rest)
    }

    /// An audience list from strings.
    pub fn from_strings(v: Vec<String>) -> Audience<'static> {
        v.into_iter().map(Cow::Owned).collect()
    }
}

impl<'a> FromIterator<Cow<'a, str>> for Audience<'a> {
    fn from_iter<I: IntoIterator<Item = Cow<'a, str>>>(iter: I) -> Self {
        let mut out = Audience::default();
        for a in iter {
            out.push(a);
        }
        out
    }
}

/// A string that borrows from the input when it has no escapes.
struct BorrowedStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BorrowedStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// `Option<Cow<str>>` that borrows from the input (serde borrows only bare `Cow` fields itself).
pub(crate) fn borrowed_opt<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<BorrowedStr<'a>>::deserialize(d)?.map(|b| b.0))
}

/// A reference to an object by name and uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ObjectRef<'a> {
    /// The object's name.
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    /// The object's uid; empty for a pod's node that does not exist (left out, as
    /// kube-apiserver's `omitempty`).
    #[serde(default, borrow, skip_serializing_if = "str::is_empty")]
    pub uid: Cow<'a, str>,
}

impl<'a> ObjectRef<'a> {
    /// A reference.
    pub fn new(name: impl Into<Cow<'a, str>>, uid: impl Into<Cow<'a, str>>) -> Self {
        ObjectRef { name: name.into(), uid: uid.into() }
    }

    /// An owned copy.
    pub fn into_owned(self) -> ObjectRef<'static> {
        ObjectRef { name: Cow::Owned(self.name.into_owned()), uid: Cow::Owned(self.uid.into_owned()) }
    }
}

/// The private `kubernetes.io` claims of a bound token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KubernetesClaims<'a> {
    /// The service account's namespace.
    #[serde(default, borrow)]
    pub namespace: Cow<'a, str>,
    /// The node (a node-bound token, or the pod's node).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef<'a>>,
    /// The bound pod.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef<'a>>,
    /// The bound secret.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef<'a>>,
    /// The service account.
    #[serde(default, borrow)]
    pub serviceaccount: ObjectRef<'a>,
    /// Present on extended tokens: after this time the token is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<NumericDate>,
}

/// What a bound token is bound to: exactly one object (a pod may carry its node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding<'a> {
    /// Bound to a pod, optionally with the node it runs on.
    Pod {
        /// The pod.
        pod: ObjectRef<'a>,
        /// The pod's node, when known.
        node: Option<ObjectRef<'a>>,
    },
    /// Bound to a secret.
    Secret(ObjectRef<'a>),
    /// Bound to a node.
    Node(ObjectRef<'a>),
}

impl<'a> KubernetesClaims<'a> {
    /// The binding, or `Err` with what is inconsistent (more than one object).
    pub fn binding(&self) -> Result<Option<Binding<'a>>, String> {
        match (&self.pod, &self.secret, &self.node) {
            (None, None, None) => Ok(None),
            (Some(p), None, n) => Ok(Some(Binding::Pod { pod: p.clone(), node: n.clone() })),
            (None, Some(s), None) => Ok(Some(Binding::Secret(s.clone()))),
            (None, None, Some(n)) => Ok(Some(Binding::Node(n.clone()))),
            _ => Err("kubernetes.io binds more than one object (pod, secret and node are exclusive, but a pod may carry its node)".into()),
        }
    }

    /// Sets the binding.
    pub fn set_binding(&mut self, binding: Option<Binding<'a>>) {
        self.pod = None;
        self.secret = None;
        self.node = None;
        match binding {
            None => {}
            Some(Binding::Pod { pod, node }) => {
                self.pod = Some(pod);
                self.node = node;
            }
            Some(Binding::Secret(s)) => self.secret = Some(s),
            Some(Binding::Node(n)) => self.node = Some(n),
        }
    }
}

/// Every claim kauth reads or writes. Unknown claims are ignored when reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Claims<'a> {
    /// Audiences.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience<'a>>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<NumericDate>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<NumericDate>,
    /// Issuer.
    #[serde(default, borrow, deserialize_with = "borrowed_opt", skip_serializing_if = "Option::is_none")]
    pub iss: Option<Cow<'a, str>>,
    /// Token id.
    #[serde(default, borrow, deserialize_with = "borrowed_opt", skip_serializing_if = "Option::is_none")]
    pub jti: Option<Cow<'a, str>>,
    /// Bound tokens' private claims.
    #[serde(rename = "kubernetes.io", default, borrow, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesClaims<'a>>,
    /// Legacy: the namespace.
    #[serde(
        rename = "kubernetes.io/serviceaccount/namespace",
        default,
        borrow,
        deserialize_with = "borrowed_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_namespace: Option<Cow<'a, str>>,
    /// Legacy: the token Secret's name.
    #[serde(
        rename = "kubernetes.io/serviceaccount/secret.name",
        default,
        borrow,
        deserialize_with = "borrowed_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_secret_name: Option<Cow<'a, str>>,
    /// Legacy: the service account's name.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_service_account_name: Option<Cow<'a, str>>,
    /// Legacy: the service account's uid.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.uid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_service_account_uid: Option<Cow<'a, str>>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<NumericDate>,
    /// Subject.
    #[serde(default, borrow, deserialize_with = "borrowed_opt", skip_serializing_if = "Option::is_none")]
    pub sub: Option<Cow<'a, str>>,
}

/// The service-account identity a token claims, bound or legacy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAccountClaims<'c, 'a> {
    /// A bound token (TokenRequest, projected volumes).
    Bound(&'c KubernetesClaims<'a>),
    /// A legacy Secret-based token.
    Legacy {
        /// Namespace.
        namespace: &'c str,
        /// Service account name.
        name: &'c str,
        /// Service account uid.
        uid: &'c str,
        /// The token Secret's name.
        secret: &'c str,
    },
}

impl<'a> Claims<'a> {
    /// Parses the payload JSON, borrowing strings from it where they have no escapes.
    pub fn from_json(payload: &'a [u8]) -> Result<Self, String> {
        // Validating UTF-8 once up front lets serde_json borrow strings without re-checking each.
        let text = std::str::from_utf8(payload).map_err(|e| format!("claims are not UTF-8: {e}"))?;
        // Claims as kube-apiserver and kauth write them have no escapes: parsed first with every
        // string a `&str` (no `Cow` layers, a smaller value to move). Whatever that parse cannot
        // take (an escape, a wrong type, bad JSON) is parsed again the general way, whose answer,
        // claims or error, is the one given.
        if let Ok(fast) = serde_json::from_str::<borrowed::Claims<'a>>(text) {
            return Ok(fast.into());
        }
        Self::general(text)
    }

    /// The general parse (a string with escapes becomes owned): what [`from_json`](Self::from_json)
    /// answers for every input, faster for most.
    fn general(text: &'a str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("claims are not valid JSON of the expected shape: {e}"))
    }

    /// An owned copy.
    pub fn into_owned(self) -> Claims<'static> {
        let o = |c: Option<Cow<'a, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        Claims {
            aud: self.aud.map(Audience::into_owned),
            exp: self.exp,
            iat: self.iat,
            iss: o(self.iss),
            jti: o(self.jti),
            kubernetes: self.kubernetes.map(|k| KubernetesClaims {
                namespace: Cow::Owned(k.namespace.into_owned()),
                node: k.node.map(ObjectRef::into_owned),
                pod: k.pod.map(ObjectRef::into_owned),
                secret: k.secret.map(ObjectRef::into_owned),
                serviceaccount: k.serviceaccount.into_owned(),
                warnafter: k.warnafter,
            }),
            legacy_namespace: o(self.legacy_namespace),
            legacy_secret_name: o(self.legacy_secret_name),
            legacy_service_account_name: o(self.legacy_service_account_name),
            legacy_service_account_uid: o(self.legacy_service_account_uid),
            nbf: self.nbf,
            sub: o(self.sub),
        }
    }

    /// The JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The service-account part of the claims, bound or legacy, or what is missing.
    pub fn service_account(&self) -> Result<ServiceAccountClaims<'_, 'a>, &'static str> {
        if let Some(k) = &self.kubernetes {
            if k.namespace.is_empty() {
                return Err("kubernetes.io.namespace");
            }
            if k.serviceaccount.name.is_empty() {
                return Err("kubernetes.io.serviceaccount.name");
            }
            return Ok(ServiceAccountClaims::Bound(k));
        }
        match (
            &self.legacy_namespace,
            &self.legacy_service_account_name,
            &self.legacy_service_account_uid,
            &self.legacy_secret_name,
        ) {
            (Some(ns), Some(name), Some(uid), Some(secret)) => {
                Ok(ServiceAccountClaims::Legacy { namespace: ns, name, uid, secret })
            }
            (None, ..) => Err("kubernetes.io (or the legacy kubernetes.io/serviceaccount/namespace)"),
            (_, None, ..) => Err("kubernetes.io/serviceaccount/service-account.name"),
            (_, _, None, _) => Err("kubernetes.io/serviceaccount/service-account.uid"),
            (.., None) => Err("kubernetes.io/serviceaccount/secret.name"),
        }
    }
}

/// [`Claims`] with every string a `&str` borrowed from the payload: the first parse of
/// [`Claims::from_json`]. serde_json refuses a string with escapes here (it cannot be borrowed),
/// and the general parse runs instead. Same fields, names, defaults and number handling as
/// [`Claims`], [`KubernetesClaims`] and [`ObjectRef`].
mod borrowed {
    use std::borrow::Cow;

    use serde::Deserialize;

    use super::{Audience, NumericDate};

    #[derive(Deserialize, Default)]
    pub(super) struct ObjectRef<'a> {
        #[serde(default, borrow)]
        name: &'a str,
        #[serde(default, borrow)]
        uid: &'a str,
    }

    #[derive(Deserialize)]
    pub(super) struct KubernetesClaims<'a> {
        #[serde(default, borrow)]
        namespace: &'a str,
        #[serde(default, borrow)]
        node: Option<ObjectRef<'a>>,
        #[serde(default, borrow)]
        pod: Option<ObjectRef<'a>>,
        #[serde(default, borrow)]
        secret: Option<ObjectRef<'a>>,
        #[serde(default, borrow)]
        serviceaccount: ObjectRef<'a>,
        #[serde(default)]
        warnafter: Option<NumericDate>,
    }

    #[derive(Deserialize)]
    pub(super) struct Claims<'a> {
        #[serde(default, borrow)]
        aud: Option<Audience<'a>>,
        #[serde(default)]
        exp: Option<NumericDate>,
        #[serde(default)]
        iat: Option<NumericDate>,
        #[serde(default, borrow)]
        iss: Option<&'a str>,
        #[serde(default, borrow)]
        jti: Option<&'a str>,
        #[serde(rename = "kubernetes.io", default, borrow)]
        kubernetes: Option<KubernetesClaims<'a>>,
        #[serde(rename = "kubernetes.io/serviceaccount/namespace", default, borrow)]
        legacy_namespace: Option<&'a str>,
        #[serde(rename = "kubernetes.io/serviceaccount/secret.name", default, borrow)]
        legacy_secret_name: Option<&'a str>,
        #[serde(rename = "kubernetes.io/serviceaccount/service-account.name", default, borrow)]
        legacy_service_account_name: Option<&'a str>,
        #[serde(rename = "kubernetes.io/serviceaccount/service-account.uid", default, borrow)]
        legacy_service_account_uid: Option<&'a str>,
        #[serde(default)]
        nbf: Option<NumericDate>,
        #[serde(default, borrow)]
        sub: Option<&'a str>,
    }

    impl<'a> From<ObjectRef<'a>> for super::ObjectRef<'a> {
        fn from(o: ObjectRef<'a>) -> Self {
            super::ObjectRef { name: Cow::Borrowed(o.name), uid: Cow::Borrowed(o.uid) }
        }
    }

    impl<'a> From<Claims<'a>> for super::Claims<'a> {
        fn from(c: Claims<'a>) -> Self {
            let s = |o: Option<&'a str>| o.map(Cow::Borrowed);
            super::Claims {
                aud: c.aud,
                exp: c.exp,
                iat: c.iat,
                iss: s(c.iss),
                jti: s(c.jti),
                kubernetes: c.kubernetes.map(|k| super::KubernetesClaims {
                    namespace: Cow::Borrowed(k.namespace),
                    node: k.node.map(Into::into),
                    pod: k.pod.map(Into::into),
                    secret: k.secret.map(Into::into),
                    serviceaccount: k.serviceaccount.into(),
                    warnafter: k.warnafter,
                }),
                legacy_namespace: s(c.legacy_namespace),
                legacy_secret_name: s(c.legacy_secret_name),
                legacy_service_account_name: s(c.legacy_service_account_name),
                legacy_service_account_uid: s(c.legacy_service_account_uid),
                nbf: c.nbf,
                sub: s(c.sub),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `from_json` as the general parse alone would answer.
    fn general(json: &str) -> Result<Claims<'_>, String> {
        Claims::general(json)
    }

    #[test]
    fn the_borrowing_parse_agrees_with_the_general_one() {
        let cases = [
            // Kubernetes' own shapes: taken by the borrowing parse.
            r#"{"aud":["a","b"],"exp":1,"iat":2,"iss":"i","jti":"j","kubernetes.io":{"namespace":"n","node":{"name":"nd","uid":"u1"},"pod":{"name":"p","uid":"u2"},"serviceaccount":{"name":"s","uid":"u3"},"warnafter":3},"nbf":4,"sub":"x"}"#,
            r#"{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"n","kubernetes.io/serviceaccount/secret.name":"t","kubernetes.io/serviceaccount/service-account.name":"s","kubernetes.io/serviceaccount/service-account.uid":"u","sub":"x"}"#,
            r#"{"aud":"one","exp":1.7e9,"nbf":12.9,"kubernetes.io":{"serviceaccount":{}},"unknown":{"deep":[1,{"x":null}]}}"#,
            r#"{"iss":null,"aud":null,"kubernetes.io":null,"exp":null}"#,
            r#"{}"#,
            // Escapes: the general parse, owned strings.
            r#"{"iss":"https:\/\/k8s","sub":"a\u0041","kubernetes.io":{"namespace":"n\"s","serviceaccount":{"name":"\u00e9","uid":"u"}},"aud":["x\ty"]}"#,
            // Wrong shapes and bad JSON: the general parse's errors.
            r#"{"exp":"soon"}"#,
            r#"{"aud":[1]}"#,
            r#"{"iss":"a","iss":"b"}"#,
            r#"{"kubernetes.io":{"namespace":7}}"#,
            r#"{"exp":1e400}"#,
            r#"{"iss":"a""#,
            r#"[]"#,
            r#"{"iss":"a"} trailing"#,
        ];
        for json in cases {
            let fast = Claims::from_json(json.as_bytes());
            assert_eq!(fast, general(json), "{json}");
        }
        let c = Claims::from_json(cases[5].as_bytes()).unwrap();
        assert_eq!(c.iss.as_deref(), Some("https://k8s"));
        assert!(matches!(c.iss, Some(Cow::Owned(_))), "an escaped string is owned");
        assert!(matches!(Claims::from_json(cases[0].as_bytes()).unwrap().iss, Some(Cow::Borrowed(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Objects of the claims' keys (and others) with values of every JSON type, strings
        /// with and without escapes: both parses give the same claims or the same error.
        #[test]
        fn the_borrowing_parse_agrees_on_any_object(
            members in proptest::collection::vec((
                prop::sample::select(vec![
                    "aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub", "other",
                    "kubernetes.io/serviceaccount/namespace", "kubernetes.io/serviceaccount/secret.name",
                    "kubernetes.io/serviceaccount/service-account.name",
                    "kubernetes.io/serviceaccount/service-account.uid",
                ]),
                prop_oneof![
                    Just("null".to_owned()),
                    any::<i64>().prop_map(|n| n.to_string()),
                    any::<f64>().prop_map(|f| if f.is_finite() { f.to_string() } else { "1e999".to_owned() }),
                    r#"[a-z\\"/]{0,6}"#.prop_map(|s| serde_json::to_string(&s).unwrap()),
                    "[a-z]{0,4}".prop_map(|s| format!("[\"{s}\",\"b\"]")),
                    (r"[a-z\\]{0,4}", "[a-z]{0,4}").prop_map(|(n, u)| format!(
                        r#"{{"namespace":{},"pod":{{"name":"{u}","uid":"x"}},"serviceaccount":{{"name":"{u}"}},"warnafter":5}}"#,
                        serde_json::to_string(&n).unwrap()
                    )),
                ],
            ), 0..8),
        ) {
            let body: Vec<String> = members.iter().map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap())).collect();
            let json = format!("{{{}}}", body.join(","));
            prop_assert_eq!(Claims::from_json(json.as_bytes()), general(&json), "{}", json);
        }
    }

    #[test]
    fn seed_000_claims_round_trip_in_kubernetes_order() {
        // The payload of the token in seed 000 (a one-year extended pod-bound token).
        let json = r#"{"aud":["https://kubernetes.default.svc.kubernetes"],"exp":1701072841,"iat":1669536841,"iss":"https://kubernetes.default.svc.kubernetes","kubernetes.io":{"namespace":"argo-run","pod":{"name":"jz-20-5643-5643-import-3966096454","uid":"9357673e-5cb2-4b5d-9540-a38465a19ad6"},"serviceaccount":{"name":"loofah","uid":"4e35d20f-58b7-415b-8fa1-5a9929d3f2ea"},"warnafter":1669540448},"nbf":1669536841,"sub":"system:serviceaccount:argo-run:loofah"}"#;
        let c = Claims::from_json(json.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(c.to_json()).unwrap(), json);
        let ServiceAccountClaims::Bound(k) = c.service_account().unwrap() else { panic!() };
        assert!(matches!(k.binding().unwrap(), Some(Binding::Pod { node: None, .. })));
        assert_eq!(k.warnafter, Some(NumericDate(1669540448)));
    }

    #[test]
    fn seed_002_legacy_claims_round_trip() {
        let json = r#"{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"kube-system","kubernetes.io/serviceaccount/secret.name":"default-token-jvrkf","kubernetes.io/serviceaccount/service-account.name":"default","kubernetes.io/serviceaccount/service-account.uid":"ba8add2d-12ab-11e8-9719-080027dd95a3","sub":"system:serviceaccount:kube-system:default"}"#;
        let c = Claims::from_json(json.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(c.to_json()).unwrap(), json);
        assert!(matches!(
            c.service_account().unwrap(),
            ServiceAccountClaims::Legacy { secret: "default-token-jvrkf", .. }
        ));
    }

    #[test]
    fn audience_string_float_dates_and_exclusive_bindings() {
        let c = Claims::from_json(br#"{"aud":"api","exp":1.7e9,"nbf":12.9}"#).unwrap();
        assert_eq!(c.aud, Some(Audience::from_strings(vec!["api".into()])));
        assert!(
            matches!(c.aud.as_ref().unwrap().cows().next(), Some(Cow::Borrowed(_))),
            "strings borrow from the payload"
        );
        let b = Claims::from_json(br#"{"iss":"x","sub":"a\u0041"}"#).unwrap();
        assert!(matches!(b.iss, Some(Cow::Borrowed("x"))));
        assert_eq!(b.sub.as_deref(), Some("aA"), "escapes are decoded into an owned string");
        assert_eq!(c.exp, Some(NumericDate(1_700_000_000)));
        assert_eq!(c.nbf, Some(NumericDate(12)));
        assert!(Claims::from_json(br#"{"exp":"soon"}"#).is_err());
        let k = KubernetesClaims {
            pod: Some(ObjectRef::new("p", "1")),
            secret: Some(ObjectRef::new("s", "2")),
            ..Default::default()
        };
        assert!(k.binding().is_err());
        let k = KubernetesClaims {
            pod: Some(ObjectRef::new("p", "1")),
            node: Some(ObjectRef::new("n", "3")),
            ..Default::default()
        };
        assert!(matches!(k.binding(), Ok(Some(Binding::Pod { node: Some(_), .. }))));
    }
}
