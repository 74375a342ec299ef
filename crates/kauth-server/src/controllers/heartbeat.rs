//! This replica's heartbeat on a shared store: every [`HEARTBEAT_EVERY`] it writes its clock and
//! the keys it publishes (other replicas measure clock skew from it, and the key ring promotes a
//! key once every replica publishes it), then moves the key ring on if a step is due.
//!
//! [`beat`] is one tick, synchronous and driven by the state's clock, so tests run it with a
//! fake clock; [`spawn`] runs it on a timer.

use std::sync::Arc;

use crate::replicas::{Heartbeat, HEARTBEAT_EVERY, HEARTBEAT_PREFIX};
use crate::state::State;
use crate::store::StoreError;

/// One tick: writes the heartbeat, then maintains the key ring. Does nothing on the embedded
/// store (no replicas).
pub fn beat(state: &State) -> Result<(), StoreError> {
    let Some(replicas) = &state.replicas else { return Ok(()) };
    let beat = Heartbeat {
        replica: replicas.name.clone(),
        time_ms: crate::keyring::unix_ms(state.now()),
        published_kids: state.keys.published_kids(),
    };
    let key = format!("{HEARTBEAT_PREFIX}{}", replicas.name);
    let value = serde_json::to_vec(&beat).unwrap_or_default();
    let written = state.registry.put_raw(&key, &value).map(|_| ());
    super::keyring::maintain(state);
    written
}

/// Runs [`beat`] now and every [`HEARTBEAT_EVERY`] on the blocking pool (a write waits for the
/// store), until the state is dropped.
pub fn spawn(state: &Arc<State>) {
    if state.replicas.is_none() {
        return;
    }
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            every.tick().await;
            let Some(s) = state.upgrade() else { return };
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || beat(&s)).await {
                tracing::debug!("heartbeat not written: {e}");
            }
        }
    });
}
