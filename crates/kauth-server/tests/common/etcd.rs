//! Real etcd members for tests (Debian's `etcd-server`): on 127.0.0.1, ports picked at run time,
//! each in its own temporary directory, stopped by PID when dropped. With a kauth PKI directory,
//! members serve and talk to each other over TLS with its etcd certificates and require client
//! certificates signed by its etcd CA, as kubeadm sets etcd up.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One running etcd member.
pub struct Member {
    pub name: String,
    pub client_url: String,
    child: Option<Child>,
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

/// A port free right now on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(args: &[String]) -> Child {
    let mut child = Command::new("etcd")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("etcd (Debian etcd-server) must be installed");
    // Wait until the member says it serves clients (a bound against hanging, not a timing check).
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in stderr.lines() {
            let Ok(line) = line else { return };
            if line.contains("ready to serve client requests") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    let _ = rx.recv_timeout(Duration::from_secs(60));
    child
}

/// Starts an `n`-member cluster; with `pki`, over TLS with kauth pki's etcd certificates.
pub fn cluster(n: usize, pki: Option<&Path>) -> Vec<Member> {
    let scheme = if pki.is_some() { "https" } else { "http" };
    let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
    let initial: Vec<String> =
        ports.iter().enumerate().map(|(i, (_, peer))| format!("m{i}={scheme}://127.0.0.1:{peer}")).collect();
    let specs: Vec<(String, String, Vec<String>, tempfile::TempDir)> = ports
        .iter()
        .enumerate()
        .map(|(i, (client, peer))| {
            let dir = tempfile::tempdir().unwrap();
            let name = format!("m{i}");
            let client_url = format!("{scheme}://127.0.0.1:{client}");
            let mut args = vec![
                format!("--name={name}"),
                format!("--data-dir={}", dir.path().join("data").display()),
                format!("--listen-client-urls={client_url}"),
                format!("--advertise-client-urls={client_url}"),
                format!("--listen-peer-urls={scheme}://127.0.0.1:{peer}"),
                format!("--initial-advertise-peer-urls={scheme}://127.0.0.1:{peer}"),
                format!("--initial-cluster={}", initial.join(",")),
                "--initial-cluster-state=new".into(),
                "--initial-cluster-token=kauth-test".into(),
                // Namespaces are deleted with their contents in one transaction.
                "--max-txn-ops=10000".into(),
            ];
            if let Some(pki) = pki {
                let p = |f: &str| pki.join(f).display().to_string();
                args.extend([
                    format!("--cert-file={}", p("etcd/server.crt")),
                    format!("--key-file={}", p("etcd/server.key")),
                    format!("--trusted-ca-file={}", p("etcd/ca.crt")),
                    "--client-cert-auth=true".into(),
                    format!("--peer-cert-file={}", p("etcd/peer.crt")),
                    format!("--peer-key-file={}", p("etcd/peer.key")),
                    format!("--peer-trusted-ca-file={}", p("etcd/ca.crt")),
                    "--peer-client-cert-auth=true".into(),
                ]);
            }
            (name, client_url, args, dir)
        })
        .collect();
    // Members wait for each other to elect a leader: start them all, then wait for each.
    let started: Vec<std::thread::JoinHandle<Child>> = specs
        .iter()
        .map(|(_, _, args, _)| {
            let args = args.clone();
            std::thread::spawn(move || spawn(&args))
        })
        .collect();
    specs
        .into_iter()
        .zip(started)
        .map(|((name, client_url, args, dir), child)| Member {
            name,
            client_url,
            child: Some(child.join().expect("etcd member started")),
            args,
            _dir: dir,
        })
        .collect()
}

impl Member {
    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the member again, with its data (after [`Member::kill`]).
    pub fn restart(&mut self) {
        let mut args: Vec<String> = self.args.clone();
        for a in &mut args {
            if a == "--initial-cluster-state=new" {
                *a = "--initial-cluster-state=existing".into();
            }
        }
        self.child = Some(spawn(&args));
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The client URLs of `members`, comma-separated (`--etcd-servers`).
pub fn urls(members: &[Member]) -> String {
    members.iter().map(|m| m.client_url.clone()).collect::<Vec<_>>().join(",")
}

/// A kauth PKI directory (`pki/` inside `dir`), made by kauth's own library as `kauth serve`
/// makes it (so replicas can reuse it as is).
pub fn pki(dir: &Path) -> PathBuf {
    let layout = kauth::pki::layout::Layout::new(dir);
    let cfg =
        kauth::pki::spec::PkiConfig { advertise_address: std::net::IpAddr::from([127, 0, 0, 1]), ..Default::default() };
    kauth::pki::init::init(&layout, &cfg, false, time::OffsetDateTime::now_utc()).unwrap();
    dir.join("pki")
}
