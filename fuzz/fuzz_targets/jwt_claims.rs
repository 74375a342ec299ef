//! Claim sets through an issuer's claim mappings and rules (CEL and claim + prefix): any JSON
//! object must map to a user or a typed rejection, never panic. The input's first line is one
//! more CEL expression, used as the username expression of a second issuer.
#![no_main]

use std::sync::LazyLock;

use kauth::authn::jwt::{AuthenticationConfiguration, ValidConfig};
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: https://a.example
    audiences: [a]
  claimValidationRules:
  - claim: hd
    requiredValue: example.com
  - expression: 'claims.exp - claims.nbf <= 86400'
    message: lifetime
  claimMappings:
    username:
      expression: 'claims.username + ":external-user"'
    groups:
      expression: 'claims.roles.split(",")'
    uid:
      expression: 'claims.sub'
    extra:
    - key: example.com/tenant
      valueExpression: 'claims.tenant'
  userValidationRules:
  - expression: "!user.username.startsWith('system:')"
    message: reserved
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
    uid:
      claim: sub
"#;

static ISSUERS: LazyLock<ValidConfig> = LazyLock::new(|| {
    AuthenticationConfiguration::load(CONFIG.as_bytes(), "fuzz", &[]).expect("the fuzz configuration is valid")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (first, rest) = text.split_once('\n').unwrap_or(("", text));
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_str::<serde_json::Value>(rest) else { return };
    for issuer in &ISSUERS.issuers {
        if let Err(r) = issuer.map_claims(&claims) {
            let _ = (r.to_string(), r.kubernetes_text(), r.code());
        }
    }
    let doc = format!(
        "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://c.example\n    audiences: [c]\n  claimMappings:\n    username:\n      expression: {}\n",
        serde_json::Value::String(first.to_owned())
    );
    if let Ok(config) = AuthenticationConfiguration::load(doc.as_bytes(), "fuzz", &[]) {
        for issuer in &config.issuers {
            let _ = issuer.map_claims(&claims);
        }
    }
});
