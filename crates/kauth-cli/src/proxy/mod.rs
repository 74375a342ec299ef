//! `kauth proxy`: Kubernetes authentication and RBAC in front of any HTTP service, a drop-in
//! for kube-rbac-proxy's common use (its flags, defaults, config file, codes and texts).
//! Bearer tokens go to the cluster's TokenReview (cached 2 minutes, HMAC-keyed), client
//! certificates are verified against `--client-ca-file`, decisions come from the config's
//! `static` rules, then the cluster's SubjectAccessReview (allowed answers cached 5 minutes,
//! denied 30 seconds: kube-rbac-proxy's values); the logic is `kauth-delegation`'s.
//!
//! Files: `server.rs` (the request path and the listener), `upstream.rs` (forwarding, pooled),
//! `hop_by_hop.rs` (Go's header rules), `upgrade.rs` (joining upgraded connections),
//! `refusals.rs` (kube-rbac-proxy's texts), `metrics.rs`.

mod hop_by_hop;
mod metrics;
mod oidc;
mod refusals;
mod server;
mod upgrade;
mod upstream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use kauth::authn::union::TokenUnion;
use kauth::authn::TokenAuthenticator;
use kauth_delegation::access_review::SubjectAccessReviewAuthorizer;
use kauth_delegation::authentication::{AuthenticationOptions, DelegatingAuthenticator};
use kauth_delegation::cluster::{Cluster, ClusterSettings};
use kauth_delegation::decide::{FirstOf, Local};
use kauth_delegation::extension_authentication::ExtensionAuthentication;
use kauth_delegation::layer::DelegatingLayer;
use kauth_delegation::local_authentication::LocalServiceAccounts;
use kauth_delegation::local_rbac::LocalRbac;
use kauth_delegation::rbac_proxy::attributes::RbacProxyAttributes;
use kauth_delegation::rbac_proxy::config::ProxyConfig;
use kauth_delegation::rbac_proxy::path_pattern::PathPattern;
use kauth_delegation::rbac_proxy::static_rules::StaticRules;
use kauth_delegation::token_review::TokenReviewAuthenticator;
use kauth_server::transport::tls;

use crate::failure::Failure;

fn duration(s: &str) -> Result<std::time::Duration, String> {
    kauth::duration::parse(s)
}

/// `kauth proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The upstream URL to proxy to once requests are authenticated and authorized.
    #[arg(long)]
    upstream: String,
    /// The address to serve HTTPS on (`host:port`; port 0 picks one, printed on start).
    #[arg(long)]
    secure_listen_address: String,
    /// The serving certificate (chain) for HTTPS.
    #[arg(long)]
    tls_cert_file: PathBuf,
    /// The key of --tls-cert-file.
    #[arg(long)]
    tls_private_key_file: PathBuf,
    /// Requests presenting a client certificate signed by one of these CAs are authenticated
    /// as the certificate's CN (user) and O (groups).
    #[arg(long)]
    client_ca_file: Option<PathBuf>,
    /// The CA of the upstream's serving certificate (https upstreams; default: the web roots).
    #[arg(long)]
    upstream_ca_file: Option<PathBuf>,
    /// A client certificate to present to the upstream.
    #[arg(long, requires = "upstream_client_key_file")]
    upstream_client_cert_file: Option<PathBuf>,
    /// The key of --upstream-client-cert-file.
    #[arg(long, requires = "upstream_client_cert_file")]
    upstream_client_key_file: Option<PathBuf>,
    /// Speak HTTP/2 with prior knowledge (h2c) to the upstream, without TLS: for upstreams
    /// that speak only h2c, such as insecure gRPC servers.
    #[arg(long)]
    upstream_force_h2c: bool,
    /// Serve clients HTTP/1.1 only: ALPN offers no h2 (kube-rbac-proxy's answer to
    /// CVE-2023-44487, the HTTP/2 rapid reset).
    #[arg(long)]
    http2_disable: bool,
    /// The most concurrent streams a client's HTTP/2 connection may open.
    #[arg(long, default_value_t = 100)]
    http2_max_concurrent_streams: u32,
    /// The largest HTTP/2 frame a client may send, and the flow-control window of each stream
    /// (the connection's is this times --http2-max-concurrent-streams), in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    http2_max_size: u32,
    /// Tell the upstream the user and groups in the two header fields below.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    auth_header_fields_enabled: bool,
    /// The header naming the user to the upstream.
    #[arg(long, default_value = "x-remote-user")]
    auth_header_user_field_name: String,
    /// The header naming the user's groups to the upstream.
    #[arg(long, default_value = "x-remote-groups")]
    auth_header_groups_field_name: String,
    /// The separator of the groups in that header.
    #[arg(long, default_value = "|")]
    auth_header_groups_field_separator: String,
    /// Only paths matching one of these patterns (Go's path.Match) are served; others get 404.
    #[arg(long, value_delimiter = ',', conflicts_with = "ignore_paths")]
    allow_paths: Vec<String>,
    /// Paths matching one of these patterns are proxied without authentication or authorization.
    #[arg(long, value_delimiter = ',')]
    ignore_paths: Vec<String>,
    /// kube-rbac-proxy's configuration file (authorization: resourceAttributes, rewrites, static).
    #[arg(long)]
    config_file: Option<PathBuf>,
    /// The kubeconfig of the cluster to ask (default: the pod's service account).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Tokens must be valid for one of these audiences (default: the cluster's API audiences).
    #[arg(long, value_delimiter = ',')]
    auth_token_audiences: Vec<String>,
    /// Serve /healthz and /metrics on this port (HTTPS, the host of --secure-listen-address).
    #[arg(long)]
    proxy_endpoints_port: Option<u16>,
    /// How long a TokenReview's success is cached (kube-rbac-proxy: 2m).
    #[arg(long, default_value = "2m", value_parser = duration)]
    auth_token_cache_ttl: std::time::Duration,
    /// How long an allowed SubjectAccessReview is cached (kube-rbac-proxy: 5m).
    #[arg(long, default_value = "5m", value_parser = duration)]
    authz_allowed_cache_ttl: std::time::Duration,
    /// How long a denied SubjectAccessReview is cached (kube-rbac-proxy: 30s).
    #[arg(long, default_value = "30s", value_parser = duration)]
    authz_denied_cache_ttl: std::time::Duration,
    /// While the cluster cannot be reached, answer from cached reviews up to this old, then
    /// 503 (default 0s: never; kube-rbac-proxy has no such setting).
    #[arg(long, default_value = "0s", value_parser = duration)]
    serve_stale_max_age: std::time::Duration,
    /// Decide RBAC locally from a copy of the cluster's Roles, ClusterRoles and bindings (the
    /// kubeconfig's identity must list them) instead of a SubjectAccessReview per question.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    local_rbac: bool,
    /// Validate service-account tokens locally (the issuer's JWKS, and a copy of the service
    /// accounts, pods and nodes the tokens are bound to) instead of a TokenReview per token.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    local_authentication: bool,
    /// How often --local-authentication reads the issuer's keys again (the local copies of
    /// objects and RBAC are watched, not relisted).
    #[arg(long, default_value = "10s", value_parser = duration)]
    local_relist_period: std::time::Duration,
    /// How long a local copy whose watch fails keeps deciding; past it, 503 until the watch is
    /// open again.
    #[arg(long, default_value = "60s", value_parser = duration)]
    local_max_age: std::time::Duration,
    #[command(flatten)]
    oidc: oidc::OidcArgs,
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::bad_input(format!("{what} {}: {e}", path.display())))
}

fn patterns(flag: &str, values: &[String]) -> Result<Vec<PathPattern>, Failure> {
    values
        .iter()
        .filter(|v| !v.is_empty())
        .map(|v| PathPattern::parse(v).map_err(|e| Failure::bad_input(format!("{flag}: {e}"))))
        .collect()
}

fn header_name(flag: &str, value: &str) -> Result<http::HeaderName, Failure> {
    http::HeaderName::from_bytes(value.as_bytes())
        .map_err(|_| Failure::bad_input(format!("{flag} {value:?}: not a valid header name")))
}

fn upstream_tls(a: &ProxyArgs) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &a.upstream_ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("--upstream-ca-file {}: {e}", path.display()))?;
            for c in tls::certificates("--upstream-ca-file", &pem).map_err(|e| e.to_string())? {
                roots.add(c).map_err(|e| format!("--upstream-ca-file: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match (&a.upstream_client_cert_file, &a.upstream_client_key_file) {
        (Some(c), Some(k)) => {
            let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
            let chain = tls::certificates("--upstream-client-cert-file", &read(c)?).map_err(|e| e.to_string())?;
            let key = tls::private_key("--upstream-client-key-file", &read(k)?).map_err(|e| e.to_string())?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("--upstream-client-cert-file: {e}"))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Runs the proxy until the process is stopped.
pub fn run(a: ProxyArgs) -> Result<u8, Failure> {
    let config = match &a.config_file {
        Some(p) => ProxyConfig::load(p).map_err(|e| Failure::bad_input(e.to_string()))?,
        None => ProxyConfig::default(),
    };
    if config.authorization.static_rules.iter().any(|r| !r.user.groups.is_empty()) {
        tracing::warn!(
            "--config-file: static[].user.groups are not compared (as in kube-rbac-proxy): only the user's name is"
        );
    }
    let allow = patterns("--allow-paths", &a.allow_paths)?;
    let ignore = patterns("--ignore-paths", &a.ignore_paths)?;
    let settings = match &a.kubeconfig {
        Some(p) => ClusterSettings::from_kubeconfig(p),
        None => ClusterSettings::in_cluster(),
    }
    .map_err(|e| Failure::bad_input(e.to_string()))?;
    let cluster = Cluster::new(settings).map_err(|e| Failure::bad_input(e.to_string()))?;

    let client_ca_pem = match &a.client_ca_file {
        Some(p) => Some(String::from_utf8_lossy(&read("--client-ca-file", p)?).into_owned()),
        None => None,
    };
    let local_tokens = a.local_authentication.then(|| {
        let local =
            Arc::new(LocalServiceAccounts::new(cluster.clone(), a.auth_token_audiences.clone(), ttl(a.local_max_age)));
        match local.start(time::OffsetDateTime::now_utc()) {
            Ok(n) => tracing::info!("local authentication: the issuer's keys read and {n} objects listed; watching"),
            Err(e) => tracing::warn!("local authentication: the first list failed (503 until one succeeds): {e}"),
        }
        local
    });
    let mut metrics = metrics::Metrics::new().map_err(|e| Failure::bad_input(format!("metrics: {e}")))?;
    let oidc = oidc::authenticator(&a.oidc, metrics.registry())?;
    // Tokens validated here: an OIDC issuer's, then service accounts'; none goes to TokenReview
    // once either is configured.
    let mut local = TokenUnion::new();
    if let Some(issuers) = &oidc {
        local = local.with(issuers.clone());
    }
    if let Some(sa) = &local_tokens {
        local = local.with(sa.clone());
    }
    let local: Option<Arc<dyn TokenAuthenticator>> =
        (oidc.is_some() || local_tokens.is_some()).then(|| Arc::new(local) as Arc<dyn TokenAuthenticator>);
    let authenticator = DelegatingAuthenticator::new(AuthenticationOptions {
        trust: ExtensionAuthentication { client_ca_pem: client_ca_pem.clone(), request_header: None },
        token_reviews: (!a.local_authentication && oidc.is_none())
            .then(|| TokenReviewAuthenticator::new(cluster.clone(), a.auth_token_audiences.clone())),
        token_cache_ttl: Some(ttl(a.auth_token_cache_ttl)),
        anonymous: false,
        serve_stale: Some(ttl(a.serve_stale_max_age)),
        local_tokens: local,
    })
    .map_err(|e| Failure::bad_input(format!("--client-ca-file: {e}")))?;
    let reviews_cluster = cluster.clone();
    let reviews = Arc::new(
        SubjectAccessReviewAuthorizer::new(cluster, ttl(a.authz_allowed_cache_ttl), ttl(a.authz_denied_cache_ttl))
            .serve_stale(ttl(a.serve_stale_max_age)),
    );
    let remote: Box<dyn kauth_delegation::decide::Decide> = if a.local_rbac {
        let rbac = Arc::new(LocalRbac::new(reviews_cluster.clone(), ttl(a.local_max_age)));
        match rbac.start() {
            Ok(n) => tracing::info!("local RBAC: {n} objects listed; watching"),
            Err(e) => tracing::warn!("local RBAC: the first list failed (503 until one succeeds): {e}"),
        }
        metrics = metrics.with_local_rbac(rbac.clone()).map_err(|e| Failure::bad_input(format!("metrics: {e}")))?;
        Box::new(rbac)
    } else {
        Box::new(reviews.clone())
    };
    let decider = FirstOf(vec![Box::new(Local(StaticRules(config.authorization.static_rules.clone()))), remote]);
    let layer = DelegatingLayer::builder(authenticator, Arc::new(decider))
        .attributes(Arc::new(RbacProxyAttributes::new(config.authorization.clone())))
        .refusals(Arc::new(refusals::RbacProxyRefusals))
        // kube-rbac-proxy judges every path: /healthz of the upstream included.
        .always_allowed(Vec::new())
        .build();
    let protocols = if a.upstream_force_h2c { upstream::Protocols::ForceH2c } else { upstream::Protocols::Negotiated };
    let upstream = upstream::Upstream::new(&a.upstream, protocols, || upstream_tls(&a))
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let headers = server::AuthHeaders {
        enabled: a.auth_header_fields_enabled,
        user: header_name("--auth-header-user-field-name", &a.auth_header_user_field_name)?,
        groups: header_name("--auth-header-groups-field-name", &a.auth_header_groups_field_name)?,
        separator: a.auth_header_groups_field_separator.clone(),
    };
    let client_certs = match &client_ca_pem {
        Some(pem) => Some(
            tls::ClientCertificates::from_pem("--client-ca-file", pem.as_bytes())
                .map_err(|e| Failure::bad_input(e.to_string()))?,
        ),
        None => None,
    };
    let cert = read("--tls-cert-file", &a.tls_cert_file)?;
    let key = read("--tls-private-key-file", &a.tls_private_key_file)?;
    let http2 = server::Http2::from_flags(a.http2_disable, a.http2_max_concurrent_streams, a.http2_max_size);
    let mut tls_config =
        tls::server_config(("--tls-cert-file", &cert), ("--tls-private-key-file", &key), client_certs.as_ref())
            .map_err(|e| Failure::bad_input(e.to_string()))?;
    if http2.is_none() {
        tls_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    let tls_config = Arc::new(tls_config);
    let address: SocketAddr = a
        .secure_listen_address
        .parse()
        .map_err(|e| Failure::bad_input(format!("--secure-listen-address {:?}: {e}", a.secure_listen_address)))?;
    let proxy = Arc::new(server::Proxy { allow, ignore, layer, reviews, upstream, headers, metrics: metrics.clone() });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::bad_input(format!("starting the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| Failure::bad_input(format!("--secure-listen-address {address}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| Failure::bad_input(e.to_string()))?;
        println!("kauth proxy serving on https://{bound}");
        if let Some(port) = a.proxy_endpoints_port {
            let endpoints = tokio::net::TcpListener::bind((address.ip(), port))
                .await
                .map_err(|e| Failure::bad_input(format!("--proxy-endpoints-port {port}: {e}")))?;
            let bound = endpoints.local_addr().map_err(|e| Failure::bad_input(e.to_string()))?;
            println!("kauth proxy endpoints on https://{bound}");
            tokio::spawn(server::serve(endpoints, tls_config.clone(), http2, server::endpoints_service(metrics)));
        }
        if let Some(tokens) = local_tokens {
            tokio::spawn(refresh_keys_forever(tokens, a.local_relist_period));
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server::serve(listener, tls_config, http2, server::proxy_service(proxy)).await;
        Ok(0)
    })
}

/// Reads the issuer's keys again every `period`, on the blocking pool (the objects are
/// watched).
async fn refresh_keys_forever(tokens: Arc<LocalServiceAccounts>, period: std::time::Duration) {
    let mut ticks = tokio::time::interval(period.max(std::time::Duration::from_secs(1)));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let t = tokens.clone();
        match tokio::task::spawn_blocking(move || t.refresh_keys(time::OffsetDateTime::now_utc())).await {
            Ok(Ok(())) => tracing::debug!("local authentication: the issuer's keys read again"),
            Ok(Err(e)) => {
                tracing::warn!("local authentication: reading the issuer's keys failed, the last ones stay: {e}")
            }
            Err(e) => tracing::warn!("local authentication: reading the issuer's keys panicked: {e}"),
        }
    }
}

fn ttl(d: std::time::Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}
