//! Upgrades (WebSocket, SPDY as `kubectl exec` once spoke it, any `Connection: Upgrade`): once
//! the upstream answered 101 and the client got it, the two upgraded connections are joined
//! and bytes copied both ways until either side closes, as Go's reverse proxy does after
//! hijacking.

use std::net::SocketAddr;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// Joins the client's and the upstream's upgraded connections.
pub async fn relay(client_side: OnUpgrade, upstream_side: OnUpgrade, client: SocketAddr) {
    let (c, u) = match tokio::try_join!(client_side, upstream_side) {
        Ok(both) => both,
        Err(e) => {
            tracing::debug!(%client, "upgrade: {e}");
            return;
        }
    };
    let (mut c, mut u) = (TokioIo::new(c), TokioIo::new(u));
    match tokio::io::copy_bidirectional(&mut c, &mut u).await {
        Ok((up, down)) => tracing::debug!(%client, up, down, "upgraded connection closed"),
        Err(e) => tracing::debug!(%client, "upgraded connection: {e}"),
    }
}
