//! Who is asking: the server's request authentication chain, built from the library's pieces
//! ([`kauth::authn`]); the pipeline runs it (`pipeline/authentication.rs`).
//!
//! The chain: a front proxy's certificate and the user its headers name (when a request-header CA
//! is configured), the client certificate (judged against the client CA), then the bearer token
//! (static tokens, service-account tokens, bootstrap tokens, [JWT issuers], the token webhook
//! last, in its own cache ([`token_webhook`]); the union cached, `system:authenticated` added), then
//! anonymous, which answers only a request that presents no credential at all: a presented
//! credential that fails is never replaced by anonymous. As in kube-apiserver's union, a request
//! whose certificate fails but whose bearer token is valid is the token's user; when both fail,
//! both reasons are kept.
//!
//! The typed [`Rejection`] is formatted here and nowhere before: the log line, the audit
//! annotation `authentication.kauth.dev/failure`, TokenReview's `status.error` (with the replica
//! a token from the future likely came from) and metrics (its `code()`). Clients get the plain
//! 401.

use std::sync::Arc;

use kauth::authn::anonymous::Anonymous;
use kauth::authn::bearer::BearerAuthenticator;
use kauth::authn::cache::TokenCache;
use kauth::authn::group_adder::GroupAdder;
use kauth::authn::request_header::RequestHeaderAuthenticator;
use kauth::authn::union::{RequestUnion, TokenUnion};
use kauth::authn::x509::X509Authenticator;
use kauth::authn::Rejection;
use kauth_delegation::webhook::WebhookTokenAuthenticator;
use kauth_delegation::webhook_call::WebhookMetrics;
use time::OffsetDateTime;

use crate::replicas::Replicas;

/// The token chain: static and service-account tokens, `system:authenticated` added, cached
/// (the cache holds users that already have the group).
pub type TokenChain = TokenCache<GroupAdder<TokenUnion>>;

/// The request chain: a front proxy's headers, client certificate, bearer token, anonymous.
pub fn request_chain(
    front_proxy: Option<RequestHeaderAuthenticator>,
    x509: X509Authenticator,
    tokens: Arc<TokenChain>,
    anonymous: Anonymous,
) -> RequestUnion {
    let mut chain = RequestUnion::new();
    // First, as in kube-apiserver: a front proxy's certificate names no user of its own.
    if let Some(proxy) = front_proxy {
        chain = chain.with(GroupAdder::new(proxy));
    }
    chain.with(GroupAdder::new(x509)).with(BearerAuthenticator::new(tokens)).with(anonymous)
}

/// The token webhook the flags configure (`--authentication-token-webhook-*`), in its own cache
/// as kube-apiserver's `newWebhookTokenAuthenticator` wraps it: successes and silent failures
/// (a denial without a reason, other audiences) kept for the webhook's cache TTL, errors never.
/// `None` without `--authentication-token-webhook-config-file`.
pub fn token_webhook(
    opts: &crate::options::Options,
    api_audiences: &[String],
    metrics: Arc<dyn WebhookMetrics>,
) -> Result<Option<TokenCache<WebhookTokenAuthenticator>>, String> {
    let Some(path) = &opts.authentication_token_webhook_config_file else { return Ok(None) };
    let flag = "--authentication-token-webhook-config-file";
    let settings = kauth_delegation::webhook_kubeconfig::load(path).map_err(|e| format!("{flag}: {e}"))?;
    let cluster = kauth_delegation::cluster::Cluster::new(settings).map_err(|e| format!("{flag}: {e}"))?;
    let webhook =
        WebhookTokenAuthenticator::new(cluster, opts.authentication_token_webhook_version, api_audiences.to_vec())
            .with_metrics(metrics);
    let ttl = opts.authentication_token_webhook_cache_ttl;
    if !ttl.is_zero() && !opts.token_cache_ttl.is_zero() && ttl < opts.token_cache_ttl {
        tracing::warn!(
            "the webhook cache ttl of {ttl:?} is shorter than the overall cache ttl of {:?} for successful token authentication attempts.",
            opts.token_cache_ttl
        );
    }
    let ttl = time::Duration::try_from(ttl).map_err(|e| format!("--authentication-token-webhook-cache-ttl: {e}"))?;
    let cached = TokenCache::new(webhook, ttl).map_err(|_| "webhook cache key generation failed".to_owned())?;
    Ok(Some(cached.cache_failures(ttl)))
}

/// Runs `judge` (an authentication) off the async workers when the chain may wait on the
/// network (`remote`: the state's `Config::remote_authentication`): on a multi-threaded
/// runtime through `block_in_place`, which hands this worker's other tasks to another thread
/// while this one waits. Inline otherwise: without a remote authenticator (the default; the
/// chain is a few microseconds of CPU, and moving threads would cost more), or without a
/// multi-threaded runtime (in-process callers and tests; `block_in_place` would panic there).
///
/// The runtime is looked at only for a remote chain: finding it clones the runtime's handle,
/// whose count every worker shares, and the default chain runs twice per request.
pub fn off_workers<R>(remote: bool, judge: impl FnOnce() -> R) -> R {
    let multi_thread = || {
        tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    };
    if remote && multi_thread() {
        tokio::task::block_in_place(judge)
    } else {
        judge()
    }
}

/// The failure in kauth's one form ([`Rejection::explained`]): kube-apiserver's text, then
/// `; kauth: ` and every authenticator's reason; a token from the future also names the replica
/// that likely issued it, with its measured clock skew.
pub fn rejection_reason(rejection: &Rejection, replicas: Option<&Replicas>, now: OffsetDateTime) -> String {
    let mut reason = rejection.explained();
    if let (Some(ahead), Some(replicas)) = (rejection.clock_skew_at_least(), replicas) {
        reason.push_str("; ");
        reason.push_str(&replicas.attribute(ahead, now));
    }
    reason
}

/// Bootstrap token Secrets, read from the registry.
#[derive(Debug, Clone)]
pub struct RegistrySecrets(pub Arc<crate::registry::Registry>);

impl kauth::authn::bootstrap_token::BootstrapSecrets for RegistrySecrets {
    fn bootstrap_secret(&self, name: &str) -> Result<Option<kauth::authn::bootstrap_token::BootstrapSecret>, String> {
        let rt = crate::api::resources::by_kind("", "Secret").ok_or("secrets are not served")?;
        let Some(stored) = self.0.get(rt, kauth::authn::bootstrap_token::NAMESPACE, name) else { return Ok(None) };
        let secret: k8s_openapi::api::core::v1::Secret =
            stored.decode().map_err(|e| format!("stored Secret {name}: {e}"))?;
        Ok(Some(kauth::authn::bootstrap_token::BootstrapSecret::of(&secret)))
    }
}
