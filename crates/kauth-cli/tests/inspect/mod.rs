//! What the `kauth inspect` tests share: a cluster's PKI, a policy and seed 000's token; the
//! page's process; plain HTTP calls; a recording proxy (the browser's only way out of
//! 127.0.0.1); chromedriver with headless Chromium.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::common::{kauth, s};

/// A `kauth inspect` process, stopped (by PID, and through its stdin) when dropped.
pub struct Inspect {
    /// `http://127.0.0.1:PORT/KEY/`.
    pub url: String,
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Inspect {
    /// Starts `kauth inspect ARGS` and reads the URL it prints.
    pub fn start(args: &[&str]) -> Inspect {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kauth"))
            .arg("inspect")
            .args(args)
            .arg("--exit-on-stdin-close")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("kauth inspect serving on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Inspect { url, child, _stdout: stdout }
    }

    /// `http://127.0.0.1:PORT`, without the key.
    pub fn origin(&self) -> &str {
        let after_scheme = "http://".len();
        let end = self.url[after_scheme..].find('/').map(|i| i + after_scheme).unwrap_or(self.url.len());
        &self.url[..end]
    }
}

impl Drop for Inspect {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP proxy on 127.0.0.1 that records every request sent to it and answers 403. The
/// browser is pointed at it, so anything the page tried to load from outside 127.0.0.1 shows
/// up here (Chromium sends loopback requests directly).
pub struct RecordingProxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    pub async fn start() -> RecordingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let record = record.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        record.lock().unwrap().push(format!("{} {}", req.method(), req.uri()));
                        async {
                            let mut r =
                                hyper::Response::new(Full::new(Bytes::from_static(b"blocked by the test's proxy\n")));
                            *r.status_mut() = http::StatusCode::FORBIDDEN;
                            Ok::<_, std::convert::Infallible>(r)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RecordingProxy { port, seen }
    }

    /// What was asked of it since the last call, less Chromium's own calls to Google's services
    /// (sign-in, updates: made by the browser whatever the page, and no flag stops the
    /// sign-in check of a fresh profile). The page names none of these hosts: its HTML, CSS and
    /// script name no other origin at all (`kauth inspect`'s unit tests), and its CSP allows none.
    pub fn take(&self) -> Vec<String> {
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        seen.into_iter().filter(|r| !is_browser_service(r)).collect()
    }
}

/// Whether a request line (`CONNECT host:443`, `GET http://host/...`) goes to one of Chromium's
/// own Google services.
fn is_browser_service(request: &str) -> bool {
    let target = request.split(' ').nth(1).unwrap_or("");
    let host = target.trim_start_matches("http://").trim_start_matches("https://");
    let host = host.split(['/', ':']).next().unwrap_or("");
    ["google.com", "googleapis.com", "gvt1.com", "gstatic.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// chromedriver on a port it picks, stopped when dropped.
pub struct Driver {
    pub url: String,
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Driver {
    pub fn start() -> Driver {
        // Port 0: chromedriver picks a free port and prints it.
        let mut child = Command::new("chromedriver")
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut port = None;
        let mut line = String::new();
        while port.is_none() {
            line.clear();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "chromedriver ended before it listened");
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                port = Some(rest.trim().trim_end_matches('.').to_owned());
            }
        }
        Driver { url: format!("http://127.0.0.1:{}", port.unwrap()), child, _stdout: stdout }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The WebDriver capabilities: headless Chromium, a fresh profile, nothing in the background,
/// every request that leaves loopback sent to `proxy_port`.
pub fn capabilities(profile: &Path, proxy_port: u16) -> serde_json::Map<String, serde_json::Value> {
    let binary = super::common::tools::chromium_binary().expect("chromium");
    let args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-default-apps".into(),
        "--disable-sync".into(),
        "--disable-extensions".into(),
        "--disable-domain-reliability".into(),
        "--disable-client-side-phishing-detection".into(),
        "--no-first-run".into(),
        "--incognito".into(),
        "--no-default-browser-check".into(),
        "--no-pings".into(),
        "--metrics-recording-only".into(),
        "--disable-features=OptimizationHints,Translate,MediaRouter,AutofillServerCommunication".into(),
        "--window-size=1280,1000".into(),
        format!("--user-data-dir={}", profile.display()),
        format!("--proxy-server=http://127.0.0.1:{proxy_port}"),
    ];
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": binary, "args": args },
    });
    caps.as_object().unwrap().clone()
}

/// Where the screenshots go: the target directory's test scratch space (never committed).
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspect-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Ann may read pods in team, nothing more.
pub const POLICY: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ann-reads-pods, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: User, name: ann}]
"#;

/// A cluster's PKI, its JWKS, a policy file, and seed 000's situation: a token issued by a node
/// whose clock is 90 s ahead of this one (iat = nbf = now + 90 s). The page evaluates at a fixed
/// `now` (`--now`), taken once from the clock so the PKI made for the test is valid then.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub token: String,
    pub now: i64,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let r = kauth(&["pki", "init", "--dir", s(dir.path()), "--node-name", "cp-1"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let sa_pub = dir.path().join("pki/sa.pub");
        let r = kauth(&["token", "jwks", "--key", s(&sa_pub)]);
        std::fs::write(dir.path().join("jwks.json"), r.stdout).unwrap();
        std::fs::write(dir.path().join("policy.yaml"), POLICY).unwrap();
        let sa_key = dir.path().join("pki/sa.key");
        #[allow(clippy::disallowed_methods)] // the test's one reading of the clock, as an input
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let issued = format!("@{}", now + 90);
        let r = kauth(&[
            "token",
            "create",
            "--key",
            s(&sa_key),
            "-n",
            "argo-run",
            "--service-account",
            "loofah",
            "--uid",
            "4e35d20f-58b7-415b-8fa1-5a9929d3f2ea",
            "--bound-pod",
            "jz-20:9357673e",
            "--duration",
            "3607s",
            "--now",
            &issued,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        Fixture { token: r.stdout.trim().to_owned(), dir, now }
    }

    pub fn inspect(&self) -> Inspect {
        let d = self.dir.path();
        Inspect::start(&[
            "--jwks",
            s(&d.join("jwks.json")),
            "--issuer",
            ISSUER,
            "-f",
            s(&d.join("policy.yaml")),
            "--now",
            &format!("@{}", self.now),
        ])
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// GET `url` without a browser: status and body.
pub async fn get(url: &str) -> (u16, String) {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// POST a form to `url`: status and body.
pub async fn post(url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
