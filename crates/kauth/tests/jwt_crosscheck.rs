//! The JWT issuers' authenticator against an independent signer: tokens PyJWT signs (RS256,
//! ES256, PS256) for an issuer of an AuthenticationConfiguration are accepted and mapped; the
//! same token with its signature altered is refused (`BadSignature`).
//!
//! Needs a Python with PyJWT[crypto] (`scripts/test.sh` installs it; `KAUTH_PYTHON` may point at
//! another interpreter). Without it, the tests say so and skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::tools::{pyjwt_python, require, Tool};
use kauth::authn::jwt::{AuthenticationConfiguration, JwtIssuers, JwtRejection, StaticKeys, ALL_ALGORITHMS};
use kauth::authn::{Rejection, TokenAuthenticator};
use kauth::pki::{KeyType, PrivateKey};
use kauth::token::keys::{KeySet, SigningKey};
use time::OffsetDateTime;

const NOW: i64 = 1_700_000_000;

const CONFIG: &str = r#"apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: https://idp.example
    audiences: [kubernetes]
  claimMappings:
    username:
      expression: 'claims.?preferred_username.orValue(claims.sub)'
    groups:
      claim: groups
      prefix: 'idp:'
"#;

fn pyjwt_signs(key_pem: &str, alg: &str, kid: &str, claims: &serde_json::Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let claims_file = dir.path().join("claims.json");
    std::fs::write(&key, key_pem).unwrap();
    std::fs::write(&claims_file, claims.to_string()).unwrap();
    let out = Command::new(pyjwt_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pyjwt_peer.py"))
        .args(["sign", key.to_str().unwrap(), alg, kid, claims_file.to_str().unwrap()])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn accepted_from_pyjwt(kind: KeyType, alg: &str) {
    let key = PrivateKey::generate(kind).unwrap();
    let pem = key.to_pem().unwrap();
    let signing = SigningKey::from_pem("idp", pem.as_bytes()).unwrap();
    let config = AuthenticationConfiguration::load(CONFIG.as_bytes(), "auth.yaml", &[]).unwrap();
    let keys = Arc::new(StaticKeys(Arc::new(KeySet::new(vec![signing.verifying_key().clone()]))));
    let issuers = JwtIssuers::from_config(&config, &ALL_ALGORITHMS, |_| keys.clone());
    let claims = serde_json::json!({
        "iss": "https://idp.example", "aud": ["kubernetes", "other"], "sub": "u-1",
        "preferred_username": "jane", "groups": ["dev", "ops"], "exp": NOW + 300, "nbf": NOW - 10, "iat": NOW - 10,
    });
    let token = pyjwt_signs(&pem, alg, signing.kid(), &claims);
    let now = OffsetDateTime::from_unix_timestamp(NOW).unwrap();
    let user = issuers.authenticate_token(&token, None, now).expect("accepted").expect("ours").user;
    assert_eq!(user.name, "jane");
    assert_eq!(user.groups, vec!["idp:dev", "idp:ops"]);
    // One character of the signature changed: it no longer verifies.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut signature = parts[2].clone().into_bytes();
    let i = signature.len() / 2;
    signature[i] = if signature[i] == b'A' { b'B' } else { b'A' };
    parts[2] = String::from_utf8(signature).unwrap();
    match issuers.authenticate_token(&parts.join("."), None, now) {
        Err(Rejection::Jwt(JwtRejection::BadSignature { .. })) => {}
        other => panic!("{alg}: {other:?}"),
    }
}

#[test]
fn pyjwt_rs256() {
    require!(Tool::PyJwt);
    accepted_from_pyjwt(KeyType::Rsa2048, "RS256");
}

#[test]
fn pyjwt_ps256() {
    require!(Tool::PyJwt);
    accepted_from_pyjwt(KeyType::Rsa2048, "PS256");
}

#[test]
fn pyjwt_es256() {
    require!(Tool::PyJwt);
    accepted_from_pyjwt(KeyType::EcdsaP256, "ES256");
}
