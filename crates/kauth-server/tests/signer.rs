//! kube-apiserver's external service-account signer (`kauth serve --signer-socket`), driven
//! through its Unix socket by a gRPC client of this test's own: its messages are written here
//! with the published API's field numbers (not generated from kauth's .proto), so a wrong field
//! number on either side fails. Tokens are verified with the keys `FetchKeys` returns, by kauth's
//! library and by go-jose (kube-apiserver's JOSE library).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use common::tools::{Tool, GOPATH};
use common::{kid_of, replica, server_with, FakeClock, Server, START};
use http::Method;
use kauth::token::keys::{KeySet, VerifyingKey};
use kauth::token::validate;
use kauth_server::controllers::keyring::{maintain, on_ring_change};
use kauth_server::keyring::KEYRING_KEY;
use kauth_server::replicas::{Heartbeat, HEARTBEAT_PREFIX};
use serde_json::{json, Value};
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::Code;

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The published API's messages (k8s.io/externaljwt/apis/v1alpha1), as this test's client sees them.
mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SignJwtRequest {
        #[prost(string, tag = "1")]
        pub claims: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SignJwtResponse {
        #[prost(string, tag = "1")]
        pub header: String,
        #[prost(string, tag = "2")]
        pub signature: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Key {
        #[prost(string, tag = "1")]
        pub key_id: String,
        #[prost(bytes = "vec", tag = "2")]
        pub key: Vec<u8>,
        #[prost(bool, tag = "3")]
        pub exclude_from_oidc_discovery: bool,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct FetchKeysResponse {
        #[prost(message, repeated, tag = "1")]
        pub keys: Vec<Key>,
        #[prost(message, optional, tag = "2")]
        pub data_timestamp: Option<Timestamp>,
        #[prost(int64, tag = "3")]
        pub refresh_hint_seconds: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetadataResponse {
        #[prost(int64, tag = "1")]
        pub max_token_expiration_seconds: i64,
    }
    /// Field 1 as a number where the API has a string: a request no decoder may accept.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WrongType {
        #[prost(int64, tag = "1")]
        pub claims: i64,
    }
    /// Field 1 as bytes: lets a test send claims that are not UTF-8.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RawClaims {
        #[prost(bytes = "vec", tag = "1")]
        pub claims: Vec<u8>,
    }
}

/// A client on the signer's socket, and the runtime it and the signer run on.
struct Signer {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Signer {
    /// Serves `s`'s signer on a socket in a new directory and connects to it.
    fn start(s: &Server) -> Signer {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("signer.sock");
        let state = s.state.clone();
        let path = socket.clone();
        rt.block_on(async {
            let listener = kauth_server::signer::bind(&path, 0o600).unwrap();
            let signer = kauth_server::signer::Signer::new(state, Duration::from_secs(60));
            tokio::spawn(kauth_server::signer::serve(signer, listener, path, std::future::pending()));
        });
        let channel = rt.block_on(connect(&socket));
        Signer { rt, channel, socket, _dir: dir }
    }

    fn call<Req: prost::Message + 'static, Resp: prost::Message + Default + 'static>(
        &self,
        method: &'static str,
        request: Req,
    ) -> Result<Resp, tonic::Status> {
        self.rt.block_on(call(self.channel.clone(), method, request))
    }

    fn sign(&self, claims: &str) -> Result<wire::SignJwtResponse, tonic::Status> {
        self.call("Sign", wire::SignJwtRequest { claims: claims.to_owned() })
    }

    fn fetch_keys(&self) -> wire::FetchKeysResponse {
        self.call("FetchKeys", wire::Empty {}).unwrap()
    }

    fn metadata(&self) -> wire::MetadataResponse {
        self.call("Metadata", wire::Empty {}).unwrap()
    }
}

async fn connect(socket: &Path) -> Channel {
    let socket = socket.to_owned();
    // The URI is a placeholder: every connection goes to the socket, as kube-apiserver dials it.
    Endpoint::try_from("http://localhost")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { tokio::net::UnixStream::connect(socket).await.map(hyper_util::rt::TokioIo::new) }
        }))
        .await
        .unwrap()
}

async fn call<Req: prost::Message + 'static, Resp: prost::Message + Default + 'static>(
    channel: Channel,
    method: &'static str,
    request: Req,
) -> Result<Resp, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(match method {
        "Sign" => "/v1alpha1.ExternalJWTSigner/Sign",
        "FetchKeys" => "/v1alpha1.ExternalJWTSigner/FetchKeys",
        "Metadata" => "/v1alpha1.ExternalJWTSigner/Metadata",
        _ => "/v1alpha1.ExternalJWTSigner/Unknown",
    });
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(tonic::Request::new(request), path, codec).await.map(tonic::Response::into_inner)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims as kube-apiserver composes them for a TokenRequest, issued at `now`.
fn claims(now: i64, lifetime: i64) -> String {
    claims_for(now, lifetime, "0b7f3a3c-0000-4000-8000-000000000001")
}

/// [`claims`] for the service account `default/default` whose uid is `uid`.
fn claims_for(now: i64, lifetime: i64, uid: &str) -> String {
    let c = json!({
        "aud": [ISSUER], "exp": now + lifetime, "iat": now, "iss": ISSUER, "nbf": now,
        "jti": "0d4c2c7e-3f0b-4a51-9b6c-1b0c8b8d2f11",
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": uid}},
        "sub": "system:serviceaccount:default:default"
    });
    b64(&serde_json::to_vec(&c).unwrap())
}

fn token(claims: &str, signed: &wire::SignJwtResponse) -> String {
    format!("{}.{claims}.{}", signed.header, signed.signature)
}

/// The keys `FetchKeys` returned, as kauth's verification set.
fn key_set(fetched: &wire::FetchKeysResponse) -> KeySet {
    KeySet::new(fetched.keys.iter().map(|k| VerifyingKey::from_spki(&k.key_id, &k.key).unwrap()).collect())
}

fn two_hour_tokens() -> impl FnOnce(&mut kauth_server::Options) {
    |o| {
        o.service_account_max_token_expiration = Some(Duration::from_secs(7200));
        o.service_account_extend_token_expiration = false;
    }
}

/// The go-jose peer, built once per test binary.
fn gojose() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gojose-signer");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("gojose");
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../kauth/tests/peers/gojose/main.go"))
            .env("GO111MODULE", "off")
            .env("GOPATH", GOPATH)
            .env("GOCACHE", dir.join("cache"))
            .output()
            .unwrap();
        assert!(out.status.success(), "go build: {}", String::from_utf8_lossy(&out.stderr));
        bin
    })
}

fn public_key_pem(spki: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(spki);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

#[test]
fn metadata_fetch_keys_and_sign_agree_and_the_token_verifies_with_kauth_and_go_jose() {
    let s = server_with(FakeClock::at(START), two_hour_tokens());
    let signer = Signer::start(&s);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&signer.socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    assert_eq!(signer.metadata().max_token_expiration_seconds, 7200);
    let fetched = signer.fetch_keys();
    let signing = s.state.keys.active().issuer.key().kid().to_owned();
    assert_eq!(fetched.keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(), [signing.as_str()]);
    assert!(!fetched.keys[0].exclude_from_oidc_discovery);
    assert_eq!(fetched.refresh_hint_seconds, 10);
    assert_eq!(fetched.data_timestamp, Some(wire::Timestamp { seconds: START, nanos: 0 }));

    let sa = s.admin(Method::GET, "/api/v1/namespaces/default/serviceaccounts/default", None, 200);
    let c = claims_for(START, 3600, sa["metadata"]["uid"].as_str().unwrap());
    let signed = signer.sign(&c).unwrap();
    let header: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&signed.header).unwrap())
            .unwrap();
    assert_eq!(header, json!({"alg": "RS256", "kid": signing, "typ": "JWT"}));
    let token = token(&c, &signed);
    let parsed = validate::parse(&token).unwrap();
    assert_eq!(validate::verify_signature(&parsed.jws, &key_set(&fetched)).unwrap(), signing);
    // kauth's own TokenReview takes it too: the signer and kauth's API share the keys.
    let review = s.admin(
        Method::POST,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})),
        201,
    );
    assert_eq!(review["status"]["user"]["username"], "system:serviceaccount:default:default", "{review}");

    // A signature over other claims fails: the signature covers the bytes sent.
    let other = claims(START, 3599);
    let forged = format!("{}.{other}.{}", signed.header, signed.signature);
    assert!(validate::verify_signature(&validate::parse(&forged).unwrap().jws, &key_set(&fetched)).is_err());

    common::tools::require!(Tool::GoJose);
    let dir = tempfile::tempdir().unwrap();
    let (token_file, key_file) = (dir.path().join("token"), dir.path().join("key.pem"));
    std::fs::write(&token_file, &token).unwrap();
    std::fs::write(&key_file, public_key_pem(&fetched.keys[0].key)).unwrap();
    let out = Command::new(gojose())
        .arg("verify")
        .args([&token_file, &key_file])
        .args([ISSUER, ISSUER, &(START + 10).to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "go-jose: {}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["sub"], "system:serviceaccount:default:default", "{seen}");
    std::fs::write(&token_file, &forged).unwrap();
    let out = Command::new(gojose())
        .arg("verify")
        .args([&token_file, &key_file])
        .args([ISSUER, ISSUER, &(START + 10).to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "go-jose accepted a signature over other claims");
}

#[test]
fn bad_requests_are_answered_with_grpc_errors_and_the_signer_keeps_serving() {
    let s = server_with(FakeClock::at(START), two_hour_tokens());
    let signer = Signer::start(&s);
    let refused = |claims: &str, code: Code, says: &str| {
        let e = signer.sign(claims).unwrap_err();
        assert_eq!(e.code(), code, "{claims}: {e:?}");
        assert!(e.message().contains(says), "{claims}: {}", e.message());
    };
    refused("", Code::InvalidArgument, "claims: empty");
    refused("e30=", Code::InvalidArgument, "not unpadded base64url");
    refused(&b64(b"[1,2]"), Code::InvalidArgument, "not a JSON object");
    refused(&b64(b"{\"iat\":1}"), Code::InvalidArgument, "exp is missing");
    // The clock-skew rule: kube-apiserver's clock 5 minutes ahead of kauth's.
    refused(
        &claims(START + 300, 600),
        Code::FailedPrecondition,
        "iat 1800000300 is 300 s ahead of the signer's clock (1800000000), more than the 60 s allowed",
    );
    refused(&claims(START - 61, 600), Code::FailedPrecondition, "61 s behind the signer's clock");
    // Within the allowed skew it signs.
    assert!(signer.sign(&claims(START + 60, 600)).is_ok());
    // Longer than Metadata's maximum.
    refused(&claims(START, 7200 + 61), Code::InvalidArgument, "tokens may live at most 7200 s");

    // Requests that are not the API's messages.
    let e = signer.call::<_, wire::SignJwtResponse>("Sign", wire::WrongType { claims: 7 }).unwrap_err();
    assert_eq!(e.code(), Code::Internal, "{e:?}");
    let e = signer.call::<_, wire::SignJwtResponse>("Sign", wire::RawClaims { claims: vec![0xff, 0xfe] }).unwrap_err();
    assert_eq!(e.code(), Code::Internal, "{e:?}");
    let e = signer.call::<_, wire::SignJwtResponse>("Nope", wire::Empty {}).unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented, "{e:?}");
    let huge = "e".repeat(kauth_server::signer::MAX_REQUEST_BYTES + 1);
    let e = signer.sign(&huge).unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");

    // Still serving, still signing.
    assert_eq!(signer.metadata().max_token_expiration_seconds, 7200);
    assert!(signer.sign(&claims(START, 600)).is_ok());
}

/// What the store's watch does on etcd when the ring changes: the replica loads it.
fn deliver_ring(s: &Server) {
    let kv = s.state.registry.get_raw(KEYRING_KEY).unwrap().unwrap();
    on_ring_change(&s.state, &kv.value);
}

fn peer_publishes(s: &Server, peer: &str, kids: &[&str]) {
    let beat = Heartbeat {
        replica: peer.into(),
        time_ms: s.clock.now().unix_timestamp() * 1000,
        published_kids: kids.iter().map(|k| k.to_string()).collect(),
    };
    let replicas = s.state.replicas.as_ref().unwrap();
    replicas.observe(&format!("{HEARTBEAT_PREFIX}{peer}"), &serde_json::to_vec(&beat).unwrap(), s.clock.now());
}

/// A stream of signings from another thread: each token is checked against the keys `FetchKeys`
/// lists right after it was signed. Returns (tokens signed, failures, kids seen in order).
struct Stream {
    done: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(Vec<String>, Vec<String>)>,
}

impl Stream {
    fn start(s: &Server, socket: &Path) -> Stream {
        let (done, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (d, st, clock, socket) = (done.clone(), stop.clone(), s.clock.clone(), socket.to_owned());
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let channel = rt.block_on(connect(&socket));
            let (mut failures, mut kids) = (Vec::new(), Vec::<String>::new());
            while !st.load(Ordering::SeqCst) {
                let c = claims(clock.now().unix_timestamp(), 600);
                let signed: wire::SignJwtResponse =
                    match rt.block_on(call(channel.clone(), "Sign", wire::SignJwtRequest { claims: c.clone() })) {
                        Ok(r) => r,
                        Err(e) => {
                            failures.push(format!("sign: {e:?}"));
                            continue;
                        }
                    };
                let fetched: wire::FetchKeysResponse =
                    rt.block_on(call(channel.clone(), "FetchKeys", wire::Empty {})).unwrap();
                let token = token(&c, &signed);
                let parsed = validate::parse(&token).unwrap();
                match validate::verify_signature(&parsed.jws, &key_set(&fetched)) {
                    Ok(kid) if kids.last().map(String::as_str) != Some(kid) => kids.push(kid.to_owned()),
                    Ok(_) => {}
                    Err(e) => failures.push(format!("{}: {e}", kid_of(&token))),
                }
                d.fetch_add(1, Ordering::SeqCst);
            }
            (failures, kids)
        });
        Stream { done, stop, handle }
    }

    /// Waits until the stream signed `n` more tokens.
    fn wait(&self, n: usize) {
        let target = self.done.load(Ordering::SeqCst) + n;
        while self.done.load(Ordering::SeqCst) < target {
            assert!(!self.handle.is_finished(), "the signing stream stopped");
            std::thread::yield_now();
        }
    }

    fn stop(self) -> (Vec<String>, Vec<String>, usize) {
        self.stop.store(true, Ordering::SeqCst);
        let n = self.done.load(Ordering::SeqCst);
        let (failures, kids) = self.handle.join().unwrap();
        (failures, kids, n)
    }
}

#[test]
fn a_rotation_during_a_stream_of_signings_never_yields_a_token_the_fetched_keys_refuse() {
    let s = replica("a", FakeClock::at(START), two_hour_tokens());
    let signer = Signer::start(&s);
    let k1 = s.state.keys.active().issuer.key().kid().to_owned();
    peer_publishes(&s, "b", &[&k1]);
    // The last token k1 signs for the longest a token may live, before the rotation starts.
    let old_claims = claims(START, 7200);
    let old = token(&old_claims, &signer.sign(&old_claims).unwrap());
    let stream = Stream::start(&s, &signer.socket);
    stream.wait(20);

    // Publish: the new key is listed at once, and does not sign yet.
    let ring = s.admin(Method::POST, "/kauth/v1/keys/rotate", None, 201);
    let k2 = ring["keys"][1]["kid"].as_str().unwrap().to_owned();
    deliver_ring(&s);
    let listed: Vec<String> = signer.fetch_keys().keys.into_iter().map(|k| k.key_id).collect();
    assert_eq!(listed, [k1.clone(), k2.clone()]);
    stream.wait(20);
    // The data timestamp moved with the set; the clock moves on too.
    s.clock.advance(5);
    maintain(&s.state);
    deliver_ring(&s);
    stream.wait(20);
    assert_eq!(s.state.keys.active().issuer.key().kid(), k1, "the peer does not publish k2 yet");

    // The peer publishes it: it signs, the old key is still listed.
    peer_publishes(&s, "b", &[&k1, &k2]);
    maintain(&s.state);
    deliver_ring(&s);
    stream.wait(20);
    let (failures, kids, n) = stream.stop();
    assert_eq!(failures, Vec::<String>::new(), "after {n} signatures");
    assert_eq!(kids, [k1.clone(), k2.clone()], "k1 signed, then k2, never back");
    let fetched = signer.fetch_keys();
    assert_eq!(fetched.keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(), [k1.as_str(), k2.as_str()]);
    assert_eq!(fetched.data_timestamp.as_ref().unwrap().seconds, START, "the set changed at the rotation, not since");

    // The token k1 signed before the rotation verifies with the keys listed after it.
    assert_eq!(validate::verify_signature(&validate::parse(&old).unwrap().jws, &key_set(&fetched)).unwrap(), k1);

    // k1 is listed until every token it signed has expired (and the leeway passed), then not.
    s.clock.advance(7200 + 59);
    maintain(&s.state);
    deliver_ring(&s);
    assert_eq!(signer.fetch_keys().keys.len(), 2);
    s.clock.advance(1);
    maintain(&s.state);
    deliver_ring(&s);
    let after = signer.fetch_keys();
    assert_eq!(after.keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(), [k2.as_str()]);
    assert_eq!(after.data_timestamp.as_ref().unwrap().seconds, START + 5 + 7260);
    let fresh = claims(s.clock.now().unix_timestamp(), 600);
    let t = token(&fresh, &signer.sign(&fresh).unwrap());
    assert_eq!(validate::verify_signature(&validate::parse(&t).unwrap().jws, &key_set(&after)).unwrap(), k2);
}
