//! An OIDC issuer of the tests' own: an HTTPS server on 127.0.0.1 (a port picked at run time)
//! with its own CA, made with kauth's PKI code, serving a discovery document and a JWKS, as an
//! identity provider (Dex, Keycloak, EKS) does. Switches: rotate the signing key, go down (503
//! for every document), name another issuer in the discovery document. It counts the fetches of
//! each document, so a test can bound what kauth asked for. Tokens are minted here with the
//! library's `SigningKey`, or by PyJWT from the key this issuer exports.
//!
//! The server runs on a thread of its own with a single-threaded runtime, and stops when the
//! value is dropped.
#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kauth::pki::cert::CertInfo;
use kauth::pki::pem;
use kauth::pki::sign::{issue, Signer};
use kauth::pki::spec::{Profile, Usage};
use kauth::pki::{KeyType, PrivateKey};
use kauth::token::jwks::jwks;
use kauth::token::jws;
use kauth::token::keys::{KeySet, SigningKey};
use time::OffsetDateTime;

/// One published key: its private key (PEM, for PyJWT) and the library's signer.
struct Key {
    pem: String,
    signer: SigningKey,
}

/// What the server answers from, shared with the test.
#[derive(Default)]
struct Published {
    /// Published keys; the last one signs.
    keys: Mutex<Vec<Key>>,
    /// The `issuer` the discovery document names (default: the issuer's URL).
    issuer_claim: Mutex<Option<String>>,
    down: AtomicBool,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

/// How often each document was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetches {
    pub discovery: usize,
    pub jwks: usize,
}

/// A running issuer.
pub struct OidcIssuer {
    /// `https://127.0.0.1:PORT/<path>`: the issuer URL tokens carry in `iss`.
    pub url: String,
    /// The CA that signed the serving certificate (PEM).
    pub ca_pem: String,
    published: Arc<Published>,
    /// A key this issuer never publishes: forged tokens are signed with it.
    forger: Key,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn new_key() -> Key {
    let pem = PrivateKey::generate(KeyType::Rsa2048).unwrap().to_pem().unwrap();
    let signer = SigningKey::from_pem("oidc issuer key", pem.as_bytes()).unwrap();
    Key { pem, signer }
}

/// A CA named `name` and a serving certificate for 127.0.0.1 it signed: (CA PEM, cert PEM, key PEM).
fn serving_pki(name: &str) -> (String, String, String) {
    let now = OffsetDateTime::now_utc();
    let year = std::time::Duration::from_secs(365 * 86_400);
    let ca_key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let ca_profile = Profile {
        common_name: format!("{name}-ca"),
        organizations: vec![],
        is_ca: true,
        usage: Usage { server: false, client: false },
        dns_names: vec![],
        ip_addresses: vec![],
    };
    let ca: CertInfo = issue("oidc ca", &ca_profile, &ca_key, None, now, year).unwrap();
    let leaf_key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let leaf_profile = Profile {
        common_name: name.into(),
        organizations: vec![],
        is_ca: false,
        usage: Usage { server: true, client: false },
        dns_names: vec!["localhost".into()],
        ip_addresses: vec!["127.0.0.1".parse().unwrap()],
    };
    let leaf =
        issue("oidc serving", &leaf_profile, &leaf_key, Some(Signer { cert: &ca, key: &ca_key }), now, year).unwrap();
    (pem::encode("CERTIFICATE", &ca.der), pem::encode("CERTIFICATE", &leaf.der), leaf_key.to_pem().unwrap())
}

impl OidcIssuer {
    /// An issuer at `https://127.0.0.1:PORT/<path>` (`path` without slashes around it, may be
    /// empty), with one RSA key, its own CA, serving at once.
    pub fn start(path: &str) -> OidcIssuer {
        let (ca_pem, cert, key) = serving_pki(if path.is_empty() { "oidc" } else { path });
        let config = Arc::new(
            kauth_server::transport::tls::server_config(("cert", cert.as_bytes()), ("key", key.as_bytes()), None)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("https://{addr}");
        let url = if path.is_empty() { base.clone() } else { format!("{base}/{path}") };
        let published = Arc::new(Published::default());
        published.keys.lock().unwrap().push(new_key());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (shared, prefix, issuer_url) =
            (published.clone(), url.strip_prefix(&base).unwrap().to_owned(), url.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let tcp = tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => match accepted { Ok((tcp, _)) => tcp, Err(_) => continue },
                    };
                    let (config, shared, prefix, issuer_url) =
                        (config.clone(), shared.clone(), prefix.clone(), issuer_url.clone());
                    tokio::spawn(async move {
                        let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await else { return };
                        let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                            let answer = answer(&shared, &prefix, &issuer_url, req.uri().path());
                            async move { Ok::<_, Infallible>(answer) }
                        });
                        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    });
                }
            });
        });
        OidcIssuer { url, ca_pem, published, forger: new_key(), _stop: stop }
    }

    /// Writes the CA to `dir/<name>` and returns the path.
    pub fn write_ca(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, &self.ca_pem).unwrap();
        p
    }

    /// A new signing key: published beside the old ones (`keep_old`) or instead of them.
    pub fn rotate(&self, keep_old: bool) {
        let mut keys = self.published.keys.lock().unwrap();
        if !keep_old {
            keys.clear();
        }
        keys.push(new_key());
    }

    /// Down: every document answers 503 until brought back up.
    pub fn set_down(&self, down: bool) {
        self.published.down.store(down, Ordering::SeqCst);
    }

    /// The discovery document names `issuer` instead of this issuer's URL.
    pub fn claim_issuer(&self, issuer: Option<&str>) {
        *self.published.issuer_claim.lock().unwrap() = issuer.map(str::to_owned);
    }

    /// The fetches so far.
    pub fn fetches(&self) -> Fetches {
        Fetches {
            discovery: self.published.discovery_fetches.load(Ordering::SeqCst),
            jwks: self.published.jwks_fetches.load(Ordering::SeqCst),
        }
    }

    /// The signing key's id.
    pub fn kid(&self) -> String {
        self.published.keys.lock().unwrap().last().unwrap().signer.kid().to_owned()
    }

    /// The signing key (PKCS#8 or PKCS#1 PEM), for PyJWT.
    pub fn signing_key_pem(&self) -> String {
        self.published.keys.lock().unwrap().last().unwrap().pem.clone()
    }

    /// The published verification keys.
    pub fn key_set(&self) -> KeySet {
        KeySet::new(self.published.keys.lock().unwrap().iter().map(|k| k.signer.verifying_key().clone()).collect())
    }

    /// A token with `claims`, signed by the current key (RS256, its kid).
    pub fn mint(&self, claims: &serde_json::Value) -> String {
        let keys = self.published.keys.lock().unwrap();
        sign(&keys.last().unwrap().signer, None, claims)
    }

    /// A token signed by a key this issuer never published, naming `kid`.
    pub fn mint_forged(&self, kid: &str, claims: &serde_json::Value) -> String {
        sign(&self.forger.signer, Some(kid), claims)
    }

    /// Standard claims for this issuer: `sub`, `aud`, `iat`/`nbf` now, `exp` in an hour.
    pub fn claims(&self, sub: &str, aud: &str) -> serde_json::Value {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        serde_json::json!({"iss": self.url, "sub": sub, "aud": aud, "iat": now, "nbf": now, "exp": now + 3600})
    }
}

fn sign(key: &SigningKey, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let header = jws::header_json(key.algorithm().name(), kid.unwrap_or(key.kid()));
    let input = format!("{}.{}", jws::encode(&header), jws::encode(claims.to_string().as_bytes()));
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", jws::encode(&sig))
}

fn respond(status: u16, content_type: &str, body: String) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// One request: the discovery document at `<prefix>/.well-known/openid-configuration`, the JWKS
/// at `<prefix>/keys`.
fn answer(p: &Published, prefix: &str, issuer_url: &str, path: &str) -> http::Response<Full<Bytes>> {
    let Some(rest) = path.strip_prefix(prefix) else { return respond(404, "text/plain", "not found".into()) };
    let discovery = rest == "/.well-known/openid-configuration";
    let keys = rest == "/keys";
    if discovery {
        p.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    } else if keys {
        p.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    } else {
        return respond(404, "text/plain", "not found".into());
    }
    if p.down.load(Ordering::SeqCst) {
        return respond(503, "text/plain", "the issuer is down".into());
    }
    if discovery {
        let iss = p.issuer_claim.lock().unwrap().clone().unwrap_or_else(|| issuer_url.to_owned());
        let doc = serde_json::json!({
            "issuer": iss,
            "jwks_uri": format!("{issuer_url}/keys"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        return respond(200, "application/json", doc.to_string());
    }
    let set = KeySet::new(p.keys.lock().unwrap().iter().map(|k| k.signer.verifying_key().clone()).collect());
    respond(200, "application/jwk-set+json", serde_json::to_string(&jwks(&set).unwrap()).unwrap())
}

/// A token minted by PyJWT (RS256) with `key_pem`, header `kid`, and `claims`; `Err` with
/// Python's words when it could not run.
pub fn mint_with_pyjwt(python: &Path, key_pem: &str, kid: &str, claims: &serde_json::Value) -> Result<String, String> {
    let script = "import json, sys, jwt\n\
                  key, kid, claims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n\
                  print(jwt.encode(claims, key, algorithm='RS256', headers={'kid': kid}))\n";
    let out = Command::new(python)
        .args(["-c", script, key_pem, kid, &claims.to_string()])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
