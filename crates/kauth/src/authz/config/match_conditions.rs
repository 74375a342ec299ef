//! A webhook's match conditions, compiled at load, evaluated per request as kube-apiserver's
//! `CELMatcher.Eval`: the first condition that is false skips the webhook (no error is
//! reported even if another failed); otherwise any evaluation error is the result (the webhook
//! then answers by its failure policy); all true asks the webhook.

use k8s_openapi::api::authorization::v1::SubjectAccessReviewSpec;

use crate::cel::{request_to_value, Expression};

/// The compiled conditions of one webhook (none: the webhook is always asked).
#[derive(Debug, Default)]
pub struct MatchConditions {
    expressions: Vec<Expression>,
}

/// Why the conditions could not be decided: kube-apiserver's aggregate of
/// `cel evaluation error: expression '<e>' resulted in error: <err>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchError {
    /// Each failed expression's text.
    pub errors: Vec<String>,
}

impl std::fmt::Display for MatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::authn::jwt::field_error::aggregate(&self.errors))
    }
}

impl MatchConditions {
    pub(super) fn new(expressions: Vec<Expression>) -> Self {
        MatchConditions { expressions }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.expressions.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.expressions.len()
    }

    /// Whether the webhook should be asked about `spec`.
    pub fn matches(&self, spec: &SubjectAccessReviewSpec) -> Result<bool, MatchError> {
        if self.expressions.is_empty() {
            return Ok(true);
        }
        let (request, size) = request_to_value(spec);
        let mut errors = Vec::new();
        for e in &self.expressions {
            match e.evaluate(&request, size) {
                Ok(::cel::Value::Bool(false)) => return Ok(false),
                Ok(::cel::Value::Bool(true)) => {}
                Ok(other) => errors.push(format!(
                    "cel evaluation error: expression '{}' eval result type should be bool but got {:?}",
                    e.source(),
                    other.type_of()
                )),
                Err(err) => {
                    errors.push(format!("cel evaluation error: expression '{}' resulted in error: {err}", e.source()))
                }
            }
        }
        if errors.is_empty() {
            Ok(true)
        } else {
            Err(MatchError { errors })
        }
    }
}
