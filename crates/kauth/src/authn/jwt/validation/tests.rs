use super::super::config::AuthenticationConfiguration;

fn load(yaml: &str) -> Result<(), String> {
    let doc = format!("apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\n{yaml}");
    AuthenticationConfiguration::load(doc.as_bytes(), "auth.yaml", &["https://kubernetes.default.svc".to_owned()])
        .map(|_| ())
        .map_err(|e| e.kubernetes_text())
}

fn jwt(issuer: &str, rest: &str) -> String {
    format!("jwt:\n- issuer:\n{issuer}\n  claimMappings:\n    username:\n      claim: sub\n      prefix: ''\n{rest}")
}

#[test]
fn issuer_rules() {
    assert_eq!(load(&jwt("    audiences: [a]", "")), Err("jwt[0].issuer.url: Required value: URL is required".into()));
    assert_eq!(
        load(&jwt("    url: http://example.com\n    audiences: [a]", "")),
        Err("jwt[0].issuer.url: Invalid value: \"http://example.com\": URL scheme must be https".into())
    );
    assert_eq!(
        load(&jwt("    url: https://u:p@example.com?x=1#f\n    audiences: [a]", "")),
        Err("[jwt[0].issuer.url: Invalid value: \"https://u:p@example.com?x=1#f\": URL must not contain a username or password, jwt[0].issuer.url: Invalid value: \"https://u:p@example.com?x=1#f\": URL must not contain a query, jwt[0].issuer.url: Invalid value: \"https://u:p@example.com?x=1#f\": URL must not contain a fragment]".into())
    );
    assert_eq!(
        load(&jwt("    url: https://kubernetes.default.svc\n    audiences: [a]", "")),
        Err("jwt[0].issuer.url: Invalid value: \"https://kubernetes.default.svc\": URL must not overlap with disallowed issuers: [https://kubernetes.default.svc]".into())
    );
    assert_eq!(
        load(&jwt("    url: https://example.com\n    discoveryURL: https://example.com/\n    audiences: [a]", "")),
        Err("jwt[0].issuer.discoveryURL: Invalid value: \"https://example.com/\": discoveryURL must be different from URL".into())
    );
    assert_eq!(
        load(&jwt("    url: https://example.com", "")),
        Err("jwt[0].issuer.audiences: Required value: at least one jwt[0].issuer.audiences is required".into())
    );
    assert_eq!(
        load(&jwt("    url: https://example.com\n    audiences: [a, b]", "")),
        Err("jwt[0].issuer.audienceMatchPolicy: Invalid value: \"\": audienceMatchPolicy must be MatchAny for multiple audiences".into())
    );
    assert_eq!(
        load(&jwt("    url: https://example.com\n    audiences: [a]\n    audienceMatchPolicy: MatchAll", "")),
        Err("jwt[0].issuer.audienceMatchPolicy: Invalid value: \"MatchAll\": audienceMatchPolicy must be empty or MatchAny for single audience".into())
    );
    assert_eq!(
        load(&jwt("    url: https://example.com\n    audiences: [a, a, '']\n    audienceMatchPolicy: MatchAny", "")),
        Err("[jwt[0].issuer.audiences[1]: Duplicate value: \"a\", jwt[0].issuer.audiences[2]: Required value: audience can't be empty]".into())
    );
    assert_eq!(
        load(&jwt("    url: https://example.com\n    audiences: [a]\n    certificateAuthority: nope", "")),
        Err("jwt[0].issuer.certificateAuthority: Invalid value: \"<omitted>\": data does not contain any valid RSA or ECDSA certificates".into())
    );
    let two = format!(
        "{}{}",
        jwt("    url: https://example.com\n    audiences: [a]", ""),
        jwt("    url: https://example.com\n    audiences: [a]", "").trim_start_matches("jwt:\n")
    );
    assert_eq!(load(&two), Err("jwt[1].issuer.url: Duplicate value: \"https://example.com\"".into()));
}

#[test]
fn rule_and_mapping_rules() {
    let issuer = "    url: https://example.com\n    audiences: [a]";
    let rules = |r: &str| load(&format!("{}  claimValidationRules:\n{r}", jwt(issuer, "")));
    assert_eq!(
        rules("  - {}"),
        Err("jwt[0].claimValidationRules[0]: Required value: claim or expression is required".into())
    );
    assert_eq!(
        rules("  - claim: hd\n    expression: 'true'"),
        Err("jwt[0].claimValidationRules[0]: Invalid value: \"hd\": claim and expression can't both be set".into())
    );
    assert_eq!(
        rules("  - claim: hd\n    message: m"),
        Err("jwt[0].claimValidationRules[0].message: Invalid value: \"m\": message can't be set when claim is set"
            .into())
    );
    assert_eq!(
        rules("  - claim: hd\n  - claim: hd"),
        Err("jwt[0].claimValidationRules[1].claim: Duplicate value: \"hd\"".into())
    );
    assert_eq!(
        rules("  - expression: claims.hd\n"),
        Err("jwt[0].claimValidationRules[0].expression: Invalid value: \"claims.hd\": must evaluate to bool".into())
    );
    assert_eq!(rules("  - expression: claims.hd == 'x'\n    message: m"), Ok(()));

    let mappings = |m: &str| load(&format!("jwt:\n- issuer:\n{issuer}\n  claimMappings:\n{m}"));
    assert_eq!(
        mappings("    username:\n      claim: sub"),
        Err("jwt[0].claimMappings.username.prefix: Required value: prefix is required when claim is set. It can be set to an empty string to disable prefixing".into())
    );
    assert_eq!(
        mappings("    username:\n      claim: sub\n      expression: claims.sub"),
        Err("jwt[0].claimMappings.username: Invalid value: \"\": claim and expression can't both be set".into())
    );
    assert_eq!(
        mappings("    username:\n      expression: claims.sub\n      prefix: x"),
        Err("jwt[0].claimMappings.username.prefix: Invalid value: \"x\": prefix can't be set when expression is set"
            .into())
    );
    assert_eq!(
        mappings("    groups:\n      claim: g\n      prefix: ''"),
        Err("jwt[0].claimMappings.username: Required value: claim or expression is required".into())
    );
    assert_eq!(
        mappings("    username:\n      expression: claims.email"),
        Err("jwt[0].claimMappings.username.expression: Invalid value: \"claims.email\": claims.email_verified must be used in claimMappings.username.expression or claimMappings.extra[*].valueExpression or claimValidationRules[*].expression when claims.email is used in claimMappings.username.expression".into())
    );
    assert_eq!(
        mappings(
            "    username:\n      expression: \"claims.?email_verified.orValue(true) == true ? claims.email : ''\""
        ),
        Ok(())
    );
    assert_eq!(
        mappings(
            "    username:\n      expression: claims.sub\n    uid:\n      claim: sub\n      expression: claims.sub"
        ),
        Err("jwt[0].claimMappings.uid: Invalid value: \"\": claim and expression can't both be set".into())
    );
    let extra = |e: &str| mappings(&format!("    username:\n      expression: claims.sub\n    extra:\n{e}"));
    assert_eq!(
        extra("    - key: Example.com/x\n      valueExpression: claims.x"),
        Err("[jwt[0].claimMappings.extra[0].key: Invalid value: \"Example.com\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), jwt[0].claimMappings.extra[0].key: Invalid value: \"Example.com/x\": key must be lowercase]".into())
    );
    assert_eq!(
        extra("    - key: kubernetes.io/x\n      valueExpression: claims.x"),
        Err("jwt[0].claimMappings.extra[0].key: Invalid value: \"kubernetes.io/x\": k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use".into())
    );
    assert_eq!(
        extra("    - key: example.com/x\n      valueExpression: claims.x\n    - key: example.com/x\n      valueExpression: claims.y"),
        Err("jwt[0].claimMappings.extra[1].key: Duplicate value: \"example.com/x\"".into())
    );
    assert_eq!(
        extra("    - key: example.com/x"),
        Err("jwt[0].claimMappings.extra[0].valueExpression: Required value: valueExpression is required".into())
    );
    let user_rules = |r: &str| load(&format!("{}  userValidationRules:\n{r}", jwt(issuer, "")));
    assert_eq!(
        user_rules("  - message: m"),
        Err("jwt[0].userValidationRules[0].expression: Required value: expression is required".into())
    );
    assert!(user_rules("  - expression: claims.sub == 'x'").unwrap_err().contains("undeclared reference to 'claims'"));
    assert_eq!(user_rules("  - expression: \"!user.username.startsWith('system:')\""), Ok(()));
}

#[test]
fn anonymous_and_limits() {
    assert_eq!(
        load("anonymous:\n  enabled: false\n  conditions:\n  - path: /livez\n"),
        Err("anonymous.conditions: Invalid value: []apiserver.AnonymousAuthCondition{apiserver.AnonymousAuthCondition{Path:\"/livez\"}}: enabled should be set to true when conditions are defined".into())
    );
    assert_eq!(load("anonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n"), Ok(()));
    let many: String = (0..65).map(|i| format!("- issuer:\n    url: https://e{i}.example.com\n    audiences: [a]\n  claimMappings:\n    username:\n      claim: sub\n      prefix: ''\n")).collect();
    assert_eq!(load(&format!("jwt:\n{many}")), Err("jwt: Too many: 65: must have at most 64 items".into()));
    assert_eq!(load("jwt: []\n"), Ok(()));
}
