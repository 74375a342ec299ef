//! The bootstrap signer (kube-controller-manager's `bootstrapsigner`): keeps the
//! `kube-public/cluster-info` ConfigMap signed by every bootstrap token that may sign, so that
//! `kubeadm join --token` can trust the cluster CA it reads there without credentials
//! ([`kauth::authn::bootstrap_token::signature`]).
//!
//! A token signs when its Secret `kube-system/bootstrap-token-<id>` has the bootstrap type, a
//! `token-id` equal to the id in its name, a `token-secret`, `usage-bootstrap-signing: "true"`
//! and an `expiration` not passed (one that does not parse counts as passed), as in
//! Kubernetes. Every other `jws-kubeconfig-*` key is removed.
//!
//! Unlike kube-controller-manager, which reacts to watch events some time later, kauth signs right
//! after the write that changes a token or the ConfigMap ([`sign`] is called by the API's write
//! handlers, the token cleaner and start-up): when `kubectl create` returns, the ConfigMap is
//! already signed. It runs only with `--enable-bootstrap-token-auth`, the switch kubeadm's
//! clusters turn the signer, the cleaner and the authenticator on with.

use std::collections::BTreeMap;

use kauth::authn::bootstrap_token::signature::{
    self, CLUSTER_INFO, CLUSTER_INFO_NAMESPACE, KUBECONFIG_KEY, SIGNATURE_KEY_PREFIX,
};
use kauth::authn::bootstrap_token::{self as bt, keys, BootstrapSecret};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::api::resources::{self, meta_str, ResourceType};
use crate::api::status::ApiError;
use crate::registry::Change;
use crate::state::State;

/// How often a signature is recomputed on a conflict with another writer before giving up (the
/// next write retries).
const ATTEMPTS: usize = 3;

/// Whether a write to `rt` in `namespace` can change what the signer writes.
pub fn concerns(rt: &ResourceType, namespace: &str) -> bool {
    (rt.kind == "Secret" && namespace == bt::NAMESPACE)
        || (rt.kind == "ConfigMap" && namespace == CLUSTER_INFO_NAMESPACE)
}

/// The Secret as the signer reads it: `(token id, token secret)` when it may sign at `now`.
fn signing_token(value: &Value, now: OffsetDateTime) -> Option<(String, String)> {
    let id = meta_str(value, "name").strip_prefix(bt::SECRET_PREFIX)?;
    let valid_id = id.len() == 6 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(value.clone()).ok()?;
    let s = BootstrapSecret::of(&secret);
    let get = |k: &str| s.data.get(k).map_or("", String::as_str);
    let expired = match s.expiration() {
        Ok(Some(t)) => t <= now,
        Ok(None) => false,
        Err(_) => true,
    };
    let signs = valid_id
        && s.type_ == bt::SECRET_TYPE
        && get(keys::TOKEN_ID) == id
        && !get(keys::TOKEN_SECRET).is_empty()
        && get(keys::USAGE_SIGNING) == "true"
        && !expired;
    signs.then(|| (id.to_owned(), get(keys::TOKEN_SECRET).to_owned()))
}

/// The tokens that sign at `now`, by id.
fn signing_tokens(state: &State, now: OffsetDateTime) -> Result<BTreeMap<String, String>, ApiError> {
    let secrets = rt("Secret")?;
    Ok(state.registry.list(secrets, bt::NAMESPACE).iter().filter_map(|s| signing_token(&s.value(), now)).collect())
}

/// Replaces the signatures in a ConfigMap's `data` with one per token; whether anything changed.
/// Without a `kubeconfig` key nothing is signed and nothing changes, as in Kubernetes.
pub fn sign_data(data: &mut serde_json::Map<String, Value>, tokens: &BTreeMap<String, String>) -> bool {
    let Some(content) = data.get(KUBECONFIG_KEY).and_then(Value::as_str).map(str::to_owned) else {
        return false;
    };
    let before = data.clone();
    data.retain(|k, _| !k.starts_with(SIGNATURE_KEY_PREFIX));
    for (id, secret) in tokens {
        let sig = signature::detached_signature(&content, id, secret);
        data.insert(format!("{SIGNATURE_KEY_PREFIX}{id}"), json!(sig));
    }
    *data != before
}

/// Brings the signatures on `cluster-info` in step with the tokens, writing only when they
/// differ. Does nothing when bootstrap tokens are off or the ConfigMap does not exist. Returns
/// whether it wrote.
pub fn sign(state: &State) -> Result<bool, ApiError> {
    if !state.config.bootstrap_tokens {
        return Ok(false);
    }
    // One signer at a time in this process: two writes' signers reading the same revision could
    // otherwise commit the older set of tokens last. (Replicas on a shared store can still race;
    // the token cleaner's pass every second signs again.)
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let configmaps = rt("ConfigMap")?;
    for _ in 0..ATTEMPTS {
        let Some(cm) = state.registry.get(configmaps, CLUSTER_INFO_NAMESPACE, CLUSTER_INFO) else { return Ok(false) };
        let tokens = signing_tokens(state, state.now())?;
        let mut next = cm.value();
        let Some(data) = next.get_mut("data").and_then(Value::as_object_mut) else { return Ok(false) };
        if !sign_data(data, &tokens) {
            return Ok(false);
        }
        match state.registry.commit(vec![Change::Update(configmaps, next, cm.revision)]) {
            Ok(_) => return Ok(true),
            Err(e) if e.reason == "Conflict" => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict("", "configmaps", CLUSTER_INFO))
}

/// [`sign`] after a write the API accepted; a failure is logged, never fails that write (the
/// next write, the cleaner's tick or a restart signs again).
pub fn after_write(state: &State, rt: &ResourceType, namespace: &str) {
    if !state.config.bootstrap_tokens || !concerns(rt, namespace) {
        return;
    }
    if let Err(e) = sign(state) {
        tracing::warn!(configmap = "kube-public/cluster-info", "bootstrap signer: {}", e.message);
    }
}

/// `kube-public/cluster-info` as kubeadm creates it: the kubeconfig clients reach this server
/// with (its URL and CA), created or brought up to date at start, then signed.
pub fn publish_cluster_info(state: &State) -> Result<(), ApiError> {
    if !state.config.bootstrap_tokens {
        return Ok(());
    }
    let configmaps = rt("ConfigMap")?;
    let server = format!("https://{}", state.config.advertise);
    let kubeconfig = signature::cluster_info_kubeconfig(&server, &state.config.ca_pem)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    match state.registry.get(configmaps, CLUSTER_INFO_NAMESPACE, CLUSTER_INFO) {
        None => {
            let obj = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": CLUSTER_INFO, "namespace": CLUSTER_INFO_NAMESPACE, "uid": crate::api::meta::new_uid()?, "creationTimestamp": kauth::timestamp::rfc3339(state.now())},
                "data": {KUBECONFIG_KEY: kubeconfig},
            });
            state.registry.commit(vec![Change::Create(configmaps, obj)])?;
        }
        Some(cm) if cm.value().pointer("/data/kubeconfig").and_then(Value::as_str) != Some(kubeconfig.as_str()) => {
            let mut v = cm.value();
            resources::metadata_mut(&mut v);
            if !v.get("data").is_some_and(Value::is_object) {
                v["data"] = json!({});
            }
            v["data"][KUBECONFIG_KEY] = json!(kubeconfig);
            state.registry.commit(vec![Change::Update(configmaps, v, cm.revision)])?;
        }
        Some(_) => {}
    }
    sign(state).map(|_| ())
}

fn rt(kind: &str) -> Result<&'static ResourceType, ApiError> {
    resources::by_kind("", kind).ok_or_else(|| ApiError::internal(format!("no resource of kind {kind}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, data: &[(&str, &str)]) -> Value {
        use base64::Engine;
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(base64::engine::general_purpose::STANDARD.encode(v))))
            .collect();
        json!({"metadata": {"name": name, "namespace": "kube-system"}, "type": bt::SECRET_TYPE, "data": data})
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    const GOOD: [(&str, &str); 4] = [
        ("token-id", "abcdef"),
        ("token-secret", "0123456789abcdef"),
        ("usage-bootstrap-signing", "true"),
        ("expiration", "2027-01-16T08:00:00Z"),
    ];

    #[test]
    fn a_valid_signing_token_signs() {
        let s = secret("bootstrap-token-abcdef", &GOOD);
        assert_eq!(signing_token(&s, now()), Some(("abcdef".into(), "0123456789abcdef".into())));
    }

    #[test]
    fn tokens_that_may_not_sign_are_left_out() {
        let with = |k: &str, v: &str| {
            let mut s = secret("bootstrap-token-abcdef", &GOOD);
            use base64::Engine;
            s["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(v));
            s
        };
        assert_eq!(signing_token(&with("usage-bootstrap-signing", "false"), now()), None);
        assert_eq!(signing_token(&with("expiration", "2027-01-15T08:00:00Z"), now()), None, "expired at now");
        assert_eq!(signing_token(&with("expiration", "tomorrow"), now()), None, "unreadable expiration");
        assert_eq!(signing_token(&with("token-id", "abcdeg"), now()), None, "id differs from the name");
        assert_eq!(signing_token(&with("token-secret", ""), now()), None);
        assert_eq!(signing_token(&secret("bootstrap-token-ABCDEF", &GOOD), now()), None);
        let mut opaque = secret("bootstrap-token-abcdef", &GOOD);
        opaque["type"] = json!("Opaque");
        assert_eq!(signing_token(&opaque, now()), None);
    }

    #[test]
    fn signing_replaces_every_old_signature_and_reports_change() {
        let mut data = serde_json::Map::new();
        data.insert("kubeconfig".into(), json!("apiVersion: v1\n"));
        data.insert("jws-kubeconfig-zzzzzz".into(), json!("stale"));
        let tokens = BTreeMap::from([("abcdef".to_owned(), "0123456789abcdef".to_owned())]);
        assert!(sign_data(&mut data, &tokens));
        assert!(!data.contains_key("jws-kubeconfig-zzzzzz"));
        let sig = data["jws-kubeconfig-abcdef"].as_str().unwrap();
        assert!(signature::verify(sig, "apiVersion: v1\n", "abcdef", "0123456789abcdef"));
        assert!(!sign_data(&mut data, &tokens), "a second pass changes nothing");
    }

    #[test]
    fn without_a_kubeconfig_nothing_is_signed() {
        let mut data = serde_json::Map::new();
        data.insert("jws-kubeconfig-abcdef".into(), json!("kept"));
        let tokens = BTreeMap::from([("abcdef".to_owned(), "0123456789abcdef".to_owned())]);
        assert!(!sign_data(&mut data, &tokens));
        assert_eq!(data["jws-kubeconfig-abcdef"], "kept");
    }
}
