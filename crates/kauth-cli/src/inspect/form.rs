//! A form body (`application/x-www-form-urlencoded`) or a query string, decoded by
//! `form_urlencoded` into name → values. Credentials come only in POST bodies, which live as
//! long as the request that carries them.

use std::collections::BTreeMap;

/// The largest form body read: a kubeconfig with a long chain fits many times over.
pub const MAX_BODY: usize = 4 << 20;

/// Decoded form fields. `Debug` shows only the field names: values may be credentials.
#[derive(Default)]
pub struct Form(BTreeMap<String, Vec<String>>);

impl Form {
    /// Decodes `application/x-www-form-urlencoded` bytes (a body or a query string).
    pub fn parse(data: &[u8]) -> Form {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(data) {
            fields.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Form(fields)
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).and_then(|v| v.first()).map(|s| s.trim()).unwrap_or("")
    }

    /// The first value of `name`, untrimmed (a pasted document).
    pub fn raw(&self, name: &str) -> &str {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str).unwrap_or("")
    }

    /// The values of `name`, each split at commas and white space, empty pieces dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `name` as a whole number within `min..=max`; `default` when absent, an error naming the
    /// field when it is not a number or out of range.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, String> {
        let v = self.get(name);
        if v.is_empty() {
            return Ok(default);
        }
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(n) => Err(format!("{name}: {n} is out of range ({min} to {max})")),
            Err(_) => Err(format!("{name}: {v:?} is not a whole number")),
        }
    }
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_fields_lists_and_numbers() {
        let f = Form::parse(b"token=eyJ.a%2Bb.c&aud=x%2C+y&aud=z&skew=-90&bad=1e3&leeway=");
        assert_eq!(f.get("token"), "eyJ.a+b.c");
        assert_eq!(f.list("aud"), ["x", "y", "z"]);
        assert_eq!(f.int("skew", 0, -600, 600), Ok(-90));
        assert_eq!(f.int("leeway", 60, 0, 3600), Ok(60));
        assert_eq!(f.int("missing", 7, 0, 9), Ok(7));
        assert_eq!(f.int("bad", 0, 0, 9), Err("bad: \"1e3\" is not a whole number".into()));
        assert_eq!(f.int("skew", 0, 0, 9), Err("skew: -90 is out of range (0 to 9)".into()));
        assert_eq!(f.get("nothing"), "");
    }

    #[test]
    fn debug_shows_names_not_values() {
        let f = Form::parse(b"token=s3cret&issuer=x");
        assert_eq!(format!("{f:?}"), "{\"issuer\", \"token\"}");
    }
}
