//! `kauth keys list|rotate`: the service-account key ring of kauth serve, through its API (the
//! kubeconfig's server and credentials; cluster-admin may, through `nonResourceURLs: ["*"]`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::api_client::{kubeconfig_path, ApiClient};
use crate::args::{emit, print_json};
use crate::failure::Failure;

/// `kauth keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
    /// The kubeconfig whose current context names kauth serve (default: $KUBECONFIG, then
    /// ~/.kube/config).
    #[arg(long, global = true)]
    kubeconfig: Option<PathBuf>,
    /// Output: table or json.
    #[arg(short, long, default_value = "table", global = true)]
    output: String,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// The keys: which signs, which only verify and until when, which replicas publish each.
    List,
    /// Adds a new signing key: every replica publishes it first, then it signs; the old key
    /// verifies until every token it signed has expired.
    Rotate,
}

fn client(a: &KeysArgs) -> Result<ApiClient, Failure> {
    let path = kubeconfig_path(a.kubeconfig.as_deref())
        .ok_or_else(|| Failure::bad_input("no kubeconfig: give --kubeconfig FILE or set KUBECONFIG"))?;
    ApiClient::from_kubeconfig(&path)
}

fn show(a: &KeysArgs, body: &str) -> Result<u8, Failure> {
    let v: Value = serde_json::from_str(body).map_err(|e| Failure::unsound(format!("the server's answer: {e}")))?;
    if a.output == "json" {
        print_json(&v)?;
        return Ok(0);
    }
    let cell = |k: &Value, f: &str| match &k[f] {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        _ => "-".into(),
    };
    let rows: Vec<[String; 5]> = v["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    let since =
                        if k["signingSince"].is_string() { cell(k, "signingSince") } else { cell(k, "addedAt") };
                    [cell(k, "kid"), cell(k, "state"), since, cell(k, "retireAfter"), cell(k, "publishedBy")]
                })
                .collect()
        })
        .unwrap_or_default();
    let header = ["KID", "STATE", "SINCE", "RETIRE AFTER", "PUBLISHED BY"];
    let widths: Vec<usize> =
        (0..5).map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in std::iter::once(header.map(str::to_owned)).chain(rows) {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    emit(&out);
    Ok(0)
}

/// Runs `kauth keys`.
pub fn run(a: KeysArgs) -> Result<u8, Failure> {
    if !matches!(a.output.as_str(), "table" | "json") {
        return Err(Failure::bad_input(format!("-o {}: use table or json", a.output)));
    }
    let c = client(&a)?;
    let body = match a.command {
        KeysCommand::List => c.get("/kauth/v1/keys")?,
        KeysCommand::Rotate => c.post("/kauth/v1/keys/rotate", "{}")?,
    };
    show(&a, &body)
}
