//! The transport with the whole pipeline behind it, over real TLS on 127.0.0.1: what a
//! connection's requests share (its memory of the last bearer token's cache key) must never mix
//! up the requests themselves.

#![allow(clippy::unwrap_used)] // a test: a failed step is the failure to report

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{server, ADMIN, ALICE, BOB};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kauth_server::transport::tls::{certificates, provider, server_config, ClientCertificates};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

/// A client's clock, reading the given seconds since the epoch.
#[derive(Debug)]
struct At(i64);

impl rustls::time_provider::TimeProvider for At {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        Some(rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(self.0 as u64)))
    }
}

/// Who the server says the bearer `token` is, asked with a SelfSubjectReview on `send`; the
/// status code and the user name (or the Status message).
async fn who(send: &mut hyper::client::conn::http2::SendRequest<Full<Bytes>>, token: &str) -> (u16, String) {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let request = http::Request::post("https://127.0.0.1/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let answer: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let name = answer["status"]["userInfo"]["username"].as_str().or(answer["message"].as_str()).unwrap_or_default();
    (status, name.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_h2_streams_of_one_connection_each_get_their_own_tokens_user() {
    let s = server();
    let pki = s.options.data_dir.join("pki");
    let read = |f: &str| std::fs::read(pki.join(f)).unwrap();
    let (cert, key, ca) = (read("apiserver.crt"), read("apiserver.key"), read("ca.crt"));
    let client_ca = ClientCertificates::from_pem("client CA", &ca).unwrap();
    let tls = Arc::new(server_config(("cert", &cert), ("key", &key), Some(&client_ca)).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(kauth_server::transport::http::serve(s.state.clone(), listener, tls, async {
        let _ = stopped.await;
    }));

    let mut roots = RootCertStore::empty();
    for c in certificates("CA", &ca).unwrap() {
        roots.add(c).unwrap();
    }
    // The shared PKI was made at the fake clock's start: the client checks it at that time too.
    let mut config = ClientConfig::builder_with_details(provider(), Arc::new(At(s.clock.now().unix_timestamp())))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(address).await.unwrap();
    let tls =
        TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("127.0.0.1").unwrap(), tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
    tokio::spawn(connection);

    // Three users and a token nobody knows, interleaved on the one connection, many at once.
    let tokens =
        [(ADMIN, 201, "admin"), (ALICE, 201, "alice"), ("nobodys-token", 401, "Unauthorized"), (BOB, 201, "bob")];
    let mut asked = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (token, status, name) = tokens[i % tokens.len()];
        let mut send = send.clone();
        asked.spawn(async move { (who(&mut send, token).await, (status, name.to_owned())) });
    }
    let mut answered = 0;
    while let Some(done) = asked.join_next().await {
        let (got, want) = done.unwrap();
        assert_eq!(got, want);
        answered += 1;
    }
    assert_eq!(answered, 200);
    stop.send(()).unwrap();
    serving.await.unwrap();
}
