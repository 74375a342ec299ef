use serde_json::json;

use super::*;

fn eval_claims(expr: &str, claims: serde_json::Value) -> Result<Value, EvalError> {
    let e = compile(expr, Variable::Claims, Returns::Any).expect("compiles");
    e.evaluate(&json_to_value(&claims), input_size(&claims))
}

fn s(v: &str) -> Value {
    Value::String(Arc::new(v.to_owned()))
}

/// The expressions Kubernetes' structured authentication documentation shows.
#[test]
fn documentation_expressions_evaluate_as_documented() {
    let claims = json!({"username": "foo", "roles": "user,admin", "sub": "auth", "tenant": "72f988bf",
        "exp": 1703232949, "nbf": 1701107233, "hd": "example.com", "groups": ["admin", "dev"]});
    assert_eq!(eval_claims("claims.username + ':external-user'", claims.clone()), Ok(s("foo:external-user")));
    assert_eq!(eval_claims("claims.roles.split(',')", claims.clone()), Ok(Value::from(vec!["user", "admin"])));
    assert_eq!(eval_claims("claims.sub", claims.clone()), Ok(s("auth")));
    assert_eq!(eval_claims("claims.exp - claims.nbf <= 86400", claims.clone()), Ok(Value::Bool(false)));
    assert_eq!(eval_claims("claims.hd == 'example.com'", claims.clone()), Ok(Value::Bool(true)));
    assert_eq!(eval_claims("has(claims.hd) ? claims.hd : 'none'", claims.clone()), Ok(s("example.com")));
    assert_eq!(eval_claims("has(claims.missing) ? claims.missing : 'none'", claims.clone()), Ok(s("none")));
    assert_eq!(eval_claims("'admin' in claims.groups", claims.clone()), Ok(Value::Bool(true)));
    assert_eq!(eval_claims("claims.?email_verified.orValue(true) == true", claims.clone()), Ok(Value::Bool(true)));
    assert_eq!(eval_claims("claims.?role.orValue('unknown')", claims.clone()), Ok(s("unknown")));
    assert_eq!(
        eval_claims("claims.groups.map(g, 'oidc:' + g)", claims.clone()),
        Ok(Value::from(vec!["oidc:admin", "oidc:dev"]))
    );
    assert_eq!(eval_claims("claims.groups.filter(g, g.startsWith('a'))", claims), Ok(Value::from(vec!["admin"])));

    let user = crate::user::UserInfo { name: "system:foo".into(), groups: vec!["a".into()], ..Default::default() };
    let (u, size) = user_to_value(&user);
    let rule = compile("!user.username.startsWith('system:')", Variable::User, Returns::Bool).expect("compiles");
    assert_eq!(rule.evaluate(&u, size), Ok(Value::Bool(false)));
    let rule = compile("user.groups.all(group, !group.startsWith('system:'))", Variable::User, Returns::Bool)
        .expect("compiles");
    assert_eq!(rule.evaluate(&u, size), Ok(Value::Bool(true)));
}

/// What docs/cel.md says about macros and the libraries kauth lacks.
#[test]
fn macros_and_missing_libraries_behave_as_documented() {
    let claims = json!({"groups": ["a", "bb", "cc"], "n": 3});
    assert_eq!(eval_claims("claims.groups.exists_one(g, g == 'a')", claims.clone()), Ok(Value::Bool(true)));
    assert_eq!(
        eval_claims("claims.groups.map(g, size(g) == 2, g + '!')", claims.clone()),
        Ok(Value::from(vec!["bb!", "cc!"]))
    );
    assert_eq!(eval_claims("'x'.matches('^[a-z]$')", claims.clone()), Ok(Value::Bool(true)));
    // Kubernetes' own libraries are not there: such expressions compile, and fail when run.
    for missing in ["claims.groups.isSorted()", "url('https://x').getHost()"] {
        let e = compile(missing, Variable::Claims, Returns::Any).expect("compiles");
        let json = claims.clone();
        assert!(e.evaluate(&json_to_value(&json), input_size(&json)).is_err(), "{missing}");
    }
    // A namespaced one reads as an undeclared variable, refused at load.
    let e = compile("sets.contains(claims.groups, ['a'])", Variable::Claims, Returns::Any).unwrap_err();
    assert!(e.detail.contains("undeclared reference to 'sets'"), "{}", e.detail);
}

#[test]
fn compile_errors_name_the_position_as_cel_go_does() {
    let e = compile("user.username", Variable::Claims, Returns::Any).unwrap_err();
    assert_eq!(
        e.detail,
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'user' (in container '')\n | user.username\n | ^"
    );
    let e = compile("claims.x ==", Variable::Claims, Returns::Any).unwrap_err();
    assert!(e.detail.starts_with("compilation failed: ERROR: <input>:1:"), "{}", e.detail);
    let e = compile("user.nickname == 'x'", Variable::User, Returns::Bool).unwrap_err();
    assert!(e.detail.contains("undefined field 'nickname'"), "{}", e.detail);
    // cel-go types a claim as dyn, and a rule must be bool.
    assert_eq!(
        compile("claims.email_verified", Variable::Claims, Returns::Bool).unwrap_err().detail,
        "must evaluate to bool"
    );
    assert_eq!(compile("'x'", Variable::Claims, Returns::Bool).unwrap_err().detail, "must evaluate to bool");
    assert!(compile("claims.groups.exists(g, g == 'x')", Variable::Claims, Returns::Bool).is_ok());
    assert!(compile("claims.groups.all(g, claims.groups.exists(h, h == g))", Variable::Claims, Returns::Bool).is_ok());
}

#[test]
fn evaluation_errors_and_the_cost_bound() {
    let err = eval_claims("claims.nope", json!({})).unwrap_err();
    assert!(err.error.contains("nope"), "{err}");
    let e =
        compile("claims.g.all(a, claims.g.all(b, claims.g.all(c, a + b + c != '')))", Variable::Claims, Returns::Bool)
            .expect("compiles");
    let many: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    let claims = json!({ "g": many });
    let err = e.evaluate(&json_to_value(&claims), input_size(&claims)).unwrap_err();
    assert!(err.error.starts_with("operation cancelled: actual cost limit exceeded"), "{err}");
    assert!(compile(&"a".repeat(MAX_EXPRESSION_BYTES + 1), Variable::Claims, Returns::Any).is_err());
}

#[test]
fn selects_finds_claims_the_way_kubernetes_does() {
    let e = compile("claims.?email_verified.orValue(true) == true ? claims.email : ''", Variable::Claims, Returns::Any)
        .expect("compiles");
    assert!(e.selects_claim("email"));
    assert!(e.selects_claim("email_verified"));
    assert!(!e.selects_claim("sub"));
}

/// The crate's parser and evaluator recurse: deep expressions are parsed on a thread with a big
/// stack, refused past MAX_AST_DEPTH, and what is accepted evaluates on a 2 MiB stack (a tokio
/// worker's), unoptimised builds included.
#[test]
fn deep_expressions_neither_overflow_the_stack_nor_compile_unbounded() {
    let deepest = MAX_AST_DEPTH as usize - 1;
    let accepted = [
        format!("{}1{}", "[".repeat(deepest), "]".repeat(deepest)),
        format!("1{}", " + 1".repeat(deepest)),
        format!("{}'x'{}", "string(".repeat(deepest), ")".repeat(deepest)),
    ];
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for source in &accepted {
                let e = compile(source, Variable::Claims, Returns::Any).expect("compiles");
                assert!(e.evaluate(&Value::Null, 1).is_ok(), "{source}");
            }
        })
        .expect("thread")
        .join()
        .expect("no overflow");
    let too_deep = format!("{}1{}", "[".repeat(MAX_AST_DEPTH as usize), "]".repeat(MAX_AST_DEPTH as usize));
    let e = compile(&too_deep, Variable::Claims, Returns::Any).unwrap_err();
    assert!(e.detail.contains("more than kauth's limit of 32"), "{}", e.detail);
    // Far deeper nesting is refused by the parser's own limit, without overflowing.
    let parens = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(compile(&parens, Variable::Claims, Returns::Any).is_err());
}

fn spec(namespace: &str, user: &str) -> k8s_openapi::api::authorization::v1::SubjectAccessReviewSpec {
    use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReviewSpec};
    SubjectAccessReviewSpec {
        user: Some(user.into()),
        groups: Some(vec!["system:authenticated".into()]),
        resource_attributes: Some(ResourceAttributes {
            namespace: Some(namespace.into()),
            verb: Some("get".into()),
            resource: Some("pods".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn eval_request(
    expr: &str,
    spec: &k8s_openapi::api::authorization::v1::SubjectAccessReviewSpec,
) -> Result<Value, EvalError> {
    let e = compile(expr, Variable::Request, Returns::Bool).expect("compiles");
    let (value, size) = request_to_value(spec);
    e.evaluate(&value, size)
}

/// The match conditions of Kubernetes' AuthorizationConfiguration documentation.
#[test]
fn match_conditions_see_the_review_spec() {
    let kube_system = spec("kube-system", "alice");
    let team = spec("team", "system:serviceaccount:team:builder");
    let has_ra = "has(request.resourceAttributes)";
    assert_eq!(eval_request(has_ra, &team), Ok(Value::Bool(true)));
    let not_ks = "!(\u{27}kube-system\u{27} == request.resourceAttributes.namespace)";
    assert_eq!(eval_request(not_ks, &kube_system), Ok(Value::Bool(false)));
    assert_eq!(eval_request(not_ks, &team), Ok(Value::Bool(true)));
    let not_sa = "!request.user.startsWith('system:serviceaccount:')";
    assert_eq!(eval_request(not_sa, &team), Ok(Value::Bool(false)));
    assert_eq!(eval_request("'system:authenticated' in request.groups", &team), Ok(Value::Bool(true)));
    // Unset fields are present and empty, as Kubernetes' conversion makes them.
    assert_eq!(eval_request("request.uid == '' && size(request.extra) == 0", &team), Ok(Value::Bool(true)));
    // nonResourceAttributes is absent on a resource request: selecting it fails at evaluation.
    assert!(eval_request("request.nonResourceAttributes.path == '/x'", &team).is_err());
}

#[test]
fn match_conditions_are_checked_against_the_spec_type() {
    let undefined = compile("request.namespace == 'x'", Variable::Request, Returns::Bool).unwrap_err();
    assert!(undefined.detail.contains("undefined field 'namespace'"), "{}", undefined.detail);
    let other = compile("claims.sub == 'x'", Variable::Request, Returns::Bool).unwrap_err();
    assert!(other.detail.contains("undeclared reference to 'claims'"), "{}", other.detail);
    let not_bool = compile("request.user", Variable::Request, Returns::Bool).unwrap_err();
    assert_eq!(not_bool.detail, "must evaluate to bool");
    let bad_attr = compile("request.resourceAttributes.kind == 'x'", Variable::Request, Returns::Bool).unwrap_err();
    assert!(bad_attr.detail.contains("undefined field 'kind'"), "{}", bad_attr.detail);
}
