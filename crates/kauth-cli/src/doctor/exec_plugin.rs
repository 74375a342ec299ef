//! The exec plugin check: runs the kubeconfig's credential plugin as kubectl would (its
//! environment plus `KUBERNETES_EXEC_INFO`, no terminal) with a timeout, and reports what is
//! wrong with it or its `ExecCredential`. Its token or certificate is then checked like any other.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kauth::pki::kubeconfig::ExecConfig;
use serde::Deserialize;
use time::OffsetDateTime;

use super::finding::{Check, Report};
use crate::secret::Secret;

/// The versions of `ExecCredential` kubectl speaks.
const VERSIONS: [&str; 2] = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

/// What the plugin gave.
#[derive(Debug, Default)]
pub struct Credential {
    /// A bearer token.
    pub token: Option<Secret>,
    /// A client certificate (PEM).
    pub client_cert: Option<Vec<u8>>,
    /// Its key (PEM).
    pub client_key: Option<Secret>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    status: Option<ExecStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecStatus {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
    expiration_timestamp: Option<String>,
}

/// Judges a plugin's standard output; `Err` is the finding's cause.
pub fn parse_output(
    expected: &str,
    out: &[u8],
    now: OffsetDateTime,
) -> Result<(Credential, Option<OffsetDateTime>), String> {
    let text = String::from_utf8_lossy(out);
    let cred: ExecCredential = serde_json::from_str(text.trim()).map_err(|e| {
        format!("its output is not an ExecCredential JSON document ({e}); it printed {} bytes", out.len())
    })?;
    if cred.kind != "ExecCredential" {
        return Err(format!("its output has kind {:?}, not \"ExecCredential\"", cred.kind));
    }
    if cred.api_version != expected {
        return Err(format!(
            "its output is apiVersion {:?} but the kubeconfig asks for {expected:?}: kubectl refuses the mismatch",
            cred.api_version
        ));
    }
    let status = cred.status.ok_or("its ExecCredential has no status")?;
    let expires = match &status.expiration_timestamp {
        Some(t) => Some(
            OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|e| format!("status.expirationTimestamp {t:?} is not RFC 3339: {e}"))?,
        ),
        None => None,
    };
    if let Some(x) = expires.filter(|x| *x <= now) {
        return Err(format!(
            "the credential it gave expired at {} (expirationTimestamp), before it was used",
            kauth::token::utc(x.unix_timestamp())
        ));
    }
    let c = Credential {
        token: status.token.filter(|t| !t.is_empty()).map(Secret::new),
        client_cert: status.client_certificate_data.map(String::into_bytes),
        client_key: status.client_key_data.map(Secret::new),
    };
    match (&c.token, &c.client_cert, &c.client_key) {
        (None, None, None) => Err("its ExecCredential status has neither token nor clientCertificateData".into()),
        (_, Some(_), None) | (_, None, Some(_)) => {
            Err("its ExecCredential gives only one of clientCertificateData and clientKeyData".into())
        }
        _ => Ok((c, expires)),
    }
}

/// Runs the plugin; returns its credential when it works.
pub fn check(
    exec: &ExecConfig,
    kubeconfig: &Path,
    server: &str,
    timeout: Duration,
    now: OffsetDateTime,
    report: &mut Report,
) -> Option<Credential> {
    if !VERSIONS.contains(&exec.api_version.as_str()) {
        report.error(
            Check::ExecPlugin,
            format!(
                "exec apiVersion is {:?}; kubectl speaks {} (v1alpha1 was removed in 1.24)",
                exec.api_version,
                VERSIONS.join(" and ")
            ),
            "set exec.apiVersion: client.authentication.k8s.io/v1 (and update the plugin if it cannot speak it)",
        );
        return None;
    }
    if exec.interactive_mode.as_deref() == Some("Always") {
        report.warn(
            Check::ExecPlugin,
            "exec.interactiveMode is Always: the plugin needs a terminal, so it fails in scripts, CI and controllers",
            "use a plugin mode that needs no prompt (a cached or device-code login run beforehand) and set interactiveMode: Never",
        );
    }
    // kubectl resolves a relative command with a slash against the kubeconfig's directory.
    let program = if exec.command.contains('/') && !exec.command.starts_with('/') {
        kubeconfig.parent().unwrap_or(Path::new(".")).join(&exec.command)
    } else {
        exec.command.clone().into()
    };
    let mut info =
        serde_json::json!({"apiVersion": exec.api_version, "kind": "ExecCredential", "spec": {"interactive": false}});
    if exec.provide_cluster_info == Some(true) {
        info["spec"]["cluster"] = serde_json::json!({"server": server});
    }
    let mut cmd = Command::new(&program);
    cmd.args(exec.args.clone().unwrap_or_default())
        .env("KUBERNETES_EXEC_INFO", info.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in exec.env.iter().flatten() {
        cmd.env(&v.name, &v.value);
    }
    let shown = format!("{} {}", exec.command, exec.args.clone().unwrap_or_default().join(" ")).trim().to_owned();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let hint = exec.install_hint.as_deref().map(|h| format!(" ({})", h.trim())).unwrap_or_default();
            report.error(
                Check::ExecPlugin,
                format!("the exec plugin {:?} cannot be run: {e}", exec.command),
                format!("install it or fix exec.command (PATH, or a path relative to the kubeconfig){hint}"),
            );
            return None;
        }
    };
    let read_all = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = r {
                let _ = r.take(4 << 20).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read_all(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let err = read_all(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if started.elapsed() < timeout => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    let last_line = String::from_utf8_lossy(&stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(300).collect::<String>())
        .unwrap_or_default();
    let Some(status) = status else {
        report.error(
            Check::ExecPlugin,
            format!("the exec plugin `{shown}` did not finish within {} s", timeout.as_secs()),
            "run it by hand to see what it waits for (a prompt, a browser login, an unreachable identity provider)",
        );
        return None;
    };
    if !status.success() {
        report.error(
            Check::ExecPlugin,
            format!("the exec plugin `{shown}` failed ({status}): {last_line}"),
            "run it by hand with KUBERNETES_EXEC_INFO set to see the whole error; a login it needs may have expired",
        );
        return None;
    }
    match parse_output(&exec.api_version, &stdout, now) {
        Ok((c, expires)) => {
            let what = match (&c.token, &c.client_cert) {
                (Some(t), _) => t.describe(),
                (None, _) => "a client certificate".to_owned(),
            };
            let until =
                expires.map(|x| format!(", valid until {}", kauth::token::utc(x.unix_timestamp()))).unwrap_or_default();
            report.note(Check::ExecPlugin, format!("`{shown}` gave {what}{until}"));
            Some(c)
        }
        Err(cause) => {
            report.error(Check::ExecPlugin, format!("the exec plugin `{shown}`: {cause}"), "fix the plugin or its version: it must print one ExecCredential whose apiVersion is the kubeconfig's exec.apiVersion");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "client.authentication.k8s.io/v1";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    #[test]
    fn a_token_is_taken() {
        let out = br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"abc","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#;
        let (c, x) = parse_output(V1, out, now()).unwrap();
        assert_eq!(c.token.unwrap().expose(), "abc");
        assert_eq!(x.unwrap().year(), 2030);
    }

    #[test]
    fn every_problem_is_named() {
        let cases: [(&[u8], &str); 6] = [
            (b"not json", "not an ExecCredential JSON document"),
            (br#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"a"}}"#, "kubectl refuses the mismatch"),
            (br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"Pod"}"#, "not \"ExecCredential\""),
            (br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"}"#, "has no status"),
            (br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"a","expirationTimestamp":"2020-01-01T00:00:00Z"}}"#, "expired at 2020-01-01T00:00:00Z"),
            (br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"x"}}"#, "only one of"),
        ];
        for (out, want) in cases {
            let e = parse_output(V1, out, now()).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
