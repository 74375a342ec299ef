//! `kauth proxy` in front of a tiny upstream in this test, with `kauth serve` as the cluster it
//! asks (TokenReview, SubjectAccessReview), driven by curl: a valid token reaches the upstream
//! with the user in the auth header fields; identity headers a client forges never do; a bad
//! token is 401, a denied user 403, with kube-rbac-proxy's texts; allow and ignore paths; the
//! config file's resourceAttributes, rewrites and static rules; client certificates; the
//! TokenReview cache counted at the cluster.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "proxy/protocols.rs"]
mod protocols;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::server::Server;
use common::tools::{require, Tool};

/// An HTTP/1.1 upstream answering every request with 200 and the request's head as the body.
fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                    head.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            });
        }
    });
    format!("http://{addr}/")
}

/// An upstream answering with a chunked body: "first" at once, "second" only once `go`
/// receives (or after a minute, so a buffering proxy fails the test rather than hanging it).
/// The returned receiver says whether `go` came before the upstream gave up waiting.
fn streaming_upstream() -> (String, std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (told, in_time) = std::sync::mpsc::channel::<bool>();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
        stream.write_all(format!("{head}6\r\nfirst\n\r\n").as_bytes()).unwrap();
        stream.flush().unwrap();
        let ok = wait.recv_timeout(std::time::Duration::from_secs(60)).is_ok();
        let _ = told.send(ok);
        let _ = stream.write_all(b"7\r\nsecond\n\r\n0\r\n\r\n");
    });
    (format!("http://{addr}/"), go, in_time)
}

struct Proxy {
    url: String,
    endpoints: Option<String>,
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pki(s: &Server, name: &str) -> String {
    s.dir.join("pki").join(name).to_str().unwrap().to_owned()
}

fn start_proxy(s: &Server, upstream: &str, extra: &[&str]) -> Proxy {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kauth"))
        .args(["proxy", "--upstream", upstream, "--secure-listen-address", "127.0.0.1:0"])
        .args(["--tls-cert-file", &pki(s, "apiserver.crt"), "--tls-private-key-file", &pki(s, "apiserver.key")])
        .args(["--kubeconfig", s.dir.join("admin.conf").to_str().unwrap()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("kauth proxy serving on ").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    let endpoints = extra.contains(&"--proxy-endpoints-port").then(|| {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        line.trim().strip_prefix("kauth proxy endpoints on ").unwrap().to_owned()
    });
    Proxy { url, endpoints, child, _stdout: stdout }
}

struct Answer {
    code: u16,
    body: String,
}

fn curl(s: &Server, url: &str, args: &[&str]) -> Answer {
    curl_ca(&pki(s, "ca.crt"), url, args)
}

fn curl_ca(ca: &str, url: &str, args: &[&str]) -> Answer {
    let out = Command::new("curl")
        .args(["-sS", "--cacert", ca, "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) =
        text.rsplit_once('\n').unwrap_or_else(|| panic!("{text} {}", String::from_utf8_lossy(&out.stderr)));
    Answer { code: code.parse().unwrap_or(0), body: body.to_owned() }
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

/// The upstream's view of a request's header, lower-cased name.
fn header<'a>(echo: &'a str, name: &str) -> Vec<&'a str> {
    echo.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn token_reviews(s: &Server) -> u64 {
    let metrics = s.kubectl(&["get", "--raw", "/metrics"]).ok();
    metrics
        .lines()
        .filter(|l| l.starts_with("kauth_tokenreviews_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn setup(s: &Server) -> (String, String) {
    let apply = |yaml: &str| s.kubectl_in(&["apply", "-f", "-"], Some(yaml.as_bytes())).ok();
    s.kubectl(&["create", "serviceaccount", "reader"]).ok();
    s.kubectl(&["create", "serviceaccount", "nobody"]).ok();
    s.kubectl(&["create", "namespace", "team-a"]).ok();
    apply(
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: metrics-reader}
rules:
- nonResourceURLs: ["/metrics", "/stream"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: metrics-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: metrics-reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team-a}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-reader, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: default}
"#,
    );
    let token = |sa: &str| s.kubectl(&["create", "token", sa]).ok().trim().to_owned();
    (token("reader"), token("nobody"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn the_proxy_authenticates_authorizes_and_strips_like_kube_rbac_proxy() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, nobody) = setup(&s);
    let up = upstream();
    let config = write(
        dir.path(),
        "static.yaml",
        "authorization:\n  static:\n  - user: {name: system:serviceaccount:default:nobody}\n    verb: get\n    path: /static\n",
    );
    let p = start_proxy(
        &s,
        &up,
        &[
            "--auth-header-fields-enabled",
            "--ignore-paths",
            "/healthz,/public/*",
            "--client-ca-file",
            &pki(&s, "ca.crt"),
            "--config-file",
            config.to_str().unwrap(),
            "--proxy-endpoints-port",
            "0",
        ],
    );
    let url = |path: &str| format!("{}{path}", p.url);

    // A valid token: the upstream gets the user and groups, and nothing the client forged.
    let before = token_reviews(&s);
    let a = curl(
        &s,
        &url("/metrics"),
        &[
            "-H",
            &bearer(&reader),
            "-H",
            "X-Remote-User: system:admin",
            "-H",
            "X-Remote-Group: system:masters",
            "-H",
            "x-remote-groups: system:masters",
            "-H",
            "X-Remote-Extra-Scopes: all",
        ],
    );
    assert_eq!(a.code, 200, "{}", a.body);
    assert_eq!(header(&a.body, "x-remote-user"), ["system:serviceaccount:default:reader"], "{}", a.body);
    assert_eq!(
        header(&a.body, "x-remote-groups"),
        ["system:serviceaccounts|system:serviceaccounts:default|system:authenticated"],
        "{}",
        a.body
    );
    assert!(header(&a.body, "x-remote-group").is_empty(), "forged group reached the upstream: {}", a.body);
    assert!(header(&a.body, "x-remote-extra-scopes").is_empty(), "forged extra reached the upstream: {}", a.body);

    // The same token twice more: one TokenReview in all, counted at the cluster.
    for _ in 0..2 {
        assert_eq!(curl(&s, &url("/metrics"), &["-H", &bearer(&reader)]).code, 200);
    }
    assert_eq!(token_reviews(&s) - before, 1, "the TokenReview cache did not answer the repeats");

    // A bad token: kube-rbac-proxy's 401.
    let a = curl(&s, &url("/metrics"), &["-H", &bearer("not-a-token")]);
    assert_eq!((a.code, a.body.as_str()), (401, "Unauthorized\n"));
    // No credential at all.
    assert_eq!(curl(&s, &url("/metrics"), &[]).code, 401);

    // Authenticated, not allowed: kube-rbac-proxy's 403 text.
    let a = curl(&s, &url("/metrics"), &["-H", &bearer(&nobody)]);
    assert_eq!(a.code, 403);
    assert_eq!(a.body, "Forbidden (user=system:serviceaccount:default:nobody, verb=get, resource=, subresource=)\n");
    // The verb is kube-rbac-proxy's mapping of the method: POST is create, not allowed.
    let a = curl(&s, &url("/metrics"), &["-X", "POST", "-H", &bearer(&reader)]);
    assert_eq!(a.code, 403);
    assert!(a.body.contains("verb=create"), "{}", a.body);

    // A static rule allows without the cluster's RBAC.
    assert_eq!(curl(&s, &url("/static"), &["-H", &bearer(&nobody)]).code, 200);

    // Ignored paths pass unauthenticated, and still without forged identity headers.
    let a = curl(&s, &url("/public/x"), &["-H", "X-Remote-User: system:admin", "-H", "x-remote-user: root"]);
    assert_eq!(a.code, 200, "{}", a.body);
    assert!(header(&a.body, "x-remote-user").is_empty(), "{}", a.body);
    assert_eq!(curl(&s, &url("/healthz"), &[]).code, 200);
    assert_eq!(curl(&s, &url("/public/x/y"), &[]).code, 401, "* does not cross /");
    // Matched decoded, as kube-rbac-proxy matches Go's URL.Path: an encoded slash is a slash.
    assert_eq!(curl(&s, &url("/public/..%2Fadmin"), &["--path-as-is"]).code, 401, "an encoded / crossed *");
    assert_eq!(curl(&s, &url("/public/x%2Fy"), &[]).code, 401, "an encoded / crossed *");

    // A client certificate from the client CA: the admin (system:masters) is allowed.
    let (crt, key) = admin_identity(&s, dir.path());
    let a = curl(&s, &url("/anything"), &["--cert", crt.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert_eq!(a.code, 200, "{}", a.body);
    assert_eq!(header(&a.body, "x-remote-user"), ["kubernetes-admin"], "{}", a.body);
    // A certificate from another CA (the front proxy's) names no one here.
    let a = curl(
        &s,
        &url("/anything"),
        &["--cert", &pki(&s, "front-proxy-client.crt"), "--key", &pki(&s, "front-proxy-client.key")],
    );
    assert_eq!(a.code, 401, "{}", a.body);

    // The proxy's metrics carry the precise reasons and the SubjectAccessReview cache's hits.
    let m = curl(&s, &format!("{}/metrics", p.endpoints.as_ref().unwrap()), &[]);
    assert!(m.body.contains(r#"kauth_proxy_requests_total{outcome="tokenreview_unauthenticated"} 1"#), "{}", m.body);
    assert!(m.body.contains(r#"kauth_proxy_requests_total{outcome="anonymous_disabled"} 4"#), "{}", m.body);
    assert!(m.body.contains(r#"kauth_proxy_requests_total{outcome="forbidden"} 2"#), "{}", m.body);
    assert!(
        m.body.contains(r#"kauth_proxy_review_cache_total{result="hit",review="subjectaccessreview"} 2"#),
        "{}",
        m.body
    );
}

#[test]
fn allow_paths_resource_attributes_and_rewrites() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, _) = setup(&s);
    let up = upstream();
    let config = write(
        dir.path(),
        "rewrites.yaml",
        r#"
authorization:
  rewrites:
    byQueryParameter: {name: namespace}
    byHttpHeader: {name: x-namespace}
  resourceAttributes:
    apiVersion: v1
    resource: pods
    namespace: "{{ .Value }}"
"#,
    );
    let p = start_proxy(&s, &up, &["--allow-paths", "/pods,/api/*", "--config-file", config.to_str().unwrap()]);
    let url = |path: &str| format!("{}{path}", p.url);
    let auth = bearer(&reader);

    // Outside --allow-paths: Go's 404, before any authentication.
    let a = curl(&s, &url("/metrics"), &[]);
    assert_eq!((a.code, a.body.as_str()), (404, "404 page not found\n"));

    // reader may get pods in team-a only; one question per value, all must be allowed.
    assert_eq!(curl(&s, &url("/pods?namespace=team-a"), &["-H", &auth]).code, 200);
    assert_eq!(curl(&s, &url("/pods"), &["-H", &auth, "-H", "X-Namespace: team-a"]).code, 200);
    let a = curl(&s, &url("/pods?namespace=default"), &["-H", &auth]);
    assert_eq!(a.code, 403);
    assert_eq!(
        a.body,
        "Forbidden (user=system:serviceaccount:default:reader, verb=get, resource=pods, subresource=)\n"
    );
    assert_eq!(curl(&s, &url("/pods?namespace=team-a"), &["-H", &auth, "-H", "X-Namespace: default"]).code, 403);
    // No value to put in the template: kube-rbac-proxy's 400.
    let a = curl(&s, &url("/pods"), &["-H", &auth]);
    assert_eq!((a.code, a.body.as_str()), (400, "Bad Request. The request or configuration is malformed.\n"));
}

#[test]
fn streaming_responses_pass_through_as_they_come() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, _) = setup(&s);
    let (up, go, in_time) = streaming_upstream();
    let p = start_proxy(&s, &up, &[]);
    let mut curl = Command::new("curl")
        .args(["-sS", "-N", "--cacert", &pki(&s, "ca.crt"), "-H", &bearer(&reader)])
        .arg(format!("{}/stream", p.url))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(curl.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "first\n");
    // Only now may the upstream send the rest: the first chunk came through on its own.
    go.send(()).unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "second\n");
    assert!(in_time.recv().unwrap(), "the upstream gave up waiting: the proxy held the first chunk back");
    curl.wait().unwrap();
}

#[test]
fn cached_answers_stand_in_while_the_cluster_is_down_then_503() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, nobody) = setup(&s);
    let up = upstream();
    // No fresh caching at all: every answer below after the kill is a stale one, or none.
    let p = start_proxy(
        &s,
        &up,
        &[
            "--auth-token-cache-ttl",
            "0s",
            "--authz-allowed-cache-ttl",
            "0s",
            "--authz-denied-cache-ttl",
            "0s",
            "--serve-stale-max-age",
            "1h",
            "--proxy-endpoints-port",
            "0",
        ],
    );
    let url = |path: &str| format!("{}{path}", p.url);
    assert_eq!(curl(&s, &url("/metrics"), &["-H", &bearer(&reader)]).code, 200);
    assert_eq!(curl(&s, &url("/metrics"), &["-H", &bearer(&nobody)]).code, 403);
    let ca = pki(&s, "ca.crt");
    s.kill9();

    // The cluster is gone: what was answered before is answered the same way.
    assert_eq!(curl_ca(&ca, &url("/metrics"), &["-H", &bearer(&reader)]).code, 200);
    assert_eq!(curl_ca(&ca, &url("/metrics"), &["-H", &bearer(&nobody)]).code, 403);
    // A question never asked, or a token never seen: a clear 503, not a 401 or 403.
    let a = curl_ca(&ca, &url("/stream"), &["-H", &bearer(&reader)]);
    assert_eq!((a.code, a.body.as_str()), (503, "Service Unavailable\n"));
    assert_eq!(curl_ca(&ca, &url("/metrics"), &["-H", &bearer("never-seen")]).code, 503);

    let m = curl_ca(&ca, &format!("{}/metrics", p.endpoints.as_ref().unwrap()), &[]);
    assert!(m.body.contains(r#"kauth_proxy_review_cache_total{result="stale",review="tokenreview"} 3"#), "{}", m.body);
    assert!(
        m.body.contains(r#"kauth_proxy_review_cache_total{result="stale",review="subjectaccessreview"} 2"#),
        "{}",
        m.body
    );
    assert!(m.body.contains(r#"kauth_proxy_requests_total{outcome="cluster_unavailable"} 2"#), "{}", m.body);
}

#[test]
fn local_modes_answer_as_token_and_subject_access_reviews_do() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, nobody) = setup(&s);
    // A token whose service account is deleted before the proxies start.
    s.kubectl(&["create", "serviceaccount", "gone"]).ok();
    let gone = s.kubectl(&["create", "token", "gone"]).ok().trim().to_owned();
    s.kubectl(&["delete", "serviceaccount", "gone"]).ok();
    let config = write(
        dir.path(),
        "pods.yaml",
        "authorization:\n  rewrites:\n    byQueryParameter: {name: namespace}\n  resourceAttributes: {apiVersion: v1, resource: pods, namespace: '{{.Value}}'}\n",
    );
    let up = upstream();
    let ca_flags = ["--client-ca-file", &pki(&s, "ca.crt")].map(str::to_owned);
    let proxies: Vec<(Proxy, Proxy)> = [None, Some(config.to_str().unwrap())]
        .into_iter()
        .map(|cfg| {
            let mut flags: Vec<&str> = ca_flags.iter().map(String::as_str).collect();
            if let Some(c) = cfg {
                flags.extend(["--config-file", c]);
            }
            let sar = start_proxy(&s, &up, &flags);
            flags.extend(["--local-rbac", "--local-authentication", "--proxy-endpoints-port", "0"]);
            (sar, start_proxy(&s, &up, &flags))
        })
        .collect();
    let (crt, key) = admin_identity(&s, dir.path());
    let reader_h = bearer(&reader);
    let nobody_h = bearer(&nobody);
    let gone_h = bearer(&gone);
    let users: [(&str, Vec<&str>); 6] = [
        ("reader", vec!["-H", &reader_h]),
        ("nobody", vec!["-H", &nobody_h]),
        ("admin", vec!["--cert", crt.to_str().unwrap(), "--key", key.to_str().unwrap()]),
        ("deleted service account", vec!["-H", &gone_h]),
        ("not a token", vec!["-H", "Authorization: Bearer nonsense"]),
        ("no credential", vec![]),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (i, (sar, local)) in proxies.iter().enumerate() {
        let paths: &[&str] =
            if i == 0 { &["/metrics", "/stream", "/other"] } else { &["/?namespace=team-a", "/?namespace=default"] };
        for (who, creds) in &users {
            for path in paths {
                for verb in ["GET", "POST", "DELETE", "PATCH"] {
                    let mut args = creds.clone();
                    args.extend(["-X", verb]);
                    let by_sar = curl(&s, &format!("{}{path}", sar.url), &args);
                    let by_local = curl(&s, &format!("{}{path}", local.url), &args);
                    // A refusal's text, compared; a success's body is the upstream's echo.
                    let answer = |a: &Answer| (a.code, if a.code == 200 { String::new() } else { a.body.clone() });
                    assert_eq!(
                        answer(&by_local),
                        answer(&by_sar),
                        "{who} {verb} {path}: the local modes and the reviews disagree"
                    );
                    seen.insert(by_sar.code);
                }
            }
        }
    }
    assert_eq!(seen, [200, 401, 403].into(), "the matrix holds every answer");
    // The local proxy asks the cluster nothing per token: a fresh token costs no TokenReview.
    let fresh = s.kubectl(&["create", "token", "reader"]).ok().trim().to_owned();
    let before = token_reviews(&s);
    for _ in 0..3 {
        assert_eq!(curl(&s, &format!("{}/metrics", proxies[0].1.url), &["-H", &bearer(&fresh)]).code, 200);
    }
    assert_eq!(token_reviews(&s), before, "the local proxy sent a TokenReview");
    let m = curl(&s, &format!("{}/metrics", proxies[0].1.endpoints.as_ref().unwrap()), &[]);
    assert!(m.body.contains("kauth_proxy_local_rbac_age_seconds"), "{}", m.body);
    assert!(!m.body.contains("kauth_proxy_local_rbac_objects 0"), "{}", m.body);
}

/// The local copies are kept by watches: a binding made or a service account deleted after the
/// proxy started takes effect with no relist (the relist period is an hour); the first list is
/// read in pages (a binding on its second page counts).
#[test]
fn local_copies_follow_the_cluster_by_watch_and_read_lists_in_pages() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, nobody) = setup(&s);
    // 600 bindings before the one that matters: it is on the list's second page of 500.
    let mut fillers = String::new();
    for i in 0..600 {
        fillers.push_str(&format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: filler-{i:03}}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: metrics-reader}}\n\
             subjects: [{{kind: User, name: someone-{i}}}]\n"
        ));
    }
    s.kubectl_in(&["create", "-f", "-"], Some(fillers.as_bytes())).ok();
    s.kubectl(&["create", "serviceaccount", "late"]).ok();
    s.kubectl(&[
        "create",
        "clusterrolebinding",
        "zz-late",
        "--clusterrole=metrics-reader",
        "--serviceaccount=default:late",
    ])
    .ok();
    let late = s.kubectl(&["create", "token", "late"]).ok().trim().to_owned();

    let up = upstream();
    let flags =
        ["--local-rbac", "--local-authentication", "--local-relist-period", "1h", "--proxy-endpoints-port", "0"];
    let p = start_proxy(&s, &up, &flags);
    let metrics_url = format!("{}/metrics", p.url);
    let get = |token: &str| curl(&s, &metrics_url, &["-H", &bearer(token)]).code;
    assert_eq!(get(&late), 200, "the binding on the second page was read");
    assert_eq!(get(&reader), 200);
    assert_eq!(get(&nobody), 403);

    // Waits (up to 20 s) for the proxy's answer to `token` to become `code`.
    let eventually = |token: &str, code: u16| {
        for _ in 0..100 {
            if get(token) == code {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        false
    };
    s.kubectl(&[
        "create",
        "clusterrolebinding",
        "nobody",
        "--clusterrole=metrics-reader",
        "--serviceaccount=default:nobody",
    ])
    .ok();
    assert!(eventually(&nobody, 200), "a binding made after the start reached the copy");
    s.kubectl(&["delete", "serviceaccount", "reader"]).ok();
    assert!(eventually(&reader, 401), "a deleted service account's token is refused");
    s.kubectl(&["delete", "clusterrolebinding", "nobody"]).ok();
    assert!(eventually(&nobody, 403), "a deleted binding no longer allows");

    let m = curl(&s, &format!("{}/metrics", p.endpoints.as_ref().unwrap()), &[]);
    assert!(m.body.contains("kauth_proxy_local_rbac_age_seconds 0\n"), "current while watched: {}", m.body);
    let objects = m.body.lines().find_map(|l| l.strip_prefix("kauth_proxy_local_rbac_objects ")).unwrap();
    assert!(objects.parse::<u64>().unwrap() > 600, "{objects}");
}

/// kube-rbac-proxy's `--oidc-*` flags: an OIDC issuer's tokens validated in the proxy with no
/// TokenReview (the cluster's TokenReview count does not move); the username and groups claims
/// with their prefixes; the wrong audience and an unbound user refused; a key the issuer
/// rotates in accepted (its keys fetched again on the unknown kid).
#[test]
fn oidc_tokens_are_validated_in_the_proxy_as_kube_rbac_proxy_does() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, _) = setup(&s);
    s.kubectl(&["create", "clusterrolebinding", "oidc-ops", "--clusterrole=metrics-reader", "--group=oidc:ops"]).ok();
    let issuer = common::oidc_issuer::OidcIssuer::start("");
    let ca = issuer.write_ca(dir.path(), "oidc-ca.crt");
    let up = upstream();
    let flags = [
        "--oidc-issuer",
        &issuer.url,
        "--oidc-clientID",
        "metrics",
        "--oidc-ca-file",
        ca.to_str().unwrap(),
        "--oidc-username-prefix",
        "oidc:",
        "--oidc-groups-prefix",
        "oidc:",
        "--auth-header-fields-enabled",
    ];
    let p = start_proxy(&s, &up, &flags);
    let url = format!("{}/metrics", p.url);
    let token = |sub: &str, aud: &str, groups: &[&str]| {
        let mut claims = issuer.claims(sub, aud);
        claims["email"] = format!("{sub}@example.com").into();
        claims["email_verified"] = true.into();
        claims["groups"] = serde_json::json!(groups);
        issuer.mint(&claims)
    };
    let alice = token("alice", "metrics", &["ops"]);
    // The issuer's keys are fetched in the background at start: wait for the first success.
    let mut answer = curl(&s, &url, &["-H", &bearer(&alice)]);
    for _ in 0..100 {
        if answer.code == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        answer = curl(&s, &url, &["-H", &bearer(&alice)]);
    }
    assert_eq!(answer.code, 200, "{}", answer.body);
    assert_eq!(header(&answer.body, "x-remote-user"), ["oidc:alice@example.com"], "the email claim, prefixed");
    assert_eq!(header(&answer.body, "x-remote-groups"), ["oidc:ops|system:authenticated"]);
    let before = token_reviews(&s);
    assert_eq!(curl(&s, &url, &["-H", &bearer(&token("bob", "metrics", &["dev"]))]).code, 403, "not bound");
    assert_eq!(curl(&s, &url, &["-H", &bearer(&token("alice", "other", &["ops"]))]).code, 401, "wrong audience");
    assert_eq!(curl(&s, &url, &["-H", &bearer(&reader)]).code, 401, "a service-account token is not the issuer's");
    assert_eq!(token_reviews(&s), before, "no TokenReview was sent");
    // The issuer rotates its key: a token of the new key makes the proxy fetch the keys again,
    // once the fetcher's rate limit (one fetch per 10 s on unknown key ids) allows.
    issuer.rotate(false);
    let rotated = token("alice", "metrics", &["ops"]);
    let mut code = 0;
    for _ in 0..150 {
        code = curl(&s, &url, &["-H", &bearer(&rotated)]).code;
        if code == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(code, 200, "the rotated key was fetched");
    let fetches = issuer.fetches();
    assert!(fetches.jwks <= 3, "the keys were fetched a bounded number of times: {fetches:?}");
}

#[test]
fn bad_flags_and_config_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "c.yaml", "authorization:\n  resourceAtributes: {resource: pods}\n");
    let base = ["proxy", "--upstream", "http://127.0.0.1:1/", "--secure-listen-address", "127.0.0.1:0"];
    let tls = ["--tls-cert-file", "x", "--tls-private-key-file", "y", "--kubeconfig", "z"];
    let mut args = base.to_vec();
    args.extend(tls);
    args.extend(["--config-file", config.to_str().unwrap()]);
    let run = common::kauth(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("resourceAtributes"), "{}", run.stderr);

    let mut args = base.to_vec();
    args.extend(tls);
    args.extend(["--allow-paths", "/a[", "--ignore-paths", "/b"]);
    let run = common::kauth(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);

    let mut args = base.to_vec();
    args.extend(tls);
    args.extend(["--allow-paths", "/a["]);
    let run = common::kauth(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--allow-paths") && run.stderr.contains("/a["), "{}", run.stderr);
}

fn admin_identity(s: &Server, dir: &Path) -> (PathBuf, PathBuf) {
    use base64::Engine;
    let kubeconfig: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(s.dir.join("admin.conf")).unwrap()).unwrap();
    let user = &kubeconfig["users"][0]["user"];
    let (crt, key) = (dir.join("admin.crt"), dir.join("admin.key"));
    for (path, field) in [(&crt, "client-certificate-data"), (&key, "client-key-data")] {
        let der = base64::engine::general_purpose::STANDARD.decode(user[field].as_str().unwrap()).unwrap();
        std::fs::write(path, der).unwrap();
    }
    (crt, key)
}
