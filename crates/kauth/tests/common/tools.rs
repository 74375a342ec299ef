//! The programs some suites drive besides kauth (kubectl, curl, etcd, openssl, Go with go-jose,
//! PyJWT), found or not found, in one place for every test crate (the crates' `tests/common`
//! modules include this file).
//!
//! A test starts with [`require!`]: when a tool is missing it prints one line to standard error
//! (`skipped: <test> needs <tool> (<why>); <how to get it>`) and returns, so a plain `cargo test`
//! on a bare machine says what it did not run. With `KAUTH_REQUIRE_ALL_TOOLS=1` (set by
//! `scripts/test.sh`, which CI runs) a missing tool fails the test instead: CI never skips
//! silently.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable that turns a missing tool into a failure.
pub const REQUIRE_ALL: &str = "KAUTH_REQUIRE_ALL_TOOLS";

/// A program a suite needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The real kubectl.
    Kubectl,
    /// curl.
    Curl,
    /// An etcd server (Debian etcd-server).
    Etcd,
    /// The openssl command.
    Openssl,
    /// python3 (its standard library only).
    Python3,
    /// Go with Debian's go-jose v2 sources (kube-apiserver's JOSE library).
    GoJose,
    /// A Python with PyJWT[crypto]: the clone's `.venv`, or `KAUTH_PYTHON`.
    PyJwt,
    /// Headless Chromium and its WebDriver (Debian chromium and chromium-driver).
    Chromium,
}

/// The Chromium binary the browser tests start: Debian's, behind its wrapper script when that
/// is all there is.
pub fn chromium_binary() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/lib/chromium/chromium");
    if is_executable(&debian) {
        return Some(debian);
    }
    on_path("chromium").or_else(|| on_path("chromium-browser"))
}

/// Where Debian's golang-gopkg-square-go-jose.v2-dev puts go-jose (the GOPATH the peer builds with).
pub const GOPATH: &str = "/usr/share/gocode";

/// The Python interpreter with PyJWT: `KAUTH_PYTHON`, else `.venv/bin/python` in the clone.
pub fn pyjwt_python() -> PathBuf {
    if let Some(p) = std::env::var_os("KAUTH_PYTHON") {
        return PathBuf::from(p);
    }
    // Every crate sits two levels below the clone's root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root).join(".venv/bin/python")
}

/// The executable `name` on `PATH`, if there is one.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

fn program(name: &str) -> Result<(), String> {
    on_path(name).map(|_| ()).ok_or_else(|| format!("{name} (not found on PATH)"))
}

impl Tool {
    /// `Ok` when the tool can be run; otherwise what is missing, as `<tool> (<why>)`.
    pub fn check(self) -> Result<(), String> {
        match self {
            Tool::Kubectl => program("kubectl"),
            Tool::Curl => program("curl"),
            Tool::Etcd => program("etcd"),
            Tool::Openssl => program("openssl"),
            Tool::Python3 => program("python3"),
            Tool::Chromium => {
                program("chromedriver")?;
                chromium_binary().map(|_| ()).ok_or_else(|| "chromium (not found on PATH)".to_owned())
            }
            Tool::GoJose => {
                program("go")?;
                let jose = Path::new(GOPATH).join("src/gopkg.in/square/go-jose.v2");
                if jose.is_dir() {
                    Ok(())
                } else {
                    Err(format!("go-jose v2 ({} does not exist)", jose.display()))
                }
            }
            Tool::PyJwt => {
                let python = pyjwt_python();
                if !python.exists() {
                    return Err(format!("PyJWT (no {}; KAUTH_PYTHON may name another interpreter)", python.display()));
                }
                let imports = Command::new(&python)
                    .args(["-c", "import jwt, cryptography"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                match imports {
                    Ok(s) if s.success() => Ok(()),
                    Ok(_) => Err(format!("PyJWT ({} cannot import jwt and cryptography)", python.display())),
                    Err(e) => Err(format!("PyJWT ({} does not run: {e})", python.display())),
                }
            }
        }
    }

    /// How to get it.
    pub fn remedy(self) -> &'static str {
        match self {
            Tool::Kubectl => "install kubectl (scripts/test.sh requires it)",
            Tool::Curl => "scripts/test.sh installs it (Debian curl)",
            Tool::Etcd => "scripts/test.sh installs it (Debian etcd-server)",
            Tool::Openssl => "scripts/test.sh installs it (Debian openssl)",
            Tool::Python3 => "install python3",
            Tool::GoJose => "scripts/test.sh installs it (Debian golang-go, golang-gopkg-square-go-jose.v2-dev)",
            Tool::PyJwt => "scripts/test.sh creates the venv with PyJWT[crypto]",
            Tool::Chromium => "scripts/test.sh installs them (Debian chromium, chromium-driver)",
        }
    }
}

/// Whether every tool `test` needs is there. A missing one is reported on standard error (past
/// the test harness's capture, so a plain `cargo test` shows it) and the caller skips; under
/// `KAUTH_REQUIRE_ALL_TOOLS=1` it is a failure.
pub fn available(test: &str, tools: &[Tool]) -> bool {
    let Some((tool, missing)) = tools.iter().find_map(|t| t.check().err().map(|m| (*t, m))) else {
        return true;
    };
    let need = format!("{test} needs {missing}; {}", tool.remedy());
    if std::env::var(REQUIRE_ALL).is_ok_and(|v| v == "1") {
        panic!("{need}; {REQUIRE_ALL}=1 forbids skipping");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {need}");
    false
}

/// Returns from the calling test when a tool it needs is missing (see [`available`]); the
/// test's own path names it in the message.
#[allow(unused_macros)]
macro_rules! require {
    ($($tool:expr),+ $(,)?) => {{
        fn here() {}
        let test = ::std::any::type_name_of_val(&here).trim_end_matches("::here");
        if !$crate::common::tools::available(test, &[$($tool),+]) {
            return;
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use require;
