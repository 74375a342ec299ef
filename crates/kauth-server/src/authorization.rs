//! The server's authorization wiring, as kube-apiserver's `pkg/kubeapiserver/authorizer`:
//! the configuration (`--authorization-config`, or the legacy `--authorization-mode` and
//! `--authorization-webhook-*` flags turned into one, [`configuration`]), the chain built from
//! it behind `system:masters` ([`chain`]: Node and RBAC over the registry, each webhook over
//! `kauth-delegation`'s [`WebhookAuthorizer`]), and the file's reload ([`Reload`]: checked
//! every minute, `--authorization-config-reload-interval`; a file that cannot be read, decoded, validated or built keeps the running
//! chain, is logged and counted as a failed reload).
//!
//! A webhook waits on the network: with one possible (`Webhook` among the modes, or any
//! `--authorization-config`, whose reload may add one), the state's `Config::remote_authorization`
//! is set and the state's `State::authorize` runs off the async workers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kauth::authz::config::validation::Connection;
use kauth::authz::config::{self, LegacyWebhookFlags, ValidAuthorizer, ValidConfig};
use kauth::authz::{
    Attributes, Authorizer, Chain, Decision, Explanation, PrivilegedGroup, Reason, Rules, SYSTEM_MASTERS,
};
use kauth::user::UserInfo;
use kauth_delegation::authz_webhook::{Now as Clock, Target, WebhookAuthorizer};
use kauth_delegation::cluster::{Cluster, ClusterSettings};

use crate::metrics::AuthorizationConfigMetrics;
use crate::options::Options;
use crate::registry::{Registry, RegistryNodes, RegistryPolicy};

/// What `os.Stat` says of a kubeconfig path: a regular file, something else, or the error.
fn stat(path: &Path) -> Result<bool, String> {
    std::fs::metadata(path).map(|m| m.is_file()).map_err(|e| format!("stat {}: {e}", path.display()))
}

/// The configuration in effect, with kube-apiserver's errors: `--authorization-config` (not
/// with the legacy flags), or the legacy flags' equivalent.
pub fn configuration(opts: &Options) -> Result<ValidConfig, String> {
    if let Some(file) = &opts.authorization_config {
        if opts.legacy_authorization_flags_set() {
            return Err("--authorization-config can not be specified when --authorization-mode or --authorization-webhook-* flags are defined".into());
        }
        let data = std::fs::read(file).map_err(|e| format!("open {}: {e}", file.display()))?;
        return config::load(&data, &stat).map_err(|e| e.kubernetes_text());
    }
    let version = opts.authorization_webhook_version.clone().unwrap_or_else(|| "v1beta1".into());
    let flags = LegacyWebhookFlags {
        config_file: opts.authorization_webhook_config_file.as_ref().map(|p| p.display().to_string()),
        version,
        authorized_ttl: opts.authorization_webhook_cache_authorized_ttl.unwrap_or(std::time::Duration::from_secs(300)),
        unauthorized_ttl: opts
            .authorization_webhook_cache_unauthorized_ttl
            .unwrap_or(std::time::Duration::from_secs(30)),
    };
    let legacy = config::from_modes(&opts.authorization_modes(), &flags)?;
    // A relative kubeconfig path is fine on the flag (kube-apiserver reads it as given).
    let legacy = absolute_webhook_paths(legacy);
    config::validation::validate(&legacy, &stat).map_err(|e| match e {
        config::ConfigError::Unsupported(_) => {
            "authorization-mode \"ABAC\": kauth serves Node, RBAC, Webhook, AlwaysAllow and AlwaysDeny".into()
        }
        other => other.kubernetes_text(),
    })
}

fn absolute_webhook_paths(mut c: config::AuthorizationConfiguration) -> config::AuthorizationConfiguration {
    for a in &mut c.authorizers {
        if let Some(w) = &mut a.webhook {
            if let Some(f) = &mut w.connection_info.kube_config_file {
                if let Ok(abs) = std::path::absolute(&*f) {
                    *f = abs.display().to_string();
                }
            }
        }
    }
    c
}

/// Whether a chain built from `opts` may call a webhook.
pub fn may_be_remote(opts: &Options) -> bool {
    opts.authorization_config.is_some() || opts.authorization_modes().iter().any(|m| m == "Webhook")
}

/// Allows everything (`--authorization-mode=AlwaysAllow`).
#[derive(Debug)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn authorize(&self, _: &Attributes) -> Decision {
        Decision::Allow(Reason::None)
    }
    fn rules_for(&self, user: &UserInfo, ns: &str) -> Rules {
        PrivilegedGroup(String::new()).rules_for(&UserInfo { groups: vec![String::new()], ..user.clone() }, ns)
    }
}

/// Denies nothing and allows nothing (`--authorization-mode=AlwaysDeny`): no opinion with
/// kube-apiserver's reason, so the request is forbidden unless an authorizer before it allows.
#[derive(Debug)]
pub struct AlwaysDeny;

impl Authorizer for AlwaysDeny {
    fn authorize(&self, _: &Attributes) -> Decision {
        Decision::NoOpinion(Reason::Text("Everything is forbidden.".into()))
    }
    fn rules_for(&self, _: &UserInfo, _: &str) -> Rules {
        Rules::default()
    }
}

/// The chain of `config`: `system:masters` first, then each authorizer in order.
pub fn chain(
    config: ValidConfig,
    registry: &Arc<Registry>,
    clock: &Clock,
    metrics: &Arc<AuthorizationConfigMetrics>,
) -> Result<Chain, String> {
    let mut chain: Vec<Box<dyn Authorizer>> = vec![Box::new(PrivilegedGroup(SYSTEM_MASTERS.into()))];
    for a in config.authorizers {
        chain.push(match a {
            ValidAuthorizer::Node => Box::new(RegistryNodes(registry.clone())),
            ValidAuthorizer::Rbac => Box::new(RegistryPolicy(registry.clone())),
            ValidAuthorizer::AlwaysAllow => Box::new(AlwaysAllow),
            ValidAuthorizer::AlwaysDeny => Box::new(AlwaysDeny),
            ValidAuthorizer::Webhook(w) => {
                let name = w.name.clone();
                let (settings, in_cluster) = match &w.connection {
                    Connection::KubeConfigFile(path) => (
                        kauth_delegation::webhook_kubeconfig::load(path)
                            .map_err(|e| format!("authorization webhook {name:?}: {e}"))?,
                        false,
                    ),
                    Connection::InClusterConfig => (
                        ClusterSettings::in_cluster().map_err(|e| format!("authorization webhook {name:?}: {e}"))?,
                        true,
                    ),
                };
                let cluster = Cluster::new(ClusterSettings { timeout: w.timeout, ..settings })
                    .map_err(|e| format!("authorization webhook {name:?}: {e}"))?;
                Box::new(
                    WebhookAuthorizer::new(w, Target { cluster, in_cluster }, clock.clone())
                        .with_metrics(metrics.webhook(&name)),
                )
            }
        });
    }
    Ok(Chain(chain))
}

/// The running chain, replaced whole when the configuration file is reloaded.
///
/// Every request reads it (a SubjectAccessReview twice), from every worker; a reload is rare.
/// An `ArcSwap` load writes nothing the other workers read (it borrows the chain through a
/// slot of the reading thread's own), so reads on many cores do not contend.
pub struct Reloadable {
    current: arc_swap::ArcSwap<Chain>,
}

impl Reloadable {
    /// Running `chain`.
    pub fn new(chain: Chain) -> Self {
        Reloadable { current: arc_swap::ArcSwap::from_pointee(chain) }
    }

    /// The running chain, for one decision.
    fn current(&self) -> arc_swap::Guard<Arc<Chain>> {
        self.current.load()
    }

    fn replace(&self, chain: Chain) {
        self.current.store(Arc::new(chain));
    }
}

impl std::fmt::Debug for Reloadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reloadable({:?})", **self.current())
    }
}

impl Authorizer for Reloadable {
    fn authorize(&self, a: &Attributes) -> Decision {
        self.current().authorize(a)
    }
    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        self.current().rules_for(user, namespace)
    }
    fn explain(&self, a: &Attributes) -> Option<Explanation> {
        self.current().explain(a)
    }
}

/// The reload of `--authorization-config` (kube-apiserver's `reloadableAuthorizerResolver`).
pub struct Reload {
    file: PathBuf,
    last_data: Mutex<Vec<u8>>,
    target: Arc<Reloadable>,
    registry: Arc<Registry>,
    clock: Clock,
    metrics: Arc<AuthorizationConfigMetrics>,
    id_hash: String,
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reload({})", self.file.display())
    }
}

impl Reload {
    /// Reloading `file` (whose current bytes are `data`) into `target`.
    pub fn new(
        file: PathBuf,
        data: Vec<u8>,
        target: Arc<Reloadable>,
        registry: Arc<Registry>,
        clock: Clock,
        metrics: Arc<AuthorizationConfigMetrics>,
        server_id: &str,
    ) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, server_id.as_bytes());
        let id_hash = format!("sha256:{}", hex::encode(digest.as_ref()));
        Reload { file, last_data: Mutex::new(data), target, registry, clock, metrics, id_hash }
    }

    fn record(&self, success: bool) {
        let now = (self.clock)();
        let seconds = now.unix_timestamp() as f64 + f64::from(now.nanosecond()) / 1e9;
        self.metrics.reload(success, &self.id_hash, seconds);
    }

    /// Reads the file again; when it changed, loads it and replaces the chain. Returns whether
    /// a new chain runs. Failures keep the old chain, are logged and counted.
    pub fn check(&self) -> bool {
        let data = match std::fs::read(&self.file) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("reloading authorization config: open {}: {e}", self.file.display());
                self.record(false);
                return false;
            }
        };
        {
            let Ok(mut last) = self.last_data.lock() else { return false };
            if *last == data {
                return false;
            }
            tracing::info!("found new authorization config data");
            *last = data.clone();
        }
        let built = config::load(&data, &stat)
            .map_err(|e| e.kubernetes_text())
            .and_then(|c| chain(c, &self.registry, &self.clock, &self.metrics));
        match built {
            Ok(chain) => {
                self.target.replace(chain);
                tracing::info!("reloaded authz config");
                self.record(true);
                true
            }
            Err(e) => {
                tracing::error!("reloading authorization config: {e}; kauth: the running authorizers stay");
                self.record(false);
                false
            }
        }
    }

    /// Checks every `interval` on the blocking pool until the reload (the state holding it) is
    /// dropped. The start counts as a successful load, as in kube-apiserver.
    pub fn spawn(self: Arc<Self>, interval: std::time::Duration) {
        self.record(true);
        let weak = Arc::downgrade(&self);
        drop(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(r) = weak.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || r.check()).await;
            }
        });
    }
}
