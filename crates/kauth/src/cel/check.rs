//! What kauth checks in a parsed CEL expression before accepting it, standing in for the parts
//! of cel-go's type checker Kubernetes relies on here: every identifier is the environment's
//! variable (or bound by an enclosing comprehension, or a type name), `user.<field>` names a
//! field of `kubernetes.UserInfo`, and a validation rule's type can be bool. The type inference
//! is partial: where it cannot tell (`Ty::Unknown`) it accepts, so an expression cel-go rejects
//! may pass here and fail when evaluated instead.
//!
//! It also measures what the cost bound needs: the node count and the nesting of comprehensions.

use ::cel::common::ast::operators as op;
use ::cel::common::ast::{Expr, IdedExpr, LiteralValue};

/// The variable an expression sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variable {
    /// `claims`: claim validation rules and claim mappings.
    Claims,
    /// `user`: user validation rules.
    User,
    /// `request`: an authorization webhook's match conditions (`kubernetes.SubjectAccessReviewSpec`).
    Request,
}

impl Variable {
    /// The variable's name in expressions.
    pub fn name(self) -> &'static str {
        match self {
            Variable::Claims => "claims",
            Variable::User => "user",
            Variable::Request => "request",
        }
    }
}

/// The static type of an expression, as far as kauth can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// bool.
    Bool,
    /// string.
    Str,
    /// int.
    Int,
    /// uint.
    Uint,
    /// double.
    Double,
    /// bytes.
    Bytes,
    /// null.
    Null,
    /// A list.
    List,
    /// A map of known values.
    Map,
    /// `claims`: `map(string, dyn)`.
    Claims,
    /// `user`: `kubernetes.UserInfo`.
    User,
    /// `request`: `kubernetes.SubjectAccessReviewSpec`.
    Request,
    /// `request.resourceAttributes`: `kubernetes.ResourceAttributes`.
    ResourceAttributes,
    /// `request.nonResourceAttributes`: `kubernetes.NonResourceAttributes`.
    NonResourceAttributes,
    /// `dyn`: what a claim is. cel-go rejects it where a bool is required.
    Dyn,
    /// kauth cannot tell.
    Unknown,
}

/// What the check found.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The expression's type.
    pub ty: Ty,
    /// Its node count.
    pub nodes: u64,
    /// The deepest nesting of comprehensions.
    pub depth: u32,
    /// The AST's depth (nodes from the root to the deepest leaf).
    pub ast_depth: u32,
}

/// Identifiers that name types (`type(x) == string`).
const TYPE_NAMES: [&str; 13] = [
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "timestamp",
    "type",
    "uint",
];

/// Checks `root` for an environment declaring `variable`. `Err((node id, message))` in
/// cel-go's words.
pub fn check(root: &IdedExpr, variable: Variable) -> Result<Summary, (u64, String)> {
    let mut walk = Walk { variable, bound: Vec::new(), nodes: 0, level: 0, max_level: 0 };
    let (ty, depth) = walk.expr(root)?;
    Ok(Summary { ty, nodes: walk.nodes, depth, ast_depth: walk.max_level })
}

struct Walk {
    variable: Variable,
    /// Names bound by the enclosing comprehensions.
    bound: Vec<String>,
    nodes: u64,
    level: u32,
    max_level: u32,
}

fn same_or(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        _ if a == b => a,
        (Ty::Dyn, _) | (_, Ty::Dyn) => Ty::Dyn,
        _ => Ty::Unknown,
    }
}

fn returns(function: &str) -> Option<Ty> {
    Some(match function {
        op::EQUALS
        | op::NOT_EQUALS
        | op::LESS
        | op::LESS_EQUALS
        | op::GREATER
        | op::GREATER_EQUALS
        | op::LOGICAL_AND
        | op::LOGICAL_OR
        | op::LOGICAL_NOT
        | op::IN
        | op::NOT_STRICTLY_FALSE => Ty::Bool,
        "startsWith" | "endsWith" | "contains" | "matches" | "hasValue" | "bool" => Ty::Bool,
        "lowerAscii" | "upperAscii" | "trim" | "replace" | "substring" | "charAt" | "join" | "string" | "format"
        | "strings.quote" => Ty::Str,
        "size" | "int" | "indexOf" | "lastIndexOf" => Ty::Int,
        "uint" => Ty::Uint,
        "double" => Ty::Double,
        "split" => Ty::List,
        "dyn" => Ty::Dyn,
        _ => return None,
    })
}

impl Walk {
    /// The expression's type and the comprehension depth inside it.
    fn expr(&mut self, e: &IdedExpr) -> Result<(Ty, u32), (u64, String)> {
        self.level += 1;
        self.max_level = self.max_level.max(self.level);
        let result = self.node(e);
        self.level -= 1;
        result
    }

    fn node(&mut self, e: &IdedExpr) -> Result<(Ty, u32), (u64, String)> {
        self.nodes += 1;
        Ok(match &e.expr {
            Expr::Unspecified => (Ty::Unknown, 0),
            Expr::Literal(l) => (
                match l {
                    LiteralValue::Boolean(_) => Ty::Bool,
                    LiteralValue::Bytes(_) => Ty::Bytes,
                    LiteralValue::Double(_) => Ty::Double,
                    LiteralValue::Int(_) => Ty::Int,
                    LiteralValue::Null => Ty::Null,
                    LiteralValue::String(_) => Ty::Str,
                    LiteralValue::UInt(_) => Ty::Uint,
                },
                0,
            ),
            Expr::Ident(name) => {
                if self.bound.iter().any(|b| b == name) {
                    (Ty::Unknown, 0)
                } else if name == self.variable.name() {
                    let ty = match self.variable {
                        Variable::Claims => Ty::Claims,
                        Variable::User => Ty::User,
                        Variable::Request => Ty::Request,
                    };
                    (ty, 0)
                } else if TYPE_NAMES.contains(&name.as_str()) {
                    (Ty::Unknown, 0)
                } else {
                    return Err((e.id, format!("undeclared reference to '{name}' (in container '')")));
                }
            }
            Expr::Select(s) => {
                let (operand, depth) = self.expr(&s.operand)?;
                let ty = if s.test {
                    Ty::Bool
                } else {
                    match operand {
                        Ty::Claims | Ty::Dyn => Ty::Dyn,
                        Ty::User => match s.field.as_str() {
                            "username" | "uid" => Ty::Str,
                            "groups" => Ty::List,
                            "extra" => Ty::Map,
                            _ => return Err((e.id, format!("undefined field '{}'", s.field))),
                        },
                        Ty::Request => match s.field.as_str() {
                            "user" | "uid" => Ty::Str,
                            "groups" => Ty::List,
                            "extra" => Ty::Map,
                            "resourceAttributes" => Ty::ResourceAttributes,
                            "nonResourceAttributes" => Ty::NonResourceAttributes,
                            _ => return Err((e.id, format!("undefined field '{}'", s.field))),
                        },
                        Ty::ResourceAttributes => match s.field.as_str() {
                            "namespace" | "verb" | "group" | "version" | "resource" | "subresource" | "name" => Ty::Str,
                            // AuthorizeWithSelectors (beta, on by default in 1.32).
                            "fieldSelector" | "labelSelector" => Ty::Unknown,
                            _ => return Err((e.id, format!("undefined field '{}'", s.field))),
                        },
                        Ty::NonResourceAttributes => match s.field.as_str() {
                            "path" | "verb" => Ty::Str,
                            _ => return Err((e.id, format!("undefined field '{}'", s.field))),
                        },
                        _ => Ty::Unknown,
                    }
                };
                (ty, depth)
            }
            Expr::Call(c) => {
                let mut depth = 0;
                let mut types = Vec::with_capacity(c.args.len() + 1);
                if let Some(target) = &c.target {
                    let (t, d) = self.expr(target)?;
                    types.push(t);
                    depth = depth.max(d);
                }
                for a in &c.args {
                    let (t, d) = self.expr(a)?;
                    types.push(t);
                    depth = depth.max(d);
                }
                let ty = match c.func_name.as_str() {
                    op::CONDITIONAL if types.len() == 3 => same_or(types[1], types[2]),
                    op::ADD | op::SUBSTRACT | op::MULTIPLY | op::DIVIDE | op::MODULO if types.len() == 2 => {
                        same_or(types[0], types[1])
                    }
                    op::NEGATE => types.first().copied().unwrap_or(Ty::Unknown),
                    op::INDEX => match types.first() {
                        Some(Ty::Claims | Ty::Dyn) => Ty::Dyn,
                        _ => Ty::Unknown,
                    },
                    name => returns(name).unwrap_or(Ty::Unknown),
                };
                (ty, depth)
            }
            Expr::Comprehension(c) => {
                let (_, d_range) = self.expr(&c.iter_range)?;
                let (accu, d_init) = self.expr(&c.accu_init)?;
                let pushed = 2 + usize::from(c.iter_var2.is_some());
                self.bound.push(c.iter_var.clone());
                self.bound.push(c.accu_var.clone());
                if let Some(v) = &c.iter_var2 {
                    self.bound.push(v.clone());
                }
                let inner = (|| {
                    let (_, d1) = self.expr(&c.loop_cond)?;
                    let (_, d2) = self.expr(&c.loop_step)?;
                    let (result, d3) = self.expr(&c.result)?;
                    Ok::<_, (u64, String)>((result, d1.max(d2).max(d3)))
                })();
                self.bound.truncate(self.bound.len() - pushed);
                let (result, d_body) = inner?;
                // `exists`/`all` leave a bool; `map`/`filter` the list built in the accumulator.
                let ty = if result == Ty::Unknown { accu } else { result };
                (ty, d_range.max(d_init).max(d_body + 1))
            }
            Expr::List(l) => {
                let mut depth = 0;
                for item in &l.elements {
                    depth = depth.max(self.expr(item)?.1);
                }
                (Ty::List, depth)
            }
            Expr::Map(m) => {
                let mut depth = 0;
                for entry in &m.entries {
                    if let ::cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                        depth = depth.max(self.expr(&me.key)?.1).max(self.expr(&me.value)?.1);
                    }
                }
                (Ty::Map, depth)
            }
            Expr::Struct(s) => {
                return Err((e.id, format!("undeclared reference to '{}' (in container '')", s.type_name)))
            }
        })
    }
}

/// Whether `e` selects `<operand>.<field>` anywhere (also `<operand>.?<field>` and
/// `has(<operand>.<field>)`): Kubernetes' `hasSelectExp`.
pub fn selects(e: &IdedExpr, operand: &str, field: &str) -> bool {
    let is_operand = |x: &IdedExpr| matches!(&x.expr, Expr::Ident(n) if n == operand);
    match &e.expr {
        Expr::Select(s) => (is_operand(&s.operand) && s.field == field) || selects(&s.operand, operand, field),
        Expr::Call(c) => {
            if c.target.is_none()
                && c.func_name == op::OPT_SELECT
                && c.args.len() == 2
                && is_operand(&c.args[0])
                && matches!(&c.args[1].expr, Expr::Literal(LiteralValue::String(s)) if s.inner() == field)
            {
                return true;
            }
            c.args.iter().any(|a| selects(a, operand, field))
                || c.target.as_ref().is_some_and(|t| selects(t, operand, field))
        }
        Expr::List(l) => l.elements.iter().any(|x| selects(x, operand, field)),
        Expr::Map(m) => m.entries.iter().any(|entry| match &entry.expr {
            ::cel::common::ast::EntryExpr::MapEntry(me) => {
                selects(&me.key, operand, field) || selects(&me.value, operand, field)
            }
            _ => false,
        }),
        Expr::Comprehension(c) => [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result]
            .into_iter()
            .any(|x| selects(x, operand, field)),
        _ => false,
    }
}
