//! An object as the registry holds it: its JSON and revision, with what token validation reads
//! of it worked out once.

use std::sync::{Arc, OnceLock};

use kauth::token::validate::{ObjectState, SecretState};
use serde_json::Value;

/// An object as read: its JSON (with `resourceVersion`) and revision.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The object.
    pub value: Value,
    /// Its revision.
    pub revision: u64,
    /// What token validation reads of it (uid, deletion; a Secret's token and labels), worked
    /// out from `value` once, at the first lookup, instead of at every one.
    object_state: OnceLock<Arc<ObjectState>>,
    secret_state: OnceLock<Arc<SecretState>>,
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision && self.value == other.value
    }
}

impl Stored {
    /// An object read at `revision`.
    pub fn new(value: Value, revision: u64) -> Self {
        Stored { value, revision, object_state: OnceLock::new(), secret_state: OnceLock::new() }
    }

    /// Its uid and deletion time, for token validation.
    pub fn object_state(&self) -> Arc<ObjectState> {
        self.object_state.get_or_init(|| Arc::new(state_of(&self.value))).clone()
    }

    /// As a legacy token Secret: its token and invalid-since label, for token validation.
    pub fn secret_state(&self) -> Arc<SecretState> {
        self.secret_state
            .get_or_init(|| {
                let token = self.value.pointer("/data/token").and_then(Value::as_str).and_then(|b| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(b).ok()
                });
                let invalid_since = self
                    .value
                    .pointer("/metadata/labels/kubernetes.io~1legacy-token-invalid-since")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Arc::new(SecretState { object: (*self.object_state()).clone(), token, invalid_since })
            })
            .clone()
    }
}

fn state_of(v: &Value) -> ObjectState {
    let deletion = v
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| t.unix_timestamp());
    ObjectState { uid: crate::api::resources::meta_str(v, "uid").to_owned(), deletion_timestamp: deletion }
}
