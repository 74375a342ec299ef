//! A validation error on one field of an `AuthenticationConfiguration`, worded as Kubernetes'
//! `field.Error` prints it (`jwt[0].issuer.url: Invalid value: "http://x": URL scheme must be
//! https`), and a list of them as Go's error aggregate prints it (one as it is, several in
//! brackets, without repeats).

use std::fmt;

/// What is wrong with a field (Go's `field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Required value`.
    Required,
    /// `Invalid value: <value>`.
    Invalid,
    /// `Duplicate value: <value>`.
    Duplicate,
    /// `Forbidden`.
    Forbidden,
    /// `Too many: <n>`.
    TooMany,
    /// `Internal error`.
    Internal,
    /// `Unsupported value: <value>: supported values: ...`.
    NotSupported,
}

/// One field's problem: the path, the kind, the offending value as Go prints it, a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field path (`jwt[0].issuer.url`).
    pub field: String,
    /// What kind of problem.
    pub kind: FieldErrorKind,
    /// The value, already as Go's `field.Error` prints it (`"http://x"`, `65`), when shown.
    pub value: Option<String>,
    /// The detail (`URL scheme must be https`).
    pub detail: String,
}

/// A string as Go's `%q` prints it (close enough for the printable text configuration files
/// hold: Rust's `{:?}` escapes the same characters for ASCII).
pub fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

impl FieldError {
    /// `Required value: <detail>`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Required, value: None, detail: detail.into() }
    }

    /// `Invalid value: "<value>": <detail>` for a string value.
    pub fn invalid(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        Self::invalid_raw(field, go_quote(value), detail)
    }

    /// `Invalid value: <value>: <detail>` with the value already printed.
    pub fn invalid_raw(field: impl Into<String>, value: String, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Invalid, value: Some(value), detail: detail.into() }
    }

    /// `Invalid value: "<omitted>": <detail>`: Kubernetes does not print a CA bundle.
    pub fn invalid_omitted(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::invalid(field, "<omitted>", detail)
    }

    /// `Duplicate value: "<value>"`.
    pub fn duplicate(field: impl Into<String>, value: &str) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Duplicate,
            value: Some(go_quote(value)),
            detail: String::new(),
        }
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Forbidden, value: None, detail: detail.into() }
    }

    /// `Too many: <n>: must have at most <max> items`.
    pub fn too_many(field: impl Into<String>, n: usize, max: usize) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::TooMany,
            value: Some(n.to_string()),
            detail: format!("must have at most {max} items"),
        }
    }

    /// `Internal error: <detail>`.
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Internal, value: None, detail: detail.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::Internal => "Internal error",
            FieldErrorKind::NotSupported => "Unsupported value",
        };
        write!(f, "{}: {kind}", self.field)?;
        // Go's ErrorBody: Required, Forbidden and Internal never show the value.
        let shown = match self.kind {
            FieldErrorKind::Required | FieldErrorKind::Forbidden | FieldErrorKind::Internal => None,
            _ => self.value.as_deref(),
        };
        if let Some(v) = shown {
            write!(f, ": {v}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Go's `utilerrors.NewAggregate(...).Error()`: one error as it is; several, without repeats,
/// joined by `, ` in brackets.
pub fn aggregate<T: fmt::Display>(errors: &[T]) -> String {
    let mut seen: Vec<String> = Vec::with_capacity(errors.len());
    for e in errors {
        let s = e.to_string();
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    match seen.len() {
        1 => seen.pop().unwrap_or_default(),
        _ => format!("[{}]", seen.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_kubernetes_field_errors() {
        assert_eq!(
            FieldError::invalid("jwt[0].issuer.url", "http://x", "URL scheme must be https").to_string(),
            "jwt[0].issuer.url: Invalid value: \"http://x\": URL scheme must be https"
        );
        assert_eq!(
            FieldError::required("jwt[0].issuer.url", "URL is required").to_string(),
            "jwt[0].issuer.url: Required value: URL is required"
        );
        assert_eq!(FieldError::required("k", "").to_string(), "k: Required value");
        assert_eq!(
            FieldError::duplicate("jwt[1].issuer.url", "https://a").to_string(),
            "jwt[1].issuer.url: Duplicate value: \"https://a\""
        );
        assert_eq!(FieldError::too_many("jwt", 65, 64).to_string(), "jwt: Too many: 65: must have at most 64 items");
        assert_eq!(
            FieldError::invalid_omitted("jwt[0].issuer.certificateAuthority", "data does not contain any valid RSA or ECDSA certificates").to_string(),
            "jwt[0].issuer.certificateAuthority: Invalid value: \"<omitted>\": data does not contain any valid RSA or ECDSA certificates"
        );
        let two = [FieldError::required("a", "x"), FieldError::required("b", "y"), FieldError::required("a", "x")];
        assert_eq!(aggregate(&two), "[a: Required value: x, b: Required value: y]");
        assert_eq!(aggregate(&two[..1]), "a: Required value: x");
    }
}
