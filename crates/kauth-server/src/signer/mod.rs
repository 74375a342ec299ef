//! kube-apiserver's external service-account token signer (KEP-740; kube-apiserver 1.32 with
//! `--feature-gates=ExternalServiceAccountTokenSigner=true
//! --service-account-signing-endpoint=SOCKET`): the gRPC service `v1alpha1.ExternalJWTSigner`
//! (`Sign`, `FetchKeys`, `Metadata`) on a Unix socket, backed by this server's key ring.
//!
//! # A mode of `kauth serve`, not a command of its own
//!
//! `kauth serve --signer-socket PATH` serves the signer beside the HTTPS API, from the same
//! process and the same keys ([`crate::keyring::Keys`]): the one signing key of the ring signs
//! both kauth's own TokenRequests and kube-apiserver's, every key the ring publishes is in both
//! JWKS, and a rotation (`kauth keys rotate`, through the API) reaches the signer the moment the
//! replica loads the new ring. A separate `kauth signer` would need its own store connection, its
//! own heartbeat to count as a replica that publishes keys, and a second way to rotate; and it
//! would hold the private keys in one more process. Here keys leave the process only as public
//! keys (`FetchKeys`) and signatures.
//!
//! On etcd, every replica may serve a socket for the kube-apiserver beside it: they share the
//! ring, so a token one signs verifies with the keys any other lists. On the embedded store the
//! keys are the files (`pki/sa.key` signs, `--service-account-key-file` keys are listed too).
//!
//! # Rotation, seen from kube-apiserver
//!
//! A new key is listed by `FetchKeys` as soon as this replica loads the ring that adds it, and
//! signs only once every live replica lists it (see [`kauth::token::keyring`]). kube-apiserver
//! asks again after [`REFRESH_HINT_SECONDS`], and at once when it meets a key id it does not know
//! (in a token it verifies, or in a header `Sign` returned), so a token is never refused for its
//! key during a rotation; the old key stays listed until every token it signed has expired.

mod proto;
mod service;
mod socket;

pub use proto::{
    external_jwt_signer_server::{ExternalJwtSigner, ExternalJwtSignerServer},
    FetchKeysRequest, FetchKeysResponse, Key, MetadataRequest, MetadataResponse, SignJwtRequest, SignJwtResponse,
};
pub use service::{Signer, REFRESH_HINT_SECONDS};
pub use socket::{bind, SocketError};

use std::future::Future;
use std::path::PathBuf;

/// The largest request decoded: kube-apiserver's claims are a few hundred bytes.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Serves `signer` on `listener` (from [`bind`]) until `shutdown` completes, then removes the
/// socket file at `path`.
pub async fn serve(
    signer: Signer,
    listener: tokio::net::UnixListener,
    path: PathBuf,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let service = ExternalJwtSignerServer::new(signer).max_decoding_message_size(MAX_REQUEST_BYTES);
    let served = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(tokio_stream::wrappers::UnixListenerStream::new(listener), shutdown)
        .await;
    let _ = std::fs::remove_file(&path);
    served
}
