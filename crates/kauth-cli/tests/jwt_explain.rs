//! `kauth token explain --authentication-config`: a token from an external issuer, judged
//! offline against an AuthenticationConfiguration with keys from a JWKS file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{kauth, s};
use kauth::pki::{KeyType, PrivateKey};
use kauth::token::jws;
use kauth::token::keys::{KeySet, SigningKey};
use serde_json::{json, Value};

const CONFIG: &str = r#"apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: https://idp.example
    audiences: [kubernetes]
  claimMappings:
    username:
      expression: 'claims.username + ":external-user"'
    groups:
      expression: 'claims.roles.split(",")'
  userValidationRules:
  - expression: "!user.username.startsWith('system:')"
    message: 'username cannot used reserved system: prefix'
- issuer:
    url: https://other.example
    audiences: [x]
  claimMappings:
    username:
      claim: sub
      prefix: ''
"#;

struct Setup {
    dir: tempfile::TempDir,
    key: SigningKey,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pem = PrivateKey::generate(KeyType::EcdsaP256).unwrap().to_pem().unwrap();
        let key = SigningKey::from_pem("idp", pem.as_bytes()).unwrap();
        let set = KeySet::new(vec![key.verifying_key().clone()]);
        let jwks = kauth::token::jwks::jwks(&set).unwrap();
        std::fs::write(dir.path().join("jwks.json"), serde_json::to_vec(&jwks).unwrap()).unwrap();
        std::fs::write(dir.path().join("auth.yaml"), CONFIG).unwrap();
        Setup { dir, key }
    }

    fn mint(&self, claims: Value) -> String {
        let header = json!({"alg": "ES256", "kid": self.key.kid()});
        let input =
            format!("{}.{}", jws::encode(header.to_string().as_bytes()), jws::encode(claims.to_string().as_bytes()));
        let sig = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", jws::encode(&sig))
    }

    fn explain(&self, token: &str, extra: &[&str]) -> common::Run {
        let config = self.dir.path().join("auth.yaml");
        let jwks = self.dir.path().join("jwks.json");
        let mut args = vec![
            "token",
            "explain",
            token,
            "--authentication-config",
            s(&config),
            "--jwks",
            s(&jwks),
            "--now",
            "@1701107300",
        ];
        args.extend_from_slice(extra);
        kauth(&args)
    }
}

fn claims(exp: i64) -> Value {
    json!({"iss": "https://idp.example", "aud": "kubernetes", "exp": exp, "username": "foo", "roles": "user,admin"})
}

#[test]
fn a_valid_token_shows_each_check_and_the_user() {
    let setup = Setup::new();
    let r = setup.explain(&setup.mint(claims(1_701_108_000)), &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Verdict: VALID"), "{}", r.stdout);
    assert!(r.stdout.contains("ok   signature"), "{}", r.stdout);
    assert!(r.stdout.contains("username: foo:external-user"), "{}", r.stdout);
    assert!(r.stdout.contains("groups:   [\"user\", \"admin\"]"), "{}", r.stdout);
    let r = setup.explain(&setup.mint(claims(1_701_108_000)), &["-o", "json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["user"]["username"], "foo:external-user");
    assert_eq!(v["issuer"], "https://idp.example");
}

#[test]
fn a_refused_token_says_what_kube_apiserver_says_then_why() {
    let setup = Setup::new();
    let r = setup.explain(&setup.mint(claims(1_701_107_000)), &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("FAIL jwt_expired"), "{}", r.stdout);
    assert!(
        r.stdout.contains("kube-apiserver would say: [invalid bearer token, oidc: verify token: oidc: token is expired (Token Expiry: 2023-11-27 17:43:20 +0000 UTC)]"),
        "{}",
        r.stdout
    );
    let mut c = claims(1_701_108_000);
    c["iss"] = "https://unknown.example".into();
    let r = setup.explain(&setup.mint(c), &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("not configured (configured: [\"https://idp.example\" \"https://other.example\"])"),
        "{}",
        r.stdout
    );
    let mut c = claims(1_701_108_000);
    c["username"] = "system:".into();
    let r = setup.explain(&setup.mint(c), &["-o", "json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["failure"]["code"], "jwt_user_validation_failed");
}

#[test]
fn a_bad_configuration_is_bad_input_with_kube_apiservers_text() {
    let setup = Setup::new();
    let bad = setup.dir.path().join("bad.yaml");
    std::fs::write(&bad, CONFIG.replace("https://idp.example", "http://idp.example")).unwrap();
    let token = setup.mint(claims(1_701_108_000));
    let r = kauth(&["token", "explain", &token, "--authentication-config", s(&bad)]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("jwt[0].issuer.url: Invalid value: \"http://idp.example\": URL scheme must be https"),
        "{}",
        r.stderr
    );
}
