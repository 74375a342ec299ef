//! `kauth token create|decode|explain|verify|jwks` (and `bootstrap`, in `bootstrap_token_cmd`).
//!
//! A TOKEN argument is read from standard input when it is `-`, from a file when it names one
//! (such as a pod's `/var/run/secrets/kubernetes.io/serviceaccount/token`), and is otherwise the
//! token itself.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use kauth::token::claims::{Binding, ObjectRef};
use kauth::token::explain::{decode, explain, Decoded, ExplainOptions, Explanation, Status, Verdict};
use kauth::token::issue::{plan_expiration, BoundTokenSpec, ExpirationPolicy, TokenIssuer};
use kauth::token::jwks::{jwks, parse_jwks};
use kauth::token::keys::{KeySet, SigningKey};
use kauth::token::{span, utc};
use time::OffsetDateTime;

use crate::args::{now_or, parse_duration, parse_time, print_json, Output};
use crate::failure::Failure;

/// Service-account tokens.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Mint a token offline from a signing key, with TokenRequest's rules.
    Create(CreateArgs),
    /// Show a token's header and claims, every time in UTC and relative to now. Checks nothing.
    Decode(DecodeArgs),
    /// Explain whether a token is accepted, check by check, with a timeline, the cause and the fix.
    Explain(ExplainArgs),
    /// The quiet form of explain: one line, exit 0 valid, 1 invalid, 2 bad input.
    Verify(ExplainArgs),
    /// Print the JWKS document of verification keys (as /openid/v1/jwks serves it).
    Jwks(JwksArgs),
    /// Bootstrap tokens for joining nodes, as kubeadm token create|list|delete.
    Bootstrap(crate::bootstrap_token_cmd::BootstrapArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The signing key (PEM: PKCS#1, SEC1 or PKCS#8; RSA or EC), e.g. pki/sa.key.
    #[arg(long)]
    key: PathBuf,
    /// The issuer (kube-apiserver's first --service-account-issuer).
    #[arg(long, default_value = "https://kubernetes.default.svc.cluster.local")]
    issuer: String,
    /// The service account's namespace.
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
    /// The service account's name.
    #[arg(long)]
    service_account: String,
    /// The service account's uid.
    #[arg(long)]
    uid: String,
    /// Audiences (repeatable; default: the API audiences, i.e. the issuer).
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// The API audiences (kube-apiserver's --api-audiences; default: the issuer).
    #[arg(long = "api-audience")]
    api_audiences: Vec<String>,
    /// Requested lifetime (expirationSeconds): at least 10m.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<std::time::Duration>,
    /// Bind to a pod: NAME:UID.
    #[arg(long, value_parser = parse_ref, conflicts_with = "bound_secret")]
    bound_pod: Option<ObjectRef<'static>>,
    /// Bind to a secret: NAME:UID.
    #[arg(long, value_parser = parse_ref)]
    bound_secret: Option<ObjectRef<'static>>,
    /// Bind to a node (or, with --bound-pod, name the pod's node): NAME:UID.
    #[arg(long, value_parser = parse_ref, conflicts_with = "bound_secret")]
    bound_node: Option<ObjectRef<'static>>,
    /// The server's --service-account-max-token-expiration.
    #[arg(long, value_parser = parse_duration)]
    max_expiration: Option<std::time::Duration>,
    /// The server's --service-account-extend-token-expiration (true by default, as kube-apiserver).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    extend_expiration: bool,
    /// Mint a legacy (Secret-based, never expiring) token instead, for this Secret name.
    #[arg(long, requires = "secret", conflicts_with_all = ["bound_pod", "bound_secret", "bound_node", "duration", "audiences"])]
    legacy: bool,
    /// The legacy token's Secret name.
    #[arg(long)]
    secret: Option<String>,
    /// Issue as of this time instead of now (RFC 3339 or @unix).
    #[arg(long, visible_alias = "at", value_parser = parse_time)]
    now: Option<OffsetDateTime>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(Debug, Args)]
struct DecodeArgs {
    /// The token, `-` for standard input, or a file holding it.
    token: String,
    /// Relative times as of this time instead of now.
    #[arg(long, visible_alias = "at", value_parser = parse_time)]
    now: Option<OffsetDateTime>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// The token, `-` for standard input, or a file holding it.
    token: String,
    /// Verification key files (public keys, certificates or private keys; repeatable).
    #[arg(long = "key")]
    keys: Vec<PathBuf>,
    /// A JWKS document.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// Fetch the JWKS (or an OIDC discovery document pointing at it) over HTTPS.
    #[arg(long)]
    jwks_url: Option<String>,
    /// CA bundle to trust for --jwks-url (default: the public web roots).
    #[arg(long)]
    certificate_authority: Option<PathBuf>,
    /// A bearer token file for --jwks-url (kube-apiserver serves the JWKS to service accounts).
    #[arg(long)]
    bearer_token_file: Option<PathBuf>,
    /// Judge the token as the JWT issuers of this AuthenticationConfiguration file would (keys
    /// from --jwks, --key or --jwks-url, for every issuer).
    #[arg(long)]
    authentication_config: Option<PathBuf>,
    /// Accepted issuers (repeatable).
    #[arg(long = "issuer")]
    issuers: Vec<String>,
    /// Accepted audiences (repeatable).
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// Evaluate at this time instead of now (RFC 3339 or @unix).
    #[arg(long, visible_alias = "at", value_parser = parse_time)]
    now: Option<OffsetDateTime>,
    /// The time leeway, as kube-apiserver's 60s.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    leeway: std::time::Duration,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(Debug, Args)]
struct JwksArgs {
    /// Key files (public keys, certificates or private keys; repeatable).
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
}

fn parse_ref(s: &str) -> Result<ObjectRef<'static>, String> {
    match s.split_once(':') {
        Some((n, u)) if !n.is_empty() && !u.is_empty() => Ok(ObjectRef::new(n.to_owned(), u.to_owned())),
        _ => Err(format!("{s:?}: expected NAME:UID")),
    }
}

/// Runs a `token` subcommand; returns the exit code.
pub fn run(args: TokenArgs) -> Result<u8, Failure> {
    match args.command {
        TokenCommand::Create(a) => run_create(a),
        TokenCommand::Decode(a) => run_decode(a),
        TokenCommand::Explain(a) => run_explain(a, false),
        TokenCommand::Verify(a) => run_explain(a, true),
        TokenCommand::Jwks(a) => {
            let keys = load_keys(&a.keys)?;
            print_json(&jwks(&keys).map_err(|e| Failure::bad_input(e.to_string()))?)?;
            Ok(0)
        }
        TokenCommand::Bootstrap(a) => crate::bootstrap_token_cmd::run(a),
    }
}

fn read_file(p: &PathBuf) -> Result<Vec<u8>, Failure> {
    std::fs::read(p).map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))
}

/// Reads a JWKS file.
pub(crate) fn read_jwks(p: &PathBuf) -> Result<KeySet, Failure> {
    parse_jwks(&p.display().to_string(), &read_file(p)?).map_err(|e| Failure::bad_input(e.to_string()))
}

/// Reads the TOKEN argument.
fn read_token(arg: &str) -> Result<String, Failure> {
    let raw = if arg == "-" {
        let mut s = String::new();
        std::io::stdin().take(1 << 20).read_to_string(&mut s).map_err(|e| Failure::bad_input(format!("-: {e}")))?;
        s
    } else if std::path::Path::new(arg).is_file() {
        String::from_utf8(read_file(&PathBuf::from(arg))?)
            .map_err(|_| Failure::bad_input(format!("{arg}: not a text file")))?
    } else {
        arg.to_owned()
    };
    let t = raw.trim();
    if t.is_empty() {
        return Err(Failure::bad_input("the token is empty"));
    }
    Ok(t.strip_prefix("Bearer ").unwrap_or(t).to_owned())
}

pub(crate) fn load_keys(files: &[PathBuf]) -> Result<KeySet, Failure> {
    let mut keys = KeySet::default();
    for f in files {
        keys.add_pem(&f.display().to_string(), &read_file(f)?).map_err(|e| Failure::bad_input(e.to_string()))?;
    }
    Ok(keys)
}

fn run_create(a: CreateArgs) -> Result<u8, Failure> {
    let key = SigningKey::from_pem(&a.key.display().to_string(), &read_file(&a.key)?)
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let now = now_or(a.now).unix_timestamp();
    let issuer = TokenIssuer::new(a.issuer.clone(), key);
    let sa = ObjectRef::new(a.service_account.clone(), a.uid.clone());
    if a.legacy {
        let secret = a.secret.unwrap_or_default();
        let token = issuer.issue_legacy(&a.namespace, &sa, &secret).map_err(|e| Failure::unsound(e.to_string()))?;
        if a.output == Output::Json {
            print_json(&serde_json::json!({ "token": token.as_str() }))?;
        } else {
            outln!("{}", token.as_str());
        }
        return Ok(0);
    }
    let api = if a.api_audiences.is_empty() { vec![a.issuer.clone()] } else { a.api_audiences.clone() };
    let binding = match (a.bound_pod, a.bound_secret, a.bound_node) {
        (Some(pod), None, node) => Some(Binding::Pod { pod, node }),
        (None, Some(s), None) => Some(Binding::Secret(s)),
        (None, None, Some(n)) => Some(Binding::Node(n)),
        (None, None, None) => None,
        _ => {
            return Err(Failure::bad_input(
                "bind to one object: --bound-pod (optionally with --bound-node), --bound-secret or --bound-node",
            ))
        }
    };
    let requested = a.duration.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let policy = ExpirationPolicy {
        max_seconds: a.max_expiration.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        extend: a.extend_expiration,
    };
    let plan = plan_expiration(requested, matches!(binding, Some(Binding::Pod { .. })), &a.audiences, &api, policy)
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    if let Some(w) = &plan.warning {
        eprintln!("Warning: {w}");
    }
    let spec =
        BoundTokenSpec { namespace: a.namespace, service_account: sa, audiences: a.audiences, binding, jti: None };
    let issued = issuer.issue_bound(&spec, plan, &api, now).map_err(|e| Failure::unsound(e.to_string()))?;
    if a.output == Output::Json {
        print_json(&serde_json::json!({
            "token": issued.token.as_str(),
            "expirationTimestamp": utc(issued.expiration_timestamp),
            "warning": issued.plan.warning,
        }))?;
    } else {
        outln!("{}", issued.token.as_str());
    }
    Ok(0)
}

fn run_decode(a: DecodeArgs) -> Result<u8, Failure> {
    let token = read_token(&a.token)?;
    let d = decode(&token, now_or(a.now)).map_err(|e| Failure::bad_input(e.to_string()))?;
    if a.output == Output::Json {
        print_json(&d)?;
    } else {
        out!("{}", render_decoded(&d));
    }
    Ok(0)
}

fn render_decoded(d: &Decoded) -> String {
    let mut out = String::new();
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    out.push_str(&format!("Header: {}\n", pretty(&serde_json::to_value(&d.header).unwrap_or_default())));
    out.push_str(&format!("Claims: {}\n", pretty(&d.claims)));
    out.push_str("Timeline:\n");
    for m in &d.timeline {
        out.push_str(&format!("  {}  {:<24} {}\n", m.utc, m.label, m.relative));
    }
    for n in &d.notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    out
}

/// Fetches the JWKS at `url` (or the one an OIDC discovery document there points at) over
/// HTTPS, trusting `ca` (default: the public web roots), with the bearer token in `bearer_file`.
pub(crate) fn fetch_jwks(url: &str, ca: Option<&PathBuf>, bearer_file: Option<&PathBuf>) -> Result<KeySet, Failure> {
    let bad = |m: String| Failure::bad_input(format!("{url}: {m}"));
    let roots = match ca {
        Some(p) => {
            let certs = kauth_server::transport::tls::certificates(&p.display().to_string(), &read_file(p)?)
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            ureq::tls::RootCerts::new_with_certs(
                &certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect::<Vec<_>>(),
            )
        }
        None => ureq::tls::RootCerts::WebPki,
    };
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(kauth_server::transport::tls::provider())
        .root_certs(roots)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(std::time::Duration::from_secs(15)))
        .build()
        .into();
    let bearer = match bearer_file {
        Some(p) => Some(read_token(&p.display().to_string())?),
        None => None,
    };
    let get = |u: &str| -> Result<Vec<u8>, Failure> {
        let mut req = agent.get(u).header("Accept", "application/json, application/jwk-set+json");
        if let Some(b) = &bearer {
            req = req.header("Authorization", &format!("Bearer {b}"));
        }
        let mut resp = req.call().map_err(|e| bad(e.to_string()))?;
        resp.body_mut().with_config().limit(1 << 20).read_to_vec().map_err(|e| bad(e.to_string()))
    };
    let body = get(url)?;
    // An OIDC discovery document points at the JWKS.
    if let Ok(conf) = serde_json::from_slice::<kauth::token::jwks::OpenIdConfiguration>(&body) {
        let jwks_body = get(&conf.jwks_uri)?;
        return parse_jwks(&conf.jwks_uri, &jwks_body).map_err(|e| Failure::bad_input(e.to_string()));
    }
    parse_jwks(url, &body).map_err(|e| Failure::bad_input(e.to_string()))
}

fn run_explain(a: ExplainArgs, quiet: bool) -> Result<u8, Failure> {
    let token = read_token(&a.token)?;
    let mut keys = load_keys(&a.keys)?;
    if let Some(p) = &a.jwks {
        for k in read_jwks(p)?.keys() {
            keys.push(k.clone());
        }
    }
    if let Some(url) = &a.jwks_url {
        for k in fetch_jwks(url, a.certificate_authority.as_ref(), a.bearer_token_file.as_ref())?.keys() {
            keys.push(k.clone());
        }
    }
    let have_keys = !a.keys.is_empty() || a.jwks.is_some() || a.jwks_url.is_some();
    if let Some(config) = &a.authentication_config {
        return crate::jwt_explain::run(&token, config, keys, now_or(a.now), a.output);
    }
    if quiet && !have_keys {
        return Err(Failure::bad_input("verify needs --key, --jwks or --jwks-url"));
    }
    let opts = ExplainOptions {
        keys: have_keys.then_some(keys),
        issuers: a.issuers,
        audiences: a.audiences,
        now: now_or(a.now),
        leeway: i64::try_from(a.leeway.as_secs()).unwrap_or(60),
    };
    let e = explain(&token, &opts).map_err(|r| Failure::bad_input(r.to_string()))?;
    let code = u8::from(e.verdict == Verdict::Invalid);
    if a.output == Output::Json {
        print_json(&e)?;
        return Ok(code);
    }
    if quiet {
        match e.verdict {
            Verdict::Invalid => {
                let first =
                    e.checks.iter().find(|c| c.status == Status::Failed).map(|c| c.detail.clone()).unwrap_or_default();
                outln!("invalid: {first}");
            }
            _ => outln!("valid: {}", subject(&e)),
        }
        return Ok(code);
    }
    out!("{}", render_explanation(&e, opts.now, opts.leeway));
    Ok(code)
}

fn subject(e: &Explanation) -> String {
    e.decoded.claims.get("sub").and_then(|s| s.as_str()).unwrap_or("(no sub)").to_owned()
}

pub(crate) fn render_explanation(e: &Explanation, now: OffsetDateTime, leeway: i64) -> String {
    let mut out = String::new();
    let kid = e.decoded.header.kid.as_deref().unwrap_or("(none)");
    out.push_str(&format!(
        "Token: {} service-account token for {} ({}, kid {kid})\n",
        e.decoded.kind,
        subject(e),
        e.decoded.header.alg
    ));
    let verdict = match e.verdict {
        Verdict::Valid => "VALID".to_owned(),
        Verdict::NoProblemFound => {
            let skipped: Vec<&str> = e
                .checks
                .iter()
                .filter(|c| c.status == Status::NotChecked && c.name != "objects")
                .map(|c| c.name)
                .collect();
            format!("NO PROBLEM FOUND, but not checked: {}", skipped.join(", "))
        }
        Verdict::Invalid => "INVALID".to_owned(),
    };
    out.push_str(&format!("Verdict: {verdict}\n\nChecks:\n"));
    for c in &e.checks {
        let mark = match c.status {
            Status::Passed => "ok  ",
            Status::Failed => "FAIL",
            Status::Warning => "warn",
            Status::NotChecked => "--  ",
        };
        out.push_str(&format!("  {mark} {:<11} {}\n", c.name, c.detail));
    }
    out.push_str(&format!("\nTimeline (now {}, leeway {leeway}s):\n", utc(now.unix_timestamp())));
    for m in &e.decoded.timeline {
        out.push_str(&format!("  {}  {:<24} {}\n", m.utc, m.label, m.relative));
    }
    let nbf = e.decoded.claims.get("nbf").and_then(|v| v.as_i64());
    let exp = e.decoded.claims.get("exp").and_then(|v| v.as_i64());
    if nbf.is_some() || exp.is_some() {
        out.push_str(&format!(
            "  accepted from {} to {} (nbf - leeway .. exp + leeway)\n",
            nbf.map(|t| utc(t - leeway)).unwrap_or_else(|| "any time".into()),
            exp.map(|t| utc(t + leeway)).unwrap_or_else(|| "forever".into())
        ));
        if let (Some(a), Some(b)) = (nbf, exp) {
            out.push_str(&format!("  lifetime {}\n", span(b - a)));
        }
    }
    for n in &e.decoded.notes {
        out.push_str(&format!("\nNote: {n}\n"));
    }
    if let Some(c) = &e.cause {
        out.push_str(&format!("\nCause: {c}\n"));
    }
    if let Some(f) = &e.fix {
        out.push_str(&format!("Fix: {f}\n"));
    }
    out
}
