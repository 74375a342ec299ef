//! The `ExternalJWTSigner` service over a server's [`State`]: every call reads the keys in use at
//! that moment ([`crate::keyring::Keys::active`]), so a ring change reaches the next call.

use std::sync::{Arc, Mutex};

use kauth::token::external::{self, SignPolicy, SignRefusal};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::proto::external_jwt_signer_server::ExternalJwtSigner;
use super::proto::{
    FetchKeysRequest, FetchKeysResponse, Key, MetadataRequest, MetadataResponse, SignJwtRequest, SignJwtResponse,
};
use crate::controllers::keyring::max_token_lifetime_ms;
use crate::state::State;

/// How long kube-apiserver may keep `FetchKeys`' answer. Short, so that a key added to the ring
/// reaches /openid/v1/jwks (and the OIDC consumers reading it) within seconds; kube-apiserver
/// also asks at once for a key id it does not know.
pub const REFRESH_HINT_SECONDS: i64 = 10;

/// The key ids last listed and since when: `FetchKeys`' data timestamp.
#[derive(Debug)]
struct Listed {
    kids: Vec<String>,
    since: OffsetDateTime,
}

/// The signer.
#[derive(Debug)]
pub struct Signer {
    state: Arc<State>,
    max_clock_skew_seconds: i64,
    listed: Mutex<Listed>,
}

impl Signer {
    /// A signer with `state`'s keys, refusing an `iat` more than `max_clock_skew` from its clock.
    pub fn new(state: Arc<State>, max_clock_skew: std::time::Duration) -> Self {
        let listed = Listed { kids: state.keys.published_kids(), since: state.now() };
        Signer {
            max_clock_skew_seconds: i64::try_from(max_clock_skew.as_secs()).unwrap_or(i64::MAX),
            listed: Mutex::new(listed),
            state,
        }
    }

    /// The longest a token may live: as long as the ring keeps a key after it stops signing.
    pub fn max_token_expiration_seconds(&self) -> i64 {
        max_token_lifetime_ms(&self.state) / 1000
    }

    fn policy(&self) -> SignPolicy {
        SignPolicy {
            max_clock_skew_seconds: self.max_clock_skew_seconds,
            max_lifetime_seconds: self.max_token_expiration_seconds(),
        }
    }
}

fn status(refusal: SignRefusal) -> Status {
    match refusal {
        SignRefusal::ClockSkew { .. } => Status::failed_precondition(refusal.to_string()),
        SignRefusal::Key(_) => {
            tracing::error!("signer: {refusal}");
            Status::internal(refusal.to_string())
        }
        _ => Status::invalid_argument(refusal.to_string()),
    }
}

fn timestamp(t: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.unix_timestamp(), nanos: i32::try_from(t.nanosecond()).unwrap_or(0) }
}

#[tonic::async_trait]
impl ExternalJwtSigner for Signer {
    async fn sign(&self, request: Request<SignJwtRequest>) -> Result<Response<SignJwtResponse>, Status> {
        let claims = request.into_inner().claims;
        let active = self.state.keys.active();
        let now = self.state.now().unix_timestamp();
        let signed = external::sign(active.issuer.key(), &claims, now, &self.policy()).map_err(|refusal| {
            if matches!(refusal, SignRefusal::ClockSkew { .. }) {
                tracing::warn!("signer: refused: {refusal}");
            }
            status(refusal)
        })?;
        Ok(Response::new(SignJwtResponse { header: signed.header, signature: signed.signature }))
    }

    async fn fetch_keys(&self, _: Request<FetchKeysRequest>) -> Result<Response<FetchKeysResponse>, Status> {
        let active = self.state.keys.active();
        let keys: Vec<Key> = active
            .keys
            .keys()
            .iter()
            .map(|k| Key { key_id: k.kid().to_owned(), key: k.spki().to_vec(), exclude_from_oidc_discovery: false })
            .collect();
        let kids: Vec<String> = keys.iter().map(|k| k.key_id.clone()).collect();
        let since = {
            let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
            if listed.kids != kids {
                *listed = Listed { kids, since: self.state.now() };
            }
            listed.since
        };
        Ok(Response::new(FetchKeysResponse {
            keys,
            data_timestamp: Some(timestamp(since)),
            refresh_hint_seconds: REFRESH_HINT_SECONDS,
        }))
    }

    async fn metadata(&self, _: Request<MetadataRequest>) -> Result<Response<MetadataResponse>, Status> {
        Ok(Response::new(MetadataResponse { max_token_expiration_seconds: self.max_token_expiration_seconds() }))
    }
}
