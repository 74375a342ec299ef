//! Bootstrap tokens as `kubeadm token create|list` makes and shows them: a random
//! `[a-z0-9]{6}.[a-z0-9]{16}` token, kept as the Secret `kube-system/bootstrap-token-<id>`, by
//! default valid 24 hours, for signing and authentication, in the group
//! `system:bootstrappers:kubeadm:default-node-token`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use time::{Duration, OffsetDateTime};

use super::{keys, parse, valid_extra_group, BootstrapSecret, NAMESPACE, SECRET_PREFIX, SECRET_TYPE};

/// kubeadm's default lifetime (`--ttl 24h0m0s`).
pub const DEFAULT_TTL: Duration = Duration::hours(24);
/// kubeadm's default extra group, which its RBAC lets join the cluster.
pub const DEFAULT_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// The usages a token may have (`usage-bootstrap-<usage>`).
pub const USAGES: [&str; 2] = ["signing", "authentication"];

/// Why a token could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenSpecError {
    /// The given token is not of the form `[a-z0-9]{6}.[a-z0-9]{16}`.
    #[error("the token must be of form \"[a-z0-9]{{6}}.[a-z0-9]{{16}}\"")]
    Form,
    /// A usage that is not `signing` or `authentication`.
    #[error("invalid bootstrap token usage {0:?}, valid usages are: signing, authentication")]
    Usage(String),
    /// A group that bootstrap tokens may not carry.
    #[error("bootstrap group {0:?} is invalid (must match system:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9])")]
    Group(String),
    /// Groups on a token that cannot authenticate.
    #[error("token groups cannot be specified unless --usages includes \"authentication\"")]
    GroupsWithoutAuthentication,
    /// The system's random generator failed.
    #[error("generating a random token: {0}")]
    Random(String),
}

/// A new bootstrap token and what it is for.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// `<id>.<secret>`.
    pub token: String,
    /// How long from now it is valid; `None`: forever.
    pub ttl: Option<Duration>,
    /// Its usages (`signing`, `authentication`).
    pub usages: Vec<String>,
    /// Its extra groups.
    pub groups: Vec<String>,
    /// A description for people.
    pub description: String,
}

impl std::fmt::Debug for TokenSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The id only: the secret is the credential.
        f.debug_struct("TokenSpec")
            .field("id", &self.id())
            .field("ttl", &self.ttl)
            .field("usages", &self.usages)
            .field("groups", &self.groups)
            .field("description", &self.description)
            .finish()
    }
}

/// A random token: 22 characters of `[a-z0-9]` from the system's generator (aws-lc-rs), drawn
/// without bias (bytes above the largest multiple of 36 are drawn again).
pub fn generate() -> Result<String, TokenSpecError> {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(23);
    while out.len() < 23 {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|e| TokenSpecError::Random(e.to_string()))?;
        for b in bytes.into_iter().filter(|b| *b < 252) {
            if out.len() == 6 {
                out.push('.');
            }
            if out.len() < 23 {
                out.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    Ok(out)
}

impl TokenSpec {
    /// kubeadm's defaults around `token` (a fresh one when `None`).
    pub fn new(token: Option<&str>) -> Result<Self, TokenSpecError> {
        let token = match token {
            Some(t) => parse(t).map(|_| t.to_owned()).ok_or(TokenSpecError::Form)?,
            None => generate()?,
        };
        Ok(TokenSpec {
            token,
            ttl: Some(DEFAULT_TTL),
            usages: USAGES.iter().map(|u| (*u).to_owned()).collect(),
            groups: vec![DEFAULT_GROUP.to_owned()],
            description: String::new(),
        })
    }

    /// The token's id (public: it names the Secret).
    pub fn id(&self) -> &str {
        self.token.split_once('.').map_or("", |(id, _)| id)
    }

    /// Checks usages and groups as kubeadm does.
    pub fn validate(&self) -> Result<(), TokenSpecError> {
        if parse(&self.token).is_none() {
            return Err(TokenSpecError::Form);
        }
        if let Some(u) = self.usages.iter().find(|u| !USAGES.contains(&u.as_str())) {
            return Err(TokenSpecError::Usage(u.clone()));
        }
        if let Some(g) = self.groups.iter().find(|g| !valid_extra_group(g)) {
            return Err(TokenSpecError::Group(g.clone()));
        }
        if !self.groups.is_empty() && !self.usages.iter().any(|u| u == "authentication") {
            return Err(TokenSpecError::GroupsWithoutAuthentication);
        }
        Ok(())
    }

    /// The Secret that holds it, its expiration counted from `now`.
    pub fn to_secret(&self, now: OffsetDateTime) -> Result<Secret, TokenSpecError> {
        self.validate()?;
        let (id, secret) = parse(&self.token).ok_or(TokenSpecError::Form)?;
        let mut data = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            data.insert(k.to_owned(), ByteString(v.as_bytes().to_vec()));
        };
        put(keys::TOKEN_ID, id);
        put(keys::TOKEN_SECRET, secret);
        if !self.description.is_empty() {
            put(keys::DESCRIPTION, &self.description);
        }
        if let Some(ttl) = self.ttl {
            put(keys::EXPIRATION, &crate::timestamp::rfc3339(now + ttl));
        }
        for usage in &self.usages {
            put(&format!("usage-bootstrap-{usage}"), "true");
        }
        if !self.groups.is_empty() {
            put(keys::EXTRA_GROUPS, &self.groups.join(","));
        }
        Ok(Secret {
            metadata: ObjectMeta {
                name: Some(format!("{SECRET_PREFIX}{id}")),
                namespace: Some(NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            type_: Some(SECRET_TYPE.to_owned()),
            data: Some(data),
            ..Secret::default()
        })
    }
}

/// A bootstrap token Secret as `kubeadm token list` shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Listed {
    /// `<id>.<secret>`, as kubeadm prints it (the list is for the cluster's administrators).
    pub token: String,
    /// When it expires (`None`: never; `Err`: the text that does not parse).
    pub expiration: Result<Option<OffsetDateTime>, String>,
    /// Its usages, sorted.
    pub usages: Vec<String>,
    /// Its description.
    pub description: String,
    /// Its extra groups.
    pub groups: Vec<String>,
}

impl std::fmt::Debug for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listed")
            .field("id", &self.token.split_once('.').map_or("", |(id, _)| id))
            .field("expiration", &self.expiration)
            .field("usages", &self.usages)
            .finish_non_exhaustive()
    }
}

impl Listed {
    /// Reads a Secret of the bootstrap type named `bootstrap-token-<id>`; `None` for any other.
    pub fn of(name: &str, secret: &BootstrapSecret) -> Option<Self> {
        let id = name.strip_prefix(SECRET_PREFIX)?;
        if secret.type_ != SECRET_TYPE {
            return None;
        }
        let get = |k: &str| secret.data.get(k).cloned().unwrap_or_default();
        let token = format!("{id}.{}", get(keys::TOKEN_SECRET));
        parse(&token)?;
        let mut usages: Vec<String> = secret
            .data
            .iter()
            .filter(|(_, v)| v.as_str() == "true")
            .filter_map(|(k, _)| k.strip_prefix("usage-bootstrap-").map(str::to_owned))
            .collect();
        usages.sort();
        let groups = get(keys::EXTRA_GROUPS).split(',').filter(|g| !g.is_empty()).map(str::to_owned).collect();
        Some(Listed {
            token,
            expiration: secret.expiration().map_err(str::to_owned),
            usages,
            description: get(keys::DESCRIPTION),
            groups,
        })
    }

    /// kubeadm's TTL column at `now`: `23h`, `59m`, `<forever>`, `<invalid>` once expired.
    pub fn ttl(&self, now: OffsetDateTime) -> String {
        match &self.expiration {
            Ok(None) => "<forever>".into(),
            Ok(Some(t)) => short_human(*t - now),
            Err(_) => "<invalid>".into(),
        }
    }
}

/// The pin `kubeadm join --discovery-token-ca-cert-hash` takes: `sha256:` and the lower-case hex
/// SHA-256 of the CA certificate's SubjectPublicKeyInfo (DER). `ca_pem` is the first certificate
/// of a PEM bundle named `what`.
pub fn ca_cert_hash(what: &str, ca_pem: &[u8]) -> Result<String, crate::pki::PkiError> {
    use crate::pki::pem::{sections, SectionKind};
    let bad = |m: String| crate::pki::PkiError::malformed(what, m);
    let der = sections(what, ca_pem)?
        .into_iter()
        .find(|s| s.kind == SectionKind::Certificate)
        .ok_or_else(|| bad("holds no CERTIFICATE block".into()))?
        .der;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| bad(format!("not a certificate: {e}")))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.tbs_certificate.subject_pki.raw);
    Ok(format!("sha256:{}", hex::encode(digest.as_ref())))
}

/// A duration as Kubernetes' `ShortHumanDuration` (kubeadm's TTL column) writes it: `45s`, `12m`,
/// `23h`, `3d`, `2y`; up to a second in the past is `0s`.
pub fn short_human(d: Duration) -> String {
    let s = d.whole_seconds();
    match s {
        i64::MIN..=-2 => "<invalid>".into(),
        -1..=0 => "0s".into(),
        1..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m", s / 60),
        3_600..=86_399 => format!("{}h", s / 3600),
        86_400..=31_535_999 => format!("{}d", s / 86_400),
        _ => format!("{}y", s / (86_400 * 365)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn generated_tokens_have_kubeadms_form_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(parse(&a).is_some(), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn the_secret_has_kubeadms_keys_and_defaults() {
        let spec = TokenSpec::new(Some("abcdef.0123456789abcdef")).unwrap();
        let s = spec.to_secret(now()).unwrap();
        assert_eq!(s.metadata.name.as_deref(), Some("bootstrap-token-abcdef"));
        assert_eq!(s.metadata.namespace.as_deref(), Some("kube-system"));
        assert_eq!(s.type_.as_deref(), Some(SECRET_TYPE));
        let data: BTreeMap<_, _> =
            s.data.unwrap().into_iter().map(|(k, v)| (k, String::from_utf8(v.0).unwrap())).collect();
        let want: BTreeMap<String, String> = [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("expiration", "2027-01-16T08:00:00Z"),
            ("usage-bootstrap-signing", "true"),
            ("usage-bootstrap-authentication", "true"),
            ("auth-extra-groups", DEFAULT_GROUP),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(data, want);
    }

    #[test]
    fn bad_tokens_usages_and_groups_are_refused() {
        assert_eq!(TokenSpec::new(Some("ABCDEF.0123456789abcdef")).unwrap_err(), TokenSpecError::Form);
        let mut spec = TokenSpec::new(None).unwrap();
        spec.usages.push("everything".into());
        assert_eq!(spec.validate(), Err(TokenSpecError::Usage("everything".into())));
        let mut spec = TokenSpec::new(None).unwrap();
        spec.groups = vec!["system:masters".into()];
        assert_eq!(spec.validate(), Err(TokenSpecError::Group("system:masters".into())));
        let mut spec = TokenSpec::new(None).unwrap();
        spec.usages = vec!["signing".into()];
        assert_eq!(spec.validate(), Err(TokenSpecError::GroupsWithoutAuthentication));
    }

    #[test]
    fn the_secret_lists_as_kubeadm_shows_it() {
        let mut spec = TokenSpec::new(Some("abcdef.0123456789abcdef")).unwrap();
        spec.description = "for node-3".into();
        let secret = spec.to_secret(now()).unwrap();
        let listed = Listed::of("bootstrap-token-abcdef", &BootstrapSecret::of(&secret)).unwrap();
        assert_eq!(listed.token, "abcdef.0123456789abcdef");
        assert_eq!(listed.usages, ["authentication", "signing"]);
        assert_eq!(listed.groups, [DEFAULT_GROUP]);
        assert_eq!(listed.description, "for node-3");
        assert_eq!(listed.ttl(now()), "1d", "exactly 24 h, as kubeadm shows it");
        assert_eq!(listed.ttl(now() + Duration::seconds(1)), "23h");
        assert_eq!(listed.ttl(now() + Duration::hours(23) + Duration::minutes(1)), "59m");
        assert_eq!(listed.ttl(now() + Duration::days(2)), "<invalid>");
        assert!(!format!("{listed:?}").contains("0123456789abcdef"));
        assert!(!format!("{spec:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn short_human_durations_match_kubernetes() {
        for (s, want) in [
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (59, "59s"),
            (90, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86_399, "23h"),
            (86_400, "1d"),
        ] {
            assert_eq!(short_human(Duration::seconds(s)), want, "{s}");
        }
        assert_eq!(short_human(Duration::days(364)), "364d");
        assert_eq!(short_human(Duration::days(3)), "3d");
        assert_eq!(short_human(Duration::days(800)), "2y");
    }
}
