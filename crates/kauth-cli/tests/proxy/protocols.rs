//! The upstream side's protocols: HTTP/2 to an upstream that offers it by ALPN (and h2c under
//! `--upstream-force-h2c`), HTTP/2 from clients (curl --http2), and upgrades passed through:
//! after a 101 the client's bytes reach the upstream and come back. The upstream here is a
//! hyper server in the test that reports the version it was spoken to in and the identity
//! headers it received.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kauth_server::transport::tls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::server::Server;
use super::common::tools::{require, Tool};
use super::{bearer, header, pki, setup, start_proxy};

/// Answers with the version and headers it saw; a request asking to upgrade to `echo` gets a
/// 101 (telling the user header it saw in `X-Seen-User`), then its bytes echoed back.
async fn echo(mut request: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let mut seen = format!("version: {:?}\n", request.version());
    for (k, v) in request.headers() {
        seen.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("?")));
    }
    if request.headers().get("upgrade").is_some_and(|v| v == "echo") {
        let users: Vec<&str> =
            request.headers().get_all("x-remote-user").iter().filter_map(|v| v.to_str().ok()).collect();
        let answer = http::Response::builder()
            .status(101)
            .header("connection", "Upgrade")
            .header("upgrade", "echo")
            .header("x-seen-user", users.join("|"))
            .body(Full::default())
            .unwrap();
        let on = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let Ok(upgraded) = on.await else { return };
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 1024];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        return Ok(answer);
    }
    Ok(http::Response::new(Full::new(Bytes::from(seen))))
}

/// The echo upstream, over TLS with the cluster's serving certificate (ALPN h2 and http/1.1)
/// or plain (HTTP/1.1, or h2 by prior knowledge).
fn hyper_upstream(s: &Server, over_tls: bool) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let config = over_tls.then(|| {
        let cert = std::fs::read(pki(s, "apiserver.crt")).unwrap();
        let key = std::fs::read(pki(s, "apiserver.key")).unwrap();
        Arc::new(tls::server_config(("cert", &cert), ("key", &key), None).unwrap())
    });
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let config = config.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(echo);
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match config {
                        Some(c) => {
                            let Ok(stream) = tokio_rustls::TlsAcceptor::from(c).accept(tcp).await else { return };
                            let _ = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).await;
                        }
                        None => {
                            let _ = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
    });
    format!("{}://{addr}/", if over_tls { "https" } else { "http" })
}

/// curl with `args`; the body and the HTTP version curl spoke.
fn curl_version(s: &Server, url: &str, args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--cacert", &pki(s, "ca.crt"), "-w", "\n%{http_version}"])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, version) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), version.to_owned())
}

#[test]
fn http2_on_both_sides_when_offered() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, _) = setup(&s);
    let up = hyper_upstream(&s, true);
    let p = start_proxy(&s, &up, &["--auth-header-fields-enabled", "--upstream-ca-file", &pki(&s, "ca.crt")]);
    let url = format!("{}/metrics", p.url);
    let forged = ["-H", "X-Remote-User: system:admin"];

    let (body, version) = curl_version(&s, &url, &[&["--http2", "-H", &bearer(&reader)][..], &forged].concat());
    assert_eq!(version, "2", "the client spoke HTTP/2 to the proxy");
    assert!(body.starts_with("version: HTTP/2.0\n"), "the upstream was spoken to in HTTP/2: {body}");
    assert_eq!(header(&body, "x-remote-user"), ["system:serviceaccount:default:reader"]);

    // HTTP/1.1 from the client changes nothing upstream: the pool's connection is HTTP/2.
    let (body, version) = curl_version(&s, &url, &["--http1.1", "-H", &bearer(&reader)]);
    assert_eq!(version, "1.1");
    assert!(body.starts_with("version: HTTP/2.0\n"), "{body}");

    // Refusals are unchanged over HTTP/2.
    let (body, _) = curl_version(&s, &url, &["--http2", "-H", &bearer("not-a-token")]);
    assert_eq!(body, "Unauthorized\n");
}

#[test]
fn http2_disable_serves_clients_http_1_1_only() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, _) = setup(&s);
    let up = hyper_upstream(&s, true);
    let ca = pki(&s, "ca.crt");
    let p = start_proxy(&s, &up, &["--http2-disable", "--upstream-ca-file", &ca]);
    let url = format!("{}/metrics", p.url);
    let (body, version) = curl_version(&s, &url, &["--http2", "-H", &bearer(&reader)]);
    assert_eq!(version, "1.1", "ALPN offered no h2: {body}");
    assert!(body.starts_with("version: HTTP/2.0\n"), "the upstream side is unchanged: {body}");
    let (_, version) = curl_version(&s, &url, &["--http2-prior-knowledge", "-H", &bearer(&reader)]);
    assert_ne!(version, "2", "no HTTP/2 by prior knowledge either");
}

#[test]
fn upstream_force_h2c_speaks_http2_in_clear() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, _) = setup(&s);
    let up = hyper_upstream(&s, false);
    let url_of = |p: &super::Proxy| format!("{}/metrics", p.url);
    let plain = start_proxy(&s, &up, &[]);
    let (body, _) = curl_version(&s, &url_of(&plain), &["-H", &bearer(&reader)]);
    assert!(body.starts_with("version: HTTP/1.1\n"), "plain http:// is HTTP/1.1 unless forced: {body}");
    let forced = start_proxy(&s, &up, &["--upstream-force-h2c"]);
    let (body, _) = curl_version(&s, &url_of(&forced), &["-H", &bearer(&reader)]);
    assert!(body.starts_with("version: HTTP/2.0\n"), "{body}");
}

/// Sends an upgrade request for `echo` through the proxy at `url` with `token`; the answer's
/// head, and the TLS stream when it was a 101.
fn upgrade(s: &Server, url: &str, token: &str) -> (String, rustls::StreamOwned<rustls::ClientConnection, TcpStream>) {
    let address = url.strip_prefix("https://").unwrap().trim_end_matches('/');
    let mut roots = rustls::RootCertStore::empty();
    for c in tls::certificates("ca", &std::fs::read(pki(s, "ca.crt")).unwrap()).unwrap() {
        roots.add(c).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, TcpStream::connect(address).unwrap());
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\n{}\r\nX-Remote-User: system:admin\r\n\
         Connection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        bearer(token)
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    (String::from_utf8(head).unwrap(), stream)
}

#[test]
fn upgrades_pass_through_after_authentication() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let (reader, nobody) = setup(&s);
    let up = hyper_upstream(&s, true);
    let p = start_proxy(&s, &up, &["--auth-header-fields-enabled", "--upstream-ca-file", &pki(&s, "ca.crt")]);

    let (head, mut stream) = upgrade(&s, &p.url, &reader);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(header(&head, "upgrade"), ["echo"]);
    assert_eq!(
        header(&head, "x-seen-user"),
        ["system:serviceaccount:default:reader"],
        "the upstream saw the proxy's user header only, not the forged one"
    );
    for message in [&b"hello through the proxy"[..], b"and again"] {
        stream.write_all(message).unwrap();
        let mut back = vec![0u8; message.len()];
        stream.read_exact(&mut back).unwrap();
        assert_eq!(back, message);
    }

    // No upgrade without authentication and authorization.
    let (head, _) = upgrade(&s, &p.url, "not-a-token");
    assert!(head.starts_with("HTTP/1.1 401 "), "{head}");
    let (head, _) = upgrade(&s, &p.url, &nobody);
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
}
