//! Cross-checks with independent implementations, both ways, RS256 and ES256:
//! tokens kauth issues verify in go-jose v2 (kube-apiserver's JOSE library) and in PyJWT, and
//! tokens those libraries sign for the same claims validate in kauth.
//!
//! Needs Go with Debian's golang-gopkg-square-go-jose.v2-dev and a Python with PyJWT[crypto]
//! (`scripts/test.sh` installs both; `KAUTH_PYTHON` may point at another interpreter). Without
//! them, their tests say so and skip (fail under `KAUTH_REQUIRE_ALL_TOOLS=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::tools::{pyjwt_python, require, Tool, GOPATH};

use kauth::pki::{KeyType, PrivateKey};
use kauth::token::claims::{Binding, Claims, ObjectRef};
use kauth::token::issue::{plan_expiration, BoundTokenSpec, ExpirationPolicy, TokenIssuer};
use kauth::token::keys::{KeySet, SigningKey};
use kauth::token::lookup::MemoryLookup;
use kauth::token::validate::{Validator, ValidatorConfig};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const NOW: i64 = 1_700_000_000;

/// Builds the go-jose peer once per test binary.
fn gojose() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gojose");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("gojose");
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/gojose/main.go"))
            .env("GO111MODULE", "off")
            .env("GOPATH", GOPATH)
            .env("GOCACHE", dir.join("cache"))
            .output()
            .expect("go is installed (scripts/test.sh installs golang-go)");
        assert!(out.status.success(), "go build: {}", String::from_utf8_lossy(&out.stderr));
        bin
    })
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().expect("peer runs");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

struct Keys {
    dir: tempfile::TempDir,
    signing: SigningKey,
}

impl Keys {
    fn new(kind: KeyType) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate(kind).unwrap();
        std::fs::write(dir.path().join("sa.key"), key.to_pem().unwrap()).unwrap();
        std::fs::write(dir.path().join("sa.pub"), key.public_key_pem()).unwrap();
        let signing = SigningKey::from_pem("sa.key", key.to_pem().unwrap().as_bytes()).unwrap();
        Keys { dir, signing }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

fn kauth_token(keys: &Keys) -> String {
    let issuer =
        TokenIssuer::new(ISSUER, SigningKey::from_pem("k", &std::fs::read(keys.path("sa.key")).unwrap()).unwrap());
    let api = vec![ISSUER.to_owned()];
    let plan =
        plan_expiration(Some(3600), true, &[], &api, ExpirationPolicy { max_seconds: None, extend: true }).unwrap();
    let spec = BoundTokenSpec {
        namespace: "team-a".into(),
        service_account: ObjectRef::new("builder", "sa-uid-1"),
        audiences: vec![],
        binding: Some(Binding::Pod { pod: ObjectRef::new("build-1", "pod-uid-1"), node: None }),
        jti: None,
    };
    issuer.issue_bound(&spec, plan, &api, NOW).unwrap().token.into_string()
}

/// The claims a peer signs: the shape of a kube-apiserver bound token.
fn claims_json() -> String {
    format!(
        r#"{{"aud":["{ISSUER}"],"exp":{},"iat":{NOW},"iss":"{ISSUER}","jti":"6f1c0b33-6a0e-4d51-8f0b-2a5d3b7e9c10","kubernetes.io":{{"namespace":"team-a","pod":{{"name":"build-1","uid":"pod-uid-1"}},"serviceaccount":{{"name":"builder","uid":"sa-uid-1"}}}},"nbf":{NOW},"sub":"system:serviceaccount:team-a:builder"}}"#,
        NOW + 3600
    )
}

fn kauth_validates(keys: &Keys, token: &str) {
    let validator = Validator::new(ValidatorConfig {
        issuers: vec![ISSUER.into()],
        api_audiences: vec![],
        keys: KeySet::new(vec![keys.signing.verifying_key().clone()]),
        leeway_seconds: 60,
        accept_legacy: false,
    });
    let lookup = MemoryLookup::default().with_service_account("team-a", "builder", "sa-uid-1").with_pod(
        "team-a",
        "build-1",
        "pod-uid-1",
    );
    let now = time::OffsetDateTime::from_unix_timestamp(NOW + 10).unwrap();
    let ok = validator.validate(token, None, now, &lookup).unwrap().expect("our issuer");
    assert_eq!(ok.user.name, "system:serviceaccount:team-a:builder");
    assert_eq!(ok.user.extra.get("authentication.kubernetes.io/pod-name").unwrap(), ["build-1"]);
    assert_eq!(ok.kid, keys.signing.kid());
    // And a copy with one claim changed does not.
    let parsed = kauth::token::validate::parse(token).unwrap();
    let forged = Claims { sub: Some("system:serviceaccount:team-a:admin".into()), ..parsed.claims };
    let (h, rest) = token.split_once('.').unwrap();
    let sig = rest.rsplit_once('.').unwrap().1;
    let forged = format!("{h}.{}.{sig}", kauth::token::jws::encode(&forged.to_json()));
    assert_eq!(validator.validate(&forged, None, now, &lookup).unwrap_err().code(), "token_bad_signature");
}

fn peer_verifies(peer: &str, keys: &Keys, token: &str) -> Result<String, String> {
    let token_file = keys.write("token", token);
    let s = |p: PathBuf| p.to_str().unwrap().to_owned();
    let args = [s(token_file), s(keys.path("sa.pub")), ISSUER.to_owned(), ISSUER.to_owned(), (NOW + 10).to_string()];
    match peer {
        "go-jose" => run(Command::new(gojose()).arg("verify").args(args)),
        _ => run(Command::new(pyjwt_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pyjwt_peer.py"))
            .arg("verify")
            .args(args)),
    }
}

fn peer_signs(peer: &str, keys: &Keys) -> String {
    let claims = keys.write("claims.json", &claims_json());
    let alg = keys.signing.algorithm().name();
    let args = [
        keys.path("sa.key").to_str().unwrap().to_owned(),
        alg.to_owned(),
        keys.signing.kid().to_owned(),
        claims.to_str().unwrap().to_owned(),
    ];
    let out = match peer {
        "go-jose" => run(Command::new(gojose()).arg("sign").args(args)),
        _ => run(Command::new(pyjwt_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pyjwt_peer.py"))
            .arg("sign")
            .args(args)),
    };
    out.unwrap_or_else(|e| panic!("{peer} sign: {e}"))
}

fn both_ways(peer: &str, kind: KeyType) {
    let keys = Keys::new(kind);
    // kauth -> peer
    let token = kauth_token(&keys);
    let claims: serde_json::Value = serde_json::from_str(
        &peer_verifies(peer, &keys, &token).unwrap_or_else(|e| panic!("{peer} rejected kauth's token: {e}")),
    )
    .unwrap();
    assert_eq!(claims["sub"], "system:serviceaccount:team-a:builder");
    assert_eq!(claims["kubernetes.io"]["pod"]["name"], "build-1");
    assert_eq!(claims["kubernetes.io"]["serviceaccount"]["uid"], "sa-uid-1");
    // The peer also rejects kauth's token with a flipped signature byte.
    let mut bad = token.clone().into_bytes();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    assert!(peer_verifies(peer, &keys, &String::from_utf8(bad).unwrap()).is_err(), "{peer} accepted a bad signature");
    // peer -> kauth
    let theirs = peer_signs(peer, &keys);
    kauth_validates(&keys, &theirs);
}

#[test]
fn go_jose_rs256() {
    require!(Tool::GoJose);
    both_ways("go-jose", KeyType::Rsa2048);
}

#[test]
fn go_jose_es256() {
    require!(Tool::GoJose);
    both_ways("go-jose", KeyType::EcdsaP256);
}

#[test]
fn pyjwt_rs256() {
    require!(Tool::PyJwt);
    both_ways("pyjwt", KeyType::Rsa2048);
}

#[test]
fn pyjwt_es256() {
    require!(Tool::PyJwt);
    both_ways("pyjwt", KeyType::EcdsaP256);
}

#[test]
fn kauth_tokens_have_kube_apiserver_shape() {
    let keys = Keys::new(KeyType::Rsa2048);
    let token = kauth_token(&keys);
    let parsed = kauth::token::validate::parse(&token).unwrap();
    // Header exactly {"alg":"RS256","kid":"<43 chars>"}.
    let header = {
        use base64::Engine;
        String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header, format!(r#"{{"alg":"RS256","kid":"{}"}}"#, keys.signing.kid()));
    let payload = String::from_utf8(parsed.jws.payload.clone()).unwrap();
    let keys_in_order: Vec<&str> =
        ["\"aud\"", "\"exp\"", "\"iat\"", "\"iss\"", "\"jti\"", "\"kubernetes.io\"", "\"nbf\"", "\"sub\""].to_vec();
    let positions: Vec<usize> = keys_in_order.iter().map(|k| payload.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "claims must be in go-jose's (sorted) order: {payload}");
}

/// The bootstrap signer's detached signatures, for contents kubeconfigs can hold (empty, long,
/// non-ASCII, with the characters base64url maps differently) and several tokens.
fn detached_cases() -> Vec<(String, &'static str, &'static str)> {
    let kubeconfig = kauth::authn::bootstrap_token::signature::cluster_info_kubeconfig(
        "https://10.0.0.1:6443",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let contents = [kubeconfig, String::new(), "ünïcödé ✓ >>>???".into(), "x".repeat(10_000)];
    let tokens = [("abcdef", "0123456789abcdef"), ("07401b", "f395accd246ae52d"), ("zzzzzz", "")];
    contents.iter().flat_map(|c| tokens.iter().map(move |(id, secret)| (c.clone(), *id, *secret))).collect()
}

#[test]
fn bootstrap_signatures_are_go_joses_bytes() {
    require!(Tool::GoJose);
    let dir = tempfile::tempdir().unwrap();
    for (i, (content, id, secret)) in detached_cases().into_iter().enumerate() {
        let file = dir.path().join(format!("content-{i}"));
        std::fs::write(&file, &content).unwrap();
        let theirs = run(Command::new(gojose()).arg("detached").arg(&file).args([id, secret])).unwrap();
        let ours = kauth::authn::bootstrap_token::signature::detached_signature(&content, id, secret);
        assert_eq!(ours, theirs, "case {i}: token {id}");
    }
}

#[test]
fn pyjwt_verifies_bootstrap_signatures_and_refuses_altered_ones() {
    require!(Tool::PyJwt);
    let dir = tempfile::tempdir().unwrap();
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pyjwt_peer.py");
    let verify = |sig: &str, file: &Path, id: &str, secret: &str| {
        run(Command::new(pyjwt_python()).arg(&peer).args(["detached", sig]).arg(file).args([id, secret]))
    };
    // PyJWT refuses an empty HMAC key; the signer never signs with one (a token without a
    // secret does not sign), so those cases are go-jose's only.
    let cases = detached_cases().into_iter().filter(|(_, _, secret)| !secret.is_empty());
    for (i, (content, id, secret)) in cases.enumerate() {
        let file = dir.path().join(format!("content-{i}"));
        std::fs::write(&file, &content).unwrap();
        let sig = kauth::authn::bootstrap_token::signature::detached_signature(&content, id, secret);
        verify(&sig, &file, id, secret).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert!(verify(&sig, &file, id, "wrongwrongwrong0").is_err(), "case {i}: another secret");
        assert!(verify(&sig, &file, "abcdeg", secret).is_err(), "case {i}: another kid");
        std::fs::write(&file, format!("{content} ")).unwrap();
        assert!(verify(&sig, &file, id, secret).is_err(), "case {i}: altered content");
    }
}
