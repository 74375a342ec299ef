//! The JWT authenticator end to end: tokens minted here with the library's `SigningKey`, judged
//! by issuers loaded from configuration text; every rejection asserted on its variant.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::*;
use crate::authn::{Rejection, TokenAuthenticator};
use crate::pki::{KeyType, PrivateKey};
use crate::token::jws;
use crate::token::keys::{KeySet, SigningKey};

const NOW: i64 = 1_701_107_300;

fn key(kind: KeyType) -> SigningKey {
    SigningKey::from_pem("k", PrivateKey::generate(kind).expect("key").to_pem().expect("pem").as_bytes())
        .expect("signing key")
}

fn rsa() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| key(KeyType::Rsa2048))
}

fn ec() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| key(KeyType::EcdsaP256))
}

fn mint_with(k: &SigningKey, header: Value, claims: &Value) -> String {
    let input =
        format!("{}.{}", jws::encode(header.to_string().as_bytes()), jws::encode(claims.to_string().as_bytes()));
    let sig = k.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", jws::encode(&sig))
}

fn mint(k: &SigningKey, claims: &Value) -> String {
    mint_with(k, json!({"alg": k.algorithm().name(), "kid": k.kid()}), claims)
}

/// Keys that can change on refresh, counting refreshes.
#[derive(Debug)]
struct RotatingKeys {
    now: Mutex<Arc<KeySet>>,
    next: Mutex<Option<Arc<KeySet>>>,
    refreshes: AtomicUsize,
}

impl IssuerKeys for RotatingKeys {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        Ok(self.now.lock().expect("lock").clone())
    }
    fn refresh(&self, _kid: Option<&str>) -> Result<Arc<KeySet>, KeysUnavailable> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        if let Some(next) = self.next.lock().expect("lock").take() {
            *self.now.lock().expect("lock") = next;
        }
        self.current()
    }
}

#[derive(Debug)]
struct Down;

impl IssuerKeys for Down {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        Err(KeysUnavailable {
            url: "https://a.example/.well-known/openid-configuration".into(),
            error: "connection refused".into(),
        })
    }
    fn refresh(&self, _kid: Option<&str>) -> Result<Arc<KeySet>, KeysUnavailable> {
        self.current()
    }
}

fn set(keys: &[&SigningKey]) -> Arc<KeySet> {
    Arc::new(KeySet::new(keys.iter().map(|k| k.verifying_key().clone()).collect()))
}

const DOC: &str = r#"apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: https://a.example
    audiences: [kubernetes, my-app]
    audienceMatchPolicy: MatchAny
  claimValidationRules:
  - claim: hd
    requiredValue: example.com
  - expression: 'claims.exp - claims.nbf <= 86400'
    message: total token lifetime must not exceed 24 hours
  claimMappings:
    username:
      expression: 'claims.username + ":external-user"'
    groups:
      expression: 'claims.roles.split(",")'
    uid:
      expression: 'claims.sub'
    extra:
    - key: 'example.com/tenant'
      valueExpression: 'claims.tenant'
  userValidationRules:
  - expression: "!user.username.startsWith('system:')"
    message: 'username cannot used reserved system: prefix'
- issuer:
    url: https://b.example
    audiences: [b]
  claimMappings:
    username:
      claim: email
      prefix: ''
    groups:
      claim: groups
      prefix: 'b:'
"#;

fn issuers(keys_a: Arc<dyn IssuerKeys>) -> JwtIssuers {
    let config = AuthenticationConfiguration::load(DOC.as_bytes(), "doc.yaml", &[]).expect("loads");
    let b: Arc<dyn IssuerKeys> = Arc::new(StaticKeys(set(&[rsa()])));
    JwtIssuers::from_config(&config, &ALL_ALGORITHMS, |i| {
        if i.authenticator.issuer.url == "https://a.example" {
            keys_a.clone()
        } else {
            b.clone()
        }
    })
    .ignoring_issuers(&["https://kubernetes.default.svc".into()])
}

fn a_claims() -> Value {
    json!({"iss": "https://a.example", "aud": "kubernetes", "exp": NOW + 600, "nbf": NOW - 60, "iat": NOW - 60,
        "jti": "7c33", "hd": "example.com", "roles": "user,admin", "sub": "auth", "tenant": "72f988bf", "username": "foo"})
}

fn at(now: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(now).expect("time")
}

fn judge(i: &JwtIssuers, token: &str) -> Result<Option<crate::authn::Authenticated>, Rejection> {
    i.authenticate_token(token, None, at(NOW))
}

fn rejected(i: &JwtIssuers, token: &str) -> JwtRejection {
    match judge(i, token) {
        Err(Rejection::Jwt(r)) => r,
        other => panic!("expected a JWT rejection, got {other:?}"),
    }
}

fn a_issuers() -> JwtIssuers {
    issuers(Arc::new(StaticKeys(set(&[ec()]))))
}

#[test]
fn the_documentation_example_maps_as_documented() {
    let i = a_issuers();
    let a = judge(&i, &mint(ec(), &a_claims())).expect("accepted").expect("ours");
    assert_eq!(a.user.name, "foo:external-user");
    assert_eq!(a.user.uid, "auth");
    assert_eq!(a.user.groups, vec!["user", "admin"]);
    assert_eq!(a.user.extra.get("example.com/tenant").map(|v| v.to_vec()), Some(vec!["72f988bf".to_owned()]));
    assert_eq!(a.user.extra.get(CREDENTIAL_ID).map(|v| v.to_vec()), Some(vec!["JTI=7c33".to_owned()]));
    assert_eq!(a.authenticator, NAME);
}

#[test]
fn two_issuers_each_take_their_own_tokens() {
    let i = a_issuers();
    let b =
        json!({"iss": "https://b.example", "aud": ["b"], "exp": NOW + 60, "email": "x@b.example", "groups": ["dev"]});
    let user = judge(&i, &mint(rsa(), &b)).expect("accepted").expect("ours").user;
    assert_eq!((user.name.as_str(), user.groups), ("x@b.example", vec!["b:dev".to_owned()]));
    // An a-token signed with b's key is a's to judge, and fails there.
    let mut forged = a_claims();
    forged["iss"] = "https://a.example".into();
    assert!(matches!(rejected(&i, &mint(rsa(), &forged)), JwtRejection::UnknownKeyId { .. }));
    let other = json!({"iss": "https://c.example", "exp": NOW + 60});
    match rejected(&i, &mint(ec(), &other)) {
        JwtRejection::IssuerNotConfigured { iss, configured } => {
            assert_eq!(iss, "https://c.example");
            assert_eq!(configured, vec!["https://a.example", "https://b.example"]);
        }
        r => panic!("{r:?}"),
    }
    // Asked for audiences none of which is an API audience: not ours (WrapAudienceAgnosticToken).
    let i = i.with_api_audiences(&["https://kubernetes.default.svc".into()]);
    let asked = ["vault".to_owned()];
    assert_eq!(i.authenticate_token(&mint(rsa(), &b), Some(&asked), at(NOW)), Ok(None));
    let api = ["https://kubernetes.default.svc".to_owned()];
    let a = i.authenticate_token(&mint(rsa(), &b), Some(&api), at(NOW)).expect("ok").expect("ours");
    assert_eq!(&*a.audiences, &api[..]);
    let sa = json!({"iss": "https://kubernetes.default.svc", "exp": NOW + 60});
    assert_eq!(judge(&i, &mint(ec(), &sa)), Ok(None));
    assert_eq!(judge(&i, "abcdef.0123456789abcdef"), Ok(None));
}

#[test]
fn every_verification_failure_has_its_variant_and_kubernetes_text() {
    let i = a_issuers();
    let with = |patch: Value| {
        let mut c = a_claims();
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                c.as_object_mut().expect("object").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        mint(ec(), &c)
    };
    let r = rejected(&i, &with(json!({"exp": NOW - 1})));
    assert!(matches!(r, JwtRejection::Expired { exp: Some(_), .. }), "{r:?}");
    assert_eq!(
        r.kubernetes_text().unwrap(),
        "oidc: verify token: oidc: token is expired (Token Expiry: 2023-11-27 17:48:19 +0000 UTC)"
    );
    assert!(matches!(rejected(&i, &with(json!({"exp": null}))), JwtRejection::Expired { exp: None, .. }));
    // exp is checked before the signature, as go-oidc does.
    assert!(matches!(rejected(&i, &mint(rsa(), &with_exp(NOW - 1))), JwtRejection::Expired { .. }));
    let r = rejected(&i, &with(json!({"nbf": NOW + 61})));
    assert!(matches!(r, JwtRejection::NotYetValid { leeway: 60, .. }));
    assert_eq!(judge(&i, &with(json!({"nbf": NOW + 60}))).map(|a| a.is_some()), Ok(true));
    let r = rejected(&i, &with(json!({"aud": ["other"]})));
    assert_eq!(
        r.kubernetes_text().unwrap(),
        "oidc: verify token: oidc: expected audience in [\"kubernetes\" \"my-app\"] got [\"other\"]"
    );
    let r = rejected(&i, &with(json!({"exp": "soon"})));
    assert!(matches!(r, JwtRejection::Malformed { .. }), "{r:?}");
    let r = rejected(&i, &with(json!({"hd": "other.com"})));
    assert_eq!(
        r.kubernetes_text().unwrap(),
        "oidc: required claim hd value does not match. Got = other.com, want = example.com"
    );
    assert!(matches!(
        rejected(&i, &with(json!({"hd": null}))),
        JwtRejection::ClaimMissing { used_as: ClaimUse::Required, .. }
    ));
    let r = rejected(&i, &with(json!({"nbf": NOW - 100_000})));
    assert_eq!(
        r.kubernetes_text().unwrap(),
        "oidc: error evaluating claim validation expression: validation expression 'claims.exp - claims.nbf <= 86400' failed: total token lifetime must not exceed 24 hours"
    );
    let r = rejected(&i, &with(json!({"username": null})));
    assert!(matches!(&r, JwtRejection::CelEvaluation { site: CelSite::Username, .. }), "{r:?}");
    assert!(r.kubernetes_text().unwrap().starts_with("oidc: error evaluating username claim expression: expression 'claims.username + \":external-user\"' resulted in error: "));
    let r = rejected(&i, &with(json!({"roles": 5})));
    assert!(matches!(&r, JwtRejection::CelEvaluation { site: CelSite::Groups, .. }), "{r:?}");
    let r = rejected(&i, &with(json!({"username": "system:"})));
    assert!(
        matches!(&r, JwtRejection::UserValidationRuleFailed { username, .. } if username == "system::external-user")
    );
    assert_eq!(r.code(), "jwt_user_validation_failed");
    let r = rejected(&i, &with(json!({"tenant": 7})));
    assert!(matches!(&r, JwtRejection::CelResultType { site: CelSite::Extra(_), .. }), "{r:?}");

    // The token is never in a rejection.
    let token = with(json!({"exp": NOW - 1}));
    let r = Rejection::Jwt(rejected(&i, &token));
    let explained = r.explained();
    assert!(explained.starts_with("[invalid bearer token, oidc: verify token: oidc: token is expired"), "{explained}");
    assert!(explained.contains("; kauth: jwt: issuer https://a.example: token expired 1s ago"), "{explained}");
    assert!(!explained.contains(&token) && !format!("{r:?}").contains(&token));
}

fn with_exp(exp: i64) -> Value {
    let mut c = a_claims();
    c["exp"] = exp.into();
    c
}

#[test]
fn keys_signatures_and_algorithms() {
    let down = issuers(Arc::new(Down));
    let r = rejected(&down, &mint(ec(), &a_claims()));
    assert!(matches!(&r, JwtRejection::KeysUnavailable { error, .. } if error.error == "connection refused"));
    assert_eq!(r.kubernetes_text().unwrap(), "oidc: authenticator not initialized");
    let health = down.health();
    assert_eq!(health[0].1, Err("oidc: authenticator for issuer \"https://a.example\" is not healthy: fetching https://a.example/.well-known/openid-configuration failed: connection refused".into()));
    assert_eq!(health[1].1, Ok(()));

    // A key rotated in at the issuer is found by one refresh.
    let rotated = key(KeyType::EcdsaP256);
    let keys = Arc::new(RotatingKeys {
        now: Mutex::new(set(&[ec()])),
        next: Mutex::new(Some(set(&[ec(), &rotated]))),
        refreshes: AtomicUsize::new(0),
    });
    let i = issuers(keys.clone());
    assert!(judge(&i, &mint(&rotated, &a_claims())).expect("accepted").is_some());
    assert_eq!(keys.refreshes.load(Ordering::SeqCst), 1);
    assert!(judge(&i, &mint(ec(), &a_claims())).expect("accepted").is_some());
    assert_eq!(keys.refreshes.load(Ordering::SeqCst), 1, "a known key needs no refresh");

    // A kid unknown also after the refresh; a signature no key verifies.
    let stranger = key(KeyType::EcdsaP256);
    let r = rejected(&i, &mint(&stranger, &a_claims()));
    assert!(matches!(&r, JwtRejection::UnknownKeyId { kid, .. } if kid == stranger.kid()));
    assert_eq!(
        r.kubernetes_text().unwrap(),
        "oidc: verify token: failed to verify signature: failed to verify id token signature"
    );
    let r = rejected(&i, &mint_with(&stranger, json!({"alg": "ES256", "kid": ec().kid()}), &a_claims()));
    assert!(matches!(r, JwtRejection::BadSignature { .. }), "{r:?}");
    let r = rejected(&i, &mint_with(ec(), json!({"alg": "HS256"}), &a_claims()));
    assert!(matches!(&r, JwtRejection::UnsupportedAlgorithm { alg, .. } if alg == "HS256"));
}

#[test]
fn legacy_flags_make_kube_apiservers_issuer() {
    let flags =
        OidcFlags { issuer_url: "https://l.example".into(), client_id: "kubernetes".into(), ..Default::default() };
    let (config, algs) = flags.to_config(&[]).expect("valid").expect("set");
    assert_eq!(algs, vec![crate::token::keys::Algorithm::RS256]);
    let i = JwtIssuers::from_config(&config, &algs, |_| Arc::new(StaticKeys(set(&[rsa(), ec()]))));
    let claims = json!({"iss": "https://l.example", "aud": "kubernetes", "exp": NOW + 60, "sub": "u1"});
    let user = judge(&i, &mint(rsa(), &claims)).expect("ok").expect("ours").user;
    assert_eq!(user.name, "https://l.example#u1");
    // RS256 only by default: an ES256 token is refused, as by kube-apiserver.
    assert!(matches!(rejected(&i, &mint(ec(), &claims)), JwtRejection::UnsupportedAlgorithm { .. }));
    let r = rejected(&i, &mint(rsa(), &json!({"iss": "https://l.example", "aud": "x", "exp": NOW + 60})));
    assert_eq!(r.kubernetes_text().unwrap(), "oidc: verify token: oidc: expected audience \"kubernetes\" got [\"x\"]");
    let r = rejected(&i, &mint(rsa(), &json!({"iss": "https://l.example", "aud": "kubernetes", "exp": NOW + 60})));
    assert_eq!(r.kubernetes_text().unwrap(), "oidc: parse username claims \"sub\": claim not present");
    assert_eq!(r.code(), "jwt_username_claim_missing");

    let email = OidcFlags { username_claim: "email".into(), ..flags.clone() };
    assert_eq!(email.jwt_authenticator().claim_mappings.username.prefix.as_deref(), Some(""));
    let (config, algs) = email.to_config(&[]).expect("valid").expect("set");
    let i = JwtIssuers::from_config(&config, &algs, |_| Arc::new(StaticKeys(set(&[rsa()]))));
    let unverified = json!({"iss": "https://l.example", "aud": "kubernetes", "exp": NOW + 60, "email": "a@b", "email_verified": false});
    assert!(matches!(rejected(&i, &mint(rsa(), &unverified)), JwtRejection::EmailNotVerified { .. }));
    let mut null = unverified.clone();
    null["email_verified"] = Value::Null;
    assert!(matches!(rejected(&i, &mint(rsa(), &null)), JwtRejection::EmailNotVerified { .. }));
    let mut verified = unverified.clone();
    verified["email_verified"] = true.into();
    assert_eq!(judge(&i, &mint(rsa(), &verified)).expect("ok").expect("ours").user.name, "a@b");
    // A fraction of a second past exp is expired, as go-oidc compares to the nanosecond.
    let at_exp = json!({"iss": "https://l.example", "aud": "kubernetes", "exp": NOW, "email": "a@b"});
    let late = at(NOW) + time::Duration::milliseconds(1);
    assert!(i.authenticate_token(&mint(rsa(), &at_exp), None, late).is_err());
    assert!(i.authenticate_token(&mint(rsa(), &at_exp), None, at(NOW)).is_ok());
    let none = OidcFlags { username_prefix: "-".into(), ..flags.clone() };
    assert_eq!(none.jwt_authenticator().claim_mappings.username.prefix.as_deref(), Some(""));
    assert!(matches!(
        OidcFlags { client_id: String::new(), ..flags.clone() }.to_config(&[]),
        Err(OidcFlagsError::IncompleteIssuer)
    ));
    assert!(OidcFlags::default().to_config(&[]).expect("ok").is_none());
    let http = OidcFlags { issuer_url: "http://l.example".into(), ..flags };
    assert!(matches!(http.to_config(&[]), Err(OidcFlagsError::Invalid(_))));
}

#[test]
fn explain_lists_the_checks_passed() {
    let i = a_issuers();
    let e = i.explain(&mint(ec(), &a_claims()), at(NOW)).expect("a JWT");
    assert!(e.verdict.is_ok());
    let checks: Vec<&str> = e.steps.iter().map(|s| s.check).collect();
    for c in ["keys", "issuer", "expiry", "signature", "audience", "username", "groups", "uid", "user validation rule"]
    {
        assert!(checks.contains(&c), "{checks:?}");
    }
}

mod properties {
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    use super::super::AuthenticationConfiguration;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            "[a-z:,@. ]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        /// Any claim set maps to a user or a typed rejection (never a panic), and a groups
        /// claim of strings maps to exactly those strings with the prefix, as oidc.go does.
        #[test]
        fn claims_map_to_a_user_or_a_rejection(
            extra in prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..6),
            groups in prop::collection::vec("[a-z:]{0,8}", 0..5),
        ) {
            let config = AuthenticationConfiguration::load(super::DOC.as_bytes(), "doc.yaml", &[]).expect("loads");
            let mut claims: Map<String, Value> = extra.into_iter().collect();
            for issuer in &config.issuers {
                let _ = issuer.map_claims(&claims);
            }
            claims.insert("email".into(), json!("u@b.example"));
            claims.insert("groups".into(), json!(groups));
            claims.remove("email_verified");
            let user = config.issuers[1].map_claims(&claims).expect("maps");
            let want: Vec<String> = groups.iter().map(|g| format!("b:{g}")).collect();
            prop_assert_eq!(user.groups, want);
            prop_assert_eq!(user.name, "u@b.example");
        }
    }
}
