//! Starting a server: the data directory (PKI in `kauth pki`'s layout, service-account keys,
//! the embedded store, `admin.conf`), the authentication and authorization chains, and the
//! objects Kubernetes creates at start: system namespaces with their default ServiceAccount and
//! `kube-root-ca.crt`, and the default RBAC roles and bindings (`kauth::rbac::defaults`; created
//! when missing, reconciled when they carry `rbac.authorization.kubernetes.io/autoupdate: "true"`,
//! written only when they differ, so a restart with everything in step commits nothing).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

use k8s_openapi::api::rbac::v1::PolicyRule;
use kauth::authn::cache::{TokenCache, DEFAULT_SUCCESS_TTL};
use kauth::authn::group_adder::GroupAdder;
use kauth::authn::token_file::TokenFile;
use kauth::authn::union::TokenUnion;
use kauth::authn::x509::X509Authenticator;
use kauth::authz::{Attributes, Authorizer, Decision, Rules};
use kauth::pki::init::init;
use kauth::pki::layout::Layout;
use kauth::pki::spec::PkiConfig;
use kauth::rbac::aggregate::same_rules;
use kauth::rbac::defaults;
use kauth::token::issue::ExpirationPolicy;
use kauth::token::keys::{KeySet, SigningKey};
use kauth::token::validate::{ValidatorConfig, DEFAULT_LEEWAY_SECONDS};
use kauth::user::UserInfo;
use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::api::resources::{self, meta_str, ResourceType};
use crate::api::status::ApiError;
use crate::audit::AuditLog;
use crate::authentication_config::reload::Reloader;
use crate::authentication_config::{build, source, JwtAuthentication};
use crate::controllers::aggregation::{self, Pending};
use crate::metrics::Metrics;
pub use crate::options::{Options, DEFAULT_ISSUER};
use crate::registry::{Change, Registry};
use crate::state::{Config, State};
use crate::store::RedbStore;
use crate::{controllers, keyring};

/// A server ready to listen.
#[derive(Debug)]
pub struct Prepared {
    /// Its state.
    pub state: Arc<State>,
    /// Its TLS configuration.
    pub tls: Arc<rustls::ServerConfig>,
    /// The admin kubeconfig.
    pub admin_kubeconfig: PathBuf,
    /// The `--authentication-config` file's watcher, to start ([`Reloader::spawn`]).
    pub reloader: Option<Reloader>,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The running (reloadable) chain, shared with its reload.
struct SharedAuthorizer(Arc<crate::authorization::Reloadable>);

impl Authorizer for SharedAuthorizer {
    fn authorize(&self, a: &Attributes) -> Decision {
        self.0.authorize(a)
    }
    fn rules_for(&self, user: &UserInfo, ns: &str) -> Rules {
        self.0.rules_for(user, ns)
    }
    fn explain(&self, a: &Attributes) -> Option<kauth::authz::Explanation> {
        self.0.explain(a)
    }
}

/// Creates or reuses the data directory and builds the server's state.
pub fn prepare(opts: &Options, clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>) -> Result<Prepared, String> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| format!("{}: {e}", opts.data_dir.display()))?;
    let layout = Layout::new(&opts.data_dir);
    let now = clock();
    let pki = PkiConfig {
        advertise_address: if opts.bind_address.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            opts.bind_address
        },
        bind_port: opts.secure_port,
        // A PKI already there (`kauth pki init`'s, whose node name defaults to the host's name)
        // keeps its node name; a new one is made for `localhost`: this server is the local node,
        // and its certificate then also serves `https://localhost:<port>`.
        node_name: kauth::pki::spec::existing_node_name(&layout)
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| PkiConfig::default().node_name),
        ..PkiConfig::default()
    };
    // A restart may listen on another port (`--secure-port 0`): the kubeconfigs follow it.
    let server = format!("https://{}", std::net::SocketAddr::new(pki.advertise_address, opts.secure_port));
    for file in ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"] {
        let path = layout.kubeconfig_path(file);
        if path.exists() {
            retarget_kubeconfig(&path, &server)?;
        }
    }
    init(&layout, &pki, false, now).map_err(|e| e.to_string())?;
    let cert_file = opts.tls_cert_file.clone().unwrap_or_else(|| layout.cert_path("apiserver"));
    let key_file = opts.tls_private_key_file.clone().unwrap_or_else(|| layout.key_path("apiserver"));
    let ca_file = opts.client_ca_file.clone().unwrap_or_else(|| layout.cert_path("ca"));
    let (cert, key, ca) = (read(&cert_file)?, read(&key_file)?, read(&ca_file)?);
    let front_proxy = crate::front_proxy::configure(opts, &layout, &ca_file, &ca)?;
    // The handshake names both CAs to clients, as kube-apiserver does.
    let hints = [ca.as_slice(), front_proxy.as_ref().map_or(&[][..], |p| p.ca_pem.as_slice())].concat();
    let client_certs = crate::transport::tls::ClientCertificates::from_pem(&ca_file.display().to_string(), &hints)
        .map_err(|e| e.to_string())?;
    let x509 = X509Authenticator::from_pem(&ca_file.display().to_string(), &ca).map_err(|e| e.to_string())?;
    let tls = crate::transport::tls::server_config(
        (&cert_file.display().to_string(), &cert),
        (&key_file.display().to_string(), &key),
        Some(&client_certs),
    )
    .map_err(|e| e.to_string())?;
    let ca_pem = String::from_utf8(read(&layout.cert_path("ca"))?).map_err(|e| format!("ca.crt: {e}"))?;

    let signing_file = opts.service_account_signing_key_file.clone().unwrap_or_else(|| layout.sa_key_path());
    let signing_pem =
        String::from_utf8(read(&signing_file)?).map_err(|_| format!("{}: not a PEM file", signing_file.display()))?;
    let signing =
        SigningKey::from_pem(&signing_file.display().to_string(), signing_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut extra = KeySet::new(Vec::new());
    for f in &opts.service_account_key_file {
        extra.add_pem(&f.display().to_string(), &read(f)?).map_err(|e| e.to_string())?;
    }
    let issuers = if opts.service_account_issuer.is_empty() {
        vec![DEFAULT_ISSUER.to_owned()]
    } else {
        opts.service_account_issuer.clone()
    };
    let api_audiences = if opts.api_audiences.is_empty() { issuers.clone() } else { opts.api_audiences.clone() };

    let registry = Arc::new(Registry::open(open_store(opts, &layout)?).map_err(|e| e.to_string())?);
    // On etcd, this replica measures its clock against the others' heartbeats, which reach it
    // through the store's watch; the hook is in place before following starts.
    let replicas = (!opts.etcd_servers.is_empty()).then(|| {
        let name =
            opts.replica_name.clone().unwrap_or_else(|| format!("{}:{}", pki.advertise_address, opts.secure_port));
        Arc::new(crate::replicas::Replicas::new(name, DEFAULT_LEEWAY_SECONDS))
    });
    // The shared key ring changes reach the state once it exists (it is made below).
    let state_cell: Arc<OnceLock<Weak<State>>> = Arc::new(OnceLock::new());
    if let Some(r) = &replicas {
        let (r, clock, cell) = (r.clone(), clock.clone(), state_cell.clone());
        registry.on_foreign_put(move |key, value| {
            if key == keyring::KEYRING_KEY {
                if let Some(state) = cell.get().and_then(Weak::upgrade) {
                    controllers::keyring::on_ring_change(&state, value);
                }
            } else {
                r.observe(key, value, clock());
            }
        });
    }
    // On etcd, follow every replica's writes (a no-op on the embedded store).
    registry.follow();

    let validator = ValidatorConfig {
        issuers: issuers.clone(),
        api_audiences: api_audiences.clone(),
        keys: KeySet::new(Vec::new()),
        leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        accept_legacy: true,
    };
    let backdate = i64::try_from(opts.service_account_token_backdate.as_secs()).unwrap_or(0);
    let keys = keyring::Keys::from_files(
        issuers[0].clone(),
        backdate,
        signing_pem,
        signing,
        extra.keys().to_vec(),
        validator,
        registry.clone(),
    );
    let mut union = TokenUnion::new();
    if let Some(f) = &opts.token_auth_file {
        union = union.with(TokenFile::parse(&f.display().to_string(), &read(f)?).map_err(|e| e.to_string())?);
    }
    union = union.with(keys.authenticator());
    if opts.enable_bootstrap_token_auth {
        union = union.with(kauth::authn::bootstrap_token::BootstrapTokenAuthenticator::new(
            crate::authentication::RegistrySecrets(registry.clone()),
        ));
    }
    // Then the JWT issuers (kube-apiserver: after service accounts and bootstrap tokens, so a
    // service-account token never makes an identity provider be asked for keys).
    let mut metrics = Metrics::new().map_err(|e| e.to_string())?;
    let (loaded, anonymous) = source::initial(opts, &issuers).map_err(|e| e.to_string())?;
    let jwt = Arc::new(JwtAuthentication::default());
    let jwt_context = build::Context {
        api_audiences: api_audiences.clone(),
        service_account_issuers: issuers.clone(),
        clock: clock.clone(),
        metrics: metrics.jwks.clone(),
    };
    let mut reloader = None;
    let jwt_configured = loaded.is_some();
    if let Some(loaded) = loaded {
        let (set, keys) =
            build::issuers(&loaded.config, &loaded.algorithms, &jwt_context).map_err(|e| e.to_string())?;
        jwt.install(set, keys);
        union = union.with(jwt.clone());
        if let Some((path, data)) = loaded.file {
            let replica =
                opts.replica_name.clone().unwrap_or_else(|| format!("{}:{}", pki.advertise_address, opts.secure_port));
            let anonymous = loaded.config.anonymous().cloned();
            reloader = Some(Reloader::new(path, data, anonymous, jwt_context, &jwt, metrics.reload(&replica)));
        }
    }
    // The webhook last, as in kube-apiserver.
    let webhook = crate::authentication::token_webhook(opts, &api_audiences, metrics.webhook.clone())?;
    // Remote authenticators block on the network: the webhook, and JWT issuers (a token with
    // an unknown key id makes its issuer's keys be fetched).
    let remote_authentication = webhook.is_some() || jwt_configured;
    if let Some(webhook) = webhook {
        union = union.with(webhook);
    }
    let ttl = time::Duration::try_from(opts.token_cache_ttl).unwrap_or(DEFAULT_SUCCESS_TTL);
    let tokens = Arc::new(
        TokenCache::new(GroupAdder::new(union), ttl).map_err(|_| "token cache key generation failed".to_string())?,
    );
    let anonymous_enabled = anonymous.enabled;
    let authenticator = crate::authentication::request_chain(
        front_proxy.as_ref().map(|p| p.authenticator.clone()),
        x509,
        tokens.clone(),
        anonymous,
    );

    // Authorization: `--authorization-config` or the legacy flags, as kube-apiserver.
    let authorization = crate::authorization::configuration(opts)?;
    let remote_authorization = crate::authorization::may_be_remote(opts);
    let authz_metrics = metrics.authorization_config.clone();
    let running = Arc::new(crate::authorization::Reloadable::new(crate::authorization::chain(
        authorization,
        &registry,
        &clock,
        &authz_metrics,
    )?));
    let authorization_reload = match &opts.authorization_config {
        Some(file) => Some(Arc::new(crate::authorization::Reload::new(
            file.clone(),
            read(file)?,
            running.clone(),
            registry.clone(),
            clock.clone(),
            authz_metrics,
            &format!("{}:{}", pki.advertise_address, opts.secure_port),
        ))),
        None => None,
    };
    let authorizer: Box<dyn Authorizer> = Box::new(SharedAuthorizer(running));
    let audit = audit_log(opts, &clock)?;
    for (name, pem) in [("serving", &cert), ("client-ca", &ca)] {
        if let Ok(certs) = crate::transport::tls::certificates(name, pem) {
            if let Some(Ok((_, c))) = certs.first().map(|c| x509_parser::parse_x509_certificate(c.as_ref())) {
                metrics.certificates.push((name.to_owned(), c.validity().not_after.timestamp()));
            }
        }
    }
    let config = Config {
        anonymous_auth: anonymous_enabled,
        issuers: issuers.clone(),
        api_audiences,
        expiration: ExpirationPolicy {
            max_seconds: opts.service_account_max_token_expiration.map(|d| d.as_secs() as i64),
            extend: opts.service_account_extend_token_expiration,
        },
        advertise: format!("{}:{}", pki.advertise_address, opts.secure_port),
        ca_pem,
        rbac: !opts.authorization_modes().iter().any(|m| m == "AlwaysAllow"),
        extension_apiserver_authentication: crate::front_proxy::configmap_data(&ca, front_proxy.as_ref()),
        request_header_names: front_proxy.as_ref().map(|p| p.names.clone()),
        bootstrap_tokens: opts.enable_bootstrap_token_auth,
        remote_authentication,
        remote_authorization,
    };
    let state = Arc::new(State {
        config,
        registry: registry.clone(),
        tokens,
        authenticator,
        authorizer,
        keys,
        audit,
        metrics,
        clock,
        replicas,
        refusals: Default::default(),
        jwt,
        authorization_reload,
    });
    let _ = state_cell.set(Arc::downgrade(&state));
    if state.replicas.is_some() {
        keyring::join_ring(&state.keys, now)?;
    }
    let weak: Weak<State> = Arc::downgrade(&state);
    registry.on_token_dependency_change(move || {
        if let Some(s) = weak.upgrade() {
            s.tokens.invalidate();
        }
    });
    seed(&state)?;
    Ok(Prepared { state, tls: Arc::new(tls), admin_kubeconfig: layout.kubeconfig_path("admin.conf"), reloader })
}

/// The store: etcd when `--etcd-servers` is given, else the embedded one in the data directory.
/// The audit log the flags ask for: `--audit-policy-file`, else every request at
/// `--audit-level`; written to `--audit-log-path` (`-`: stdout), rotated by the
/// `--audit-log-max*` flags.
fn audit_log(opts: &Options, clock: &crate::state::Clock) -> Result<Option<AuditLog>, String> {
    let Some(path) = &opts.audit_log_path else { return Ok(None) };
    if opts.audit_log_format != "json" {
        return Err(format!(
            "--audit-log-format: unsupported {:?}: kauth writes \"json\" (audit.k8s.io/v1 Events, one per line)",
            opts.audit_log_format
        ));
    }
    let policy = match &opts.audit_policy_file {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
            crate::audit::Policy::parse(&file.display().to_string(), &text).map_err(|e| e.to_string())?
        }
        None => crate::audit::Policy::everything_at(opts.audit_level),
    };
    if path.as_os_str() == "-" {
        return Ok(Some(AuditLog::new(policy, Box::new(std::io::stdout()))));
    }
    let rotation = crate::audit::writer::Rotation {
        max_size: opts.audit_log_maxsize.saturating_mul(1024 * 1024),
        max_backups: opts.audit_log_maxbackup,
        max_age_days: opts.audit_log_maxage,
    };
    let file = crate::audit::writer::RotatingFile::open(path, rotation, clock.clone())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(AuditLog::new(policy, Box::new(file))))
}

fn open_store(opts: &Options, layout: &Layout) -> Result<Box<dyn crate::store::Storage>, String> {
    if opts.etcd_servers.is_empty() {
        let store = RedbStore::open(&opts.data_dir.join("kauth.redb")).map_err(|e| e.to_string())?;
        return Ok(Box::new(store));
    }
    open_etcd(opts, layout)
}

#[cfg(feature = "etcd")]
fn open_etcd(opts: &Options, layout: &Layout) -> Result<Box<dyn crate::store::Storage>, String> {
    // https URLs default to kauth pki's etcd CA and the apiserver-etcd-client certificate, as
    // kubeadm configures kube-apiserver.
    let tls = opts.etcd_servers.iter().any(|u| u.starts_with("https://"));
    let file = |given: &Option<PathBuf>, default: PathBuf| given.clone().or(tls.then_some(default));
    let ca = file(&opts.etcd_cafile, layout.cert_path("etcd/ca")).map(|p| read(&p)).transpose()?;
    let cert = file(&opts.etcd_certfile, layout.cert_path("apiserver-etcd-client"));
    let key = file(&opts.etcd_keyfile, layout.key_path("apiserver-etcd-client"));
    let identity = match (cert, key) {
        (Some(c), Some(k)) => Some((read(&c)?, read(&k)?)),
        (None, None) => None,
        _ => return Err("--etcd-certfile and --etcd-keyfile go together".into()),
    };
    let config = crate::store::EtcdConfig {
        endpoints: opts.etcd_servers.clone(),
        ca,
        identity,
        timeout: std::time::Duration::from_secs(5),
    };
    let store = crate::store::EtcdStore::connect(config).map_err(|e| e.to_string())?;
    Ok(Box::new(store))
}

#[cfg(not(feature = "etcd"))]
fn open_etcd(_: &Options, _: &Layout) -> Result<Box<dyn crate::store::Storage>, String> {
    Err("--etcd-servers: this kauth was built without etcd support; build it with `--features etcd`".into())
}

/// Points a kubeconfig's clusters at `server` (written atomically, 0600), if they point elsewhere.
pub fn retarget_kubeconfig(path: &Path, server: &str) -> Result<(), String> {
    let data = read(path)?;
    let mut kc =
        kauth::pki::kubeconfig::Kubeconfig::parse(&path.display().to_string(), &data).map_err(|e| e.to_string())?;
    if kc.clusters.iter().all(|c| c.cluster.server == server) {
        return Ok(());
    }
    for c in &mut kc.clusters {
        c.cluster.server = server.to_owned();
    }
    let yaml = kc.to_yaml().map_err(|e| e.to_string())?;
    kauth::pki::fsio::write_atomic(path, yaml.as_bytes(), kauth::pki::fsio::FileMode::Secret).map_err(|e| e.to_string())
}

/// The namespaces Kubernetes always has.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

fn seed(state: &State) -> Result<(), String> {
    let err = |e: ApiError| e.message;
    let ns_rt = resources::by_kind("", "Namespace").ok_or("no namespaces")?;
    let sa_rt = resources::by_kind("", "ServiceAccount").ok_or("no serviceaccounts")?;
    for ns in SYSTEM_NAMESPACES {
        if state.registry.get(ns_rt, "", ns).is_none() {
            let obj = json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "uid": crate::api::meta::new_uid().map_err(err)?, "creationTimestamp": kauth::timestamp::rfc3339(state.now()), "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"},
            });
            state.registry.commit(vec![Change::Create(ns_rt, obj)]).map_err(err)?;
        }
    }
    // Every namespace keeps its default ServiceAccount and an up-to-date kube-root-ca.crt.
    for ns in state.registry.list(ns_rt, "") {
        let name = ns.names().name;
        let mut changes = Vec::new();
        if state.registry.get(sa_rt, &name, "default").is_none() {
            changes.push(Change::Create(sa_rt, controllers::default_service_account(state, &name).map_err(err)?));
        }
        changes.extend(controllers::root_ca::sync(state, &name).map_err(err)?);
        if !changes.is_empty() {
            state.registry.commit(changes).map_err(err)?;
        }
    }
    publish_authentication_configmap(state).map_err(err)?;
    controllers::bootstrap_signer::publish_cluster_info(state).map_err(err)?;
    reconcile_policy(state).map_err(err)
}

/// `kube-system/extension-apiserver-authentication` holds what this server's configuration says,
/// written when it differs. Unlike kube-apiserver, which keeps the union of what every server
/// ever published, kauth publishes exactly the current configuration: a CA taken out of the
/// configuration stops being trusted by aggregated API servers too.
fn publish_authentication_configmap(state: &State) -> Result<(), ApiError> {
    let cm_rt = resources::by_kind("", "ConfigMap").ok_or_else(|| ApiError::internal("no configmaps"))?;
    let data = &state.config.extension_apiserver_authentication;
    let name = crate::front_proxy::CONFIGMAP;
    match state.registry.get(cm_rt, "kube-system", name) {
        None => {
            let obj = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "kube-system", "uid": crate::api::meta::new_uid()?, "creationTimestamp": kauth::timestamp::rfc3339(state.now())},
                "data": data,
            });
            state.registry.commit(vec![Change::Create(cm_rt, obj)])?;
        }
        Some(cm) if cm.value().get("data") != Some(&json!(data)) => {
            let mut v = cm.value();
            v["data"] = json!(data);
            state.registry.commit(vec![Change::Update(cm_rt, v, cm.revision)])?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Objects of one kind of the default policy, as stored values with their resource type.
fn stored<T: serde::Serialize>(kind: &str, objects: &[T]) -> Result<Vec<(&'static ResourceType, Value)>, ApiError> {
    let rt = resources::by_kind(resources::RBAC_GROUP, kind)
        .ok_or_else(|| ApiError::internal(format!("no {kind} resource")))?;
    let value = |o: &T| serde_json::to_value(o).map_err(|e| ApiError::internal(e.to_string()));
    objects.iter().map(|o| Ok((rt, value(o)?))).collect()
}

/// Kubernetes' default policy (`kauth::rbac::defaults`), in the order it is created: ClusterRoles,
/// ClusterRoleBindings, Roles, RoleBindings.
fn default_objects() -> Result<Vec<(&'static ResourceType, Value)>, ApiError> {
    let policy = defaults::policy().map_err(|e| ApiError::internal(e.to_string()))?;
    let mut out = stored("ClusterRole", &policy.cluster_roles)?;
    out.extend(stored("ClusterRoleBinding", &policy.cluster_role_bindings)?);
    out.extend(stored("Role", &policy.roles)?);
    out.extend(stored("RoleBinding", &policy.role_bindings)?);
    Ok(out)
}

/// The fields start-up resets on a default object still marked autoupdate.
const RECONCILED: [&str; 4] = ["rules", "aggregationRule", "roleRef", "subjects"];

/// Creates missing default roles and bindings; resets those still marked autoupdate; then brings
/// every aggregated ClusterRole in step. Writes only what differs: a restart with the policy in
/// step commits nothing (watchers see no MODIFIED event, resourceVersions stay).
pub fn reconcile_policy(state: &State) -> Result<(), ApiError> {
    for (rt, mut want) in default_objects()? {
        let name = meta_str(&want, "name").to_owned();
        let namespace = meta_str(&want, "namespace").to_owned();
        match state.registry.get(rt, &namespace, &name) {
            None => {
                let meta = resources::metadata_mut(&mut want);
                meta.insert("uid".into(), json!(crate::api::meta::new_uid()?));
                meta.insert("creationTimestamp".into(), json!(kauth::timestamp::rfc3339(state.now())));
                let mut changes = vec![];
                if rt.kind == "ClusterRole" {
                    changes.extend(aggregation::aggregate(state, Pending::Write(&mut want))?);
                }
                changes.insert(0, Change::Create(rt, want));
                state.registry.commit(changes)?;
            }
            Some(have) => {
                let auto = have
                    .value()
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(defaults::AUTOUPDATE_ANNOTATION))
                    .and_then(Value::as_str)
                    == Some("true");
                if !auto {
                    continue;
                }
                let mut next = have.value();
                for f in RECONCILED {
                    if let Some(v) = want.get(f) {
                        next[f] = v.clone();
                    }
                }
                let mut changes = vec![];
                if rt.kind == "ClusterRole" {
                    changes.extend(aggregation::aggregate(state, Pending::Write(&mut next))?);
                }
                if !same_reconciled(&next, &have.value()) {
                    changes.insert(0, Change::Update(rt, next, have.revision));
                }
                if !changes.is_empty() {
                    state.registry.commit(changes)?;
                }
            }
        }
    }
    // Aggregated roles no default covers (or marked not to update) may be out of step too: with a
    // data directory from a kauth that left rules behind, say.
    let changes = aggregation::aggregate(state, Pending::Nothing)?;
    if !changes.is_empty() {
        state.registry.commit(changes)?;
    }
    Ok(())
}

/// Whether `a` and `b` agree on the fields start-up reconciles: rules as Kubernetes compares them
/// ([`same_rules`]: an absent list is an empty one), the others as JSON (absent is null).
fn same_reconciled(a: &Value, b: &Value) -> bool {
    RECONCILED.iter().all(|f| {
        let (x, y) = (a.get(*f).filter(|v| !v.is_null()), b.get(*f).filter(|v| !v.is_null()));
        if *f == "rules" {
            let rules = |v: Option<&Value>| v.map(Vec::<PolicyRule>::deserialize).transpose();
            if let (Ok(x), Ok(y)) = (rules(x), rules(y)) {
                return same_rules(x.as_deref(), y.as_deref());
            }
        }
        x == y
    })
}
