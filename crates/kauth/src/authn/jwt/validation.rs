//! Judging an `AuthenticationConfiguration` as kube-apiserver 1.32's
//! `ValidateAuthenticationConfiguration` does (`k8s.io/apiserver/pkg/apis/apiserver/validation`),
//! error for error, with the same field paths and texts, and compiling its CEL on the way.
//! Both feature gates this depends on (`StructuredAuthenticationConfiguration`,
//! `AnonymousAuthConfigurableEndpoints`) are on by default in 1.32, and kauth has them on.

use std::collections::HashSet;
use std::sync::Arc;

use super::config::{
    AuthenticationConfiguration, ClaimMappings, ClaimValidationRule, JwtAuthenticator, PrefixedClaimOrExpression,
    UserValidationRule,
};
use super::field_error::FieldError;
pub use super::issuer_validation::parse_ca;
use super::issuer_validation::validate_issuer;
use crate::cel::{self, Expression, Returns, Variable};

/// The most JWT issuers one configuration may hold.
pub const MAX_ISSUERS: usize = 64;

/// One issuer's compiled expressions: Kubernetes' `CELMapper`.
#[derive(Debug, Default)]
pub struct CelMapper {
    /// `claimMappings.username.expression`.
    pub username: Option<Expression>,
    /// `claimMappings.groups.expression`.
    pub groups: Option<Expression>,
    /// `claimMappings.uid.expression`.
    pub uid: Option<Expression>,
    /// `claimMappings.extra`: key and value expression, in order.
    pub extra: Vec<(String, Expression)>,
    /// `claimValidationRules[*]` with an expression, and their messages.
    pub claim_validation_rules: Vec<(Expression, String)>,
    /// `userValidationRules[*]`, and their messages.
    pub user_validation_rules: Vec<(Expression, String)>,
}

impl CelMapper {
    /// Whether any claim expression is configured (the claims are converted for CEL only then).
    pub fn uses_claims(&self) -> bool {
        self.username.is_some()
            || self.groups.is_some()
            || self.uid.is_some()
            || !self.extra.is_empty()
            || !self.claim_validation_rules.is_empty()
    }
}

/// One issuer, judged valid, with its CEL compiled.
#[derive(Debug)]
pub struct ValidIssuer {
    /// The issuer as configured.
    pub authenticator: JwtAuthenticator,
    /// Its compiled expressions.
    pub mapper: CelMapper,
}

/// Validates one JWT authenticator; `path` is its field path (`jwt[0]`), `None` for the legacy
/// flags (Kubernetes' `CompileAndValidateJWTAuthenticator`, whose paths start at `issuer`).
pub fn validate_jwt_authenticator(
    a: &JwtAuthenticator,
    path: Option<&str>,
    disallowed_issuers: &[String],
) -> (CelMapper, Vec<FieldError>) {
    let p = |child: &str| match path {
        Some(p) => format!("{p}.{child}"),
        None => child.to_owned(),
    };
    let mut errors = Vec::new();
    let mut state = State::default();
    validate_issuer(&a.issuer, disallowed_issuers, &p("issuer"), &mut errors);
    validate_claim_validation_rules(&a.claim_validation_rules, &p("claimValidationRules"), &mut state, &mut errors);
    validate_claim_mappings(&a.claim_mappings, &p("claimMappings"), &mut state, &mut errors);
    validate_user_validation_rules(&a.user_validation_rules, &p("userValidationRules"), &mut state, &mut errors);
    (state.mapper, errors)
}

/// Validates a whole configuration; the issuers in order when it is valid.
pub fn validate(
    c: &AuthenticationConfiguration,
    disallowed_issuers: &[String],
) -> Result<Vec<Arc<ValidIssuer>>, Vec<FieldError>> {
    if c.jwt.len() > MAX_ISSUERS {
        return Err(vec![FieldError::too_many("jwt", c.jwt.len(), MAX_ISSUERS)]);
    }
    let mut errors = Vec::new();
    let mut issuers = Vec::with_capacity(c.jwt.len());
    let mut seen_issuers = HashSet::new();
    let mut seen_discovery = HashSet::new();
    for (i, a) in c.jwt.iter().enumerate() {
        let path = format!("jwt[{i}]");
        let (mapper, errs) = validate_jwt_authenticator(a, Some(&path), disallowed_issuers);
        errors.extend(errs);
        if !seen_issuers.insert(a.issuer.url.as_str()) {
            errors.push(FieldError::duplicate(format!("{path}.issuer.url"), &a.issuer.url));
        }
        let discovery = a.issuer.discovery_url();
        if !discovery.is_empty() && !seen_discovery.insert(discovery) {
            errors.push(FieldError::duplicate(format!("{path}.issuer.discoveryURL"), discovery));
        }
        issuers.push(Arc::new(ValidIssuer { authenticator: a.clone(), mapper }));
    }
    if let Some(anonymous) = &c.anonymous {
        if !anonymous.enabled && !anonymous.conditions.is_empty() {
            let conditions: Vec<String> = anonymous
                .conditions
                .iter()
                .map(|c| format!("apiserver.AnonymousAuthCondition{{Path:{:?}}}", c.path))
                .collect();
            errors.push(FieldError::invalid_raw(
                "anonymous.conditions",
                format!("[]apiserver.AnonymousAuthCondition{{{}}}", conditions.join(", ")),
                "enabled should be set to true when conditions are defined",
            ));
        }
    }
    if errors.is_empty() {
        Ok(issuers)
    } else {
        Err(errors)
    }
}

#[derive(Default)]
struct State {
    mapper: CelMapper,
    uses_email_claim: bool,
    uses_email_verified_claim: bool,
}

fn compile_at(
    source: &str,
    variable: Variable,
    returns: Returns,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Expression> {
    match cel::compile(source, variable, returns) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.push(FieldError::invalid(path, source, e.detail));
            None
        }
    }
}

fn validate_claim_validation_rules(
    rules: &[ClaimValidationRule],
    path: &str,
    state: &mut State,
    errors: &mut Vec<FieldError>,
) {
    let mut seen_claims = HashSet::new();
    let mut seen_expressions = HashSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match (rule.claim.is_empty(), rule.expression.is_empty()) {
            (false, false) => {
                errors.push(FieldError::invalid(&p, &rule.claim, "claim and expression can't both be set"))
            }
            (true, true) => errors.push(FieldError::required(&p, "claim or expression is required")),
            (false, true) => {
                if !rule.message.is_empty() {
                    errors.push(FieldError::invalid(
                        format!("{p}.message"),
                        &rule.message,
                        "message can't be set when claim is set",
                    ));
                }
                if !seen_claims.insert(rule.claim.as_str()) {
                    errors.push(FieldError::duplicate(format!("{p}.claim"), &rule.claim));
                }
            }
            (true, false) => {
                if !rule.required_value.is_empty() {
                    errors.push(FieldError::invalid(
                        format!("{p}.requiredValue"),
                        &rule.required_value,
                        "requiredValue can't be set when expression is set",
                    ));
                }
                if !seen_expressions.insert(rule.expression.as_str()) {
                    errors.push(FieldError::duplicate(format!("{p}.expression"), &rule.expression));
                    continue;
                }
                let epath = format!("{p}.expression");
                if let Some(e) = compile_at(&rule.expression, Variable::Claims, Returns::Bool, &epath, errors) {
                    state.uses_email_verified_claim |= e.selects_claim("email_verified");
                    state.mapper.claim_validation_rules.push((e, rule.message.clone()));
                }
            }
        }
    }
}

fn validate_prefixed(
    m: &PrefixedClaimOrExpression,
    path: &str,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<Expression> {
    match (m.claim.is_empty(), m.expression.is_empty()) {
        (false, false) => errors.push(FieldError::invalid(path, "", "claim and expression can't both be set")),
        (true, true) if required => errors.push(FieldError::required(path, "claim or expression is required")),
        (true, true) => {}
        (_, false) => {
            if let Some(prefix) = &m.prefix {
                errors.push(FieldError::invalid(
                    format!("{path}.prefix"),
                    prefix,
                    "prefix can't be set when expression is set",
                ));
            }
            return compile_at(&m.expression, Variable::Claims, Returns::Any, &format!("{path}.expression"), errors);
        }
        (false, true) => {
            if m.prefix.is_none() {
                errors.push(FieldError::required(
                    format!("{path}.prefix"),
                    "prefix is required when claim is set. It can be set to an empty string to disable prefixing",
                ));
            }
        }
    }
    None
}

fn validate_claim_mappings(m: &ClaimMappings, path: &str, state: &mut State, errors: &mut Vec<FieldError>) {
    let username_path = format!("{path}.username");
    let before = errors.len();
    let username = validate_prefixed(&m.username, &username_path, true, errors);
    if errors.len() == before {
        if let Some(e) = username {
            state.uses_email_claim |= e.selects_claim("email");
            state.uses_email_verified_claim |= e.selects_claim("email_verified");
            state.mapper.username = Some(e);
        }
    }
    let before = errors.len();
    let groups = validate_prefixed(&m.groups, &format!("{path}.groups"), false, errors);
    if errors.len() == before {
        state.mapper.groups = groups;
    }
    let uid_path = format!("{path}.uid");
    match (m.uid.claim.is_empty(), m.uid.expression.is_empty()) {
        (false, false) => errors.push(FieldError::invalid(&uid_path, "", "claim and expression can't both be set")),
        (_, false) => {
            state.mapper.uid = compile_at(
                &m.uid.expression,
                Variable::Claims,
                Returns::Any,
                &format!("{uid_path}.expression"),
                errors,
            );
        }
        _ => {}
    }
    let mut seen_keys = HashSet::new();
    for (i, mapping) in m.extra.iter().enumerate() {
        let p = format!("{path}.extra[{i}]");
        let key_path = format!("{p}.key");
        errors.extend(super::extra_key::domain_prefixed_path(&key_path, &mapping.key));
        if mapping.key != mapping.key.to_lowercase() {
            errors.push(FieldError::invalid(&key_path, &mapping.key, "key must be lowercase"));
        }
        if super::extra_key::is_kubernetes_domain(&mapping.key) {
            errors.push(FieldError::invalid(
                &key_path,
                &mapping.key,
                "k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use",
            ));
        }
        if !seen_keys.insert(mapping.key.as_str()) {
            errors.push(FieldError::duplicate(&key_path, &mapping.key));
            continue;
        }
        if mapping.value_expression.is_empty() {
            errors.push(FieldError::required(format!("{p}.valueExpression"), "valueExpression is required"));
            continue;
        }
        let vpath = format!("{p}.valueExpression");
        if let Some(e) = compile_at(&mapping.value_expression, Variable::Claims, Returns::Any, &vpath, errors) {
            state.uses_email_verified_claim |= e.selects_claim("email_verified");
            state.mapper.extra.push((mapping.key.clone(), e));
        }
    }
    if state.uses_email_claim && !state.uses_email_verified_claim {
        errors.push(FieldError::invalid(
            format!("{path}.username.expression"),
            &m.username.expression,
            "claims.email_verified must be used in claimMappings.username.expression or claimMappings.extra[*].valueExpression or claimValidationRules[*].expression when claims.email is used in claimMappings.username.expression",
        ));
    }
}

fn validate_user_validation_rules(
    rules: &[UserValidationRule],
    path: &str,
    state: &mut State,
    errors: &mut Vec<FieldError>,
) {
    let mut seen = HashSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let p = format!("{path}[{i}].expression");
        if rule.expression.is_empty() {
            errors.push(FieldError::required(&p, "expression is required"));
            continue;
        }
        if !seen.insert(rule.expression.as_str()) {
            errors.push(FieldError::duplicate(&p, &rule.expression));
            continue;
        }
        if let Some(e) = compile_at(&rule.expression, Variable::User, Returns::Bool, &p, errors) {
            state.mapper.user_validation_rules.push((e, rule.message.clone()));
        }
    }
}

#[cfg(test)]
mod tests;
