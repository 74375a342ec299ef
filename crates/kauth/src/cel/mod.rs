//! CEL as Kubernetes' configuration files use it, compiled once at load and evaluated per token
//! or per request: `AuthenticationConfiguration`'s claim validation rules, claim mappings and
//! user validation rules, and `AuthorizationConfiguration`'s webhook match conditions.
//!
//! Each expression sees one variable ([`Variable`]). Kubernetes
//! (`k8s.io/apiserver/pkg/authentication/cel`) gives claim expressions `claims`
//! (`map(string, dyn)`: the token's payload) and user rules `user` (`kubernetes.UserInfo`:
//! `username`, `uid`, `groups`, `extra`); `k8s.io/apiserver/pkg/authorization/cel` gives match
//! conditions `request` (`kubernetes.SubjectAccessReviewSpec`: see [`request_to_value`]). kauth uses the
//! `cel` crate (cel-rust) with its standard library and strings extension. That crate parses and
//! evaluates but has no type checker and no cost tracker, so kauth adds, at compile time, the
//! checks Kubernetes' checker makes that matter here ([`check`]: undeclared
//! variables, a rule that cannot return bool), and at evaluation time a cost bound
//! ([`COST_LIMIT`], estimated before running). docs/cel.md lists every difference.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use ::cel::objects::{Key, Map};
use ::cel::{Context, Env, Program, Value};

use check::Ty;
pub use check::Variable;

mod check;

/// What an expression must return, as Kubernetes' `ExpressionAccessor.ReturnTypes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// Anything (mappings; the value is judged when used).
    Any,
    /// bool (validation rules).
    Bool,
}

/// The longest expression kauth compiles, in bytes. Kubernetes has no such limit (its cost
/// estimator bounds evaluation instead); kauth's parser recurses, so it is bounded here too.
pub const MAX_EXPRESSION_BYTES: usize = 16 * 1024;

/// The deepest AST kauth accepts. The crate evaluates (and drops) an AST recursively, on the
/// caller's thread: this keeps an evaluation within a small thread stack (kauth's is measured in
/// the tests with 2 MiB, the size of a tokio worker's).
pub const MAX_AST_DEPTH: u32 = 32;

/// The stack of the thread that parses an expression: the crate's ANTLR parser takes tens of
/// KiB per nesting level (over 100 KiB unoptimised), up to its own limit of 96 levels.
const COMPILE_STACK_BYTES: usize = 64 << 20;

/// The largest estimated cost of one evaluation: Kubernetes' per-call limit
/// (`celconfig.PerCallLimit`, 1,000,000), in kauth's own units (see [`Expression::estimated_cost`]).
pub const COST_LIMIT: u64 = 1_000_000;

/// The CEL environment: the standard library and the strings extension (`split`, `lowerAscii`,
/// `join`, ...), as in Kubernetes' base environment.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Declaring a library twice is the only failure; the environment is built once.
    let _ = env.add_extension(::cel::extensions::strings);
    Arc::new(env)
});

/// A compiled expression.
#[derive(Debug)]
pub struct Expression {
    source: String,
    program: Program,
    variable: Variable,
    /// The AST's node count.
    nodes: u64,
    /// How deeply comprehensions (`all`, `exists`, `map`, `filter`...) nest.
    depth: u32,
}

/// Why an expression does not compile: Kubernetes' detail text (`compilation failed: ERROR:
/// <input>:1:1: ...` or `must evaluate to bool`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// The detail, as the field error's.
    pub detail: String,
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// The interpreter's error, or the cost bound's.
    pub error: String,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)
    }
}

/// A compile error at byte `offset` of `source`, in cel-go's layout:
/// `ERROR: <input>:L:C: msg` then the line and a caret under the column.
pub(crate) fn located(source: &str, line: usize, column: usize, msg: &str) -> String {
    let snippet = source.lines().nth(line.saturating_sub(1)).unwrap_or("");
    format!(
        "compilation failed: ERROR: <input>:{line}:{column}: {msg}\n | {snippet}\n | {}^",
        ".".repeat(column.saturating_sub(1))
    )
}

/// Line and column (1-based, in characters) of byte `offset` in `source`.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Compiles `source` for `variable`, as Kubernetes' `compiler.compile`. The parser runs on a
/// thread of its own with a large stack (see [`COMPILE_STACK_BYTES`]): compiling happens when a
/// configuration is loaded, never per request.
pub fn compile(source: &str, variable: Variable, returns: Returns) -> Result<Expression, CompileError> {
    let owned = source.to_owned();
    let compiler = std::thread::Builder::new()
        .name("kauth-cel-compile".into())
        .stack_size(COMPILE_STACK_BYTES)
        .spawn(move || compile_here(&owned, variable, returns));
    match compiler {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            Err(CompileError { detail: "compilation failed: the CEL parser failed unexpectedly".into() })
        }),
        Err(e) => Err(CompileError { detail: format!("compilation failed: no thread to compile on: {e}") }),
    }
}

fn compile_here(source: &str, variable: Variable, returns: Returns) -> Result<Expression, CompileError> {
    if source.len() > MAX_EXPRESSION_BYTES {
        return Err(CompileError {
            detail: format!(
                "compilation failed: expression is {} bytes, more than kauth's limit of {MAX_EXPRESSION_BYTES}",
                source.len()
            ),
        });
    }
    let program = ENV.compile(source).map_err(|errors| {
        let detail = errors
            .errors
            .iter()
            .map(|e| {
                located(source, e.pos.0.max(1) as usize, e.pos.1.max(1) as usize, &e.msg)
                    .trim_start_matches("compilation failed: ")
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n");
        CompileError { detail: format!("compilation failed: {detail}") }
    })?;
    let root = program.expression();
    let summary = check::check(root, variable).map_err(|(id, msg)| {
        let offset = program.source_info().offset_for(id).map_or(0, |(start, _)| start as usize);
        let (line, column) = line_column(source, offset);
        CompileError { detail: located(source, line, column, &msg) }
    })?;
    if summary.ast_depth > MAX_AST_DEPTH {
        return Err(CompileError {
            detail: format!(
                "compilation failed: the expression nests {} levels deep, more than kauth's limit of {MAX_AST_DEPTH}",
                summary.ast_depth
            ),
        });
    }
    if returns == Returns::Bool && !matches!(summary.ty, Ty::Bool | Ty::Unknown) {
        return Err(CompileError { detail: "must evaluate to bool".into() });
    }
    Ok(Expression { source: source.to_owned(), program, variable, nodes: summary.nodes, depth: summary.depth })
}

impl Expression {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression selects `claims.<field>` anywhere (`claims.email`,
    /// `claims.?email`, `has(claims.email)`), as Kubernetes' `hasSelectExp`.
    pub fn selects_claim(&self, field: &str) -> bool {
        check::selects(self.program.expression(), self.variable.name(), field)
    }

    /// kauth's estimate of an evaluation's cost over an input of `input_size` (see
    /// [`input_size`]): the AST's nodes, times the input's size once per level of nested
    /// comprehension. An upper bound on the steps the interpreter takes, not cel-go's units.
    pub fn estimated_cost(&self, input_size: u64) -> u64 {
        let mut cost = self.nodes.max(1);
        for _ in 0..self.depth {
            cost = cost.saturating_mul(input_size.max(1));
        }
        cost
    }

    /// Evaluates with the variable bound to `input` (of size `input_size`).
    pub fn evaluate(&self, input: &Value, input_size: u64) -> Result<Value, EvalError> {
        let cost = self.estimated_cost(input_size);
        if cost > COST_LIMIT {
            return Err(EvalError {
                error: format!(
                    "operation cancelled: actual cost limit exceeded (kauth's estimate {cost} for {} nodes, {} nested comprehension(s) over an input of size {input_size}; limit {COST_LIMIT})",
                    self.nodes, self.depth
                ),
            });
        }
        let mut context = Context::with_env(ENV.clone());
        context.add_variable_from_value(self.variable.name(), input.clone());
        self.program.execute(&context).map_err(|e| EvalError { error: e.to_string() })
    }
}

/// The size of a JSON input for [`Expression::estimated_cost`]: one per value, plus one per ten
/// bytes of string (a string may be split into that many items; Kubernetes' estimator also
/// charges strings by tenths of their length).
pub fn input_size(value: &serde_json::Value) -> u64 {
    match value {
        serde_json::Value::String(s) => 1 + s.len() as u64 / 10,
        serde_json::Value::Array(items) => 1 + items.iter().map(input_size).sum::<u64>(),
        serde_json::Value::Object(map) => {
            1 + map.iter().map(|(k, v)| 1 + k.len() as u64 / 10 + input_size(v)).sum::<u64>()
        }
        _ => 1,
    }
}

/// A JSON value as CEL sees it: as Kubernetes converts claims to unstructured data (integers
/// to int, other numbers to double).
pub fn json_to_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => Value::List(Arc::new(items.iter().map(json_to_value).collect())),
        serde_json::Value::Object(map) => {
            let entries: HashMap<Key, Value> =
                map.iter().map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_value(v))).collect();
            Value::Map(Map { map: Arc::new(entries) })
        }
    }
}

/// The `user` variable: `username`, `uid`, `groups`, `extra` always present (Kubernetes fills
/// missing ones with empty values).
pub fn user_to_value(user: &crate::user::UserInfo) -> (Value, u64) {
    let mut json = serde_json::Map::new();
    json.insert("username".into(), user.name.clone().into());
    json.insert("uid".into(), user.uid.clone().into());
    json.insert("groups".into(), user.groups.clone().into());
    let extra: serde_json::Map<String, serde_json::Value> =
        user.extra.iter().map(|(k, v)| (k.to_owned(), v.to_vec().into())).collect();
    json.insert("extra".into(), extra.into());
    let json = serde_json::Value::Object(json);
    (json_to_value(&json), input_size(&json))
}

/// The `request` variable of a match condition: the SubjectAccessReview's spec as Kubernetes'
/// `convertObjectToUnstructured` builds it: `user`, `groups`, `uid` and `extra` always present
/// (empty when unset), `resourceAttributes` with every string field (and `fieldSelector` /
/// `labelSelector` when the request has them: `rawSelector` if given, else `requirements`),
/// `nonResourceAttributes` with `path` and `verb`.
pub fn request_to_value(spec: &k8s_openapi::api::authorization::v1::SubjectAccessReviewSpec) -> (Value, u64) {
    use serde_json::{json, Map as JsonMap, Value as Json};
    // Field and label selector requirements are two types of the same shape (key, operator,
    // values): read both through their JSON.
    fn selector<T: serde::Serialize>(raw: Option<&String>, requirements: Option<&Vec<T>>) -> Option<Json> {
        if let Some(raw) = raw.filter(|r| !r.is_empty()) {
            return Some(json!({ "rawSelector": raw }));
        }
        let requirements = requirements.filter(|r| !r.is_empty())?;
        let items: Vec<Json> = requirements
            .iter()
            .map(|r| {
                let r = serde_json::to_value(r).unwrap_or(Json::Null);
                json!({"key": r["key"].as_str().unwrap_or(""), "operator": r["operator"].as_str().unwrap_or(""),
                    "values": r.get("values").cloned().filter(Json::is_array).unwrap_or_else(|| json!([]))})
            })
            .collect();
        Some(json!({ "requirements": items }))
    }
    let mut request = JsonMap::new();
    request.insert("user".into(), spec.user.clone().unwrap_or_default().into());
    request.insert("groups".into(), spec.groups.clone().unwrap_or_default().into());
    request.insert("uid".into(), spec.uid.clone().unwrap_or_default().into());
    let extra: JsonMap<String, Json> =
        spec.extra.iter().flatten().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    request.insert("extra".into(), extra.into());
    if let Some(r) = &spec.resource_attributes {
        let mut attributes = JsonMap::new();
        for (key, value) in [
            ("namespace", &r.namespace),
            ("verb", &r.verb),
            ("group", &r.group),
            ("version", &r.version),
            ("resource", &r.resource),
            ("subresource", &r.subresource),
            ("name", &r.name),
        ] {
            attributes.insert(key.into(), value.clone().unwrap_or_default().into());
        }
        if let Some(f) =
            r.field_selector.as_ref().and_then(|f| selector(f.raw_selector.as_ref(), f.requirements.as_ref()))
        {
            attributes.insert("fieldSelector".into(), f);
        }
        if let Some(l) =
            r.label_selector.as_ref().and_then(|l| selector(l.raw_selector.as_ref(), l.requirements.as_ref()))
        {
            attributes.insert("labelSelector".into(), l);
        }
        request.insert("resourceAttributes".into(), attributes.into());
    }
    if let Some(n) = &spec.non_resource_attributes {
        request.insert(
            "nonResourceAttributes".into(),
            json!({"verb": n.verb.clone().unwrap_or_default(), "path": n.path.clone().unwrap_or_default()}),
        );
    }
    let json = Json::Object(request);
    (json_to_value(&json), input_size(&json))
}

#[cfg(test)]
mod tests;
