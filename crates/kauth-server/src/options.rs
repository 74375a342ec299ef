//! `kauth serve`'s options: one type, its flags derived on it (kube-apiserver's flag names where
//! the concept is the same), its defaults those of the flags.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kauth::duration::parse as parse_duration;
use kauth_delegation::webhook::WebhookVersion;

use crate::audit::Level;

/// kubeadm's default service-account issuer.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// What a server runs with. The CLI flattens it into `kauth serve`; [`Options::default`] is what
/// `kauth serve` with no flags runs with.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The data directory: `pki/` (kauth pki's layout), the store, `admin.conf`. Created or reused.
    #[arg(long, default_value = "kauth-data")]
    pub data_dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: IpAddr,
    /// The HTTPS port (0: any free port).
    #[arg(long, default_value_t = 6443)]
    pub secure_port: u16,
    /// Serving certificate (default: pki/apiserver.crt).
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// Serving key (default: pki/apiserver.key).
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
    /// CA for client certificates (default: pki/ca.crt).
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// CA of front proxies, whose client certificates may name users in headers (default:
    /// pki/front-proxy-ca.crt with kubeadm's header names and allowed name; "" to disable).
    #[arg(long)]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// CNs a front proxy's certificate may have (empty: any the CA signed), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,
    /// Headers naming the user behind a front proxy (X-Remote-User is common).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_username_headers: Vec<String>,
    /// Headers naming the user's uid (X-Remote-Uid is suggested).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_uid_headers: Vec<String>,
    /// Headers naming the user's groups (X-Remote-Group is suggested).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_group_headers: Vec<String>,
    /// Header prefixes carrying the user's extra values (X-Remote-Extra- is suggested).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_extra_headers_prefix: Vec<String>,
    /// Accept bootstrap tokens (Secrets kube-system/bootstrap-token-<id>) as kubeadm's clusters do.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub enable_bootstrap_token_auth: bool,
    /// Static tokens (kube-apiserver's CSV: token,user,uid,"group1,group2").
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// File with webhook configuration for token authentication in kubeconfig format: the
    /// current context's cluster `server` is the full URL TokenReviews are POSTed to (its
    /// certificate-authority, and the user's client certificate or token, as kubectl reads
    /// them). Tried last, after the other token authenticators, as kube-apiserver does.
    #[arg(long)]
    pub authentication_token_webhook_config_file: Option<PathBuf>,
    /// The API version of the authentication.k8s.io TokenReview to send to and expect from the
    /// webhook: v1 or v1beta1 (kube-apiserver's default; the same fields under another name).
    #[arg(long, default_value = "v1beta1", value_parser = parse_webhook_version)]
    pub authentication_token_webhook_version: WebhookVersion,
    /// The duration to cache responses from the webhook token authenticator (successes, and
    /// denials that give no reason; never errors), as kube-apiserver.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub authentication_token_webhook_cache_ttl: Duration,
    /// Service-account token issuer; repeat to accept more (the first signs).
    #[arg(long, default_value = DEFAULT_ISSUER)]
    pub service_account_issuer: Vec<String>,
    /// Extra service-account verification key files (public keys, certificates, private keys).
    #[arg(long)]
    pub service_account_key_file: Vec<PathBuf>,
    /// Service-account signing key (default: pki/sa.key).
    #[arg(long)]
    pub service_account_signing_key_file: Option<PathBuf>,
    /// Longest TokenRequest token (e.g. 24h); longer requests are shortened, with a warning.
    #[arg(long, value_parser = parse_duration)]
    pub service_account_max_token_expiration: Option<Duration>,
    /// Extend kubelet-style 3607 s pod tokens to one year, with warnafter.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub service_account_extend_token_expiration: bool,
    /// API audiences (default: the issuers), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub api_audiences: Vec<String>,
    /// Serve requests that present no credential as system:anonymous (default true; not with an
    /// --authentication-config file whose `anonymous` section says so).
    #[arg(long, action = clap::ArgAction::Set)]
    pub anonymous_auth: Option<bool>,
    /// An AuthenticationConfiguration file (apiserver.config.k8s.io/v1beta1 or v1alpha1): JWT
    /// issuers with their claim mappings and validation rules (CEL), and the anonymous
    /// authenticator. Re-read when it changes; a bad new file keeps the configuration in use.
    /// Mutually exclusive with the --oidc-* flags.
    #[arg(long)]
    pub authentication_config: Option<PathBuf>,
    /// The OpenID issuer's URL (https only): its tokens are verified with the keys its discovery
    /// document names.
    #[arg(long, default_value = "")]
    pub oidc_issuer_url: String,
    /// The client ID: the audience the issuer's tokens must carry; set with --oidc-issuer-url.
    #[arg(long, default_value = "")]
    pub oidc_client_id: String,
    /// The CA of the issuer's serving certificate (default: the host's root CA set).
    #[arg(long)]
    pub oidc_ca_file: Option<PathBuf>,
    /// The claim naming the user (claims other than the default `sub` may not be unique).
    #[arg(long, default_value = "sub")]
    pub oidc_username_claim: String,
    /// Prefix for user names; unset, claims other than `email` are prefixed with the issuer
    /// URL and `#`; `-` for none.
    #[arg(long, default_value = "")]
    pub oidc_username_prefix: String,
    /// The claim naming the user's groups (a string or an array of strings).
    #[arg(long, default_value = "")]
    pub oidc_groups_claim: String,
    /// Prefix for group names.
    #[arg(long, default_value = "")]
    pub oidc_groups_prefix: String,
    /// Accepted signing algorithms, comma-separated: RS256, RS384, RS512, ES256, ES384, ES512,
    /// PS256, PS384, PS512.
    #[arg(long, default_value = "RS256", value_delimiter = ',')]
    pub oidc_signing_algs: Vec<String>,
    /// A key=value claim the token must carry with that value; repeat for more.
    #[arg(long, value_parser = parse_required_claim)]
    pub oidc_required_claim: Vec<(String, String)>,
    /// Audit log file (JSON lines, audit.k8s.io/v1 Events); `-` for stdout.
    #[arg(long)]
    pub audit_log_path: Option<PathBuf>,
    /// Without --audit-policy-file: every request at this level (None, Metadata, Request,
    /// RequestResponse).
    #[arg(long, default_value = "Metadata")]
    pub audit_level: Level,
    /// The audit policy (audit.k8s.io/v1 Policy, YAML or JSON): which requests are recorded
    /// at which level and stages.
    #[arg(long)]
    pub audit_policy_file: Option<PathBuf>,
    /// Days to keep rotated audit log files (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxage: u32,
    /// Rotated audit log files to keep (0: all).
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxbackup: usize,
    /// Megabytes of an audit log file before it is rotated (0: never).
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxsize: u64,
    /// The audit log's format: json (kauth writes no other).
    #[arg(long, default_value = "json")]
    pub audit_log_format: String,
    /// Authorizers in order, after system:masters: Node, RBAC, Webhook, AlwaysAllow, AlwaysDeny
    /// (default Node,RBAC, as kubeadm sets it). Not with --authorization-config.
    #[arg(long, value_delimiter = ',')]
    pub authorization_mode: Vec<String>,
    /// An AuthorizationConfiguration file (apiserver.config.k8s.io v1, v1beta1 or v1alpha1):
    /// the chain of Node, RBAC and Webhook authorizers, each webhook with its connection,
    /// timeout, caches, failure policy and CEL match conditions. Reloaded when it changes (a
    /// bad file keeps the running chain). Not with --authorization-mode or
    /// --authorization-webhook-*, as kube-apiserver.
    #[arg(long)]
    pub authorization_config: Option<PathBuf>,
    /// How often --authorization-config is read again (kube-apiserver: every minute; shorter
    /// for tests).
    #[arg(long, default_value = "1m", value_parser = parse_duration, hide = true)]
    pub authorization_config_reload_interval: Duration,
    /// With --authorization-mode=Webhook: the webhook's kubeconfig; its cluster `server` is the
    /// URL SubjectAccessReviews are POSTed to.
    #[arg(long)]
    pub authorization_webhook_config_file: Option<PathBuf>,
    /// The authorization.k8s.io SubjectAccessReview version sent to the webhook: v1 or v1beta1
    /// (default v1beta1, as kube-apiserver 1.32).
    #[arg(long)]
    pub authorization_webhook_version: Option<String>,
    /// How long the webhook's allowed answers are cached (default 5m).
    #[arg(long, value_parser = parse_duration)]
    pub authorization_webhook_cache_authorized_ttl: Option<Duration>,
    /// How long the webhook's denied and no-opinion answers are cached (default 30s).
    #[arg(long, value_parser = parse_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: Option<Duration>,
    /// This replica's name among others on etcd, in heartbeats and clock-skew reports
    /// (default: address:port).
    #[arg(long)]
    pub replica_name: Option<String>,
    /// Backdate iat/nbf of issued tokens by this much (e.g. 2m), so replicas whose clocks lag
    /// up to that far behind still accept them; exp is unchanged. Off by default (Kubernetes'
    /// behaviour); see the README for the trade-off.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub service_account_token_backdate: Duration,
    /// etcd client URLs, comma-separated: store everything in etcd, shared with other replicas
    /// (default: the embedded store in the data directory). Needs a build with `--features etcd`.
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// CA of etcd's serving certificates (default for https URLs: pki/etcd/ca.crt).
    #[arg(long)]
    pub etcd_cafile: Option<PathBuf>,
    /// Client certificate for etcd (default for https URLs: pki/apiserver-etcd-client.crt).
    #[arg(long)]
    pub etcd_certfile: Option<PathBuf>,
    /// Client key for etcd (default for https URLs: pki/apiserver-etcd-client.key).
    #[arg(long)]
    pub etcd_keyfile: Option<PathBuf>,
    /// Also serve kube-apiserver's external service-account token signer (gRPC
    /// `ExternalJWTSigner`, kube-apiserver's `--service-account-signing-endpoint`) on this Unix
    /// socket, with this server's keys. Needs a build with `--features signer`.
    #[arg(long)]
    pub signer_socket: Option<PathBuf>,
    /// The signer socket's permission bits: 0600 (this user only, as kube-apiserver runs as the
    /// same user) or 0660 (and the socket's group).
    #[arg(long, default_value = "0600", value_parser = parse_socket_mode)]
    pub signer_socket_mode: u32,
    /// How far a token's iat may be from this server's clock, either way, before the signer
    /// refuses to sign it (kube-apiserver's and kauth's clocks disagree).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub signer_max_clock_skew: Duration,
    /// How long successful token authentications are cached (0s: never; for measuring;
    /// kube-apiserver: 10 s).
    #[arg(long, default_value = "10s", value_parser = parse_duration, hide = true)]
    pub token_cache_ttl: Duration,
}

impl Options {
    /// The authorization modes in effect: `--authorization-mode`, or Node,RBAC (kubeadm's).
    pub fn authorization_modes(&self) -> Vec<String> {
        if self.authorization_mode.is_empty() {
            vec!["Node".to_owned(), "RBAC".to_owned()]
        } else {
            self.authorization_mode.clone()
        }
    }

    /// Whether `--authorization-mode` or an `--authorization-webhook-*` flag was given
    /// (kube-apiserver's `AreLegacyFlagsSet`).
    pub fn legacy_authorization_flags_set(&self) -> bool {
        !self.authorization_mode.is_empty()
            || self.authorization_webhook_config_file.is_some()
            || self.authorization_webhook_version.is_some()
            || self.authorization_webhook_cache_authorized_ttl.is_some()
            || self.authorization_webhook_cache_unauthorized_ttl.is_some()
    }
}

/// `--authentication-token-webhook-version`, with kube-apiserver's error for another.
fn parse_webhook_version(s: &str) -> Result<WebhookVersion, String> {
    s.parse()
}

/// `--signer-socket-mode`: only the two modes that keep the socket from other users.
fn parse_socket_mode(s: &str) -> Result<u32, String> {
    match s.trim_start_matches('0') {
        "600" => Ok(0o600),
        "660" => Ok(0o660),
        _ => Err(format!("{s}: use 0600 or 0660 (a signing socket is never open to every user)")),
    }
}

/// `--oidc-required-claim key=value` (the value may hold `=`; Go's `MapStringStringNoSplit`).
fn parse_required_claim(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
        None => Err(format!("malformed pair, expect string=string: {s:?}")),
    }
}

impl Options {
    /// `--anonymous-auth`, true unless set otherwise.
    pub fn anonymous_auth(&self) -> bool {
        self.anonymous_auth.unwrap_or(true)
    }

    /// The `--oidc-*` flags, for the library ([`kauth::authn::jwt::OidcFlags`]).
    pub fn oidc_flags(&self) -> Result<kauth::authn::jwt::OidcFlags, String> {
        let ca = match &self.oidc_ca_file {
            Some(f) => Some(std::fs::read_to_string(f).map_err(|e| format!("--oidc-ca-file {}: {e}", f.display()))?),
            None => None,
        };
        Ok(kauth::authn::jwt::OidcFlags {
            issuer_url: self.oidc_issuer_url.clone(),
            client_id: self.oidc_client_id.clone(),
            ca,
            username_claim: self.oidc_username_claim.clone(),
            username_prefix: self.oidc_username_prefix.clone(),
            groups_claim: self.oidc_groups_claim.clone(),
            groups_prefix: self.oidc_groups_prefix.clone(),
            signing_algs: self.oidc_signing_algs.clone(),
            required_claims: self.oidc_required_claim.clone(),
        })
    }
}

/// The flags alone, to read the defaults from.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    options: Options,
}

impl Default for Options {
    /// The flags' defaults: one source of truth for both.
    fn default() -> Self {
        Flags::try_parse_from(["kauth-serve"]).map(|f| f.options).unwrap_or_else(|e| {
            // Only a wrong default in this file can fail here; the unit test below catches it.
            unreachable!("Options' flag defaults do not parse: {e}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_flags_defaults() {
        let o = Options::default();
        assert_eq!(o.secure_port, 6443);
        assert_eq!(o.service_account_issuer, vec![DEFAULT_ISSUER.to_owned()]);
        assert_eq!(o.authorization_modes(), vec!["Node".to_owned(), "RBAC".to_owned()]);
        assert!(!o.legacy_authorization_flags_set() && o.authorization_config.is_none());
        assert_eq!(o.token_cache_ttl, Duration::from_secs(10));
        assert!(o.anonymous_auth() && o.anonymous_auth.is_none() && o.service_account_extend_token_expiration);
        assert_eq!(o.oidc_flags().unwrap(), kauth::authn::jwt::OidcFlags::default());
        assert_eq!(o.audit_level, Level::Metadata);
    }

    #[test]
    fn flags_parse_into_options() {
        let f = Flags::try_parse_from([
            "kauth-serve",
            "--secure-port=0",
            "--api-audiences=a,b",
            "--anonymous-auth=false",
            "--service-account-max-token-expiration=24h",
        ])
        .unwrap();
        assert_eq!(f.options.secure_port, 0);
        assert_eq!(f.options.api_audiences, vec!["a".to_owned(), "b".to_owned()]);
        assert!(!f.options.anonymous_auth());
        assert_eq!(f.options.service_account_max_token_expiration, Some(Duration::from_secs(86_400)));
        assert!(Flags::try_parse_from(["kauth-serve", "--token-cache-ttl=10"]).is_err());
        assert_eq!(Options::default().signer_socket_mode, 0o600);
        let f = Flags::try_parse_from(["kauth-serve", "--signer-socket=s.sock", "--signer-socket-mode=0660"]).unwrap();
        assert_eq!((f.options.signer_socket_mode, f.options.signer_max_clock_skew), (0o660, Duration::from_secs(60)));
        assert!(Flags::try_parse_from(["kauth-serve", "--signer-socket-mode=0666"]).is_err());
        let f = Flags::try_parse_from([
            "kauth-serve",
            "--oidc-issuer-url=https://idp",
            "--oidc-client-id=kauth",
            "--oidc-required-claim=hd=example.com",
            "--oidc-required-claim=x=a=b",
            "--oidc-signing-algs=RS256,ES256",
        ])
        .unwrap();
        let flags = f.options.oidc_flags().unwrap();
        assert_eq!(flags.required_claims, [("hd".into(), "example.com".into()), ("x".into(), "a=b".into())]);
        assert_eq!(flags.signing_algs, ["RS256", "ES256"]);
        assert!(flags.any_set());
        assert!(Flags::try_parse_from(["kauth-serve", "--oidc-required-claim=novalue"]).is_err());
    }

    #[test]
    fn webhook_flags_have_kube_apiserver_s_defaults() {
        let o = Options::default();
        assert_eq!(o.authentication_token_webhook_config_file, None);
        assert_eq!(o.authentication_token_webhook_version, WebhookVersion::V1beta1);
        assert_eq!(o.authentication_token_webhook_cache_ttl, Duration::from_secs(120));
        let f = Flags::try_parse_from([
            "kauth-serve",
            "--authentication-token-webhook-config-file=w.yaml",
            "--authentication-token-webhook-version=v1",
            "--authentication-token-webhook-cache-ttl=30s",
        ])
        .unwrap();
        assert_eq!(f.options.authentication_token_webhook_version, WebhookVersion::V1);
        assert_eq!(f.options.authentication_token_webhook_cache_ttl, Duration::from_secs(30));
        let Err(e) = Flags::try_parse_from(["kauth-serve", "--authentication-token-webhook-version=v2"]) else {
            panic!("v2 accepted")
        };
        assert!(e.to_string().contains("unsupported authentication webhook version \"v2\""), "{e}");
    }
}
