//! A `kauth serve` process for tests: its own data directory, a port picked at run time on
//! 127.0.0.1, stopped by PID when dropped (and on its own when the test process dies: it exits
//! when its stdin closes). Real kubectl and curl drive it.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Server {
    pub dir: PathBuf,
    pub url: String,
    child: Child,
    home: tempfile::TempDir,
    _stdout: BufReader<std::process::ChildStdout>,
}

/// What a command printed and its exit code.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "failed: {}\n{}", self.stdout, self.stderr);
        self.stdout
    }
}

fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Out {
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Server {
    /// Starts `kauth serve` on `dir` with extra flags and waits until it listens.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kauth"))
            .args(["serve", "--data-dir", dir.to_str().unwrap(), "--secure-port", "0", "--exit-on-stdin-close"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("kauth serving on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { dir: dir.to_owned(), url, child, home: tempfile::tempdir().unwrap(), _stdout: stdout }
    }

    /// `kubectl ARGS` with the admin kubeconfig (its own HOME: no shared discovery cache).
    pub fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_in(args, None)
    }

    /// `kubectl ARGS` with `stdin`.
    pub fn kubectl_in(&self, args: &[&str], stdin: Option<&[u8]>) -> Out {
        run(
            Command::new("kubectl")
                .env("KUBECONFIG", self.dir.join("admin.conf"))
                .env("HOME", self.home.path())
                .args(args),
            stdin,
        )
    }

    /// Starts `kubectl ARGS` in the background (a watch); its stdout arrives line by line.
    pub fn kubectl_background(&self, args: &[&str]) -> Background {
        let mut child = Command::new("kubectl")
            .env("KUBECONFIG", self.dir.join("admin.conf"))
            .env("HOME", self.home.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Background { child, lines }
    }

    /// `curl` against the server, verifying it with the cluster CA.
    pub fn curl(&self, args: &[&str], path: &str) -> Out {
        let ca = self.dir.join("pki/ca.crt");
        run(
            Command::new("curl")
                .args(["-sS", "--cacert", ca.to_str().unwrap()])
                .args(args)
                .arg(format!("{}{path}", self.url)),
            None,
        )
    }

    /// `curl` with a bearer token and a JSON body, returning the parsed response.
    pub fn post_json(&self, token: &str, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let auth = format!("Authorization: Bearer {token}");
        let body = body.to_string();
        let out = self
            .curl(&["-X", "POST", "-H", &auth, "-H", "Content-Type: application/json", "--data-binary", &body], path);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A command running in the background, stopped by PID when dropped.
pub struct Background {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Background {
    /// The next line of output, waiting at most 30 s (a bound against hanging, not a timing
    /// assertion); panics with what stderr said when the command ended or went quiet.
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.child.kill();
                let mut err = String::new();
                if let Some(mut s) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = s.read_to_string(&mut err);
                }
                panic!("no more output ({e}); stderr: {err}")
            }
        }
    }

    /// Lines until one contains `needle` (that one included).
    pub fn until(&mut self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let l = self.next_line();
            let done = l.contains(needle);
            seen.push(l);
            if done {
                return seen;
            }
        }
    }

    /// Waits for the command to end by itself; its exit code.
    pub fn wait(mut self) -> i32 {
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
