//! Reading an `AuthenticationConfiguration` file as kube-apiserver 1.32 does: YAML or JSON,
//! through a scheme that knows the kind in `v1beta1` and `v1alpha1`, with **strict** decoding
//! (`serializer.EnableStrict` in `pkg/kubeapiserver/options/authentication.go`): a field the kind
//! does not have is an error, `strict decoding error: unknown field "jwt[0].issuer.foo"`.
//!
//! The document is read into a JSON value first, then walked against the kind's shape (which
//! finds unknown fields with their paths, and values of the wrong JSON type with Go's
//! `json: cannot unmarshal ...` text), then turned into the typed [`AuthenticationConfiguration`].

use serde_json::{Map, Value};

use super::config::{AuthenticationConfiguration, GROUP, KIND, VERSIONS};
use super::duplicates::Duplicates;

/// Why a file could not be read as an `AuthenticationConfiguration` (before validation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// kube-apiserver's text for it.
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn err(message: impl Into<String>) -> DecodeError {
    DecodeError { message: message.into() }
}

/// The scheme's name in kube-apiserver's "no kind is registered" errors (where the scheme was
/// made, as Go's `runtime.NewScheme` records it).
const SCHEME_NAME: &str = "pkg/kubeapiserver/options/authentication.go:853";

#[derive(Clone, Copy)]
enum Shape {
    Str,
    Bool,
    Strings,
    Obj(&'static Obj),
    List(&'static Obj),
}

struct Obj {
    /// The Go type's name in the versioned package.
    go: &'static str,
    fields: &'static [(&'static str, Shape)],
}

static ROOT: Obj = Obj {
    go: "AuthenticationConfiguration",
    fields: &[
        ("apiVersion", Shape::Str),
        ("kind", Shape::Str),
        ("jwt", Shape::List(&JWT)),
        ("anonymous", Shape::Obj(&ANONYMOUS)),
    ],
};
static ANONYMOUS: Obj =
    Obj { go: "AnonymousAuthConfig", fields: &[("enabled", Shape::Bool), ("conditions", Shape::List(&CONDITION))] };
static CONDITION: Obj = Obj { go: "AnonymousAuthCondition", fields: &[("path", Shape::Str)] };
static JWT: Obj = Obj {
    go: "JWTAuthenticator",
    fields: &[
        ("issuer", Shape::Obj(&ISSUER)),
        ("claimValidationRules", Shape::List(&CLAIM_RULE)),
        ("claimMappings", Shape::Obj(&MAPPINGS)),
        ("userValidationRules", Shape::List(&USER_RULE)),
    ],
};
static ISSUER: Obj = Obj {
    go: "Issuer",
    fields: &[
        ("url", Shape::Str),
        ("discoveryURL", Shape::Str),
        ("certificateAuthority", Shape::Str),
        ("audiences", Shape::Strings),
        ("audienceMatchPolicy", Shape::Str),
    ],
};
static CLAIM_RULE: Obj = Obj {
    go: "ClaimValidationRule",
    fields: &[
        ("claim", Shape::Str),
        ("requiredValue", Shape::Str),
        ("expression", Shape::Str),
        ("message", Shape::Str),
    ],
};
static MAPPINGS: Obj = Obj {
    go: "ClaimMappings",
    fields: &[
        ("username", Shape::Obj(&PREFIXED)),
        ("groups", Shape::Obj(&PREFIXED)),
        ("uid", Shape::Obj(&CLAIM_OR_EXPRESSION)),
        ("extra", Shape::List(&EXTRA)),
    ],
};
static PREFIXED: Obj = Obj {
    go: "PrefixedClaimOrExpression",
    fields: &[("claim", Shape::Str), ("prefix", Shape::Str), ("expression", Shape::Str)],
};
static CLAIM_OR_EXPRESSION: Obj =
    Obj { go: "ClaimOrExpression", fields: &[("claim", Shape::Str), ("expression", Shape::Str)] };
static EXTRA: Obj = Obj { go: "ExtraMapping", fields: &[("key", Shape::Str), ("valueExpression", Shape::Str)] };
static USER_RULE: Obj =
    Obj { go: "UserValidationRule", fields: &[("expression", Shape::Str), ("message", Shape::Str)] };

/// Reads `data` (YAML or JSON) as kube-apiserver's `loadAuthenticationConfigFromData` does.
pub fn decode(data: &[u8]) -> Result<AuthenticationConfiguration, DecodeError> {
    if data.is_empty() {
        return Err(err("empty config data"));
    }
    let trimmed = data.trim_ascii_start();
    let value: Value = if trimmed.first() == Some(&b'{') {
        serde_json::from_slice(data).map_err(|e| err(format!("couldn't get version/kind; json parse error: {e}")))?
    } else {
        serde_norway::from_slice(data).map_err(|e| err(format!("error converting YAML to JSON: yaml: {e}")))?
    };
    // Strict decoding refuses a key given twice (a plain parse keeps the last).
    let is_json = trimmed.first() == Some(&b'{');
    let duplicates = if is_json {
        serde_json::from_slice::<Duplicates>(data).map(|d| d.0).unwrap_or_default()
    } else {
        serde_norway::from_slice::<Duplicates>(data).map(|d| d.0).unwrap_or_default()
    };
    let text = String::from_utf8_lossy(data);
    let Value::Object(mut root) = value else {
        return Err(err(format!("couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}", json_type(&value))));
    };
    let kind = root.get("kind").and_then(Value::as_str).unwrap_or("").to_owned();
    let api_version = root.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_owned();
    if kind.is_empty() {
        return Err(err(format!("Object 'Kind' is missing in '{text}'")));
    }
    if api_version.is_empty() {
        return Err(err(format!("Object 'apiVersion' is missing in '{text}'")));
    }
    let version = api_version.strip_prefix(GROUP).and_then(|v| v.strip_prefix('/')).unwrap_or("");
    if !VERSIONS.contains(&version) || kind != KIND {
        if (version == "v1" || VERSIONS.contains(&version)) && kind == "AuthorizationConfiguration" {
            return Err(err("expected AuthenticationConfiguration, got *apiserver.AuthorizationConfiguration"));
        }
        return Err(err(format!(
            "no kind {kind:?} is registered for version {api_version:?} in scheme {SCHEME_NAME:?}"
        )));
    }
    let mut unknown = Vec::new();
    let mut first_type_error = None;
    let mut walk = Walk { package: version, unknown: &mut unknown, type_error: &mut first_type_error };
    walk.object(&mut root, &ROOT, "", &[]);
    if let Some(e) = first_type_error {
        return Err(err(e));
    }
    let mut strict: Vec<String> = Vec::new();
    if !duplicates.is_empty() && !is_json {
        // go-yaml's words (without its line numbers, which kauth's YAML reader does not give).
        let keys: Vec<String> = duplicates.iter().map(|(_, key)| format!("  key {key:?} already set in map")).collect();
        strict.push(format!("yaml: unmarshal errors:\n{}", keys.join("\n")));
    }
    strict.extend(unknown.iter().map(|f| format!("unknown field {f:?}")));
    if is_json {
        strict.extend(duplicates.iter().map(|(path, key)| {
            let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            format!("duplicate field {field:?}")
        }));
    }
    if !strict.is_empty() {
        return Err(err(format!("strict decoding error: {}", strict.join(", "))));
    }
    serde_json::from_value(Value::Object(root)).map_err(|e| err(format!("json: {e}")))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

struct Walk<'a> {
    package: &'a str,
    unknown: &'a mut Vec<String>,
    type_error: &'a mut Option<String>,
}

impl Walk<'_> {
    fn go_type(&self, shape: Shape) -> String {
        match shape {
            Shape::Str => "string".into(),
            Shape::Bool => "bool".into(),
            Shape::Strings => "[]string".into(),
            Shape::Obj(o) => format!("{}.{}", self.package, o.go),
            Shape::List(o) => format!("[]{}.{}", self.package, o.go),
        }
    }

    /// Go's `UnmarshalTypeError`: the innermost struct and the JSON names down to the field.
    fn mismatch(&mut self, got: &Value, go_struct: &str, names: &[&str], shape: Shape) {
        if self.type_error.is_none() {
            *self.type_error = Some(format!(
                "json: cannot unmarshal {} into Go struct field {go_struct}.{} of type {}",
                json_type(got),
                names.join("."),
                self.go_type(shape)
            ));
        }
    }

    /// Checks `map` against `obj`; Go's JSON leaves a field alone on `null`, so nulls go.
    fn object(&mut self, map: &mut Map<String, Value>, obj: &Obj, path: &str, names: &[&str]) {
        map.retain(|_, v| !v.is_null());
        for (key, value) in map.iter_mut() {
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            let Some((name, shape)) = obj.fields.iter().find(|(n, _)| n == key) else {
                self.unknown.push(child);
                continue;
            };
            let mut names = names.to_vec();
            names.push(name);
            self.value(value, *shape, obj.go, &child, &names);
        }
    }

    fn value(&mut self, value: &mut Value, shape: Shape, parent: &str, path: &str, names: &[&str]) {
        match (shape, &mut *value) {
            (Shape::Str, Value::String(_)) | (Shape::Bool, Value::Bool(_)) => {}
            (Shape::Strings, Value::Array(items)) => {
                for item in items.iter_mut() {
                    match item {
                        Value::String(_) => {}
                        Value::Null => *item = Value::String(String::new()),
                        other => {
                            let other = other.clone();
                            self.mismatch(&other, parent, names, Shape::Str);
                        }
                    }
                }
            }
            (Shape::Obj(o), Value::Object(map)) => self.object(map, o, path, names),
            (Shape::List(o), Value::Array(items)) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if item.is_null() {
                        *item = Value::Object(Map::new());
                    }
                    let child = format!("{path}[{i}]");
                    match item {
                        Value::Object(map) => self.object(map, o, &child, names),
                        other => {
                            let other = other.clone();
                            self.mismatch(&other, parent, names, Shape::Obj(o));
                        }
                    }
                }
            }
            (_, other) => {
                let other = other.clone();
                self.mismatch(&other, parent, names, shape);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_and_json_of_both_versions() {
        let yaml = b"apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://example.com\n    audiences: [a]\n  claimMappings:\n    username:\n      claim: sub\n      prefix: ''\n";
        let c = decode(yaml).expect("yaml");
        assert_eq!(c.jwt[0].issuer.url, "https://example.com");
        assert_eq!(c.jwt[0].claim_mappings.username.prefix.as_deref(), Some(""));
        let json =
            br#"{"apiVersion":"apiserver.config.k8s.io/v1alpha1","kind":"AuthenticationConfiguration","jwt":[]}"#;
        assert!(decode(json).expect("json").jwt.is_empty());
    }

    #[test]
    fn unknown_fields_are_errors_with_their_paths() {
        let yaml = b"apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://example.com\n    foo: 1\n  bar: x\n";
        assert_eq!(
            decode(yaml).unwrap_err().message,
            "strict decoding error: unknown field \"jwt[0].bar\", unknown field \"jwt[0].issuer.foo\""
        );
    }

    #[test]
    fn repeated_keys_are_errors_as_in_strict_decoding() {
        let yaml = b"apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://a\n    url: https://b\n";
        assert_eq!(
            decode(yaml).unwrap_err().message,
            "strict decoding error: yaml: unmarshal errors:\n  key \"url\" already set in map"
        );
        let json = br#"{"apiVersion":"apiserver.config.k8s.io/v1beta1","kind":"AuthenticationConfiguration","jwt":[{"issuer":{"url":"https://a","url":"https://b"}}]}"#;
        assert_eq!(decode(json).unwrap_err().message, "strict decoding error: duplicate field \"jwt[0].issuer.url\"");
    }

    #[test]
    fn wrong_types_say_what_go_says() {
        let yaml = b"apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: 5\n";
        assert_eq!(
            decode(yaml).unwrap_err().message,
            "json: cannot unmarshal number into Go struct field Issuer.jwt.issuer.url of type string"
        );
        let yaml = b"apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    audiences: a\n";
        assert_eq!(
            decode(yaml).unwrap_err().message,
            "json: cannot unmarshal string into Go struct field Issuer.jwt.issuer.audiences of type []string"
        );
    }

    #[test]
    fn kind_and_version_are_checked() {
        assert_eq!(decode(b"").unwrap_err().message, "empty config data");
        assert!(decode(b"apiVersion: v1\n").unwrap_err().message.starts_with("Object 'Kind' is missing in '"));
        assert_eq!(
            decode(b"apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n").unwrap_err().message,
            "no kind \"AuthenticationConfiguration\" is registered for version \"apiserver.config.k8s.io/v1\" in scheme \"pkg/kubeapiserver/options/authentication.go:853\""
        );
    }
}
