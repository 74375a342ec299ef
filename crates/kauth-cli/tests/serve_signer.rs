//! `kauth serve --signer-socket` as a process: the socket is there with mode 0600 once the ready
//! line is printed, a second server refuses a socket the first still serves, and a socket left
//! by a killed server is replaced. The gRPC service itself is tested through its socket in
//! kauth-server's `tests/signer.rs`.
#![cfg(feature = "signer")]
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::{Command, Stdio};

use common::server::Server;

#[test]
fn the_signer_socket_is_ready_with_the_server_refused_while_served_and_replaced_when_left() {
    let root = tempfile::tempdir().unwrap();
    let socket = root.path().join("signer.sock");
    let flag = format!("--signer-socket={}", socket.display());
    let first = Server::start_in(&root.path().join("a"), &[&flag]);
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let second = Command::new(env!("CARGO_BIN_EXE_kauth"))
        .args(["serve", "--secure-port", "0", "--data-dir"])
        .arg(root.path().join("b"))
        .arg(&flag)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(second.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another process serves on this socket"), "{stderr}");

    // Killed: the socket file stays, nobody answers on it; the next server replaces it.
    first.kill9();
    assert!(socket.exists());
    let again = Server::start_in(&root.path().join("a"), &[&flag, "--signer-socket-mode=0660"]);
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o660);
    drop(again);
}
