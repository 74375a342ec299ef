//! The token cleaner (kube-controller-manager's `tokencleaner`): deletes bootstrap token
//! Secrets in kube-system once their `expiration` has passed (one that does not parse counts as
//! passed, as in Kubernetes), then lets the bootstrap signer drop their signatures; each pass also
//! brings the signatures in step.
//!
//! [`clean`] is one pass, synchronous and driven by the state's clock, so tests run it with a
//! fake clock; [`spawn`] runs it every [`EVERY`] while bootstrap tokens are on. Each delete is
//! conditional on the revision it read: a token renewed meanwhile is kept. On a shared store
//! every replica cleans; the loser's conflict or not-found is expected and ignored.

use std::sync::Arc;
use std::time::Duration;

use kauth::authn::bootstrap_token::{self as bt, BootstrapSecret};
use serde_json::Value;
use time::OffsetDateTime;

use crate::api::resources;
use crate::api::status::ApiError;
use crate::registry::Change;
use crate::state::State;

/// How often the cleaner looks. A token is refused by the authenticator from the second it
/// expires whatever the cleaner does; this only bounds how long its Secret stays.
pub const EVERY: Duration = Duration::from_secs(1);

/// Whether a stored Secret is a bootstrap token whose expiration has passed at `now`.
fn expired(value: &Value, now: OffsetDateTime) -> bool {
    if value.get("type").and_then(Value::as_str) != Some(bt::SECRET_TYPE) {
        return false;
    }
    let Ok(secret) = serde_json::from_value::<k8s_openapi::api::core::v1::Secret>(value.clone()) else {
        return false;
    };
    match BootstrapSecret::of(&secret).expiration() {
        Ok(Some(t)) => t <= now,
        Ok(None) => false,
        Err(_) => true,
    }
}

/// One pass: deletes every expired bootstrap token Secret; returns their names.
pub fn clean(state: &State) -> Result<Vec<String>, ApiError> {
    if !state.config.bootstrap_tokens {
        return Ok(Vec::new());
    }
    let secrets = resources::by_kind("", "Secret").ok_or_else(|| ApiError::internal("no resource of kind Secret"))?;
    let now = state.now();
    let mut deleted = Vec::new();
    for s in state.registry.list(secrets, bt::NAMESPACE) {
        if !expired(&s.value(), now) {
            continue;
        }
        let name = s.names().name;
        let change = Change::Delete(secrets, bt::NAMESPACE.to_owned(), name.clone(), Some(s.revision));
        match state.registry.commit(vec![change]) {
            Ok(_) => {
                tracing::info!(secret = %format!("{}/{name}", bt::NAMESPACE), "token cleaner: deleted expired bootstrap token");
                deleted.push(name);
            }
            Err(e) if matches!(e.reason, "Conflict" | "NotFound") => {}
            Err(e) => return Err(e),
        }
    }
    // Every pass signs too (a no-op when the signatures are current): it repairs whatever a race
    // between replicas' signers left behind, within a second.
    super::bootstrap_signer::sign(state)?;
    Ok(deleted)
}

/// Runs [`clean`] every [`EVERY`] on the blocking pool until the state is dropped; nothing when
/// bootstrap tokens are off.
pub fn spawn(state: &Arc<State>) {
    if !state.config.bootstrap_tokens {
        return;
    }
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(s) = state.upgrade() else { return };
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || clean(&s)).await {
                tracing::warn!("token cleaner: {}", e.message);
            }
        }
    });
}
