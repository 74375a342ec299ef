//! The bootstrap-token join flow against `kauth serve --enable-bootstrap-token-auth`, through the
//! real binary, kubectl, curl, openssl and PyJWT: `kauth token bootstrap create` makes a token as
//! kubeadm does; it authenticates as `system:bootstrap:<id>`; `kube-public/cluster-info`, read
//! without credentials as `kubeadm join` reads it, carries a signature PyJWT verifies with the
//! token's secret; the join command's CA pin is the one openssl computes; `list` shows it as
//! kubeadm does; `delete` takes it and its signature away. (Expiry and the token cleaner run on
//! the fake clock, in the server crate's `bootstrap_tokens` suite.)
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::server::Server;
use common::tools::{pyjwt_python, require, Tool};
use common::{kauth, s};
use serde_json::Value;

const CLUSTER_INFO: &str = "/api/v1/namespaces/kube-public/configmaps/cluster-info";

fn start(dir: &Path) -> Server {
    Server::start_in(&dir.join("data"), &["--enable-bootstrap-token-auth"])
}

fn bootstrap(server: &Server, args: &[&str]) -> common::Run {
    let kubeconfig = server.dir.join("admin.conf");
    let mut all = vec!["token", "bootstrap"];
    all.extend_from_slice(args);
    all.extend(["--kubeconfig", s(&kubeconfig)]);
    kauth(&all)
}

/// cluster-info as anyone reads it, with no credentials.
fn cluster_info(server: &Server) -> Value {
    let out = server.curl(&[], CLUSTER_INFO);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {} {}", out.stdout, out.stderr))
}

/// `kubectl auth whoami` holding only the bootstrap token.
fn whoami(server: &Server, token: &str) -> common::server::Out {
    let ca = server.dir.join("pki/ca.crt");
    let out = Command::new("kubectl")
        .env("KUBECONFIG", "/dev/null")
        .args(["--server", &server.url, "--certificate-authority", s(&ca), "--token", token])
        .args(["auth", "whoami", "-o", "json"])
        .output()
        .unwrap();
    common::server::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn pyjwt_verifies(dir: &Path, signature: &str, content: &str, id: &str, secret: &str) -> bool {
    let file = dir.join("cluster-info.kubeconfig");
    std::fs::write(&file, content).unwrap();
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kauth/tests/peers/pyjwt_peer.py");
    let out =
        Command::new(pyjwt_python()).arg(peer).args(["detached", signature]).arg(&file).args([id, secret]).output();
    out.unwrap().status.success()
}

#[test]
fn a_node_joins_with_a_bootstrap_token() {
    require!(Tool::Kubectl);
    require!(Tool::Curl);
    require!(Tool::PyJwt);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());

    let created = bootstrap(&server, &["create", "--description", "for node-3"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let token = created.stdout.trim().to_owned();
    let (id, secret) = kauth::authn::bootstrap_token::parse(&token).unwrap_or_else(|| panic!("{token:?}"));

    // The joining node: it trusts cluster-info by the signature its token makes.
    let cm = cluster_info(&server);
    let content = cm["data"]["kubeconfig"].as_str().unwrap();
    assert!(content.contains(&server.url), "{content}");
    let signature = cm["data"][format!("jws-kubeconfig-{id}")].as_str().unwrap();
    assert!(pyjwt_verifies(dir.path(), signature, content, id, secret));
    assert!(!pyjwt_verifies(dir.path(), signature, content, id, "0123456789abcdef"), "PyJWT can refuse");

    // Then it authenticates with the token.
    let who: Value = serde_json::from_str(&whoami(&server, &token).ok()).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], format!("system:bootstrap:{id}"));
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        serde_json::json!([
            "system:bootstrappers",
            "system:bootstrappers:kubeadm:default-node-token",
            "system:authenticated"
        ])
    );

    // kubeadm's list: the token, its TTL, usages, description and group.
    let listed = bootstrap(&server, &["list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let mut lines = listed.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split("   ").filter(|c| !c.is_empty()).map(str::trim).collect();
    assert_eq!(header, ["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[0], token);
    assert!(row[1] == "23h" || row[1] == "1d", "{row:?}");
    assert_eq!(
        row[3..],
        ["authentication,signing", "for", "node-3", "system:bootstrappers:kubeadm:default-node-token"]
    );

    // Deleted: its signature goes, and it no longer authenticates.
    let deleted = bootstrap(&server, &["delete", id]);
    assert_eq!(deleted.stdout, format!("bootstrap token {id:?} deleted\n"), "{}", deleted.stderr);
    assert!(cluster_info(&server)["data"].get(format!("jws-kubeconfig-{id}")).is_none());
    let refused = whoami(&server, &token);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("Unauthorized"), "{}", refused.stderr);
    assert_eq!(bootstrap(&server, &["list"]).stdout.lines().count(), 1, "only the header is left");
}

#[test]
fn the_join_command_pins_the_ca_as_openssl_computes_it() {
    require!(Tool::Openssl);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let created = bootstrap(&server, &["create", "abcdef.0123456789abcdef", "--ttl", "0", "--print-join-command"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    // kubeadm's documented way to compute the pin.
    let ca = server.dir.join("pki/ca.crt");
    let pin = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -pubkey -in {} | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex | sed 's/^.* //'",
            s(&ca)
        ))
        .output()
        .unwrap();
    let pin = String::from_utf8(pin.stdout).unwrap().trim().to_owned();
    assert_eq!(pin.len(), 64);
    let host_port = server.url.strip_prefix("https://").unwrap();
    assert_eq!(
        created.stdout,
        format!(
            "kubeadm join {host_port} --token abcdef.0123456789abcdef \\\n\t--discovery-token-ca-cert-hash sha256:{pin} \n"
        )
    );
    // --ttl 0: it never expires.
    let listed = bootstrap(&server, &["list", "-o", "json"]);
    let items: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(items[0]["ttl"], "<forever>");
    assert_eq!(items[0]["expires"], "<never>");
}

#[test]
fn bad_tokens_usages_and_groups_exit_2_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    for (args, says) in [
        (vec!["create", "ABCDEF.0123456789abcdef"], "the token must be of form"),
        (vec!["create", "--usages", "signing,everything"], "invalid bootstrap token usage \"everything\""),
        (vec!["create", "--groups", "system:masters"], "bootstrap group \"system:masters\" is invalid"),
        (vec!["create", "--usages", "signing"], "token groups cannot be specified"),
        (vec!["create", "--ttl", "soon"], "--ttl"),
        (vec!["delete", "not-a-token"], "given token didn't match pattern"),
    ] {
        let out = bootstrap(&server, &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    let listed = bootstrap(&server, &["list", "-o", "json"]);
    assert_eq!(listed.stdout.trim(), "[]");
    // Deleting a token that does not exist is the server's 404, exit 1.
    let out = bootstrap(&server, &["delete", "zzzzzz"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("failed to delete bootstrap token \"zzzzzz\""), "{}", out.stderr);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
}
