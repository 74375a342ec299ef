//! Running the `kauth` binary from tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod oidc_issuer;
pub mod server;
#[path = "../../../kauth/tests/common/tools.rs"]
pub mod tools;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What a run printed and its exit code.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `kauth ARGS`, feeding `stdin` if given. Fails the test if kauth panicked.
pub fn kauth_in(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kauth"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "kauth panicked: {}", run.stderr);
    run
}

/// Runs `kauth ARGS`.
pub fn kauth(args: &[&str]) -> Run {
    kauth_in(args, None)
}

/// A path as a `&str` argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
