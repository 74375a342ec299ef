//! Service-account token claims, in Kubernetes' JSON.
//!
//! Field order is alphabetical at every level because kube-apiserver's go-jose marshals claims
//! through a map, and seeds 000/002/004 show exactly that order; kauth's tokens are byte-for-byte
//! shaped like kube-apiserver's.

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(transparent)]
pub struct Audience(pub Vec<String>);

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => Audience(vec![s]),
            OneOrMany::Many(v) => Audience(v),
        })
    }
}

/// A reference to an object by name and uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ObjectRef {
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// The object's uid.
    #[serde(default)]
    pub uid: String,
}

impl ObjectRef {
    /// A reference.
    pub fn new(name: impl Into<String>, uid: impl Into<String>) -> Self {
        ObjectRef { name: name.into(), uid: uid.into() }
    }
}

/// The private `kubernetes.io` claims of a bound token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KubernetesClaims {
    /// The service account's namespace.
    #[serde(default)]
    pub namespace: String,
    /// The node (a node-bound token, or the pod's node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    /// The bound pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    /// The bound secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    /// The service account.
    #[serde(default)]
    pub serviceaccount: ObjectRef,
    /// Present on extended tokens: after this time the token is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<NumericDate>,
}

/// What a bound token is bound to: exactly one object (a pod may carry its node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// Bound to a pod, optionally with the node it runs on.
    Pod {
        /// The pod.
        pod: ObjectRef,
        /// The pod's node, when known.
        node: Option<ObjectRef>,
    },
    /// Bound to a secret.
    Secret(ObjectRef),
    /// Bound to a node.
    Node(ObjectRef),
}

impl KubernetesClaims {
    /// The binding, or `Err` with what is inconsistent (more than one object).
    pub fn binding(&self) -> Result<Option<Binding>, String> {
        match (&self.pod, &self.secret, &self.node) {
            (None, None, None) => Ok(None),
            (Some(p), None, n) => Ok(Some(Binding::Pod { pod: p.clone(), node: n.clone() })),
            (None, Some(s), None) => Ok(Some(Binding::Secret(s.clone()))),
            (None, None, Some(n)) => Ok(Some(Binding::Node(n.clone()))),
            _ => Err("kubernetes.io binds more than one object (pod, secret and node are exclusive, but a pod may carry its node)".into()),
        }
    }

    /// Sets the binding.
    pub fn set_binding(&mut self, binding: Option<Binding>) {
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
pub struct Claims {
    /// Audiences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<NumericDate>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<NumericDate>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Bound tokens' private claims.
    #[serde(rename = "kubernetes.io", default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesClaims>,
    /// Legacy: the namespace.
    #[serde(rename = "kubernetes.io/serviceaccount/namespace", default, skip_serializing_if = "Option::is_none")]
    pub legacy_namespace: Option<String>,
    /// Legacy: the token Secret's name.
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name", default, skip_serializing_if = "Option::is_none")]
    pub legacy_secret_name: Option<String>,
    /// Legacy: the service account's name.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_service_account_name: Option<String>,
    /// Legacy: the service account's uid.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.uid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_service_account_uid: Option<String>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<NumericDate>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

/// The service-account identity a token claims, bound or legacy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAccountClaims<'a> {
    /// A bound token (TokenRequest, projected volumes).
    Bound(&'a KubernetesClaims),
    /// A legacy Secret-based token.
    Legacy {
        /// Namespace.
        namespace: &'a str,
        /// Service account name.
        name: &'a str,
        /// Service account uid.
        uid: &'a str,
        /// The token Secret's name.
        secret: &'a str,
    },
}

impl Claims {
    /// Parses the payload JSON.
    pub fn from_json(payload: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(payload).map_err(|e| format!("claims are not valid JSON of the expected shape: {e}"))
    }

    /// The JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The service-account part of the claims, bound or legacy, or what is missing.
    pub fn service_account(&self) -> Result<ServiceAccountClaims<'_>, &'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(c.aud, Some(Audience(vec!["api".into()])));
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
