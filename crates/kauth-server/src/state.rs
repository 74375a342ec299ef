//! What every layer above the registry shares: the server's settings ([`Config`]) and its
//! [`State`] (the registry, the authentication chain, the authorizer, the service-account keys,
//! audit, metrics, the clock and the replica set). Built once by `bootstrap.rs`; read by
//! controllers, handlers and the pipeline; never by the layers below it.

use std::sync::Arc;

use kauth::authn::union::RequestUnion;
use kauth::authz::{Attributes, Authorizer, Decision};
use kauth::token::issue::ExpirationPolicy;
use time::OffsetDateTime;

use crate::registry::Registry;
use crate::{audit, keyring, metrics, replicas};

/// The clock the server reads `now` from: the system clock in production, a fake one in tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Server settings that handlers read.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--anonymous-auth`.
    pub anonymous_auth: bool,
    /// `--service-account-issuer` (the first signs; all are accepted).
    pub issuers: Vec<String>,
    /// `--api-audiences` (default: the issuer).
    pub api_audiences: Vec<String>,
    /// TokenRequest's expiration flags.
    pub expiration: ExpirationPolicy,
    /// `host:port` clients reach this server at (discovery, kubeconfigs).
    pub advertise: String,
    /// The cluster CA (PEM), published in `kube-root-ca.crt` and token Secrets.
    pub ca_pem: String,
    /// Whether RBAC runs (`--authorization-mode=RBAC`); `AlwaysAllow` otherwise.
    pub rbac: bool,
    /// The data of `kube-system/extension-apiserver-authentication`
    /// ([`crate::front_proxy::configmap_data`]).
    pub extension_apiserver_authentication: std::collections::BTreeMap<String, String>,
    /// The front proxy's header names, removed from every request after authentication (the
    /// standard `X-Remote-*` ones always are).
    pub request_header_names: Option<kauth::authn::request_header::HeaderNames>,
    /// `--enable-bootstrap-token-auth`: bootstrap tokens authenticate, and the bootstrap signer
    /// and token cleaner run (`controllers/bootstrap_signer.rs`).
    pub bootstrap_tokens: bool,
    /// The token chain holds an authenticator that may wait on the network (the token webhook;
    /// JWT issuers whose keys are fetched are to set it too): authentication then runs off the
    /// async workers ([`crate::authentication::off_workers`]). False by default, so the default
    /// chain stays inline.
    pub remote_authentication: bool,
    /// The authorizer chain may call a webhook (`Webhook` among the modes, or an
    /// `--authorization-config`, whose reload may add one): authorization then runs off the
    /// async workers, as authentication does with a remote authenticator.
    pub remote_authorization: bool,
}

/// Everything a request handler needs.
pub struct State {
    /// Settings.
    pub config: Config,
    /// The objects.
    pub registry: Arc<Registry>,
    /// The token chain (static tokens, service-account tokens), cached; TokenReview calls it
    /// directly, the request chain through the bearer authenticator.
    pub tokens: Arc<crate::authentication::TokenChain>,
    /// The request chain: client certificate, bearer token, anonymous
    /// ([`crate::authentication::request_chain`]).
    pub authenticator: RequestUnion,
    /// The authorizer chain.
    pub authorizer: Box<dyn Authorizer>,
    /// Service-account keys: what signs TokenRequest tokens and legacy token Secrets, and the
    /// verification keys (JWKS); on etcd, the shared key ring.
    pub keys: keyring::Keys,
    /// Audit log, if configured.
    pub audit: Option<audit::AuditLog>,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// The clock (a fake one in tests).
    pub clock: Clock,
    /// This replica among others on a shared store (etcd); `None` on the embedded store.
    pub replicas: Option<Arc<replicas::Replicas>>,
    /// The budget of refusal lines in the log.
    pub refusals: crate::refusals::Refusals,
    /// The JWT issuers in use (`--authentication-config` or `--oidc-*`), in the token chain
    /// after bootstrap tokens; their keys' `/readyz` lines.
    pub jwt: Arc<crate::authentication_config::JwtAuthentication>,
    /// The reload of `--authorization-config`, when given.
    pub authorization_reload: Option<Arc<crate::authorization::Reload>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("config", &self.config).finish_non_exhaustive()
    }
}

impl State {
    /// Now, from the server's clock.
    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Runs the authorizer, timing it.
    pub fn authorize(&self, a: &Attributes) -> Decision {
        let start = std::time::Instant::now();
        let d = crate::authentication::off_workers(self.config.remote_authorization, || self.authorizer.authorize(a));
        self.metrics.authorization(&d, start.elapsed());
        d
    }
}
