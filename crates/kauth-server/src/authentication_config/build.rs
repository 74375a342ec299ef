//! The issuers of a configuration, each with its keys: an HTTPS client trusting the issuer's
//! `certificateAuthority` (or the host's roots), a [`RemoteKeys`] that starts fetching at once.

use std::sync::Arc;

use kauth::authn::jwt::{IssuerKeys, JwtIssuers, StaticKeys, ValidConfig};
use kauth::token::keys::{Algorithm, KeySet};

use crate::jwks::remote::Clock;
use crate::jwks::{ClientError, HttpsClient, IssuerSource, RemoteKeys};
use crate::metrics::JwksMetrics;

/// What the issuers are checked against, besides their configuration.
#[derive(Clone)]
pub struct Context {
    /// `--api-audiences` (for tokens asked about with audiences).
    pub api_audiences: Vec<String>,
    /// `--service-account-issuer`s: their tokens are never a JWT issuer's.
    pub service_account_issuers: Vec<String>,
    /// The server's clock.
    pub clock: Clock,
    /// Where the fetches are counted.
    pub metrics: JwksMetrics,
}

/// The issuers of `config` accepting `algorithms`, and their keys, already fetching.
pub fn issuers(
    config: &ValidConfig,
    algorithms: &[Algorithm],
    cx: &Context,
) -> Result<(JwtIssuers, Vec<Arc<RemoteKeys>>), ClientError> {
    let mut keys = Vec::new();
    for issuer in &config.issuers {
        let i = &issuer.authenticator.issuer;
        let ca = (!i.certificate_authority.is_empty()).then_some(i.certificate_authority.as_bytes());
        let client = HttpsClient::new(&format!("issuer {:?} certificateAuthority", i.url), ca)?;
        let source = IssuerSource {
            issuer: i.url.clone(),
            discovery_url: (!i.discovery_url().is_empty()).then(|| i.discovery_url().to_owned()),
        };
        keys.push(Arc::new(RemoteKeys::new(source, Box::new(client), cx.clock.clone(), cx.metrics.issuer(&i.url))));
    }
    let mut next = keys.iter();
    let set = JwtIssuers::from_config(config, algorithms, |_| match next.next() {
        Some(k) => k.clone() as Arc<dyn IssuerKeys>,
        // Not reached: one key set per issuer was made above, in the same order.
        None => Arc::new(StaticKeys(Arc::new(KeySet::default()))),
    })
    .with_api_audiences(&cx.api_audiences)
    .ignoring_issuers(&cx.service_account_issuers);
    for k in &keys {
        k.start();
    }
    Ok((set, keys))
}
