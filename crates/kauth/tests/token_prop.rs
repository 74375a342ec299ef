//! Properties over many generated inputs: claims survive encode/decode exactly, issued tokens
//! parse back to what was issued, and the token parser refuses what is not a token as malformed
//! (`Rejection::Malformed`, naming the segment at fault when there are three), never panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kauth::token::claims::{Audience, Claims, KubernetesClaims, NumericDate, ObjectRef};
use kauth::token::Rejection;
use proptest::option;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including quotes, backslashes and control characters JSON must escape.
    proptest::string::string_regex("(?s).{0,24}").unwrap()
}

fn object_ref() -> impl Strategy<Value = ObjectRef<'static>> {
    (text(), text()).prop_map(|(name, uid)| ObjectRef::new(name, uid))
}

fn date() -> impl Strategy<Value = NumericDate> {
    any::<i64>().prop_map(NumericDate)
}

prop_compose! {
    fn kubernetes_claims()(namespace in text(), node in option::of(object_ref()), pod in option::of(object_ref()),
                          secret in option::of(object_ref()), serviceaccount in object_ref(), warnafter in option::of(date()))
                          -> KubernetesClaims<'static> {
        KubernetesClaims { namespace: namespace.into(), node, pod, secret, serviceaccount, warnafter }
    }
}

prop_compose! {
    fn claims()(aud in option::of(proptest::collection::vec(text(), 0..4)), exp in option::of(date()), iat in option::of(date()),
                iss in option::of(text()), jti in option::of(text()), kubernetes in option::of(kubernetes_claims()),
                legacy in option::of((text(), text(), text(), text())), nbf in option::of(date()), sub in option::of(text())) -> Claims<'static> {
        let (legacy_namespace, legacy_secret_name, legacy_service_account_name, legacy_service_account_uid) = match legacy {
            Some((a, b, c, d)) => (Some(a.into()), Some(b.into()), Some(c.into()), Some(d.into())),
            None => (None, None, None, None),
        };
        let s = |o: Option<String>| o.map(std::borrow::Cow::Owned);
        Claims { aud: aud.map(Audience::from_strings), exp, iat, iss: s(iss), jti: s(jti), kubernetes, legacy_namespace, legacy_secret_name,
                 legacy_service_account_name, legacy_service_account_uid, nbf, sub: s(sub) }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn decode_of_encode_is_identity(c in claims()) {
        let json = c.to_json();
        prop_assert_eq!(Claims::from_json(&json).unwrap(), c);
    }

    #[test]
    fn signed_tokens_parse_back(c in claims()) {
        let issuer = issuer();
        let token = issuer.sign(&c).unwrap();
        let parsed = kauth::token::validate::parse(token.as_str()).unwrap();
        prop_assert_eq!(parsed.claims, c);
        prop_assert_eq!(parsed.jws.header.kid.as_deref(), Some(issuer.key().kid()));
    }

    #[test]
    fn any_string_parses_or_is_malformed(s in "(?s).{0,300}") {
        let parsed = kauth::token::validate::parse(&s);
        if let Err(e) = &parsed {
            prop_assert!(matches!(e, Rejection::Malformed { .. }), "{e:?}");
        }
        // `explain` decodes exactly what parses, refusing the rest the same way.
        let decoded = kauth::token::explain::decode(&s, time::OffsetDateTime::UNIX_EPOCH);
        prop_assert_eq!(decoded.err(), parsed.err());
    }

    #[test]
    fn dotted_base64_garbage_is_malformed_in_a_segment(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,120}") {
        // Random base64url is never a JSON header with an alg and JSON claims.
        let e = kauth::token::validate::parse(&format!("{a}.{b}.{c}")).map(|_| ()).unwrap_err();
        prop_assert!(matches!(e, Rejection::Malformed { segment: Some(_), .. }), "{e:?}");
    }
}

fn issuer() -> &'static kauth::token::issue::TokenIssuer {
    static I: std::sync::OnceLock<kauth::token::issue::TokenIssuer> = std::sync::OnceLock::new();
    I.get_or_init(|| {
        let pem = kauth::pki::PrivateKey::generate(kauth::pki::KeyType::EcdsaP256).unwrap().to_pem().unwrap();
        kauth::token::issue::TokenIssuer::new(
            "https://issuer",
            kauth::token::keys::SigningKey::from_pem("k", pem.as_bytes()).unwrap(),
        )
    })
}

/// `Validator::validate` decodes into stack buffers and recognises its keys' headers without
/// decoding them; this is the same validation composed from the allocating public steps
/// (`jws::parse`, `claims_of`, `verify_signature`, ...), which it must match exactly: the same
/// user, audiences and kid, or the same rejection, for every token.
mod differential {
    use std::sync::OnceLock;

    use kauth::token::claims::{Binding, Claims, KubernetesClaims, ObjectRef, ServiceAccountClaims};
    use kauth::token::issue::TokenIssuer;
    use kauth::token::jws;
    use kauth::token::keys::{KeySet, SigningKey};
    use kauth::token::lookup::MemoryLookup;
    use kauth::token::validate::{self, Validator, ValidatorConfig};
    use kauth::token::Rejection;
    use kauth::user::{service_account_groups, service_account_username, UserInfo};
    use proptest::prelude::*;

    const ISSUER: &str = "https://issuer";

    type Outcome = Result<Option<(UserInfo, Vec<String>, String)>, Rejection>;

    struct World {
        validator: Validator,
        lookup: MemoryLookup,
        tokens: Vec<String>,
        now: time::OffsetDateTime,
    }

    fn key(kind: kauth::pki::KeyType) -> SigningKey {
        let pem = kauth::pki::PrivateKey::generate(kind).unwrap().to_pem().unwrap();
        SigningKey::from_pem("k", pem.as_bytes()).unwrap()
    }

    /// Signs `claims` under an arbitrary header JSON.
    fn sign_with_header(key: &SigningKey, header: &str, claims: &Claims<'_>) -> String {
        let mut t = jws::encode(header.as_bytes());
        t.push('.');
        t.push_str(&jws::encode(&claims.to_json()));
        let sig = key.sign(t.as_bytes()).unwrap();
        t.push('.');
        t.push_str(&jws::encode(&sig));
        t
    }

    fn world() -> &'static World {
        static W: OnceLock<World> = OnceLock::new();
        W.get_or_init(|| {
            let rsa = TokenIssuer::new(ISSUER, key(kauth::pki::KeyType::Rsa2048));
            let ec = TokenIssuer::new(ISSUER, key(kauth::pki::KeyType::EcdsaP256));
            let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
            let iat = now.unix_timestamp() - 10;
            let k = KubernetesClaims {
                namespace: "ns".into(),
                serviceaccount: ObjectRef::new("sa", "sa-uid"),
                ..Default::default()
            };
            let mut pod = k.clone();
            pod.set_binding(Some(Binding::Pod {
                pod: ObjectRef::new("p", "p-uid"),
                node: Some(ObjectRef::new("n", "n-uid")),
            }));
            let claims = |k: KubernetesClaims<'static>, jti: &str| Claims {
                aud: Some(kauth::token::claims::Audience::from_strings(vec![ISSUER.into()])),
                exp: Some(kauth::token::claims::NumericDate(iat + 3600)),
                iat: Some(kauth::token::claims::NumericDate(iat)),
                nbf: Some(kauth::token::claims::NumericDate(iat)),
                iss: Some(ISSUER.into()),
                jti: Some(jti.to_owned().into()),
                sub: Some("system:serviceaccount:ns:sa".into()),
                kubernetes: Some(k),
                ..Default::default()
            };
            let legacy = Claims {
                iss: Some(kauth::token::claims::LEGACY_ISSUER.into()),
                legacy_namespace: Some("ns".into()),
                legacy_secret_name: Some("sa-token".into()),
                legacy_service_account_name: Some("sa".into()),
                legacy_service_account_uid: Some("sa-uid".into()),
                sub: Some("system:serviceaccount:ns:sa".into()),
                ..Default::default()
            };
            let legacy_token = rsa.sign(&legacy).unwrap().into_string();
            let kid = rsa.key().kid().to_owned();
            let tokens = vec![
                // The headers kauth and kube-apiserver write, recognised without decoding.
                rsa.sign(&claims(pod.clone(), "j1")).unwrap().into_string(),
                ec.sign(&claims(k.clone(), "j2")).unwrap().into_string(),
                legacy_token.clone(),
                // Headers that must be decoded and parsed: another member, another order, no kid.
                sign_with_header(
                    rsa.key(),
                    &format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"JWT"}}"#),
                    &claims(pod, "j3"),
                ),
                sign_with_header(rsa.key(), &format!(r#"{{"kid":"{kid}","alg":"RS256"}}"#), &claims(k.clone(), "j4")),
                sign_with_header(rsa.key(), r#"{"alg":"RS256"}"#, &claims(k.clone(), "j5")),
                // A payload too big for the stack buffer (decoded on the heap instead).
                rsa.sign(&claims(k, &"x".repeat(3000))).unwrap().into_string(),
            ];
            let validator = Validator::new(ValidatorConfig {
                issuers: vec![ISSUER.into()],
                api_audiences: vec![],
                keys: KeySet::new(vec![rsa.key().verifying_key().clone(), ec.key().verifying_key().clone()]),
                leeway_seconds: 60,
                accept_legacy: true,
            });
            let lookup = MemoryLookup::default()
                .with_service_account("ns", "sa", "sa-uid")
                .with_pod("ns", "p", "p-uid")
                .with_node("n", "n-uid")
                .with_secret("ns", "sa-token", "s-uid", Some(&legacy_token));
            World { validator, lookup, tokens, now }
        })
    }

    fn reference(w: &World, token: &str) -> Outcome {
        let v = &w.validator;
        let jws = jws::parse(token)?;
        let claims = validate::claims_of(&jws)?;
        if !v.owns_issuer(claims.iss.as_deref().unwrap_or("")) {
            return Ok(None);
        }
        let kid = validate::verify_signature(&jws, &v.config().keys)?;
        let audiences = validate::check_audience(&claims, None, &v.config().api_audiences)?;
        validate::check_times(&claims, w.now, 60)?;
        let user = match claims.service_account().map_err(|claim| Rejection::MissingClaim { claim })? {
            ServiceAccountClaims::Bound(k) => {
                let binding = validate::check_bound_objects(k, &w.lookup, w.now, 60)?;
                validate::bound_user(k, &binding, claims.jti.as_deref())
            }
            ServiceAccountClaims::Legacy { namespace, name, uid, secret } => {
                validate::check_legacy_objects(token, namespace, name, uid, secret, &w.lookup)?;
                UserInfo {
                    name: service_account_username(namespace, name),
                    uid: uid.to_owned(),
                    groups: service_account_groups(namespace),
                    extra: Default::default(),
                }
            }
        };
        Ok(Some((user, audiences, kid.to_string())))
    }

    fn actual(w: &World, token: &str) -> Outcome {
        w.validator
            .validate(token, None, w.now, &w.lookup)
            .map(|o| o.map(|a| (a.user, a.audiences.to_vec(), a.kid.to_string())))
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Replace(usize, char),
        Insert(usize, char),
        Remove(usize),
        Truncate(usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let c = proptest::sample::select(vec!['A', 'e', 'y', 'J', '0', '_', '-', '.', '=', '+', '/', ' ', '{', 'é']);
        prop_oneof![
            (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
            (any::<usize>(), c).prop_map(|(i, c)| Edit::Insert(i, c)),
            any::<usize>().prop_map(Edit::Remove),
            any::<usize>().prop_map(Edit::Truncate),
        ]
    }

    fn apply(token: &str, edits: &[Edit]) -> String {
        let mut t: Vec<char> = token.chars().collect();
        for e in edits {
            match *e {
                Edit::Replace(i, c) if !t.is_empty() => {
                    let n = t.len();
                    t[i % n] = c;
                }
                Edit::Insert(i, c) => t.insert(i % (t.len() + 1), c),
                Edit::Remove(i) if !t.is_empty() => {
                    let n = t.len();
                    t.remove(i % n);
                }
                Edit::Truncate(i) => t.truncate(i % (t.len() + 1)),
                _ => {}
            }
        }
        t.into_iter().collect()
    }

    #[test]
    fn every_unedited_token_validates() {
        let w = world();
        for t in &w.tokens {
            let got = actual(w, t);
            assert!(matches!(got, Ok(Some(_))), "{got:?}");
            assert_eq!(got, reference(w, t));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn validate_matches_the_composed_steps(i in 0usize..7, edits in proptest::collection::vec(edit(), 0..3)) {
            let w = world();
            let token = apply(&w.tokens[i % w.tokens.len()], &edits);
            prop_assert_eq!(actual(w, &token), reference(w, &token));
        }
    }
}
