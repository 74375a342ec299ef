//! The generated PKI in real TLS, rustls on both sides over loopback: the apiserver certificate
//! serves, client certificates from kubeconfigs authenticate, and foreign or serverAuth-only
//! certificates are rejected by the server. As in kube-apiserver, the handshake only asks for a
//! certificate and checks the client holds its key; the library's x509 authenticator judges the
//! chain after it (`X509Authenticator::verify`), where `kauth serve` authenticates requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use kauth::authn::x509::X509Authenticator;
use kauth::authn::CertificateRejection;
use kauth::pki::init::init;
use kauth::pki::layout::Layout;
use kauth::pki::pem;
use kauth::pki::spec::PkiConfig;
use kauth::pki::KeyType;
use kauth_server::transport::tls::{certificates, private_key, provider, server_config, ClientCertificates};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn pki(dir: &Path) -> Layout {
    let layout = Layout::new(dir);
    let cfg = PkiConfig { node_name: "cp-1".into(), key_type: KeyType::EcdsaP256, ..PkiConfig::default() };
    init(&layout, &cfg, false, time::OffsetDateTime::now_utc()).unwrap();
    layout
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// What the server saw of one connection: the client's CN, `anonymous`, or why it failed.
type Seen = Result<String, Refused>;

/// Why a connection served no user.
#[derive(Debug)]
enum Refused {
    /// The handshake failed (never on the client's chain: the handshake does not judge it).
    Handshake(#[allow(dead_code)] String),
    /// The x509 authenticator refused the client's certificate.
    Certificate(CertificateRejection),
}

/// Serves one connection on a loopback port picked at run time; reports what it saw.
async fn serve_once(layout: &Layout) -> (SocketAddr, tokio::task::JoinHandle<Seen>) {
    let client_ca = ClientCertificates::from_pem("ca.crt", &read(layout.cert_path("ca"))).unwrap();
    let x509 = X509Authenticator::from_pem("ca.crt", &read(layout.cert_path("ca"))).unwrap();
    let cfg = server_config(
        ("apiserver.crt", &read(layout.cert_path("apiserver"))),
        ("apiserver.key", &read(layout.key_path("apiserver"))),
        Some(&client_ca),
    )
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.map_err(|e| Refused::Handshake(e.to_string()))?;
        let who = match tls.get_ref().1.peer_certificates() {
            Some(chain) => x509.verify(chain, time::OffsetDateTime::now_utc()).map_err(Refused::Certificate)?.name,
            None => "anonymous".to_owned(),
        };
        tls.write_all(who.as_bytes()).await.unwrap();
        tls.shutdown().await.unwrap();
        Ok(who)
    });
    (addr, task)
}

fn client(trust: &Path, identity: Option<(Vec<u8>, Vec<u8>)>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for c in certificates("ca", &read(trust)).unwrap() {
        roots.add(c).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match identity {
        Some((cert, key)) => {
            builder.with_client_auth_cert(certificates("c", &cert).unwrap(), private_key("k", &key).unwrap()).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    TlsConnector::from(Arc::new(cfg))
}

/// Connects, reads the server's answer; returns (client result, server result).
async fn exchange(layout: &Layout, connector: TlsConnector, name: &str) -> (Result<String, String>, Seen) {
    let (addr, server) = serve_once(layout).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let client = async {
        let mut tls =
            connector.connect(ServerName::try_from(name.to_owned()).unwrap(), tcp).await.map_err(|e| e.to_string())?;
        let mut buf = String::new();
        tls.read_to_string(&mut buf).await.map_err(|e| e.to_string())?;
        Ok(buf)
    };
    let got = client.await;
    (got, server.await.unwrap())
}

fn kubeconfig_identity(layout: &Layout, file: &str) -> (Vec<u8>, Vec<u8>) {
    let k = layout.load_kubeconfig(file).unwrap().unwrap();
    (pem::encode("CERTIFICATE", &k.cert.der).into_bytes(), k.key.to_pem().unwrap().into_bytes())
}

#[tokio::test]
async fn admin_client_cert_is_accepted_with_the_right_ca() {
    let dir = tempfile::tempdir().unwrap();
    let layout = pki(dir.path());
    for name in ["kubernetes.default.svc", "cp-1", "127.0.0.1", "10.96.0.1"] {
        let connector = client(&layout.cert_path("ca"), Some(kubeconfig_identity(&layout, "admin.conf")));
        let (got, seen) = exchange(&layout, connector, name).await;
        assert_eq!(got.as_deref(), Ok("kubernetes-admin"), "dialing {name}");
        assert_eq!(seen.as_deref().ok(), Some("kubernetes-admin"), "{seen:?}");
    }
    // Without a client cert the handshake succeeds too (a token may follow), as anonymous TLS.
    let (got, _) = exchange(&layout, client(&layout.cert_path("ca"), None), "kubernetes").await;
    assert_eq!(got.as_deref(), Ok("anonymous"));
}

#[tokio::test]
async fn a_client_cert_from_a_foreign_ca_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let layout = pki(dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let other = pki(other_dir.path());
    let connector = client(&layout.cert_path("ca"), Some(kubeconfig_identity(&other, "admin.conf")));
    let (got, seen) = exchange(&layout, connector, "kubernetes").await;
    assert!(got.is_err(), "{got:?}");
    // Both PKIs name their CA "CN=kubernetes": the name matches, the signature does not.
    match seen.unwrap_err() {
        Refused::Certificate(CertificateRejection::UnknownAuthority { certificate, authorities, cause }) => {
            assert_eq!(cause, "BadSignature");
            assert_eq!(authorities.subjects, ["CN=kubernetes"], "the CA it was judged against is named");
            assert!(certificate.subject.contains("CN=kubernetes-admin"), "{certificate:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_server_auth_only_cert_is_rejected_as_a_client_cert() {
    let dir = tempfile::tempdir().unwrap();
    let layout = pki(dir.path());
    let identity = (read(layout.cert_path("apiserver")), read(layout.key_path("apiserver")));
    let (got, seen) = exchange(&layout, client(&layout.cert_path("ca"), Some(identity)), "kubernetes").await;
    assert!(got.is_err(), "{got:?}");
    match seen.unwrap_err() {
        Refused::Certificate(CertificateRejection::WrongUsage { required, presented, .. }) => {
            assert_eq!(required, "client authentication");
            assert_eq!(presented, ["server authentication"]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_front_proxy_ca_does_not_authenticate_ordinary_clients() {
    let dir = tempfile::tempdir().unwrap();
    let layout = pki(dir.path());
    let identity = (read(layout.cert_path("front-proxy-client")), read(layout.key_path("front-proxy-client")));
    let (got, seen) = exchange(&layout, client(&layout.cert_path("ca"), Some(identity)), "kubernetes").await;
    assert!(got.is_err());
    assert!(
        matches!(seen, Err(Refused::Certificate(CertificateRejection::UnknownAuthority { ref cause, .. })) if cause == "UnknownIssuer"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_client_trusting_another_ca_rejects_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let layout = pki(dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let other = pki(other_dir.path());
    let (got, _) = exchange(&layout, client(&other.cert_path("ca"), None), "kubernetes").await;
    let err = got.unwrap_err();
    assert_eq!(err, "invalid peer certificate: BadSignature");
    // And a name the certificate does not carry.
    let (got, _) = exchange(&layout, client(&layout.cert_path("ca"), None), "elsewhere.example.com").await;
    let err = got.unwrap_err();
    assert!(
        err.starts_with("invalid peer certificate: certificate not valid for name \"elsewhere.example.com\""),
        "{err}"
    );
}
