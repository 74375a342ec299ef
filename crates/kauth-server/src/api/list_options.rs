//! A list's options (`limit`, `continue`, `resourceVersion`, `resourceVersionMatch`), read and
//! checked as kube-apiserver does: its query decoding, `ValidateListOptions`, then what its
//! storage layers (the watch cache and etcd3 store) decide about which state a list reads.

use super::continue_token::{self, Continue};
use super::request::Request;
use super::status::{ApiError, Cause};

/// Which state of the objects a list reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListRead {
    /// No `resourceVersion`: the latest state.
    Latest,
    /// `resourceVersion=0`: any state; kube-apiserver's watch cache answers these whole,
    /// ignoring `limit`.
    Any,
    /// `resourceVersion=N` (`NotOlderThan`, or no match without a limit): a state at least as
    /// new as N.
    NotOlderThan(u64),
    /// `resourceVersionMatch=Exact`, or `resourceVersion=N` with a `limit` (the legacy
    /// exact read): the state at N.
    Exact(u64),
    /// A later page of a list.
    Continue(Continue),
}

/// A list's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOptions {
    /// At most this many items per page; `None`: all of them.
    pub limit: Option<usize>,
    /// Which state to read.
    pub read: ListRead,
}

/// Go's `strconv` words for a number that does not parse.
fn go_parse_error(func: &str, s: &str, e: &std::num::ParseIntError) -> String {
    let why = match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
        _ => "invalid syntax",
    };
    format!("strconv.{func}: parsing {s:?}: {why}")
}

fn forbidden(message: &str) -> Cause {
    Cause {
        reason: "FieldValueForbidden",
        field: "resourceVersionMatch".into(),
        message: format!("Forbidden: {message}"),
    }
}

impl ListOptions {
    /// Reads a list request's options for a list under `prefix` (the key prefix of its
    /// resource and namespace).
    pub fn from_request(req: &Request, prefix: &str) -> Result<Self, ApiError> {
        Self::from_params(|name| req.param(name), prefix)
    }

    /// [`ListOptions::from_request`] over a query parameter lookup.
    pub fn from_params<'a>(param: impl Fn(&str) -> Option<&'a str>, prefix: &str) -> Result<Self, ApiError> {
        let limit = match param("limit") {
            None | Some("") => 0,
            Some(s) => s.parse::<i64>().map_err(|e| ApiError::bad_request(go_parse_error("ParseInt", s, &e)))?,
        };
        let token = param("continue").unwrap_or("");
        let rv = param("resourceVersion").unwrap_or("");
        let rv_match = param("resourceVersionMatch").unwrap_or("");
        validate(token, rv, rv_match)?;
        let limit = usize::try_from(limit).ok().filter(|l| *l > 0);
        if !token.is_empty() {
            let c = continue_token::decode(token, prefix)
                .map_err(|e| ApiError::bad_request(format!("invalid continue token: {e}")))?;
            if !rv.is_empty() && rv != "0" {
                return Err(ApiError::bad_request("specifying resource version is not allowed when using continue"));
            }
            return Ok(ListOptions { limit, read: ListRead::Continue(c) });
        }
        let parse = |rv: &str| {
            rv.parse::<u64>()
                .map_err(|e| format!("resourceVersion: Invalid value: {rv:?}: {}", go_parse_error("ParseUint", rv, &e)))
        };
        let read = match (rv, rv_match) {
            ("", _) => ListRead::Latest,
            ("0", _) => ListRead::Any,
            // Served from storage, which refuses a bad version as a bad request.
            (rv, "Exact") | (rv, "") if rv_match == "Exact" || limit.is_some() => {
                ListRead::Exact(parse(rv).map_err(|m| ApiError::bad_request(format!("invalid resource version: {m}")))?)
            }
            // Served from the watch cache, whose parse error is a bare 500.
            (rv, _) => ListRead::NotOlderThan(parse(rv).map_err(ApiError::bare)?),
        };
        Ok(ListOptions { limit, read })
    }
}

/// kube-apiserver's `ValidateListOptions` (for lists, not watches).
fn validate(token: &str, rv: &str, rv_match: &str) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    if !rv_match.is_empty() {
        if rv.is_empty() {
            causes.push(forbidden("resourceVersionMatch is forbidden unless resourceVersion is provided"));
        }
        if !token.is_empty() {
            causes.push(forbidden("resourceVersionMatch is forbidden when continue is provided"));
        }
        if rv_match != "Exact" && rv_match != "NotOlderThan" {
            causes.push(Cause {
                reason: "FieldValueNotSupported",
                field: "resourceVersionMatch".into(),
                message: format!(
                    "Unsupported value: {rv_match:?}: supported values: \"Exact\", \"NotOlderThan\", \"\""
                ),
            });
        }
        if rv_match == "Exact" && rv == "0" {
            causes.push(forbidden("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(query: &str) -> Result<ListOptions, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        ListOptions::from_params(
            |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()),
            "/registry/serviceaccounts/",
        )
    }

    #[test]
    fn reads_the_state_kube_apiserver_reads() {
        assert_eq!(opts("").unwrap(), ListOptions { limit: None, read: ListRead::Latest });
        assert_eq!(opts("limit=5").unwrap(), ListOptions { limit: Some(5), read: ListRead::Latest });
        assert_eq!(opts("limit=-3").unwrap().limit, None);
        assert_eq!(opts("limit=2&resourceVersion=0").unwrap().read, ListRead::Any);
        assert_eq!(opts("limit=2&resourceVersion=7").unwrap().read, ListRead::Exact(7));
        assert_eq!(opts("resourceVersion=7").unwrap().read, ListRead::NotOlderThan(7));
        assert_eq!(opts("resourceVersion=7&resourceVersionMatch=Exact").unwrap().read, ListRead::Exact(7));
        assert_eq!(
            opts("limit=2&resourceVersion=7&resourceVersionMatch=NotOlderThan").unwrap().read,
            ListRead::NotOlderThan(7)
        );
        let token = continue_token::encode("/registry/serviceaccounts/ns/a\0", "/registry/serviceaccounts/", 9);
        assert_eq!(
            opts(&format!("limit=2&resourceVersion=0&continue={token}")).unwrap().read,
            ListRead::Continue(Continue { key: "/registry/serviceaccounts/ns/a\0".into(), revision: 9 })
        );
    }

    #[test]
    fn refuses_with_kube_apiservers_words() {
        let e = opts("limit=abc").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (400, "strconv.ParseInt: parsing \"abc\": invalid syntax"));
        let e = opts("limit=99999999999999999999").unwrap_err();
        assert_eq!(e.message, "strconv.ParseInt: parsing \"99999999999999999999\": value out of range");
        let e = opts("resourceVersionMatch=Exact").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (422, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"));
        let e = opts("resourceVersion=1&resourceVersionMatch=Bad").unwrap_err();
        assert_eq!(e.message, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: \"Bad\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
        let e = opts("resourceVersion=0&resourceVersionMatch=Exact").unwrap_err();
        assert_eq!(e.message, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
        let e = opts("resourceVersion=x&limit=3").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (400, "invalid resource version: resourceVersion: Invalid value: \"x\": strconv.ParseUint: parsing \"x\": invalid syntax"));
        let e = opts("resourceVersion=x").unwrap_err();
        assert_eq!((e.code, e.reason), (500, ""));
        let e = opts("limit=2&continue=abc$").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "invalid continue token: continue key is not valid: illegal base64 data at input byte 3")
        );
        let token = continue_token::encode("/registry/serviceaccounts/ns/a\0", "/registry/serviceaccounts/", 9);
        let e = opts(&format!("resourceVersion=5&continue={token}")).unwrap_err();
        assert_eq!(e.message, "specifying resource version is not allowed when using continue");
    }
}
