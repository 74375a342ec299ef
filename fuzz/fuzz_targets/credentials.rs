//! What a client controls of its credentials, beyond the bearer parser (`api_request`): the
//! front proxy's headers (the user, groups and percent-encoded extra keys a request-header
//! authenticator reads, and their removal) and bootstrap tokens judged against a Secret whose
//! fields also come from the input. Never a panic; a bootstrap token's user always has its form.
#![no_main]

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use kauth::authn::bootstrap_token::{self, BootstrapSecret, BootstrapSecrets, BootstrapTokenAuthenticator};
use kauth::authn::request_header::{self, HeaderNames};
use libfuzzer_sys::fuzz_target;

struct One(BootstrapSecret);

impl BootstrapSecrets for One {
    fn bootstrap_secret(&self, _: &str) -> Result<Option<BootstrapSecret>, String> {
        Ok(Some(self.0.clone()))
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\n');
    // Front proxy: each line `name: value` is a header.
    let mut headers = HeaderMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(':') {
            if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.trim().as_bytes()), HeaderValue::from_str(v.trim())) {
                headers.append(k, v);
            }
        }
        let _ = request_header::extra_key(line);
    }
    let names = HeaderNames::standard();
    if let Some(user) = request_header::identity(&headers, &names) {
        assert!(!user.name.is_empty(), "a user named by a header has a name");
    }
    request_header::clear(&mut headers, &names);
    assert!(request_header::identity(&headers, &names).is_none(), "cleared headers name no one");
    // Bootstrap token: the first line is the token, the next ones the Secret's data.
    let token = parts.next().unwrap_or_default();
    let mut data = BTreeMap::new();
    for (key, value) in ["token-id", "token-secret", "expiration", "usage-bootstrap-authentication", "auth-extra-groups"]
        .into_iter()
        .zip(parts)
    {
        data.insert(key.to_owned(), value.to_owned());
    }
    let secret = BootstrapSecret { type_: bootstrap_token::SECRET_TYPE.into(), data, deleting: false };
    let authenticator = BootstrapTokenAuthenticator::new(One(secret));
    if let Ok(Some(user)) = authenticator.judge(token, time::OffsetDateTime::UNIX_EPOCH) {
        let (id, _) = bootstrap_token::parse(token).expect("an accepted token has the bootstrap form");
        assert_eq!(user.name, format!("system:bootstrap:{id}"));
        assert_eq!(user.groups.first().map(String::as_str), Some("system:bootstrappers"));
    }
});
