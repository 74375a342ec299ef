//! Every way a service-account token is accepted or rejected, through the public API, with a
//! fake clock. Each rejection is asserted as its variant, with the values it carries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kauth::pki::{KeyType, PrivateKey};
use kauth::token::claims::{Binding, Claims, ObjectRef};
use kauth::token::issue::{plan_expiration, BoundTokenSpec, ExpirationPolicy, TokenIssuer};
use kauth::token::jws;
use kauth::token::keys::{KeySet, SigningKey};
use kauth::token::lookup::MemoryLookup;
use kauth::token::validate::{Authenticated, ObjectState, SecretState, TokenKind, Validator, ValidatorConfig};
use kauth::token::{ObjectKind, Rejection};
use time::OffsetDateTime;

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const T0: i64 = 1_669_536_841; // seed 000's iat

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

struct Fixture {
    issuer: TokenIssuer,
    validator: Validator,
    lookup: MemoryLookup,
}

fn fixture(kind: KeyType) -> Fixture {
    let pem = PrivateKey::generate(kind).unwrap().to_pem().unwrap();
    let key = SigningKey::from_pem("sa.key", pem.as_bytes()).unwrap();
    let keys = KeySet::new(vec![key.verifying_key().clone()]);
    let validator = Validator::new(ValidatorConfig {
        issuers: vec![ISSUER.into()],
        api_audiences: vec![],
        keys,
        leeway_seconds: 60,
        accept_legacy: true,
    });
    let lookup = MemoryLookup::default()
        .with_service_account("argo-run", "loofah", "sa-uid")
        .with_pod("argo-run", "worker", "pod-uid")
        .with_node("node2", "node-uid")
        .with_secret("argo-run", "bound-secret", "secret-uid", None);
    Fixture { issuer: TokenIssuer::new(ISSUER, key), validator, lookup }
}

fn spec(binding: Option<Binding<'static>>) -> BoundTokenSpec {
    BoundTokenSpec {
        namespace: "argo-run".into(),
        service_account: ObjectRef::new("loofah", "sa-uid"),
        audiences: vec![],
        binding,
        jti: Some("0f0e7c8a-51a5-4e4e-9d53-3c2b1f0e9a11".into()),
    }
}

fn pod_binding() -> Option<Binding<'static>> {
    Some(Binding::Pod { pod: ObjectRef::new("worker", "pod-uid"), node: Some(ObjectRef::new("node2", "node-uid")) })
}

impl Fixture {
    fn api(&self) -> Vec<String> {
        self.validator.config().api_audiences.clone()
    }

    /// A bound token issued at `iat` by an issuer whose clock reads `iat`.
    fn token(&self, binding: Option<Binding<'static>>, seconds: i64, iat: i64) -> String {
        let plan = plan_expiration(
            Some(seconds),
            matches!(binding, Some(Binding::Pod { .. })),
            &[],
            &self.api(),
            ExpirationPolicy { max_seconds: None, extend: true },
        )
        .unwrap();
        self.issuer.issue_bound(&spec(binding), plan, &self.api(), iat).unwrap().token.into_string()
    }

    fn check(&self, token: &str, now: i64) -> Result<Option<Authenticated<'_>>, Rejection> {
        self.validator.validate(token, None, at(now), &self.lookup)
    }

    fn reject(&self, token: &str, now: i64) -> Rejection {
        self.check(token, now).expect_err("must be rejected")
    }
}

#[test]
fn a_pod_bound_token_authenticates_exactly_like_kubernetes() {
    for kind in [KeyType::Rsa2048, KeyType::EcdsaP256] {
        let f = fixture(kind);
        let token = f.token(pod_binding(), 3600, T0);
        let ok = f.check(&token, T0 + 10).unwrap().expect("ours");
        assert_eq!(ok.user.name, "system:serviceaccount:argo-run:loofah");
        assert_eq!(ok.user.uid, "sa-uid");
        assert_eq!(ok.user.groups, ["system:serviceaccounts", "system:serviceaccounts:argo-run"]);
        let extra: Vec<(String, Vec<String>)> = ok.user.extra.iter().map(|(k, v)| (k.to_owned(), v.to_vec())).collect();
        assert_eq!(
            extra,
            [
                (
                    "authentication.kubernetes.io/credential-id".to_owned(),
                    vec!["JTI=0f0e7c8a-51a5-4e4e-9d53-3c2b1f0e9a11".to_owned()]
                ),
                ("authentication.kubernetes.io/node-name".to_owned(), vec!["node2".to_owned()]),
                ("authentication.kubernetes.io/node-uid".to_owned(), vec!["node-uid".to_owned()]),
                ("authentication.kubernetes.io/pod-name".to_owned(), vec!["worker".to_owned()]),
                ("authentication.kubernetes.io/pod-uid".to_owned(), vec!["pod-uid".to_owned()]),
            ]
        );
        assert_eq!(*ok.audiences, [ISSUER]);
        assert_eq!(ok.kind, TokenKind::Bound);
        assert_eq!(ok.stale, None);
        assert_eq!(ok.expires_at, Some(T0 + 3600));
    }
}

#[test]
fn seed_000_clock_skew_30s_is_tolerated_90s_is_named() {
    let f = fixture(KeyType::Rsa2048);
    // Node B's clock runs ahead: it issues with iat = nbf = its own now.
    let ahead30 = f.token(pod_binding(), 3607, T0 + 30);
    assert!(f.check(&ahead30, T0).unwrap().is_some(), "30s of skew is inside the 60s leeway");
    let ahead90 = f.token(pod_binding(), 3607, T0 + 90);
    let r = f.reject(&ahead90, T0);
    assert_eq!(r, Rejection::NotYetValid { nbf: T0 + 90, now: T0, leeway: 60 });
    assert_eq!(r.clock_skew_at_least(), Some(90));
    assert!(r.to_string().contains("the issuer's clock is at least 1m30s ahead of this server's"), "{r}");
    // Once this clock catches up to within the leeway, it is accepted (the "sleep 40s" of seed 000).
    assert!(f.check(&ahead90, T0 + 31).unwrap().is_some());
}

#[test]
fn expiry_and_iat_use_the_60s_leeway() {
    let f = fixture(KeyType::EcdsaP256);
    let token = f.token(None, 600, T0);
    assert!(f.check(&token, T0 + 600 + 59).unwrap().is_some());
    assert_eq!(f.reject(&token, T0 + 600 + 61), Rejection::Expired { exp: T0 + 600, now: T0 + 661, leeway: 60 });
    // iat in the future without nbf.
    let claims = Claims {
        iss: Some(ISSUER.into()),
        iat: Some(kauth::token::claims::NumericDate(T0 + 120)),
        kubernetes: Some(kauth::token::claims::KubernetesClaims {
            namespace: "argo-run".into(),
            serviceaccount: ObjectRef::new("loofah", "sa-uid"),
            ..Default::default()
        }),
        ..Claims::default()
    };
    let token = f.issuer.sign(&claims).unwrap();
    assert_eq!(f.reject(token.as_str(), T0), Rejection::IssuedInTheFuture { iat: T0 + 120, now: T0, leeway: 60 });
}

#[test]
fn another_issuer_is_not_mine() {
    let f = fixture(KeyType::EcdsaP256);
    let other = TokenIssuer::new(
        "https://oidc.example.com",
        SigningKey::from_pem("k", PrivateKey::generate(KeyType::EcdsaP256).unwrap().to_pem().unwrap().as_bytes())
            .unwrap(),
    );
    let plan = plan_expiration(None, false, &[], &f.api(), ExpirationPolicy::default()).unwrap();
    let token = other.issue_bound(&spec(None), plan, &f.api(), T0).unwrap().token;
    assert_eq!(f.check(token.as_str(), T0), Ok(None));
}

#[test]
fn signature_key_and_algorithm_rejections() {
    let f = fixture(KeyType::Rsa2048);
    let token = f.token(None, 3600, T0);
    let (head, rest) = token.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();

    // Claims altered after signing.
    let payload_json = base64_decode(payload);
    let claims = Claims {
        sub: Some("system:serviceaccount:argo-run:admin".into()),
        ..Claims::from_json(&payload_json).unwrap()
    };
    let forged = format!("{head}.{}.{sig}", jws::encode(&claims.to_json()));
    let kid = f.issuer.key().kid().to_owned();
    assert_eq!(f.reject(&forged, T0), Rejection::BadSignature { alg: "RS256".into(), tried: vec![kid.clone()] });

    // Signed by a key the server does not have.
    let stranger = TokenIssuer::new(
        ISSUER,
        SigningKey::from_pem("k", PrivateKey::generate(KeyType::Rsa2048).unwrap().to_pem().unwrap().as_bytes())
            .unwrap(),
    );
    let plan = plan_expiration(None, false, &[], &f.api(), ExpirationPolicy::default()).unwrap();
    let foreign = stranger.issue_bound(&spec(None), plan, &f.api(), T0).unwrap().token;
    match f.reject(foreign.as_str(), T0) {
        Rejection::UnknownKeyId { kid: got, known } => {
            assert_eq!(got, stranger.key().kid());
            assert_eq!(known, vec![kid.clone()]);
        }
        other => panic!("{other:?}"),
    }

    // Without a kid, every key is tried.
    let no_kid = format!("{}.{payload}.{sig}", jws::encode(br#"{"alg":"RS256"}"#));
    assert_eq!(f.reject(&no_kid, T0), Rejection::BadSignature { alg: "RS256".into(), tried: vec![kid.clone()] });

    for (alg, expect) in [
        ("none", "token_algorithm_forbidden"),
        ("HS256", "token_algorithm_forbidden"),
        ("XS1", "token_algorithm_unsupported"),
    ] {
        let t = format!("{}.{payload}.{sig}", jws::encode(format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#).as_bytes()));
        assert_eq!(f.reject(&t, T0).code(), expect, "{alg}");
    }
    // ES256 header on an RSA key: no key verifies it.
    let t = format!("{}.{payload}.{sig}", jws::encode(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#).as_bytes()));
    assert_eq!(f.reject(&t, T0).code(), "token_bad_signature");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[test]
fn malformed_tokens_name_what_is_wrong() {
    let f = fixture(KeyType::EcdsaP256);
    for (token, code) in [
        ("", "token_malformed"),
        ("abc", "token_malformed"),
        ("a.b.c.d", "token_malformed"),
        ("{\"a\":1}", "token_malformed"),
    ] {
        assert_eq!(f.reject(token, T0).code(), code, "{token:?}");
    }
    // Seed 002's second copy: a character lost in the middle of the payload.
    let corrupt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwia3ViZXJuZXRlcy5pby9zZXJ2aWNlYWNjb3VudC9uYW1lc3BhY2UiOiJrdWJlXN5c3RlbSIsImt1YmVybmV0ZXMuaW8vc2VydmljZWFjY291bnQvc2VjcmV0Lm5hbWUiOiJkZWZhdWx0LXRva2VuLWp2cmtmIiwia3ViZXJuZXRlcy5pby9zZXJ2aWNlYWNjb3VudC9zZXJ2aWNlLWFjY291bnQubmFtZSI6ImRlZmF1bHQiLCJrdWJlcm5ldGVzLmlvL3NlcnZpY2VhY2NvdW50L3NlcnZpY2UtYWNjb3VudC51aWQiOiJiYThhZGQyZC0xMmFiLTExZTgtOTcxOS0wODAwMjdkZDk1YTMiLCJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a3ViZS1zeXN0ZW06ZGVmYXVsdCJ9.JYVNgnSNO-Gs4zuqjZHOQs1e4RG31c_trE5AcJXqlexM5On0SriWjb-qICS2o5_M0jNmSKED67lfAomoCsKOk7a4zlAdpkc4eVWxMXEaWemu6yxQAIcJjiaBgEpOm38FMQJKEsb1D3kdD0W0HD1MNcgY0LXxyXuWv7NToqGxbYn7QJqrEEFTM5qEx5IAAA7YeWOkXqQ35Vtg1Co1u-Ilw2Cr1GPtmCazCL0t8bpP4oi7qDr98lYmWNMo8KcPZpIBoS9Cg0bX3gONOE3Fga6Aa0e6VxLPy9VyXdezXvNtsmMtW-ryJ8fvplap2wj2JPFWCEO26DIXQSx8OX_h3ds_ug";
    match f.reject(corrupt, T0) {
        Rejection::Malformed { segment: Some(jws::Segment::Payload), problem } => {
            assert!(problem.starts_with("claims are not UTF-8"), "{problem}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn audiences_must_intersect() {
    let f = fixture(KeyType::EcdsaP256);
    let plan = plan_expiration(None, false, &["vault".into()], &f.api(), ExpirationPolicy::default()).unwrap();
    let mut s = spec(None);
    s.audiences = vec!["vault".into()];
    let token = f.issuer.issue_bound(&s, plan, &f.api(), T0).unwrap().token;
    assert_eq!(
        f.reject(token.as_str(), T0),
        Rejection::NoAudienceInCommon { token: vec!["vault".into()], accepted: vec![ISSUER.into()] }
    );
    // TokenReview with spec.audiences: ["vault"] accepts it.
    let ok = f.validator.validate(token.as_str(), Some(&["vault".into()]), at(T0), &f.lookup).unwrap().unwrap();
    assert_eq!(*ok.audiences, ["vault"]);
}

#[test]
fn deleted_and_recreated_objects_invalidate_tokens() {
    let mut f = fixture(KeyType::EcdsaP256);
    let token = f.token(pod_binding(), 3600, T0);
    let set_sa =
        |f: &mut Fixture, state: Option<ObjectState>| f.lookup.set_service_account("argo-run", "loofah", state);

    set_sa(&mut f, Some(ObjectState { uid: "new-uid".into(), deletion_timestamp: None }));
    assert_eq!(
        f.reject(&token, T0),
        Rejection::ServiceAccountRecreated {
            namespace: "argo-run".into(),
            name: "loofah".into(),
            token_uid: "sa-uid".into(),
            current_uid: "new-uid".into()
        }
    );
    // Being deleted: tolerated for the leeway, then rejected.
    set_sa(&mut f, Some(ObjectState { uid: "sa-uid".into(), deletion_timestamp: Some(T0 - 30) }));
    assert!(f.check(&token, T0).unwrap().is_some());
    set_sa(&mut f, Some(ObjectState { uid: "sa-uid".into(), deletion_timestamp: Some(T0 - 61) }));
    assert_eq!(f.reject(&token, T0).code(), "serviceaccount_deleted");
    set_sa(&mut f, None);
    assert_eq!(
        f.reject(&token, T0),
        Rejection::ServiceAccountNotFound { namespace: "argo-run".into(), name: "loofah".into() }
    );
    set_sa(&mut f, Some(ObjectState { uid: "sa-uid".into(), deletion_timestamp: None }));

    f.lookup.set_pod("argo-run", "worker", Some(ObjectState { uid: "other-pod".into(), deletion_timestamp: None }));
    assert_eq!(
        f.reject(&token, T0),
        Rejection::BoundObjectRecreated {
            kind: ObjectKind::Pod,
            name: "argo-run/worker".into(),
            token_uid: "pod-uid".into(),
            current_uid: "other-pod".into()
        }
    );
    f.lookup.set_pod(
        "argo-run",
        "worker",
        Some(ObjectState { uid: "pod-uid".into(), deletion_timestamp: Some(T0 - 120) }),
    );
    assert_eq!(
        f.reject(&token, T0),
        Rejection::BoundObjectDeleted { kind: ObjectKind::Pod, name: "argo-run/worker".into(), deleted_at: T0 - 120 }
    );
    f.lookup.set_pod("argo-run", "worker", None);
    assert_eq!(
        f.reject(&token, T0),
        Rejection::BoundObjectNotFound { kind: ObjectKind::Pod, name: "argo-run/worker".into() }
    );
    f.lookup = f.lookup.clone().with_pod("argo-run", "worker", "pod-uid");
    // A pod's node claims are informational, as in kube-apiserver: only the pod is checked.
    f.lookup.set_node("node2", None);
    let ok = f.check(&token, T0).unwrap().expect("a pod-bound token does not depend on its node");
    assert_eq!(ok.user.extra.get("authentication.kubernetes.io/node-uid").unwrap(), ["node-uid"]);
    f.lookup.set_node("node2", Some(ObjectState { uid: "new-node".into(), deletion_timestamp: None }));
    assert!(f.check(&token, T0).unwrap().is_some());

    let secret_token = f.token(Some(Binding::Secret(ObjectRef::new("bound-secret", "secret-uid"))), 3600, T0);
    assert!(f.check(&secret_token, T0).unwrap().is_some());
    f.lookup.set_secret("argo-run", "bound-secret", None);
    assert_eq!(f.reject(&secret_token, T0).code(), "bound_object_not_found");

    let f2 = fixture(KeyType::EcdsaP256);
    let node_token = f2.token(Some(Binding::Node(ObjectRef::new("node2", "node-uid"))), 3600, T0);
    let ok = f2.check(&node_token, T0).unwrap().unwrap();
    assert_eq!(ok.user.extra.get("authentication.kubernetes.io/node-name").unwrap(), ["node2"]);
    assert!(!ok.user.extra.contains_key("authentication.kubernetes.io/pod-name"));
    // A token bound to the node itself depends on it.
    let mut f3 = fixture(KeyType::EcdsaP256);
    let node_token3 = f3.token(Some(Binding::Node(ObjectRef::new("node2", "node-uid"))), 3600, T0);
    f3.lookup.set_node("node2", Some(ObjectState { uid: "new-node".into(), deletion_timestamp: None }));
    assert_eq!(
        f3.reject(&node_token3, T0),
        Rejection::BoundObjectRecreated {
            kind: ObjectKind::Node,
            name: "node2".into(),
            token_uid: "node-uid".into(),
            current_uid: "new-node".into()
        }
    );
    f3.lookup.set_node("node2", None);
    assert_eq!(
        f3.reject(&node_token3, T0),
        Rejection::BoundObjectNotFound { kind: ObjectKind::Node, name: "node2".into() }
    );

    let mut failing = f2.lookup.clone();
    failing.failing = Some("store unreachable".into());
    let r = f2.validator.validate(&node_token, None, at(T0), &failing).unwrap_err();
    assert_eq!(
        r,
        Rejection::LookupFailed { what: "service account argo-run/loofah".into(), problem: "store unreachable".into() }
    );
}

#[test]
fn extended_tokens_live_a_year_and_turn_stale_after_warnafter() {
    let f = fixture(KeyType::Rsa2048);
    let token = f.token(pod_binding(), 3607, T0);
    let claims = kauth::token::validate::parse(&token).unwrap().claims;
    assert_eq!(claims.exp.unwrap().0 - T0, 31_536_000);
    assert_eq!(claims.kubernetes.unwrap().warnafter.unwrap().0, T0 + 3607);
    assert_eq!(f.check(&token, T0 + 3600).unwrap().unwrap().stale, None);
    let late = f.check(&token, T0 + 3607 + 7200).unwrap().unwrap();
    let stale = late.stale.unwrap();
    assert_eq!(stale.seconds_after_warning, 7200);
    assert_eq!(
        stale.audit_annotation(),
        "subject: system:serviceaccount:argo-run:loofah, seconds after warning threshold: 7200"
    );
    // Still valid half a year later: seed 004's surprise.
    assert!(f.check(&token, T0 + 180 * 86_400).unwrap().is_some());
}

#[test]
fn legacy_tokens_follow_their_secret() {
    let mut f = fixture(KeyType::Rsa2048);
    let token = f.issuer.issue_legacy("argo-run", &ObjectRef::new("loofah", "sa-uid"), "loofah-token-abcde").unwrap();
    f.lookup = f.lookup.clone().with_secret("argo-run", "loofah-token-abcde", "s-uid", Some(token.as_str()));
    let ok = f.check(token.as_str(), T0).unwrap().unwrap();
    assert_eq!(ok.kind, TokenKind::Legacy { secret: "argo-run/loofah-token-abcde".into() });
    assert_eq!(ok.user.name, "system:serviceaccount:argo-run:loofah");
    assert!(ok.user.extra.is_empty());
    assert_eq!(*ok.audiences, [ISSUER], "a legacy token counts as carrying the API audiences");

    let key = "argo-run/loofah-token-abcde".to_owned();
    let mut secret = SecretState {
        object: ObjectState { uid: "s-uid".into(), deletion_timestamp: None },
        token: Some(b"another".to_vec()),
        invalid_since: None,
    };
    f.lookup.set_secret("argo-run", "loofah-token-abcde", Some(secret.clone()));
    assert_eq!(f.reject(token.as_str(), T0), Rejection::LegacySecretHoldsAnotherToken { secret: key.clone() });
    secret.token = Some(token.as_str().as_bytes().to_vec());
    secret.invalid_since = Some("2026-01-01".into());
    f.lookup.set_secret("argo-run", "loofah-token-abcde", Some(secret.clone()));
    assert_eq!(
        f.reject(token.as_str(), T0),
        Rejection::LegacyTokenInvalidated { secret: key.clone(), since: "2026-01-01".into() }
    );
    secret.invalid_since = None;
    secret.object.deletion_timestamp = Some(T0);
    f.lookup.set_secret("argo-run", "loofah-token-abcde", Some(secret));
    assert_eq!(f.reject(token.as_str(), T0).code(), "legacy_secret_deleted");
    f.lookup.set_secret("argo-run", "loofah-token-abcde", None);
    assert_eq!(f.reject(token.as_str(), T0), Rejection::LegacySecretNotFound { secret: key });

    // Legacy tokens are refused when the validator does not accept the legacy issuer: not mine.
    let strict = Validator::new(ValidatorConfig { accept_legacy: false, ..f.validator.config().clone() });
    assert_eq!(strict.validate(token.as_str(), None, at(T0), &f.lookup), Ok(None));
}

#[test]
fn missing_claims_are_named() {
    let f = fixture(KeyType::EcdsaP256);
    let claims = Claims { iss: Some(ISSUER.into()), sub: Some("x".into()), ..Claims::default() };
    let token = f.issuer.sign(&claims).unwrap();
    assert_eq!(f.reject(token.as_str(), T0).code(), "token_missing_claim");
}

#[test]
fn audiences_in_common_are_check_audience_and_lent_when_they_are_the_api_audiences() {
    use kauth::token::claims::Audience;
    use kauth::token::validate::check_audience;
    let mut f = fixture(KeyType::EcdsaP256);
    let api: Vec<String> = vec!["a".into(), "b".into()];
    f.validator = Validator::new(ValidatorConfig { api_audiences: api.clone(), ..f.validator.config().clone() });
    let base = kauth::token::validate::parse(&f.token(pod_binding(), 3600, T0)).unwrap().claims;
    let strings = |l: &[&str]| -> Vec<String> { l.iter().map(|s| s.to_string()).collect() };
    let lists: [&[&str]; 9] =
        [&[], &["a"], &["b"], &["a", "b"], &["b", "a"], &["a", "a", "b"], &["x"], &["x", "a", "b"], &["a", "x", "b"]];
    let requests: [Option<&[&str]>; 6] =
        [None, Some(&[]), Some(&["a", "b"]), Some(&["b", "a"]), Some(&["a"]), Some(&["x", "b"])];
    let (mut shared, mut own) = (0, 0);
    for aud in lists {
        let mut claims = base.clone();
        claims.aud = (!aud.is_empty()).then(|| Audience::from_strings(strings(aud)));
        let token = f.issuer.sign(&claims).unwrap();
        for req in requests {
            let req = req.map(strings);
            let expected = check_audience(&claims, req.as_deref(), &api);
            let got = f.validator.validate(token.as_str(), req.as_deref(), at(T0), &f.lookup).map(|o| o.unwrap());
            assert_eq!(
                got.as_ref().map(|ok| ok.audiences.to_vec()).map_err(Clone::clone),
                expected,
                "token aud {aud:?}, requested {req:?}"
            );
            // Where the result is the API audiences, the validator lends its own list.
            let borrowed = matches!(&got, Ok(ok) if matches!(ok.audiences, std::borrow::Cow::Borrowed(b)
                if std::ptr::eq(b, f.validator.config().api_audiences.as_slice())));
            if expected.as_deref() == Ok(api.as_slice()) && req.as_ref().is_none_or(|r| r.is_empty() || *r == api) {
                assert!(borrowed, "aud {aud:?}, requested {req:?}: not lent");
                shared += 1;
            } else {
                assert!(!borrowed, "aud {aud:?}, requested {req:?}: lent");
                own += 1;
            }
        }
    }
    assert_eq!((shared, own), (12, 42), "the cases cover both paths");
}

#[test]
fn a_recognised_header_verifies_exactly_like_the_kid_lookup() {
    use kauth::token::jwks::{jwk, parse_jwks, JwkSet};
    use kauth::token::validate::{verify_known, verify_parts};
    // Two RSA keys under one kid, as a JWKS may publish them: both have the header segment
    // {"alg":"RS256","kid":"shared"}, which the set recognises as its first key's.
    let signers: Vec<SigningKey> = (0..2)
        .map(|_| {
            let pem = PrivateKey::generate(KeyType::Rsa2048).unwrap().to_pem().unwrap();
            SigningKey::from_pem("sa.key", pem.as_bytes()).unwrap()
        })
        .collect();
    let set = JwkSet {
        keys: signers
            .iter()
            .map(|s| {
                let mut j = jwk(s.verifying_key()).unwrap();
                j.kid = Some("shared".into());
                j
            })
            .collect(),
    };
    let keys = parse_jwks("jwks", &serde_json::to_vec(&set).unwrap()).unwrap();
    let segment = jws::encode(&jws::header_json("RS256", "shared"));
    let (first, header) = keys.known_key(&segment).expect("recognised");
    assert!(std::ptr::eq(first, &keys.keys()[0]));
    let input = format!("{segment}.{}", jws::encode(b"{}"));
    for signer in &signers {
        let good = signer.sign(input.as_bytes()).unwrap();
        let mut bad = good.clone();
        bad[10] ^= 1;
        for sig in [good, bad] {
            let known = verify_known(first, &header, input.as_bytes(), &sig, &keys);
            assert_eq!(known, verify_parts(&header, input.as_bytes(), &sig, &keys));
            if let Err(e) = known {
                assert_eq!(e, Rejection::BadSignature { alg: "RS256".into(), tried: vec!["shared".into(); 2] });
            }
        }
        // The second key's signature verifies through the fallback.
        assert_eq!(
            verify_known(first, &header, input.as_bytes(), &signer.sign(input.as_bytes()).unwrap(), &keys).as_deref(),
            Ok("shared")
        );
    }
}
