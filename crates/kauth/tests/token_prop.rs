//! Properties over many generated inputs: claims survive encode/decode exactly, issued tokens
//! parse back to what was issued, and no string is a panic for the token parser.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kauth::token::claims::{Audience, Claims, KubernetesClaims, NumericDate, ObjectRef};
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
    fn any_string_is_a_value_or_a_rejection(s in "(?s).{0,300}") {
        let _ = kauth::token::validate::parse(&s);
        let _ = kauth::token::explain::decode(&s, time::OffsetDateTime::UNIX_EPOCH);
    }

    #[test]
    fn dotted_base64_garbage_is_a_rejection(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,120}") {
        let _ = kauth::token::validate::parse(&format!("{a}.{b}.{c}"));
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
