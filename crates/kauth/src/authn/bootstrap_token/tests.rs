//! Bootstrap tokens against Secrets held in a map.

use std::collections::HashMap;

use super::*;

struct Secrets(HashMap<String, BootstrapSecret>);

impl BootstrapSecrets for Secrets {
    fn bootstrap_secret(&self, name: &str) -> Result<Option<BootstrapSecret>, String> {
        Ok(self.0.get(name).cloned())
    }
}

const TOKEN: &str = "abcdef.0123456789abcdef";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_799_990_000).unwrap()
}

fn secret(edit: impl FnOnce(&mut BootstrapSecret)) -> BootstrapTokenAuthenticator<Secrets> {
    let mut s = BootstrapSecret { type_: SECRET_TYPE.into(), ..Default::default() };
    for (k, v) in [
        (keys::TOKEN_ID, "abcdef"),
        (keys::TOKEN_SECRET, "0123456789abcdef"),
        (keys::EXPIRATION, "2027-01-15T08:00:00Z"),
        (keys::USAGE_AUTHENTICATION, "true"),
        (keys::EXTRA_GROUPS, "system:bootstrappers:kubeadm:default-node-token,system:bootstrappers:a"),
    ] {
        s.data.insert(k.into(), v.into());
    }
    edit(&mut s);
    BootstrapTokenAuthenticator::new(Secrets(HashMap::from([("bootstrap-token-abcdef".to_owned(), s)])))
}

#[test]
fn a_valid_token_is_its_bootstrap_user_with_sorted_groups() {
    let user = secret(|_| {}).judge(TOKEN, now()).unwrap().unwrap();
    assert_eq!(user.name, "system:bootstrap:abcdef");
    assert_eq!(
        user.groups,
        ["system:bootstrappers", "system:bootstrappers:a", "system:bootstrappers:kubeadm:default-node-token"]
    );
    let no_extra = secret(|s| {
        s.data.remove(keys::EXTRA_GROUPS);
        s.data.remove(keys::EXPIRATION);
    });
    assert_eq!(no_extra.judge(TOKEN, now()).unwrap().unwrap().groups, ["system:bootstrappers"]);
}

#[test]
fn tokens_not_of_the_bootstrap_form_are_not_its() {
    for t in
        ["abcdef.0123456789abcde", "ABCDEF.0123456789abcdef", "abcdef0123456789abcdef", "abcde.0123456789abcdefg", ""]
    {
        assert_eq!(secret(|_| {}).judge(t, now()), Ok(None), "{t}");
    }
}

#[test]
fn each_check_says_which_failed() {
    use BootstrapTokenRejection as R;
    let name = || "kube-system/bootstrap-token-abcdef".to_owned();
    let a = secret(|_| {});
    assert_eq!(a.judge("abcdef.ffffffffffffffff", now()), Err(R::WrongSecret { secret: name() }));
    assert_eq!(
        a.judge("zzzzzz.0123456789abcdef", now()),
        Err(R::SecretNotFound { secret: "kube-system/bootstrap-token-zzzzzz".into() })
    );
    // The expiration is 2027-01-15T08:00:00Z, 1_800_000_000; it is passed at that second.
    let exp = 1_800_000_000;
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).unwrap();
    assert!(a.judge(TOKEN, at(exp - 1)).unwrap().is_some());
    assert_eq!(a.judge(TOKEN, at(exp + 90)), Err(R::Expired { secret: name(), expiration: exp, now: exp + 90 }));
    let text = Rejection::BootstrapToken(a.judge(TOKEN, at(exp + 90)).unwrap_err()).to_string();
    assert_eq!(
        text,
        "bootstrap-token: expired 1m30s ago (Secret kube-system/bootstrap-token-abcdef expiration 2027-01-15T08:00:00Z, now 2027-01-15T08:01:30Z)"
    );
    type Edit = Box<dyn FnOnce(&mut BootstrapSecret)>;
    let cases: Vec<(Edit, R)> = vec![
        (Box::new(|s| s.deleting = true), R::Deleting { secret: name() }),
        (Box::new(|s| s.type_ = "Opaque".into()), R::WrongType { secret: name(), type_: "Opaque".into() }),
        (
            Box::new(|s| {
                s.data.insert(keys::TOKEN_ID.into(), "ghijkl".into());
            }),
            R::WrongId { secret: name(), token_id: "ghijkl".into() },
        ),
        (
            Box::new(|s| {
                s.data.insert(keys::EXPIRATION.into(), "tomorrow".into());
            }),
            R::UnreadableExpiration { secret: name(), expiration: "tomorrow".into() },
        ),
        (
            Box::new(|s| {
                s.data.remove(keys::USAGE_AUTHENTICATION);
            }),
            R::NotForAuthentication { secret: name() },
        ),
        (
            Box::new(|s| {
                s.data.insert(keys::EXTRA_GROUPS.into(), "system:masters".into());
            }),
            R::InvalidExtraGroup { secret: name(), group: "system:masters".into() },
        ),
    ];
    for (edit, want) in cases {
        assert_eq!(secret(edit).judge(TOKEN, now()), Err(want.clone()), "{want}");
    }
}

#[test]
fn extra_groups_follow_kubernetes_pattern() {
    assert!(valid_extra_group("system:bootstrappers:kubeadm:default-node-token"));
    assert!(!valid_extra_group("system:bootstrappers:"));
    assert!(!valid_extra_group("system:bootstrappers:a-"));
    assert!(!valid_extra_group("system:bootstrappers:A"));
    assert!(!valid_extra_group(&format!("system:bootstrappers:{}", "a".repeat(257))));
    assert!(valid_extra_group(&format!("system:bootstrappers:{}", "a".repeat(256))));
}

#[test]
fn debug_never_shows_the_secret() {
    let s = BootstrapSecret {
        type_: SECRET_TYPE.into(),
        data: [(keys::TOKEN_SECRET.to_owned(), "0123456789abcdef".to_owned())].into(),
        deleting: false,
    };
    assert!(!format!("{s:?}").contains("0123456789abcdef"));
}

#[test]
fn kube_apiserver_says_only_invalid_bearer_token() {
    let r = Rejection::BootstrapToken(BootstrapTokenRejection::WrongSecret { secret: "s".into() });
    assert_eq!(r.kubernetes_text().unwrap(), "invalid bearer token");
}
