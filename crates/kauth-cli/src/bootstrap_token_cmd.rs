//! `kauth token bootstrap create|list|delete`: kubeadm's `kubeadm token` against any cluster
//! (kauth serve or kube-apiserver), through the kubeconfig. Same token format, defaults (24 h,
//! signing and authentication, the kubeadm node group), Secret and output as kubeadm's.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use kauth::authn::bootstrap_token::kubeadm::{ca_cert_hash, Listed, TokenSpec, DEFAULT_GROUP};
use kauth::authn::bootstrap_token::{self as bt, BootstrapSecret};
use kauth::pki::kubeconfig::{decode_data, Kubeconfig};
use serde_json::{json, Value};

use crate::api_client::{kubeconfig_path, ApiClient};
use crate::args::{emit, print_json, Output};
use crate::failure::Failure;

/// Bootstrap tokens for joining nodes.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(subcommand)]
    command: BootstrapCommand,
    /// The kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BootstrapCommand {
    /// Create a bootstrap token (a random one unless TOKEN is given) and print it.
    Create(CreateArgs),
    /// List the bootstrap tokens, as kubeadm token list does.
    List(ListArgs),
    /// Delete bootstrap tokens, given by id or whole token.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The token, `[a-z0-9]{6}.[a-z0-9]{16}` (default: a random one).
    token: Option<String>,
    /// How long it is valid (`0`: forever).
    #[arg(long, default_value = "24h0m0s")]
    ttl: String,
    /// What it may be used for: signing, authentication (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "signing,authentication")]
    usages: Vec<String>,
    /// Extra groups it authenticates with (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_GROUP)]
    groups: Vec<String>,
    /// A description for people.
    #[arg(long, default_value = "")]
    description: String,
    /// Print the whole `kubeadm join` command, with the CA's public key pin.
    #[arg(long)]
    print_join_command: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Args)]
struct DeleteArgs {
    /// Token ids or whole tokens.
    #[arg(required = true)]
    tokens: Vec<String>,
}

const SECRETS: &str = "/api/v1/namespaces/kube-system/secrets";

/// Runs the subcommand.
pub fn run(a: BootstrapArgs) -> Result<u8, Failure> {
    let path = kubeconfig_path(a.kubeconfig.as_deref())
        .ok_or_else(|| Failure::bad_input("no kubeconfig: pass --kubeconfig or set KUBECONFIG"))?;
    match a.command {
        BootstrapCommand::Create(c) => create(&path, c),
        BootstrapCommand::List(l) => list(&path, l),
        BootstrapCommand::Delete(d) => delete(&path, d),
    }
}

fn parse_ttl(text: &str) -> Result<Option<time::Duration>, Failure> {
    if text.trim() == "0" {
        return Ok(None);
    }
    let d = kauth::duration::parse(text).map_err(|e| Failure::bad_input(format!("--ttl: {e}")))?;
    let d = time::Duration::try_from(d).map_err(|e| Failure::bad_input(format!("--ttl: {e}")))?;
    Ok((!d.is_zero()).then_some(d))
}

fn create(path: &Path, c: CreateArgs) -> Result<u8, Failure> {
    let mut spec = TokenSpec::new(c.token.as_deref()).map_err(|e| Failure::bad_input(e.to_string()))?;
    spec.ttl = parse_ttl(&c.ttl)?;
    spec.usages = c.usages.into_iter().filter(|u| !u.is_empty()).collect();
    spec.groups = c.groups.into_iter().filter(|g| !g.is_empty()).collect();
    spec.description = c.description;
    // The expiration is counted from this machine's clock, as kubeadm counts it.
    let secret = spec.to_secret(time::OffsetDateTime::now_utc()).map_err(|e| Failure::bad_input(e.to_string()))?;
    let body = serde_json::to_string(&secret).map_err(|e| Failure::unsound(e.to_string()))?;
    let client = ApiClient::from_kubeconfig(path)?;
    client
        .post(SECRETS, &body)
        .map_err(|e| Failure::unsound(format!("failed to create bootstrap token: {}", e.message())))?;
    if c.print_join_command {
        emit(&format!("{}\n", join_command(path, client.server(), &spec.token)?));
    } else {
        emit(&format!("{}\n", spec.token));
    }
    Ok(0)
}

/// `kubeadm join HOST:PORT --token T \` and `--discovery-token-ca-cert-hash sha256:…`, as
/// kubeadm prints it, the pin taken from the kubeconfig's CA.
fn join_command(path: &Path, server: &str, token: &str) -> Result<String, Failure> {
    let what = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| Failure::bad_input(format!("{what}: {e}")))?;
    let cfg = Kubeconfig::parse(&what, &text)?;
    let (cluster, _, _) = cfg.current().ok_or_else(|| Failure::bad_input(format!("{what}: no current context")))?;
    let ca = match (&cluster.certificate_authority_data, &cluster.certificate_authority) {
        (Some(d), _) => decode_data(&what, "certificate-authority-data", d)?,
        (None, Some(p)) => {
            let p = path.parent().unwrap_or(Path::new(".")).join(p);
            std::fs::read(&p).map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))?
        }
        _ => return Err(Failure::bad_input(format!("{what}: the cluster has no CA to pin"))),
    };
    let pin = ca_cert_hash(&what, &ca)?;
    let host_port = server.strip_prefix("https://").unwrap_or(server);
    Ok(format!("kubeadm join {host_port} --token {token} \\\n\t--discovery-token-ca-cert-hash {pin} "))
}

/// The bootstrap token Secrets of the cluster, by name.
fn tokens(path: &Path) -> Result<Vec<Listed>, Failure> {
    let client = ApiClient::from_kubeconfig(path)?;
    // Every Secret of kube-system; the bootstrap tokens are picked here by type and name.
    let body = client.get(SECRETS)?;
    let list: k8s_openapi::List<k8s_openapi::api::core::v1::Secret> =
        serde_json::from_str(&body).map_err(|e| Failure::unsound(format!("{SECRETS}: not a SecretList: {e}")))?;
    Ok(list
        .items
        .iter()
        .filter_map(|s| Listed::of(s.metadata.name.as_deref().unwrap_or(""), &BootstrapSecret::of(s)))
        .collect())
}

fn list(path: &Path, l: ListArgs) -> Result<u8, Failure> {
    let now = time::OffsetDateTime::now_utc();
    let tokens = tokens(path)?;
    let expires = |t: &Listed| match &t.expiration {
        Ok(Some(e)) => kauth::timestamp::rfc3339(*e),
        Ok(None) => "<never>".into(),
        Err(text) => text.clone(),
    };
    match l.output {
        Output::Json => {
            let items: Vec<Value> = tokens
                .iter()
                .map(|t| {
                    json!({"token": t.token, "ttl": t.ttl(now), "expires": expires(t), "usages": t.usages,
                        "description": t.description, "groups": t.groups})
                })
                .collect();
            print_json(&items)?;
        }
        Output::Text => {
            // kubeadm's layout: Go's tabwriter with minwidth 10, tabwidth 4, padding 3.
            let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(10).padding(3);
            let none = |s: String| if s.is_empty() { "<none>".to_owned() } else { s };
            let _ = writeln!(tw, "TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS");
            for t in &tokens {
                let _ = writeln!(
                    tw,
                    "{}\t{:<9}\t{}\t{:<22}\t{:<56}\t{}",
                    t.token,
                    t.ttl(now),
                    expires(t),
                    none(t.usages.join(",")),
                    none(t.description.clone()),
                    none(t.groups.join(","))
                );
            }
            let out = tw.into_inner().map_err(|e| Failure::unsound(e.to_string()))?;
            emit(&String::from_utf8_lossy(&out));
        }
    }
    Ok(0)
}

fn delete(path: &Path, d: DeleteArgs) -> Result<u8, Failure> {
    let client = ApiClient::from_kubeconfig(path)?;
    for given in &d.tokens {
        let valid_id = given.len() == 6 && given.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let id =
            if valid_id {
                given.as_str()
            } else {
                match bt::parse(given) {
                    Some((id, _)) => id,
                    None => return Err(Failure::bad_input(
                        "given token didn't match pattern \"^([a-z0-9]{6})\\.([a-z0-9]{16})$\" or \"^([a-z0-9]{6})$\"",
                    )),
                }
            };
        client
            .delete(&format!("{SECRETS}/{}{id}", bt::SECRET_PREFIX))
            .map_err(|e| Failure::unsound(format!("failed to delete bootstrap token {id:?}: {}", e.message())))?;
        emit(&format!("bootstrap token {id:?} deleted\n"));
    }
    Ok(0)
}
