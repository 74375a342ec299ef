//! From verified claims to the user, as kube-apiserver's `jwtAuthenticator.AuthenticateToken`
//! after verification: username, groups, uid, extra (claim + prefix, or CEL), then the required
//! claims and claim validation rules, then the user validation rules — in that order, so the
//! same token fails on the same check as on kube-apiserver.

use cel::Value;
use serde_json::Value as Json;

use super::claims::go_type_error;
use super::rejection::{CelSite, ClaimUse, JwtRejection};
use super::trace::Trace;
use super::validation::ValidIssuer;
use crate::cel::{input_size, json_to_value, user_to_value, Expression};
use crate::user::UserInfo;

/// The extra key Kubernetes records a token's `jti` under.
pub const CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

struct Input<'a> {
    issuer: &'a ValidIssuer,
    claims: &'a serde_json::Map<String, Json>,
    /// The claims as CEL sees them (built only when an expression needs them).
    cel: Option<(Value, u64)>,
}

impl Input<'_> {
    fn url(&self) -> String {
        self.issuer.authenticator.issuer.url.clone()
    }

    fn eval(&self, e: &Expression, site: CelSite) -> Result<Value, JwtRejection> {
        let (value, size) = self.cel.as_ref().map_or((&Value::Null, 0), |(v, s)| (v, *s));
        e.evaluate(value, size).map_err(|err| JwtRejection::CelEvaluation {
            issuer: self.url(),
            site,
            expression: e.source().to_owned(),
            error: err.error,
        })
    }

    /// A claim as Go unmarshals it into a string (`null` is `""`).
    fn string_claim(&self, claim: &str, used_as: ClaimUse) -> Result<String, JwtRejection> {
        match self.claims.get(claim) {
            None => Err(JwtRejection::ClaimMissing { issuer: self.url(), used_as, claim: claim.to_owned() }),
            Some(Json::Null) => Ok(String::new()),
            Some(Json::String(s)) => Ok(s.clone()),
            Some(v) => Err(JwtRejection::ClaimInvalid {
                issuer: self.url(),
                used_as,
                claim: claim.to_owned(),
                problem: go_type_error(v, "string"),
            }),
        }
    }
}

fn type_name(v: &Value) -> String {
    format!("{:?}", v.type_of()).to_lowercase()
}

/// A CEL value as a list of strings (oidc.go's `convertCELValueToStringList`): a string, a list
/// of strings (empty ones dropped) or null; `None` for anything else.
fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) if s.is_empty() => Some(Vec::new()),
        Value::String(s) => Some(vec![s.to_string()]),
        Value::Null => Some(Vec::new()),
        Value::List(items) => items
            .iter()
            .filter(|i| !matches!(i, Value::String(s) if s.is_empty()))
            .map(|i| match i {
                Value::String(s) => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

impl ValidIssuer {
    /// The user these (already verified) claims map to, or the mapping or rule that refuses
    /// them: the part of authentication after the signature and time checks (fuzzing, tests).
    pub fn map_claims(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Result<UserInfo, JwtRejection> {
        map_user(self, claims, &mut Trace::off())
    }
}

/// The user for verified `claims`, or the first check that fails.
pub fn map_user(
    issuer: &ValidIssuer,
    claims: &serde_json::Map<String, Json>,
    trace: &mut Trace,
) -> Result<UserInfo, JwtRejection> {
    let mapper = &issuer.mapper;
    let cel = mapper.uses_claims().then(|| {
        let json = Json::Object(claims.clone());
        (json_to_value(&json), input_size(&json))
    });
    let input = Input { issuer, claims, cel };
    let m = &issuer.authenticator.claim_mappings;

    // Username.
    let name = if let Some(e) = &mapper.username {
        match input.eval(e, CelSite::Username)? {
            Value::String(s) if s.is_empty() => {
                return Err(JwtRejection::EmptyUsername { issuer: input.url(), expression: e.source().to_owned() })
            }
            Value::String(s) => s.to_string(),
            other => {
                return Err(JwtRejection::CelResultType {
                    issuer: input.url(),
                    site: CelSite::Username,
                    expression: e.source().to_owned(),
                    got: type_name(&other),
                })
            }
        }
    } else {
        let claim = m.username.claim.as_str();
        let value = input.string_claim(claim, ClaimUse::Username)?;
        if claim == "email" {
            match claims.get("email_verified") {
                None | Some(Json::Bool(true)) => {}
                // Go unmarshals null into a bool as false.
                Some(Json::Bool(false) | Json::Null) => {
                    return Err(JwtRejection::EmailNotVerified { issuer: input.url() })
                }
                Some(v) => {
                    return Err(JwtRejection::ClaimInvalid {
                        issuer: input.url(),
                        used_as: ClaimUse::EmailVerified,
                        claim: "email_verified".into(),
                        problem: go_type_error(v, "bool"),
                    })
                }
            }
        }
        format!("{}{value}", m.username.prefix.as_deref().unwrap_or(""))
    };
    trace.pass("username", format!("{name:?}"));

    // Groups.
    let mut groups = Vec::new();
    let groups_claim = m.groups.claim.as_str();
    if !groups_claim.is_empty() && claims.contains_key(groups_claim) {
        let bad = |v: &Json| JwtRejection::ClaimInvalid {
            issuer: input.url(),
            used_as: ClaimUse::Groups,
            claim: groups_claim.to_owned(),
            problem: go_type_error(v, "string"),
        };
        match &claims[groups_claim] {
            Json::Null => {}
            Json::String(s) => groups.push(s.clone()),
            Json::Array(items) => {
                for item in items {
                    match item {
                        Json::String(s) => groups.push(s.clone()),
                        Json::Null => groups.push(String::new()),
                        v => return Err(bad(v)),
                    }
                }
            }
            v => return Err(bad(v)),
        }
        let prefix = m.groups.prefix.as_deref().unwrap_or("");
        groups.iter_mut().for_each(|g| g.insert_str(0, prefix));
    } else if let Some(e) = &mapper.groups {
        let v = input.eval(e, CelSite::Groups)?;
        groups = string_list(&v).ok_or_else(|| JwtRejection::CelResultType {
            issuer: input.url(),
            site: CelSite::Groups,
            expression: e.source().to_owned(),
            got: type_name(&v),
        })?;
    }
    trace.pass("groups", format!("{groups:?}"));

    // UID.
    let uid = if !m.uid.claim.is_empty() {
        input.string_claim(&m.uid.claim, ClaimUse::Uid)?
    } else if let Some(e) = &mapper.uid {
        match input.eval(e, CelSite::Uid)? {
            Value::String(s) => s.to_string(),
            other => {
                return Err(JwtRejection::CelResultType {
                    issuer: input.url(),
                    site: CelSite::Uid,
                    expression: e.source().to_owned(),
                    got: type_name(&other),
                })
            }
        }
    } else {
        String::new()
    };
    trace.pass("uid", format!("{uid:?}"));

    // Extra: the credential id from jti, then the mappings.
    let mut user = UserInfo { name, uid, groups, ..Default::default() };
    if let Some(Json::String(jti)) = claims.get("jti") {
        user.extra.insert(CREDENTIAL_ID, [format!("JTI={jti}")]);
    }
    for (key, e) in &mapper.extra {
        let v = input.eval(e, CelSite::Extra(key.clone()))?;
        let values = string_list(&v).ok_or_else(|| JwtRejection::CelResultType {
            issuer: input.url(),
            site: CelSite::Extra(key.clone()),
            expression: e.source().to_owned(),
            got: type_name(&v),
        })?;
        if !values.is_empty() {
            user.extra.insert(key.clone(), values);
        }
    }
    if !user.extra.is_empty() {
        trace.pass("extra", format!("{:?}", user.extra.iter().map(|(k, v)| (k, v.to_vec())).collect::<Vec<_>>()));
    }

    // Required claims, then claim validation rules.
    for rule in issuer.authenticator.claim_validation_rules.iter().filter(|r| !r.claim.is_empty()) {
        let got = input.string_claim(&rule.claim, ClaimUse::Required)?;
        if got != rule.required_value {
            return Err(JwtRejection::ClaimValueMismatch {
                issuer: input.url(),
                claim: rule.claim.clone(),
                got,
                want: rule.required_value.clone(),
            });
        }
        trace.pass("claim validation rule", format!("claim {:?} is {:?}", rule.claim, rule.required_value));
    }
    check_rules(&mapper.claim_validation_rules, CelSite::ClaimValidation, &input, None, trace)?;

    // User validation rules.
    if !mapper.user_validation_rules.is_empty() {
        let (value, size) = user_to_value(&user);
        let input = Input { issuer, claims, cel: Some((value, size)) };
        check_rules(&mapper.user_validation_rules, CelSite::UserValidation, &input, Some(&user.name), trace)?;
    }
    Ok(user)
}

/// Evaluates every rule, then judges them in order (oidc.go's `checkValidationRulesEvaluation`).
fn check_rules(
    rules: &[(Expression, String)],
    site: CelSite,
    input: &Input<'_>,
    username: Option<&str>,
    trace: &mut Trace,
) -> Result<(), JwtRejection> {
    let results: Vec<Value> = rules.iter().map(|(e, _)| input.eval(e, site.clone())).collect::<Result<_, _>>()?;
    for ((e, message), result) in rules.iter().zip(results) {
        match result {
            Value::Bool(true) => trace.pass(rule_name(&site), e.source().to_owned()),
            Value::Bool(false) => {
                let (expression, message) = (e.source().to_owned(), message.clone());
                return Err(match username {
                    None => JwtRejection::ClaimValidationRuleFailed { issuer: input.url(), expression, message },
                    Some(u) => JwtRejection::UserValidationRuleFailed {
                        issuer: input.url(),
                        expression,
                        message,
                        username: u.to_owned(),
                    },
                });
            }
            other => {
                return Err(JwtRejection::CelResultType {
                    issuer: input.url(),
                    site,
                    expression: e.source().to_owned(),
                    got: type_name(&other),
                })
            }
        }
    }
    Ok(())
}

fn rule_name(site: &CelSite) -> &'static str {
    match site {
        CelSite::UserValidation => "user validation rule",
        _ => "claim validation rule",
    }
}
