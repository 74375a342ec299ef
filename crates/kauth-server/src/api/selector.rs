//! Label and field selectors (`labelSelector`, `fieldSelector` query parameters), parsed once
//! per request and matched against objects, as kube-apiserver reads them.

use serde_json::Value;

use super::request::Request;
use super::resources::meta_str;
use super::status::ApiError;

/// A parsed label selector requirement (`labelSelector` query parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `k=v`, `k==v`.
    Eq(String, String),
    /// `k!=v`.
    NotEq(String, String),
    /// `k in (a,b)`.
    In(String, Vec<String>),
    /// `k notin (a,b)`.
    NotIn(String, Vec<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    NotExists(String),
}

fn split_selector(s: &str) -> Vec<String> {
    // Commas inside `in (a,b)` do not separate requirements.
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

fn parse_set(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

/// Parses a `labelSelector` (`a=b,c!=d,e in (f,g),!h`); a 400 when malformed.
pub fn parse_label_selector(s: &str) -> Result<Vec<Requirement>, ApiError> {
    let bad = || ApiError::bad_request(format!("unable to parse requirement: invalid label selector {s:?}"));
    split_selector(s)
        .into_iter()
        .map(|r| {
            if let Some((k, v)) = r.split_once("!=") {
                Ok(Requirement::NotEq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = r.split_once("==") {
                Ok(Requirement::Eq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = r.split_once('=') {
                Ok(Requirement::Eq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = r.split_once(" notin ") {
                Ok(Requirement::NotIn(k.trim().into(), parse_set(v).ok_or_else(bad)?))
            } else if let Some((k, v)) = r.split_once(" in ") {
                Ok(Requirement::In(k.trim().into(), parse_set(v).ok_or_else(bad)?))
            } else if let Some(k) = r.strip_prefix('!') {
                Ok(Requirement::NotExists(k.trim().into()))
            } else if r.contains(char::is_whitespace) || r.contains(['(', ')']) {
                Err(bad())
            } else {
                Ok(Requirement::Exists(r))
            }
        })
        .collect()
}

fn matches_labels(obj: &Value, reqs: &[Requirement]) -> bool {
    let label = |k: &str| obj.pointer("/metadata/labels").and_then(|l| l.get(k)).and_then(Value::as_str);
    reqs.iter().all(|r| match r {
        Requirement::Eq(k, v) => label(k) == Some(v.as_str()),
        Requirement::NotEq(k, v) => label(k) != Some(v.as_str()),
        Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::Exists(k) => label(k).is_some(),
        Requirement::NotExists(k) => label(k).is_none(),
    })
}

/// One `fieldSelector` term: a supported field, the value, and whether it is `!=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    field: &'static str,
    value: String,
    negate: bool,
}

/// Parses a `fieldSelector` (`metadata.name=x,type!=y`); a 400 when malformed or unsupported.
pub fn parse_field_selector(selector: &str) -> Result<Vec<FieldTerm>, ApiError> {
    split_selector(selector)
        .into_iter()
        .map(|term| {
            let (field, value, negate) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!("invalid field selector: {term:?}")));
            };
            let field = match field.trim() {
                "metadata.name" => "metadata.name",
                "metadata.namespace" => "metadata.namespace",
                "type" => "type",
                other => return Err(ApiError::bad_request(format!("field label not supported: {other}"))),
            };
            Ok(FieldTerm { field, value: value.trim().to_owned(), negate })
        })
        .collect()
}

fn matches_fields(obj: &Value, terms: &[FieldTerm]) -> bool {
    terms.iter().all(|t| {
        let got = match t.field {
            "metadata.name" => meta_str(obj, "name"),
            "metadata.namespace" => meta_str(obj, "namespace"),
            _ => obj.get("type").and_then(Value::as_str).unwrap_or(""),
        };
        (got == t.value) != t.negate
    })
}

/// A request's label and field selectors, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<FieldTerm>,
}

impl Selector {
    /// From `labelSelector` and `fieldSelector`; a 400 when either is malformed.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        Ok(Selector {
            labels: parse_label_selector(req.param("labelSelector").unwrap_or(""))?,
            fields: parse_field_selector(req.param("fieldSelector").unwrap_or(""))?,
        })
    }

    /// Also requires `metadata.name` (a watch on one object's path).
    pub fn with_name(mut self, name: &str) -> Self {
        if !name.is_empty() {
            self.fields.push(FieldTerm { field: "metadata.name", value: name.to_owned(), negate: false });
        }
        self
    }

    /// Whether it selects everything (kube-apiserver's empty predicate).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether `obj` is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        matches_labels(obj, &self.labels) && matches_fields(obj, &self.fields)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors() {
        let o = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        let m = |s: &str| matches_labels(&o, &parse_label_selector(s).unwrap());
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("app in (web,db)"));
        assert!(!m("app notin (web)"));
        assert!(m("!missing"));
        assert!(!m("missing"));
        assert!(parse_label_selector("a b").is_err());
    }

    #[test]
    fn field_selectors() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns"}});
        let fields = |s: &str| parse_field_selector(s).unwrap();
        assert!(matches_fields(&o, &fields("metadata.name=a")));
        assert!(!matches_fields(&o, &fields("metadata.name!=a")));
        assert!(matches_fields(&o, &fields("metadata.namespace==ns,metadata.name=a")));
        assert!(parse_field_selector("spec.x=1").is_err());
        assert!(parse_field_selector("metadata.name").is_err());
    }
}
